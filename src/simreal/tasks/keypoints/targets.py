"""Training targets of the OpenPose network: Gaussian confidence maps and part affinity fields (PAFs).

For a keypoint set with K joints and L limbs the target has ``K + 1`` confidence maps (the last is the
background, 1 − the maximum of the others) followed by ``2L`` PAF channels (x, y of each limb), on a grid
of stride ``stride`` whose cell (i, j) is centred at input pixel ``(j·stride + (stride − 1)/2, …)``.

- Confidence map of joint k: the maximum over people of ``exp(−d² / 2σ²)`` around each labelled
  keypoint (v > 0: visible or occluded, as OpenPose does).
- PAF of limb (a, b): the unit vector from a to b at every grid point within ``paf_width`` pixels of the
  segment (and between its ends), averaged where several people's limbs overlap.

Loss weights (same shape) are 1 except where a region should not be learned from: ``ignore`` masks
(e.g. unlabeled people) and, for the "+ masks" variant of the synthetic-humans paper, every contribution
of synthetic people: their instance-mask pixels and the support of their confidence maps and PAFs.
"""

from __future__ import annotations

import numpy as np

from simreal.data.keypoints import KeypointSet


def grid(height: int, width: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Input-pixel coordinates (x, y) of the centres of the ``height × width`` output cells."""
    ys = np.arange(height, dtype=np.float32) * stride + (stride - 1) / 2
    xs = np.arange(width, dtype=np.float32) * stride + (stride - 1) / 2
    return np.meshgrid(xs, ys)


def confidence_maps(people: list[np.ndarray], k: int, gx: np.ndarray, gy: np.ndarray, sigma: float) -> np.ndarray:
    """``(k, H, W)`` maps: max over people of a Gaussian at each labelled keypoint (``people``: (k, 3) arrays)."""
    maps = np.zeros((k, *gx.shape), np.float32)
    for kps in people:
        for j in range(k):
            x, y, v = kps[j]
            if v > 0:
                g = np.exp(-((gx - x) ** 2 + (gy - y) ** 2) / (2 * sigma * sigma))
                np.maximum(maps[j], g, out=maps[j])
    return maps


def affinity_fields(people: list[np.ndarray], limbs: tuple[tuple[int, int], ...], gx: np.ndarray, gy: np.ndarray,
                    width: float) -> np.ndarray:
    """``(2L, H, W)`` PAFs: unit limb vectors near each limb segment, averaged over overlapping people."""
    fields = np.zeros((2 * len(limbs), *gx.shape), np.float32)
    for li, (a, b) in enumerate(limbs):
        count = np.zeros(gx.shape, np.float32)
        for kps in people:
            if kps[a, 2] <= 0 or kps[b, 2] <= 0:
                continue
            d = kps[b, :2] - kps[a, :2]
            length = float(np.hypot(*d))
            if length < 1e-3:
                continue
            u = d / length
            px, py = gx - kps[a, 0], gy - kps[a, 1]
            along = px * u[0] + py * u[1]
            across = np.abs(px * -u[1] + py * u[0])
            on = (along >= -width) & (along <= length + width) & (across <= width)
            fields[2 * li][on] += u[0]
            fields[2 * li + 1][on] += u[1]
            count[on] += 1
        nz = count > 0
        fields[2 * li][nz] /= count[nz]
        fields[2 * li + 1][nz] /= count[nz]
    return fields


def encode(people: list[np.ndarray], kset: KeypointSet, out_hw: tuple[int, int], stride: int, sigma: float = 7.0,
           paf_width: float = 8.0) -> np.ndarray:
    """Target ``(K + 1 + 2L, H, W)`` for people given as (K, 3) arrays of input-pixel [x, y, v]."""
    gx, gy = grid(*out_hw, stride)
    maps = confidence_maps(people, len(kset.names), gx, gy, sigma)
    background = 1.0 - maps.max(axis=0, initial=0.0)
    return np.concatenate([maps, background[None], affinity_fields(people, kset.limbs, gx, gy, paf_width)])


def loss_weights(target_hw: tuple[int, int], kset: KeypointSet, stride: int, synthetic_people: list[np.ndarray],
                 synthetic_mask: np.ndarray | None = None, ignore_mask: np.ndarray | None = None,
                 sigma: float = 7.0, paf_width: float = 8.0, support: float = 0.01) -> np.ndarray:
    """Per-channel loss weights ``(K + 1 + 2L, H, W)``: 0 on ``ignore_mask`` (input-resolution bool array),
    and — when synthetic people are given — 0 on their instance mask and wherever their own confidence
    maps exceed ``support`` or their PAFs are non-zero (so none of their targets is learned from)."""
    h, w = target_hw
    weights = np.ones((kset.channels, h, w), np.float32)
    for mask in (ignore_mask, synthetic_mask):
        if mask is not None:
            cells = _cells(mask, h, w, stride)
            weights[:, cells] = 0.0
    if synthetic_people:
        synth = encode(synthetic_people, kset, target_hw, stride, sigma, paf_width)
        k = len(kset.names)
        weights[:k][synth[:k] > support] = 0.0
        weights[k][(synth[:k] > support).any(axis=0)] = 0.0  # the background map is derived from them
        paf_on = (np.abs(synth[k + 1:]) > 0).reshape(len(kset.limbs), 2, h, w).any(axis=1)
        weights[k + 1:][np.repeat(paf_on, 2, axis=0)] = 0.0
    return weights


def _cells(mask: np.ndarray, h: int, w: int, stride: int) -> np.ndarray:
    """Output cells whose stride×stride block contains any masked input pixel."""
    padded = np.zeros((h * stride, w * stride), bool)
    mh, mw = min(mask.shape[0], h * stride), min(mask.shape[1], w * stride)
    padded[:mh, :mw] = mask[:mh, :mw]
    return padded.reshape(h, stride, w, stride).any(axis=(1, 3))
