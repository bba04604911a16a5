"""Plots for experiment reports (tables, summaries and the machine: :mod:`simreal.utils.report`)."""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter

from simreal.utils.fileio import atomic_write
from simreal.utils.runs import read_stats


def _save(fig, path: Path) -> Path:
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=120, bbox_inches="tight"))
    plt.close(fig)
    return path


def plot_band_ratios(edges: tuple[float, ...] | list[float], power: dict[str, list[float]], reference: str,
                     path: Path, title: str) -> Path:
    """Power per spatial-frequency band (``edges`` in cycles/px) of each image set, relative to
    ``reference``'s (1 = the same), on a log scale."""
    centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, values in power.items():
        ax.plot(centres, [v / r for v, r in zip(values, power[reference], strict=True)], "o-", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("spatial frequency (cycles / pixel)")
    ax.set_ylabel(f"power / {reference} power")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_budget_curves(budgets: list[int], curves: dict[str, tuple[list[float], list[float]]],
                       flat: dict[str, tuple[float, float]], path: Path, title: str) -> Path:
    """Accuracy (mean ± std) against the labeled real budget, one line per training recipe."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, (mean, std) in curves.items():
        ax.errorbar(budgets, [100 * m for m in mean], yerr=[100 * s for s in std], marker="o", capsize=3,
                    label=name)
    for i, (name, (mean, std)) in enumerate(flat.items()):
        label = f"{name} ({100 * mean:.1f} ± {100 * std:.1f})"
        ax.axhline(100 * mean, ls="--", color=f"C{len(curves) + i}", label=label)
    ax.set_xscale("log")
    ax.set_xticks(budgets)
    ax.set_xticklabels([str(b) for b in budgets])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("labeled real training digits")
    ax.set_ylabel("accuracy on real test digits (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_refiner_losses(run_dir: Path, path: Path) -> Path:
    """Refiner and discriminator losses and D's accuracy over training, from ``stats.jsonl``."""
    rows = read_stats(run_dir)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    for key in ("R/reg", "R/adv", "R/consistency", "D/loss_real", "D/loss_fake"):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        if pts:
            a.plot(*zip(*pts, strict=True), label=key)
    for key in ("D/acc_real", "D/acc_refined"):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        if pts:
            b.plot(*zip(*pts, strict=True), label=key)
    a.set_xlabel("step")
    a.set_title("losses")
    a.legend(fontsize=8)
    b.set_xlabel("step")
    b.set_title("discriminator patch accuracy")
    b.set_ylim(0, 1)
    b.legend(fontsize=8)
    for ax in (a, b):
        ax.grid(alpha=0.3)
    return _save(fig, path)
