"""Refined eyes' power by frequency band, relative to the real eyes', for several `simreal experiment
real-eyes` runs in one plot (the README's refiner-signature figure):

    .venv/bin/python scripts/plot_eye_spectra.py OUT.png LABEL=RUN_DIR [LABEL=RUN_DIR ...]
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main(argv: list[str]) -> int:
    if len(argv) < 2 or any("=" not in a for a in argv[1:]):
        sys.exit(__doc__)
    fig, ax = plt.subplots(figsize=(7, 4))
    for item in argv[1:]:
        label, run = item.split("=", 1)
        spectrum = json.loads((Path(run) / "results.json").read_text())["spectrum"]
        edges, power = spectrum["bands_cycles_per_px"], spectrum["power"]
        centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
        ax.plot(centres, [v / r for v, r in zip(power["refined"], power["real"], strict=True)], "o-", label=label)
    ax.axhline(1, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("spatial frequency (cycles / pixel)")
    ax.set_ylabel("refined power / real eyes' power")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.savefig(argv[0], dpi=110, bbox_inches="tight")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
