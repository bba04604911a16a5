"""Gaze metrics: angular error, the cumulative "% of images within d degrees" curve, and its plot.

Angular error is the angle between the predicted and the true gaze vector, with the cosine clipped to
[−1, 1] (so rounding can never make ``arccos`` return NaN). The curve is evaluated at d = 0, 1, …, 25
degrees like the SimGAN paper's Figure 7; "within 7°" is its Table 2 column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from simreal.data.bank import ImageBank
from simreal.evaluate.curves import plot_within_curves
from simreal.evaluate.predict import predict_outputs
from simreal.utils.errors import InputError

CURVE_DEGREES = tuple(range(26))
HEADLINE_DEGREES = 7


def within(errors: np.ndarray, degrees: float) -> float:
    """Percentage of ``errors`` (degrees) that are ≤ ``degrees``."""
    errors = np.asarray(errors, dtype=np.float64)
    if errors.size == 0:
        raise InputError("no errors to summarise")
    return float(100.0 * (errors <= degrees).mean())


def angular_error_deg(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Angle in degrees between predicted and true gaze vectors ``(N, 3)`` (cosine clipped to [−1, 1])."""
    p, t = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    cos = (p * t).sum(1) / np.maximum(np.linalg.norm(p, axis=1) * np.linalg.norm(t, axis=1), 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def gaze_metrics(errors: np.ndarray) -> dict[str, Any]:
    """Mean, median, % within 7° and the 0–25° cumulative curve of angular errors in degrees."""
    errors = np.asarray(errors, dtype=np.float64)
    return {
        "count": int(errors.size),
        "mean_error_deg": float(errors.mean()),
        "median_error_deg": float(np.median(errors)),
        f"within_{HEADLINE_DEGREES}_deg_pct": within(errors, HEADLINE_DEGREES),
        "curve_degrees": list(CURVE_DEGREES),
        "curve_pct": [within(errors, d) for d in CURVE_DEGREES],
    }


def evaluate_gaze(model: torch.nn.Module, bank: ImageBank) -> tuple[dict[str, Any], np.ndarray]:
    """Metrics of ``model`` on a bank whose label is ``gaze``, and the per-image errors."""
    errors = angular_error_deg(predict_outputs(model, bank), bank.labels.numpy())
    return gaze_metrics(errors), errors


def plot_cumulative(curves: dict[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """Figure 7 of the paper: % of images within d degrees (y) against d = 0…25 (x), one line each."""
    return plot_within_curves(curves, path, 25, HEADLINE_DEGREES, "Distance from ground truth [degrees]", title)


def locate_pupil(image: np.ndarray, guess: tuple[float, float], radius: float = 6.0) -> tuple[float, float] | None:
    """Centre (x, y) in pixels of the dark pupil blob nearest ``guess``, or None if none is found.

    The pupil is segmented in a ``radius`` window around ``guess`` as the pixels darker than
    ``min + 0.4·(median − min)``; the connected region nearest the guess is fitted by its moments, whose
    centre is the centre of the best-fitting ellipse (the paper fitted ellipses by hand).
    """
    from scipy import ndimage

    img = np.asarray(image, dtype=np.float64)
    img = img.mean(-1) if img.ndim == 3 else img
    h, w = img.shape
    x0, x1 = max(int(guess[0] - radius), 0), min(int(np.ceil(guess[0] + radius)) + 1, w)
    y0, y1 = max(int(guess[1] - radius), 0), min(int(np.ceil(guess[1] + radius)) + 1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    win = img[y0:y1, x0:x1]
    lo, med = win.min(), np.median(win)
    if med - lo < 1e-6:
        return None
    labels, n = ndimage.label(win <= lo + 0.4 * (med - lo))
    if n == 0:
        return None
    centres = np.array(ndimage.center_of_mass(np.ones_like(win), labels, range(1, n + 1)))  # (row, col)
    pts = centres[:, ::-1] + [x0, y0]
    best = pts[np.argmin(np.linalg.norm(pts - np.asarray(guess), axis=1))]
    # pixel centres are at integer + 0.5 in the landmark convention (continuous coordinates)
    return float(best[0] + 0.5), float(best[1] + 0.5)


def pupil_shift(before: list[np.ndarray], after: list[np.ndarray], guesses: np.ndarray) -> dict[str, Any]:
    """Distance in pixels between the pupil centres located in image pairs (e.g. synthetic vs refined), and
    the mean signed offset ``mean_dx_px``/``mean_dy_px`` (after − before; y grows downwards): a systematic
    offset is the refiner moving the dark blob (e.g. darkening or brightening one side of it); noise averages
    out."""
    offsets, missed = [], 0
    for a, b, g in zip(before, after, np.asarray(guesses), strict=True):
        pa, pb = locate_pupil(a, g), locate_pupil(b, g)
        if pa is None or pb is None:
            missed += 1
            continue
        offsets.append((pb[0] - pa[0], pb[1] - pa[1]))
    d = np.array(offsets) if offsets else np.full((1, 2), np.nan)
    s = np.hypot(d[:, 0], d[:, 1])
    return {"mean_px": float(s.mean()), "std_px": float(s.std()), "median_px": float(np.median(s)),
            "mean_dx_px": float(d[:, 0].mean()), "mean_dy_px": float(d[:, 1].mean()),
            "pairs": len(offsets), "not_found": missed}
