"""Background photographs: the fetched ones, the built-in ones, a user's folder, and the paper's filters.

Where backgrounds come from (:func:`resolve_backgrounds`): a folder given, else ``$SIMREAL_BACKGROUNDS``,
else ``data/backgrounds`` where ``make backgrounds`` has fetched real photographs of places into it
(``scripts/backgrounds.py``), else ``builtin``: the few photographs that ship with scikit-image,
scikit-learn and matplotlib.

A folder may hold a manifest, ``backgrounds.json`` (``make backgrounds`` writes one): per file its
``horizon`` (the photo's eye-level line as a fraction of the height from the top, possibly outside
[0, 1]; null where unknown) and the person filter's verdict at setup (``person_filter``, ``people_found``),
which spares re-running the same detector at every start. With a horizon, :meth:`Backgrounds.sample`
places the crop and derives the simulated camera's pitch so the rendered ground's horizon falls on the
photo's (see there).

A background is rejected when it is smaller than ``min_size`` (paper: 512×512) or when a person detector
finds someone in it (the paper uses Mask R-CNN; simreal's default is OpenCV's built-in HOG people
detector together with its Haar frontal-face cascade, because HOG alone misses portraits). The detector
is pluggable: any callable ``(rgb uint8 array) -> list of (x, y, w, h) boxes``, given on the command line
as ``module:function``, or ``none``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from simreal.utils.errors import SimrealError
from simreal.utils.plugins import load_function

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
Detector = Callable[[np.ndarray], list]
MANIFEST = "backgrounds.json"
BUILTIN = "builtin"
ENV = "SIMREAL_BACKGROUNDS"
DEFAULT_FOLDER = Path("data/backgrounds")


def resolve_backgrounds(folder: str | Path | None, log: Callable[[str], object] | None = None) -> str:
    """The background source: ``folder`` if given, else ``$SIMREAL_BACKGROUNDS``, else ``data/backgrounds``
    when ``make backgrounds`` has filled it, else ``builtin`` (saying so through ``log``)."""
    if folder is not None:
        return str(folder)
    if os.environ.get(ENV):
        return os.environ[ENV]
    if (DEFAULT_FOLDER / MANIFEST).is_file():
        return str(DEFAULT_FOLDER)
    if log is not None:
        log(f"built-in backgrounds: no photos of places at {DEFAULT_FOLDER} (`make backgrounds` fetches them)")
    return BUILTIN


def builtin_backgrounds() -> list[Path]:
    """Photographs that ship with scikit-image, scikit-learn and matplotlib (no download)."""
    import matplotlib
    import skimage.data
    import sklearn.datasets

    folders = [Path(skimage.data.__file__).parent, Path(sklearn.datasets.__file__).parent / "images",
               Path(matplotlib.get_data_path()) / "sample_data"]
    return sorted(p for folder in folders for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def opencv_people_detector(image: np.ndarray) -> list:
    """OpenCV's HOG people detector plus its Haar frontal-face cascade; boxes (x, y, w, h)."""
    import cv2

    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    boxes, _ = hog.detectMultiScale(grey, winStride=(8, 8), padding=(8, 8), scale=1.05)
    face = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_alt2.xml")
    faces = face.detectMultiScale(grey, scaleFactor=1.05, minNeighbors=3, minSize=(24, 24))
    return [tuple(int(v) for v in b) for b in list(boxes) + list(faces)]


def load_detector(spec: str) -> Detector | None:
    """``opencv`` (default), ``none``, or ``package.module:function``."""
    if spec == "none":
        return None
    if spec == "opencv":
        return opencv_people_detector
    return load_function(spec, "person detector", "opencv, none")


@dataclass
class Backgrounds:
    """The accepted background images (RGB uint8) and why the others were rejected."""

    images: list[np.ndarray]
    names: list[str]
    rejected: list[dict[str, str]] = field(default_factory=list)
    horizons: list[float | None] | None = None  # per image (fraction of its height from the top); None: unknown

    def sample(self, rng: np.random.Generator, width: int, height: int, fovy_deg: float | None = None,
               pitch_range: tuple[float, float] = (0.0, 45.0)
               ) -> tuple[np.ndarray, dict[str, object], float | None]:
        """A random square crop (60–100 % of the short side, random flip) resized to ``width × height``, its
        record, and the camera pitch (degrees down) that matches the photo's horizon, or None (no horizon
        known, or no ``fovy_deg``: the caller draws the pitch).

        A pinhole camera pitched down by ``p`` with vertical field of view ``fovy`` sees the ground's horizon
        at ``t = 1/2 − f·tan(p)`` of the image height from the top (``f = 1 / (2 tan(fovy / 2))``, the focal
        length in image heights), so ``pitch_range`` allows ``t`` in ``[1/2 − f·tan(p_max), 1/2 −
        f·tan(p_min)]``. The crop's top row is drawn uniformly among those that put the photo's horizon in
        that band; where none does (a horizon too low in the photo for a camera that looks down), the crop
        nearest to it is taken and the pitch clipped to the range. The record keeps the photo's horizon in
        the output (``background_horizon``, a fraction of the height) and what remains of the mismatch
        (``horizon_error_px``: the rendered horizon's row minus the photo's)."""
        i = int(rng.integers(len(self.images)))
        img = self.images[i]
        h, w = img.shape[:2]
        side = int(min(h, w) * rng.uniform(0.6, 1.0))
        x = int(rng.integers(0, w - side + 1))
        horizon = None if self.horizons is None or fovy_deg is None else self.horizons[i]
        info: dict[str, object] = {"background": self.names[i]}
        pitch = None
        if horizon is None:
            y = int(rng.integers(0, h - side + 1))
        else:
            f = 0.5 / math.tan(math.radians(fovy_deg) / 2)
            t_lo, t_hi = (0.5 - f * math.tan(math.radians(p)) for p in (pitch_range[1], pitch_range[0]))
            row = horizon * h  # the horizon's row in the photo; the crop's top y puts it at (row − y) / side
            lo, hi = max(0.0, row - t_hi * side), min(float(h - side), row - t_lo * side)
            y = round(rng.uniform(lo, hi)) if lo <= hi else (0 if hi < 0 else h - side)
            t = (row - y) / side
            pitch = float(np.clip(math.degrees(math.atan((0.5 - t) / f)), *pitch_range))
            info["background_horizon"] = round(t, 4)
            info["horizon_error_px"] = round((0.5 - f * math.tan(math.radians(pitch)) - t) * height, 2)
        crop = Image.fromarray(img[y:y + side, x:x + side]).resize((width, height), Image.BILINEAR)
        out = np.asarray(crop)
        if rng.random() < 0.5:
            out = out[:, ::-1]
        return np.ascontiguousarray(out), {**info, "background_crop": [x, y, side]}, pitch


def read_manifest(folder: Path) -> dict[str, dict]:
    """``folder``'s ``backgrounds.json`` as {file: entry}; empty when there is none."""
    path = folder / MANIFEST
    if not path.is_file():
        return {}
    try:
        entries = {e["file"]: e for e in json.loads(path.read_text())["images"]}
    except (ValueError, KeyError, TypeError) as e:
        raise SimrealError(f"{path}: not a background manifest ({e})") from e
    for name, e in entries.items():
        h = e.get("horizon")
        if h is not None and (isinstance(h, bool) or not isinstance(h, (int, float)) or not math.isfinite(h)):
            raise SimrealError(f"{path}: {name}: horizon must be a number (a fraction of the height) or null, "
                               f"got {h!r}")
    return entries


def load_backgrounds(folder: str | Path | None, min_size: int = 512, detector: Detector | None = None,
                     log: Callable[[str], object] | None = None, detector_name: str | None = None) -> Backgrounds:
    """Read every image in ``folder`` (``builtin`` or None: the built-in photos) and keep the usable ones.
    A manifest entry whose ``person_filter`` is ``detector_name`` and found nobody is not checked again."""
    builtin = folder is None or str(folder) == BUILTIN
    if not builtin and not Path(folder).is_dir():
        raise SimrealError(f"{folder}: background folder not found")
    paths = builtin_backgrounds() if builtin else sorted(
        p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    manifest = {} if builtin else read_manifest(Path(folder))
    images, names, rejected, horizons = [], [], [], []
    for p in paths:
        entry = manifest.get(p.relative_to(folder).as_posix(), {}) if manifest else {}
        try:
            img = np.asarray(Image.open(p).convert("RGB"))
        except OSError as e:
            rejected.append({"file": p.name, "reason": f"unreadable: {e}"})
            continue
        h, w = img.shape[:2]
        if h < min_size or w < min_size:
            rejected.append({"file": p.name, "reason": f"too small ({w}×{h} < {min_size}×{min_size})"})
            continue
        checked = detector_name is not None and entry.get("person_filter") == detector_name \
            and entry.get("people_found") == 0
        boxes = detector(img) if detector is not None and not checked else []
        if len(boxes) > 0:
            rejected.append({"file": p.name, "reason": f"contains people ({len(boxes)} detections)"})
            continue
        images.append(img)
        names.append(p.name)
        horizon = entry.get("horizon")
        horizons.append(None if horizon is None else float(horizon))
    if log is not None:
        for r in rejected:
            log(f"background rejected: {r['file']}: {r['reason']}")
    if not images:
        raise SimrealError(f"no usable background in {'the built-in photos' if builtin else folder} "
                           f"({len(rejected)} rejected; need ≥ {min_size}×{min_size} without people)")
    return Backgrounds(images, names, rejected, horizons)
