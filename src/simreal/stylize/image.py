"""One image: the synthetic people's pixels restyled, everything else left byte for byte.

As the paper does before FastPhotoStyle, the image's larger side is brought to ``work_size`` (600 px) for
the transfer; there the people are recoloured (:mod:`~simreal.stylize.colour`) and the result smoothed with
the content image as the guide. What is put back at full resolution is the *change* (upsampled bilinearly
and added to the full-resolution pixels), so the synthetic people keep their full-resolution detail, and
only inside the synthetic people's full-resolution mask: no other pixel changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from simreal.stylize.colour import ColourStats, region_masks, transfer_pixels
from simreal.stylize.photowct import FeatureStyle, photowct_transfer
from simreal.utils.errors import ConfigError

METHODS = ("colour", "photowct")
Style = ColourStats | FeatureStyle


@dataclass(frozen=True)
class StylizeConfig:
    method: str = "colour"  # colour: masked colour transfer (offline, no weights); photowct: needs vgg_weights
    vgg_weights: str = ""  # PhotoWCT's weights file (safetensors or a weights-only torch state dict)
    work_size: int = 600  # the larger side during the transfer (the paper's 600 px); 0: full resolution
    regions: bool = True  # skin and the rest matched separately (else one map for the whole person)
    smooth_radius: int = 35  # guided filter window radius at work size (FastPhotoStyle's fast smoothing: 35); 0: off
    smooth_eps: float = 1e-3  # guided filter regularisation, in squared [0, 1] grey levels
    smooth_subsample: int = 4  # the fast guided filter's subsampling (1: exact)
    strength: float = 1.0  # 0: unchanged … 1: the full transfer
    min_pixels: int = 64  # a region needs this many pixels (at work size) on both sides for its own map
    min_style_pixels: int = 200  # fewer real-person pixels than this: the image is left as it is
    style_photos: int = 4  # --style DIR: the people of this many photos, drawn per image, pooled (colour method)
    cov_eps: float = 1e-4  # added to both covariances (lαβ units²)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"stylize method must be one of {', '.join(METHODS)} (got {self.method!r})")
        if self.method == "photowct" and not self.vgg_weights:
            raise ConfigError("--method photowct needs --vgg-weights FILE (simreal never downloads weights)")
        if (not 0 <= self.strength <= 1 or self.work_size < 0 or self.smooth_radius < 0 or self.smooth_subsample < 1
                or self.style_photos < 1):
            raise ConfigError("stylize: strength in [0, 1], work_size ≥ 0, smooth_radius ≥ 0, smooth_subsample ≥ 1, "
                              "style_photos ≥ 1")


def work_shape(h: int, w: int, work_size: int) -> tuple[int, int]:
    """(height, width) with the larger side brought down to ``work_size`` (never enlarged; 0: unchanged)."""
    if not work_size or max(h, w) <= work_size:
        return h, w
    s = work_size / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def to_work(image: np.ndarray, mask: np.ndarray, work_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (area-averaged) and ``mask`` (a pixel counts if at least half of it was masked) at work size."""
    import cv2

    h, w = image.shape[:2]
    wh = work_shape(h, w, work_size)
    if wh == (h, w):
        return image, mask
    small = cv2.resize(image, wh[::-1], interpolation=cv2.INTER_AREA)
    cover = cv2.resize(mask.astype(np.float32), wh[::-1], interpolation=cv2.INTER_AREA)
    return small, cover >= 0.5


def region_labels(image: np.ndarray, sel: np.ndarray, regions: bool) -> np.ndarray:
    """0 off the people, 1 on them, or with ``regions`` 1 + each pixel's region (skin, other)."""
    labels = sel.astype(np.uint8)
    if regions:
        values = np.ones(int(sel.sum()), np.uint8)
        for k, part in enumerate(region_masks(image[sel]).values()):
            values[part] = k + 1
        labels[sel] = values
    return labels


def style_stats(image: np.ndarray, mask: np.ndarray, cfg: StylizeConfig) -> Style | None:
    """The style of the real people (``mask``) of ``image`` at work size — their colours, or for PhotoWCT the
    image and its region labels; None with too few pixels."""
    small, sel = to_work(image, mask, cfg.work_size)
    if sel.sum() < cfg.min_style_pixels:
        return None
    if cfg.method == "photowct":
        return FeatureStyle(small, region_labels(small, sel, cfg.regions))
    return ColourStats.of(small[sel], cfg.min_pixels, cfg.regions)


def guided_smooth(guide: np.ndarray, delta: np.ndarray, sel: np.ndarray, cfg: StylizeConfig) -> np.ndarray:
    """The change ``delta`` (H, W, 3) of the ``sel`` pixels smoothed by kornia's guided filter with the uint8 image
    ``guide``, normalised by the filtered mask: the background's zero change does not dilute the people's (a
    limb one pixel wide keeps its change), and seams between regions follow the guide's edges."""
    from kornia.filters import guided_blur

    g = torch.tensor(guide).permute(2, 0, 1)[None].float() / 255  # a copy: PIL arrays are read-only
    x = np.concatenate([delta * sel[..., None], sel[..., None]], axis=-1).astype(np.float32)
    t = torch.from_numpy(x).permute(2, 0, 1)[None]
    k = 2 * cfg.smooth_radius + 1
    sub = max(1, min(cfg.smooth_subsample, min(guide.shape[:2]) // 4))
    out = guided_blur(g, t, k, cfg.smooth_eps, border_type="reflect", subsample=sub, separable=True)[0]
    out = out.permute(1, 2, 0).numpy()
    weight = out[..., 3:]
    return np.where(weight > 0.1, out[..., :3] / np.maximum(weight, 0.1), delta)


def extend(delta: np.ndarray, sel: np.ndarray, width: int = 2) -> np.ndarray:
    """``delta`` with the pixels just outside ``sel`` given the mean change of the ``sel`` pixels around them, so
    that upsampling does not fade the change on full-resolution edges and limbs thinner than a work pixel."""
    import cv2

    k = (2 * width + 1,) * 2
    weight = cv2.blur(sel.astype(np.float32), k)
    near = cv2.blur(delta * sel[..., None], k) / np.maximum(weight, 1e-6)[..., None]
    return np.where(sel[..., None] | (weight[..., None] == 0), delta, near)


def stylize_image(image: np.ndarray, content: np.ndarray, style: Style, cfg: StylizeConfig) -> np.ndarray:
    """``image`` (H, W, 3 uint8) whose ``content`` pixels (the synthetic people) take ``style``'s colours;
    every other pixel is returned unchanged."""
    import cv2

    out = image.copy()
    if not content.any() or cfg.strength == 0:
        return out
    small, sel = to_work(image, content, cfg.work_size)
    if not sel.any():  # people thinner than a work-size pixel: transfer at full resolution
        small, sel = image, content
    base = small.astype(np.float32) / 255
    if isinstance(style, FeatureStyle):
        moved = photowct_transfer(small, region_labels(small, sel, cfg.regions), style, cfg.vgg_weights)
    else:
        moved = base.copy()
        moved[sel] = transfer_pixels(small[sel], style, cfg.min_pixels, cfg.regions, cfg.cov_eps)
    delta = (moved - base) * sel[..., None]  # PhotoWCT also changes the background, which is not put back
    if cfg.smooth_radius:
        delta = guided_smooth(small, delta, sel, cfg)
    delta *= cfg.strength
    if delta.shape[:2] != image.shape[:2]:
        delta = cv2.resize(extend(delta, sel), image.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    changed = image[content].astype(np.float32) + 255 * delta[content]
    out[content] = np.clip(np.rint(changed), 0, 255).astype(np.uint8)
    return out
