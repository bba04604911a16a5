"""Hand-pose metrics (SimGAN's Table 4 and Figure 9): the percentage of images within d pixels, d = 0…20.

**Within d.** An image is within d when *every* one of its joints that lies inside the crop is at most d
pixels from the ground truth (the worst joint, as NYU work reports "fraction of frames within distance"; the
paper does not say which of the two it means, so the mean-joint-error variant is reported too). Pixels are
those of a 224×224 crop (the paper's; errors on crops of another size are scaled by 224 / size, so that d means
the same part of the hand); Table 4's column is d = 5.

**Errors in millimetres.** The network predicts 2D positions only, so a joint's error in mm is its pixel
error taken to the sensor image (× the crop box's width / 224) and to the joint's depth (× z / fx): the
error in the plane through the joint, parallel to the image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from simreal.data.bank import ImageBank
from simreal.evaluate.curves import plot_within_curves
from simreal.utils.errors import InputError

CURVE_PX = tuple(range(21))
HEADLINE_PX = 5
REFERENCE_CROP = 224


def joint_errors(pred: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """Per joint pixel distances ``(N, J)``, NaN for joints outside the crop (visibility 0)."""
    d = np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(keypoints, np.float64)[..., :2], axis=-1)
    return np.where(np.asarray(keypoints)[..., 2] > 0, d, np.nan)


def hand_metrics(errors: np.ndarray, mm_per_px: np.ndarray | None = None) -> dict[str, Any]:
    """The curve and summaries of per-joint errors ``(N, J)`` in 224-crop pixels (NaN: not counted);
    ``mm_per_px``: millimetres per such pixel at each joint."""
    errors = np.asarray(errors, np.float64)
    counted = ~np.isnan(errors).all(1)
    if not counted.any():
        raise InputError("no image has a joint inside its crop")
    e = errors[counted]
    worst, mean = np.nanmax(e, 1), np.nanmean(e, 1)
    out = {"count": int(counted.sum()),
           f"within_{HEADLINE_PX}_px_pct": float(100 * (worst <= HEADLINE_PX).mean()),
           f"within_{HEADLINE_PX}_px_mean_joint_pct": float(100 * (mean <= HEADLINE_PX).mean()),
           "mean_joint_error_px": float(np.nanmean(e)), "median_joint_error_px": float(np.nanmedian(e)),
           "curve_px": list(CURVE_PX), "curve_pct": [float(100 * (worst <= d).mean()) for d in CURVE_PX],
           "curve_mean_joint_pct": [float(100 * (mean <= d).mean()) for d in CURVE_PX]}
    if mm_per_px is not None:
        out["mean_joint_error_mm"] = float(np.nanmean(e * np.asarray(mm_per_px, np.float64)[counted]))
    return out


def mm_per_pixel(records: list[dict[str, Any]]) -> np.ndarray:
    """``(N, J)`` millimetres per 224-crop pixel at each joint (module docstring)."""
    return np.array([[r["crop"]["box"][2] / REFERENCE_CROP * z / r["camera"]["fx"] for *_, z in r["joints_uvd"]]
                     for r in records])


def crop_errors(pred: np.ndarray, bank: ImageBank) -> np.ndarray:
    """Per joint errors ``(N, J)`` of predicted joints ``(N, J, 2)`` (crop pixels) on a bank labeled
    ``keypoints``, in 224-crop pixels (module docstring); NaN for joints outside the crop."""
    size = bank.dataset.manifest["image"]["width"] if bank.dataset is not None else bank.cache.shape[-1]
    return joint_errors(pred, bank.labels.numpy()) * (REFERENCE_CROP / size)


def evaluate_hands(pred: np.ndarray, bank: ImageBank, plot: str | Path | None = None, name: str = "model"
                   ) -> dict[str, Any]:
    """Metrics of predicted joints ``(N, J, 2)`` (crop pixels) on a bank labeled ``keypoints``; ``plot``:
    Figure 9's curve as a PNG."""
    errors = crop_errors(pred, bank)
    metrics = hand_metrics(errors, mm_per_pixel(list(bank.dataset.records())) if bank.dataset is not None else None)
    if plot is not None:
        plot_within({Path(name).name: errors}, plot, title=bank.dataset.root.name if bank.dataset else "")
    return metrics


def plot_within(curves: dict[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """Figure 9: % of images whose every joint is within d pixels (y) against d = 0…20 (x), one line each
    (per-joint errors ``(N, J)``, NaN not counted)."""
    worst = {}
    for name, errors in curves.items():
        e = np.asarray(errors, np.float64)
        worst[name] = np.nanmax(e[~np.isnan(e).all(1)], 1)
    return plot_within_curves(worst, path, 20, HEADLINE_PX, "Distance from ground truth [pixels, 224×224 crop]",
                              title)
