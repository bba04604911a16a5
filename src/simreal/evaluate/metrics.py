"""Every metric simreal reports, by name (a plain dict, as stylegan2-ada's ``metric_main``), with how it is
printed, and results appended to a JSONL file.

A metric's ``compute`` takes what the task gives it (a model and a labeled bank for image tasks; a people
detector, its keypoint set and a dataset path for keypoints) and returns a JSON-ready dict; ``summary`` turns
that dict (with ``count``/``images`` and ``data``) into the lines ``simreal evaluate`` prints.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simreal.evaluate.classification import evaluate_classifier
from simreal.evaluate.gaze import HEADLINE_DEGREES, evaluate_gaze, plot_cumulative
from simreal.evaluate.hands import HEADLINE_PX, evaluate_hands
from simreal.evaluate.keypoints import evaluate_keypoint_predictions, table_markdown

METRICS_FILE = "metrics.jsonl"


@dataclass(frozen=True)
class Metric:
    compute: Callable[..., dict[str, Any]]
    summary: Callable[[dict[str, Any]], str]


def _gaze(model: Any, bank: Any, plot: str | Path | None = None, name: str = "model") -> dict[str, Any]:
    """Angular-error metrics of a gaze model on a bank labeled ``gaze``; ``plot``: Figure 7's curve as a PNG."""
    metrics, errors = evaluate_gaze(model, bank)
    if plot is not None:
        plot_cumulative({Path(name).name: errors}, plot, title=bank.dataset.root.name)
    return metrics


def _accuracy_summary(m: dict[str, Any]) -> str:
    per_class = " ".join(f"{i}:{a:.2f}" for i, a in enumerate(m["per_class_accuracy"]))
    return f"accuracy {m['accuracy']:.4f} on {m['count']} images of {m['data']}\nper class: {per_class}"


def _gaze_summary(m: dict[str, Any]) -> str:
    return (f"mean error {m['mean_error_deg']:.2f}°, median {m['median_error_deg']:.2f}°, "
            f"{m[f'within_{HEADLINE_DEGREES}_deg_pct']:.1f} % within {HEADLINE_DEGREES}° on {m['count']} images "
            f"of {m['data']}")


def _hand_summary(m: dict[str, Any]) -> str:
    mm = f" ({m['mean_joint_error_mm']:.1f} mm)" if "mean_joint_error_mm" in m else ""
    return (f"{m[f'within_{HEADLINE_PX}_px_pct']:.1f} % of images with every joint within {HEADLINE_PX} px "
            f"({m[f'within_{HEADLINE_PX}_px_mean_joint_pct']:.1f} % by mean joint error), mean joint error "
            f"{m['mean_joint_error_px']:.2f} px{mm} on {m['count']} images of {m['data']}")


def _keypoint_summary(m: dict[str, Any]) -> str:
    return table_markdown({Path(m["checkpoint"]).name: m})


METRICS: dict[str, Metric] = {
    "accuracy": Metric(evaluate_classifier, _accuracy_summary),  # (model, bank) -> accuracy, per class, confusion
    "gaze_error": Metric(_gaze, _gaze_summary),  # (model, bank, plot) -> angular error, % within d°
    "hand_pose": Metric(evaluate_hands, _hand_summary),  # (joints, bank, plot) -> % within d px, joint error
    "mpii_pose": Metric(evaluate_keypoint_predictions, _keypoint_summary),  # (predict, kset, data, ...) -> MPII AP,
    # PCKh, OKS AP, AP by visible ratio
}


def append_result(path: str | Path, metric: str, results: dict[str, Any]) -> None:
    """One JSON line ``{"metric", "results", "timestamp"}`` appended to ``path`` (e.g. a run's
    ``metrics.jsonl``): every evaluation of a run is kept, newest last."""
    def plain(v: Any) -> Any:
        return v.item() if isinstance(v, np.generic) else v

    line = json.dumps({"metric": metric, "results": results, "timestamp": time.time()}, default=plain)
    with open(path, "a") as f:
        f.write(line + "\n")
