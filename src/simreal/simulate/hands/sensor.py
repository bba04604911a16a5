"""A structured-light depth sensor (Kinect v1-like): the SIMULATED "real" target of the hand study.

No real hand depth ships offline, so ``--preset kinect`` passes the same clean renders through this model
(as the eye study's webcam preset stands in for real eyes; every number measured against it is labelled
simulated). Applied to a window of the sensor image, in the sensor's own pixels, before the crop:

1. **A background** behind the hand (the person or a wall): a tilted plane ``background_m`` behind the hand's
   median depth, so that depth edges are edges between two surfaces, as in real frames.
2. **Projector shadow**: the projector sits ``baseline_m`` to the camera's right; a pixel whose point the
   projector cannot see gets no reading. With disparity ``d = fx·b/z`` a point at column ``u`` is lit from
   projector column ``u − d``; it is in shadow when a pixel to its right has a smaller projector column (a
   nearer surface blocks the ray) — a reverse running minimum along each row. Shadows fall left of near edges.
3. **Edges**: block matching fails or mixes surfaces near depth discontinuities (neighbours more than
   ``edge_mm`` apart). Within ``edge_width_px`` of an edge, a smooth random field (σ ``edge_blob_px``) drops
   readings in blobs (``drop``), gives others a depth between the two surfaces (flying pixels, ``flying``), and
   fattens the near surface into the far one (``fatten``: the correlation window's edge bias).
4. **Disparity noise and quantisation**: ``d`` gets Gaussian noise of ``disparity_noise_px`` (so depth noise
   grows as z²: ~0.6 mm at 0.5 m, ~2.3 mm at 1 m) and a smooth per-frame offset field, then is rounded to
   1/``subpixel`` pixel (Kinect: 1/8), and ``z = fx·b/d``.
5. **Range**: readings nearer than ``min_m`` or farther than ``max_m`` are invalid; the output is whole mm.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class KinectConfig:
    baseline_m: float = 0.075
    subpixel: int = 8
    disparity_noise_px: float = 0.1
    disparity_field_px: float = 0.05  # σ of a smooth (low-frequency) disparity offset field
    background_m: tuple[float, float] = (0.25, 0.7)  # behind the hand's median depth
    background_tilt: float = 0.3  # max depth gradient of the background plane (m per m across)
    edge_mm: float = 25.0
    edge_width_px: int = 2
    edge_blob_px: float = 1.2
    drop: float = 0.35
    flying: float = 0.15
    fatten: float = 0.25
    min_m: float = 0.3  # Kinect v1 reads from ~0.4 m in near mode; lower so hands at 0.4 m keep their nearest fingers
    max_m: float = 4.0


def kinect_depth(depth_m: np.ndarray, origin: tuple[int, int], fx: float, fy: float, cx: float, cy: float,
                 rng: np.random.Generator, cfg: KinectConfig = KinectConfig()) -> np.ndarray:
    """Sensor depth (mm float32, 0 = no reading) of a window of clean depth (m, inf = empty) whose top-left
    pixel is ``origin`` in the sensor image."""
    h, w = depth_m.shape
    fg = np.isfinite(depth_m)
    if not fg.any():
        return np.zeros((h, w), np.float32)
    z = _with_background(depth_m, fg, origin, fx, fy, cx, cy, rng, cfg)
    valid = ~_projector_shadow(z, fx, cfg.baseline_m)
    z = _edges(z, valid, rng, cfg)
    valid &= np.isfinite(z)
    d = fx * cfg.baseline_m / np.where(valid, z, 1.0)
    d = d + rng.standard_normal(d.shape, dtype=np.float32) * cfg.disparity_noise_px
    d = d + _smooth_field(rng, (h, w), 24.0) * cfg.disparity_field_px
    d = np.round(d * cfg.subpixel) / cfg.subpixel
    z = fx * cfg.baseline_m / np.maximum(d, 1e-6)
    valid &= (z >= cfg.min_m) & (z <= cfg.max_m)
    return np.where(valid, np.round(z * 1000), 0).astype(np.float32)


def _with_background(depth_m: np.ndarray, fg: np.ndarray, origin: tuple[int, int], fx: float, fy: float,
                     cx: float, cy: float, rng: np.random.Generator, cfg: KinectConfig) -> np.ndarray:
    """The clean depth with a tilted background plane where it is empty."""
    h, w = depth_m.shape
    base = float(np.median(depth_m[fg])) + rng.uniform(*cfg.background_m)
    gx, gy = rng.uniform(-cfg.background_tilt, cfg.background_tilt, 2)
    u = (np.arange(w) + origin[0] + 0.5 - cx) / fx  # x / z of each column's ray
    v = (np.arange(h) + origin[1] + 0.5 - cy) / fy
    plane = base + gx * base * u[None, :] + gy * base * v[:, None]
    return np.where(fg, depth_m, np.maximum(plane, base * 0.5)).astype(np.float64)


def _projector_shadow(z: np.ndarray, fx: float, baseline: float) -> np.ndarray:
    """Pixels the projector (``baseline`` to the camera's right) cannot light (module docstring, step 2)."""
    cols = np.arange(z.shape[1], dtype=np.float64)[None, :]
    proj = cols - fx * baseline / z  # projector column of each pixel's point
    right = np.minimum.accumulate(proj[:, ::-1], axis=1)[:, ::-1]  # min over this column and those to its right
    nxt = np.concatenate([right[:, 1:], np.full((z.shape[0], 1), np.inf)], axis=1)
    return proj > nxt + 1e-9


def _edges(z: np.ndarray, valid: np.ndarray, rng: np.random.Generator, cfg: KinectConfig) -> np.ndarray:
    """Drop, fly and fatten readings near depth discontinuities (module docstring, step 3); dropped → inf."""
    k = np.ones((3, 3), np.uint8)
    zf = z.astype(np.float32)
    near = cv2.erode(np.where(valid, zf, np.float32(1e6)), k).astype(np.float64)  # nearest valid neighbour
    far = cv2.dilate(np.where(valid, zf, np.float32(-1e6)), k).astype(np.float64)
    edge = valid & (far - near > cfg.edge_mm / 1000)
    if cfg.edge_width_px > 1:
        edge = cv2.dilate(edge.astype(np.uint8), k, iterations=cfg.edge_width_px - 1).astype(bool) & valid
    field = _smooth_field(rng, z.shape, cfg.edge_blob_px)
    rank = 0.5 * (1 + np.tanh(field))  # ~uniform-ish in (0, 1), spatially correlated
    out = z.copy()
    drop = edge & (rank < cfg.drop)
    fly = edge & (rank >= cfg.drop) & (rank < cfg.drop + cfg.flying)
    fat = edge & (rank >= 1 - cfg.fatten) & (z > near + cfg.edge_mm / 1000)
    t = rng.uniform(0.15, 0.85, z.shape)
    out[fly] = (near + t * (far - near))[fly]
    out[fat] = near[fat]
    out[drop] = np.inf
    return out


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian noise smoothed over ~``sigma`` pixels, rescaled to unit standard deviation: blurred by a
    Gaussian of ``sigma`` for small ones, drawn on a grid ``sigma`` apart and interpolated for large ones."""
    h, w = shape
    if sigma < 3:
        noise = rng.standard_normal(shape, dtype=np.float32)
        smooth = cv2.GaussianBlur(noise, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    else:
        grid = rng.standard_normal((int(h / sigma) + 2, int(w / sigma) + 2), dtype=np.float32)
        smooth = cv2.resize(grid, (int(w / sigma + 2) * int(sigma), int(h / sigma + 2) * int(sigma)),
                            interpolation=cv2.INTER_CUBIC)[:h, :w]
    return smooth / max(float(smooth.std()), 1e-6)
