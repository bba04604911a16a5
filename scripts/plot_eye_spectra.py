"""Refined eyes' power by frequency band, relative to the real eyes', for several `simreal experiment
real-eyes` runs in one plot (the README's refiner-signature figure):

    .venv/bin/python scripts/plot_eye_spectra.py OUT.png LABEL=RUN_DIR [LABEL=RUN_DIR ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from simreal.experiments.report import plot_band_ratios


def main(argv: list[str]) -> int:
    if len(argv) < 2 or any("=" not in a for a in argv[1:]):
        sys.exit(__doc__)
    ratios: dict[str, list[float]] = {}
    for item in argv[1:]:
        label, run = item.split("=", 1)
        spectrum = json.loads((Path(run) / "results.json").read_text())["spectrum"]
        edges, power = spectrum["bands_cycles_per_px"], spectrum["power"]
        ratios[f"refined, {label}"] = [v / r for v, r in zip(power["refined"], power["real"], strict=True)]
    ratios["real eyes"] = [1.0] * len(edges[1:])
    plot_band_ratios(edges, ratios, "real eyes", Path(argv[0]), "refined eyes against real eyes, by scale")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
