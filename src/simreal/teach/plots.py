"""Plots of a group sampler's decisions: group probabilities over training (stacked) and reward rate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def decision_matrix(log: list[dict[str, Any]], n_groups: int) -> tuple[list[int], np.ndarray]:
    """Steps and per-step group probabilities: the teacher's P̃, Group DRO's q, or the chosen group."""
    steps, rows = [], []
    for e in log:
        if "p" in e:
            row = e["p"]
        elif "q" in e:
            row = e["q"]
        else:
            row = np.eye(n_groups)[e["group"]]
        steps.append(e["step"])
        rows.append(row)
    return steps, np.array(rows, dtype=float).reshape(len(rows), n_groups)


def plot_decisions(log: list[dict[str, Any]], names: list[str], path: str | Path, title: str = "") -> Path | None:
    """Stacked group probabilities over training and, for the teacher, the rate of rewards (δ = +1)."""
    if not log:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, p = decision_matrix(log, len(names))
    rewards = np.array([e["reward"] for e in log if "reward" in e], dtype=float)
    rows = 2 if len(rewards) else 1
    fig, axes = plt.subplots(rows, 1, figsize=(7, 4.8 if rows == 2 else 3.4), sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1][:rows]})
    a1 = axes[0, 0]
    a1.stackplot(steps, p.T, labels=names)
    a1.set_ylabel("group probability (stacked)")
    a1.set_ylim(0, 1)
    a1.set_title(title, fontsize=9)
    a1.legend(fontsize=6, ncol=5, loc="lower center", bbox_to_anchor=(0.5, 1.08))
    if rows == 2:
        r_steps = [e["step"] for e in log if "reward" in e]
        window = max(1, len(rewards) // 15)
        rate = np.convolve((rewards > 0).astype(float), np.ones(window) / window, mode="same")
        axes[1, 0].plot(r_steps, rate)
        axes[1, 0].set_ylabel("reward rate")
        axes[1, 0].set_ylim(0, 1)
    axes[-1, 0].set_xlabel("training step")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_sampler_outputs(sampler: Any, run_dir: Path) -> None:
    """``sampler-decisions.json`` and ``sampler-groups.png`` in a run directory."""
    import json

    (run_dir / "sampler-decisions.json").write_text(json.dumps(
        {"sampler": sampler.name, "groups": sampler.grouping.report(), "decisions": sampler.log}) + "\n")
    plot_decisions(sampler.log, sampler.grouping.names, run_dir / "sampler-groups.png", sampler.name)
