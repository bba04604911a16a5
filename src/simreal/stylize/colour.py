"""Masked photorealistic colour transfer: the people of one image take the colours of the people of another.

The synthetic-humans paper stylizes its synthetic people with FastPhotoStyle (Li et al. 2018): a whitening
and colouring transform of VGG features, restricted to matching semantic regions, then a smoothing step that
makes the result follow the content image's edges. simreal's default is the same two steps on colours
instead of deep features, which needs no network and runs on a CPU:

1. **Colour statistics, matched per region.** Pixels are taken into Reinhard et al.'s lαβ space (log LMS cone
   responses rotated so that the channels are nearly decorrelated for natural images). For each region of
   the people (*skin* and *other*: clothes, hair, shoes), the synthetic people's colours are mapped by the
   affine map that carries their Gaussian (mean μ_c, covariance Σ_c) onto the real people's (μ_s, Σ_s) with
   the least displacement (the Monge–Kantorovich map between Gaussians):
   ``A = Σ_c^-½ (Σ_c^½ Σ_s Σ_c^½)^½ Σ_c^-½``, ``y = μ_s + A (x − μ_c)``. It is the colouring transform of
   WCT in three dimensions, without WCT's arbitrary rotation. A region whose real sample has too few pixels
   takes the map of the whole person instead.
2. **Edge-aware smoothing**, as FastPhotoStyle's fast variant: a guided filter (He et al.; kornia's
   ``guided_blur``) of the transferred image with the content image as the guide, so that seams between
   regions follow the content's edges.

Skin is found by colour, the same way in synthetic and real people (the classic YCrCb box of Chai and
Ngan 1999: 133 ≤ Cr ≤ 173, 77 ≤ Cb ≤ 127), so no part labels are needed on either side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Reinhard, Ashikhmin, Gooch and Shirley (2001), "Color transfer between images"
RGB_TO_LMS = np.array([[0.3811, 0.5783, 0.0402], [0.1967, 0.7244, 0.0782], [0.0241, 0.1288, 0.8444]])
LMS_TO_LAB = np.diag([1 / np.sqrt(3), 1 / np.sqrt(6), 1 / np.sqrt(2)]) @ np.array(
    [[1.0, 1.0, 1.0], [1.0, 1.0, -2.0], [1.0, -1.0, 0.0]])
LAB_TO_LMS = np.linalg.inv(LMS_TO_LAB)
LMS_TO_RGB = np.linalg.inv(RGB_TO_LMS)
LMS_FLOOR = 1.0 / 512  # log of a black pixel
REGIONS = ("skin", "other")


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """``(N, 3)`` RGB in [0, 1] → lαβ."""
    lms = np.maximum(rgb @ RGB_TO_LMS.T, LMS_FLOOR)
    return np.log10(lms) @ LMS_TO_LAB.T


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """lαβ → ``(N, 3)`` RGB (not clipped)."""
    return (10.0 ** (lab @ LAB_TO_LMS.T)) @ LMS_TO_RGB.T


def skin(rgb: np.ndarray) -> np.ndarray:
    """Which of the ``(N, 3)`` uint8 RGB pixels have a skin colour (YCrCb box of Chai and Ngan 1999)."""
    import cv2

    ycrcb = cv2.cvtColor(np.ascontiguousarray(rgb, np.uint8).reshape(-1, 1, 3), cv2.COLOR_RGB2YCrCb).reshape(-1, 3)
    cr, cb = ycrcb[:, 1], ycrcb[:, 2]
    return (cr >= 133) & (cr <= 173) & (cb >= 77) & (cb <= 127)


@dataclass(frozen=True)
class Gaussian:
    """Mean and covariance of ``n`` colours."""

    mean: np.ndarray
    cov: np.ndarray
    n: int

    @classmethod
    def of(cls, x: np.ndarray) -> Gaussian:
        x = np.asarray(x, np.float64)
        cov = np.cov(x, rowvar=False) if len(x) > 1 else np.zeros((x.shape[1], x.shape[1]))
        return cls(x.mean(0), np.atleast_2d(cov), len(x))

    @classmethod
    def pooled(cls, parts: list[Gaussian]) -> Gaussian:
        """The Gaussian of all the colours of ``parts`` together (from their sufficient statistics)."""
        n = sum(g.n for g in parts)
        mean = sum(g.n * g.mean for g in parts) / n
        squares = sum((g.n - 1) * g.cov + g.n * np.outer(g.mean, g.mean) for g in parts)
        return cls(mean, (squares - n * np.outer(mean, mean)) / max(n - 1, 1), n)


def _sqrtm(c: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(c)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def monge_map(content: Gaussian, style: Gaussian, eps: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """``(A, b)`` with ``A x + b`` carrying ``content`` onto ``style`` with the least mean squared displacement;
    ``eps`` is added to both covariances' diagonals (a flat-coloured region would otherwise be blown up)."""
    eye = eps * np.eye(len(content.mean))
    root = _sqrtm(content.cov + eye)
    inv_root = np.linalg.inv(root)
    a = inv_root @ _sqrtm(root @ (style.cov + eye) @ root) @ inv_root
    return a, style.mean - a @ content.mean


@dataclass(frozen=True)
class ColourStats:
    """The colours of a set of people: the whole set and each region, in lαβ (``None``: too few pixels)."""

    person: Gaussian
    regions: dict[str, Gaussian | None]

    @classmethod
    def of(cls, rgb: np.ndarray, min_pixels: int, use_regions: bool = True) -> ColourStats:
        """Statistics of ``(N, 3)`` uint8 RGB pixels."""
        lab = rgb_to_lab(rgb.astype(np.float64) / 255)
        parts = region_masks(rgb) if use_regions else {}
        return cls(Gaussian.of(lab), {k: Gaussian.of(lab[sel]) if sel.sum() >= min_pixels else None
                                      for k, sel in parts.items()})


    @classmethod
    def pooled(cls, parts: list[ColourStats]) -> ColourStats:
        """The people of several images as one set."""
        regions = {}
        for k in parts[0].regions:
            found = [p.regions[k] for p in parts if p.regions.get(k) is not None]
            regions[k] = Gaussian.pooled(found) if found else None
        return cls(Gaussian.pooled([p.person for p in parts]), regions)


def region_masks(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """``{region: which pixels}`` of ``(N, 3)`` uint8 RGB people pixels."""
    s = skin(rgb)
    return {"skin": s, "other": ~s}


def transfer_pixels(rgb: np.ndarray, style: ColourStats, min_pixels: int, use_regions: bool = True,
                    eps: float = 1e-4) -> np.ndarray:
    """``(N, 3)`` uint8 RGB people pixels recoloured to ``style``: float RGB in [0, 1]."""
    lab = rgb_to_lab(rgb.astype(np.float64) / 255)
    out = np.empty_like(lab)
    whole = monge_map(Gaussian.of(lab), style.person, eps)
    parts = region_masks(rgb) if use_regions else {"all": np.ones(len(rgb), bool)}
    for name, sel in parts.items():
        if not sel.any():
            continue
        target = style.regions.get(name)
        a, b = monge_map(Gaussian.of(lab[sel]), target, eps) if target is not None and sel.sum() >= min_pixels \
            else whole
        out[sel] = lab[sel] @ a.T + b
    return np.clip(lab_to_rgb(out), 0, 1)
