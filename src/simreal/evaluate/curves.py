"""The cumulative "% of images within d" plot that the gaze (Figure 7) and hand (Figure 9) metrics share."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simreal.utils.fileio import atomic_write


def plot_within_curves(curves: dict[str, np.ndarray], path: str | Path, x_max: float, headline: float, xlabel: str,
                       title: str = "") -> Path:
    """% of images whose error is ≤ d (y) against d = 0…``x_max`` (x), one line per name (per-image errors),
    a grey line at ``headline``; written atomically as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    d = np.linspace(0, x_max, round(10 * x_max) + 1)
    for (name, errors), style in zip(curves.items(), ["-", "--", "-.", ":"] * 4, strict=False):
        errors = np.sort(np.asarray(errors))
        ax.plot(d, 100.0 * np.searchsorted(errors, d, side="right") / len(errors), style, label=name, lw=1.8)
    ax.axvline(headline, color="grey", lw=0.8, alpha=0.6)
    ax.set(xlabel=xlabel, ylabel="Percentage of images", xlim=(0, x_max), ylim=(0, 100), title=title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=130))
    plt.close(fig)
    return path
