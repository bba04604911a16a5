"""The hand-pose network of SimGAN's section 3.2: a stacked hourglass (Newell et al. 2016) on 224×224 depth
crops, 64×64 heatmaps of NYU's 14 joints, intermediate supervision, and sub-pixel decoding.

**224 → 64.** The crop is resized (nearest neighbour: depth is never blended across an edge) to
``input_size`` (256 in the paper preset: Newell's stem, a 7×7 stride-2 convolution, a residual module, a 2×2
max-pool, then two residual modules, brings it to 64×64; the CPU preset uses 128 and a stride-2 stem without
the pool; the CPU hand study uses 64, and so 32×32 heatmaps, for a third of the 128 step's time). Heatmap pixel
``(i, j)`` covers crop pixels ``[i·224/64, (i+1)·224/64)``: a joint at crop ``u``
lies at heatmap ``u·64/224`` (pixel centres at +0.5 in both frames; the same for other crop sizes).

**Crop sizes.** Crops of any square size work (224, the paper's; smaller ones for a CPU): the trainer's
batches carry joints as fractions of the crop's width (:func:`prepare_batch`), and decoding returns pixels
of the crop it is given.

**Targets and loss.** Each joint's target is a Gaussian of ``SIGMA`` = 1.5 heatmap pixels around its position; the
per-sample loss is the mean squared error of every stack's heatmaps (intermediate supervision), each pixel
weighted by ``1 + FOREGROUND · target`` (``FOREGROUND`` = 20: the peak counts 21× the background, so the
network leaves the all-zero heatmap sooner, measured by ``scripts/hand_learning.py``), over the joints inside
the crop (visibility > 0; hidden joints are trained, since depth shows where a hidden finger must be; joints
outside the crop are not).

**Augmentation** (the paper: rotations in [−20°, 20°] and crops): each image is rotated about its centre by
``rotate_deg``, scaled by ``scale`` and shifted by up to ``shift`` of its size, resampled by nearest
neighbour with far (1.0) where it leaves the image; joints follow, and those leaving the crop are dropped.

**Decoding**: the arg-max of the last stack's heatmap, moved to the vertex of the parabola through the logarithm
of it and its two neighbours along each axis (exact for a Gaussian peak; values clamped to ≥ 10⁻⁶, the shift
to ±0.5 px), then mapped to crop pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from simreal.tasks.spec import ImageNetwork
from simreal.utils.errors import ConfigError
from simreal.utils.shapes import assert_shape

SIGMA = 1.5  # the target Gaussians' standard deviation, heatmap pixels
FOREGROUND = 20.0  # extra weight of a heatmap pixel per unit of target (module docstring)


@dataclass(frozen=True)
class HandNetConfig:
    joints: int = 14
    stacks: int = 2  # hourglass blocks (the paper: 2)
    features: int = 64  # channels inside the hourglasses (Newell: 256)
    depth: int = 4  # downsamplings per hourglass (64 → 4 at depth 4)
    input_size: int = 128  # the crop is resized to this first (256: Newell's stem; 64: the CPU study's)
    heatmap: int = 64  # its output size: 64 for inputs of 128 and 256, 32 for 64


HEATMAP_OF_INPUT = {64: 32, 128: 64, 256: 64}


PAPER = HandNetConfig(features=256, input_size=256)


class Residual(nn.Module):
    """Newell's bottleneck residual module (pre-activation): BN-ReLU-conv1×1 (c/2), BN-ReLU-conv3×3 (c/2),
    BN-ReLU-conv1×1 (c), plus the input (through a 1×1 convolution where the channels change)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        mid = max(c_out // 2, 1)
        self.body = nn.Sequential(
            nn.BatchNorm2d(c_in), nn.ReLU(inplace=True), nn.Conv2d(c_in, mid, 1),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, mid, 3, padding=1),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, c_out, 1))
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.skip(x)


class Hourglass(nn.Module):
    def __init__(self, depth: int, c: int):
        super().__init__()
        self.up = Residual(c, c)
        self.low1 = Residual(c, c)
        self.low2 = Hourglass(depth - 1, c) if depth > 1 else Residual(c, c)
        self.low3 = Residual(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.low3(self.low2(self.low1(F.max_pool2d(x, 2))))
        return self.up(x) + F.interpolate(low, scale_factor=2, mode="nearest")


class StackedHourglass(nn.Module):
    """Input ``(B, 1, S, S)`` depth crops in [-1, 1] (S = 224, the paper's, or any other); output
    ``(B, stacks, joints, 64, 64)`` heatmaps."""

    def __init__(self, cfg: HandNetConfig = HandNetConfig(), in_channels: int = 1):
        super().__init__()
        if HEATMAP_OF_INPUT.get(cfg.input_size) != cfg.heatmap:
            raise ConfigError("net.input_size and net.heatmap must be one of "
                              f"{', '.join(f'{i} and {h}' for i, h in HEATMAP_OF_INPUT.items())}; got "
                              f"{cfg.input_size} and {cfg.heatmap}")
        self.cfg, self.in_channels = cfg, in_channels
        c = cfg.features
        stem = [nn.Conv2d(in_channels, c // 4, 7, stride=2, padding=3), nn.BatchNorm2d(c // 4), nn.ReLU(inplace=True),
                Residual(c // 4, c // 2)]
        if cfg.input_size == 256:
            stem.append(nn.MaxPool2d(2))
        self.stem = nn.Sequential(*stem, Residual(c // 2, c // 2), Residual(c // 2, c))
        self.hourglasses = nn.ModuleList(Hourglass(cfg.depth, c) for _ in range(cfg.stacks))
        self.features = nn.ModuleList(nn.Sequential(Residual(c, c), nn.Conv2d(c, c, 1), nn.BatchNorm2d(c),
                                                    nn.ReLU(inplace=True)) for _ in range(cfg.stacks))
        self.heads = nn.ModuleList(nn.Conv2d(c, cfg.joints, 1) for _ in range(cfg.stacks))
        self.merge_features = nn.ModuleList(nn.Conv2d(c, c, 1) for _ in range(cfg.stacks - 1))
        self.merge_heatmaps = nn.ModuleList(nn.Conv2d(cfg.joints, c, 1) for _ in range(cfg.stacks - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert_shape(x, 4, self.in_channels, "StackedHourglass")
        size = self.cfg.input_size
        if tuple(x.shape[2:]) != (size, size):
            x = F.interpolate(x, size=(size, size), mode="nearest")
        x = self.stem(x)
        out = []
        for k, hourglass in enumerate(self.hourglasses):
            y = self.features[k](hourglass(x))
            heat = self.heads[k](y)
            out.append(heat)
            if k < len(self.hourglasses) - 1:
                x = x + self.merge_features[k](y) + self.merge_heatmaps[k](heat)
        return torch.stack(out, 1)


def target_heatmaps(keypoints: torch.Tensor, size: int = 64, sigma: float = SIGMA) -> torch.Tensor:
    """``(B, J, size, size)`` Gaussians at the joints ``(B, J, 3)`` (u, v as fractions of the crop, visibility)."""
    grid = torch.arange(size, dtype=torch.float32, device=keypoints.device) + 0.5
    u = keypoints[..., 0:1] * size  # (B, J, 1), heatmap pixels
    v = keypoints[..., 1:2] * size
    gx = torch.exp(-((grid - u) ** 2) / (2 * sigma**2))  # (B, J, size)
    gy = torch.exp(-((grid - v) ** 2) / (2 * sigma**2))
    return gy[..., :, None] * gx[..., None, :]


def heatmap_loss(pred: torch.Tensor, keypoints: torch.Tensor, sigma: float = SIGMA, foreground: float = FOREGROUND
                 ) -> torch.Tensor:
    """Per-sample mean squared heatmap error over stacks and the joints inside the crop, ``(B,)``; joints as
    :func:`target_heatmaps` takes them."""
    target = target_heatmaps(keypoints, pred.shape[-1], sigma).to(pred.dtype)
    weight = (keypoints[..., 2] > 0).to(pred.dtype)  # (B, J)
    err = ((1 + foreground * target[:, None]) * (pred - target[:, None]) ** 2).mean((-1, -2))  # (B, S, J)
    return (err * weight[:, None]).sum((1, 2)) / (weight.sum(1) * pred.shape[1]).clamp(min=1)


def decode(heatmaps: torch.Tensor, crop: int) -> torch.Tensor:
    """Joint positions ``(B, J, 2)`` in crop pixels from heatmaps ``(B, J, H, W)`` (module docstring)."""
    b, j, h, w = heatmaps.shape
    flat = heatmaps.reshape(b, j, -1)
    idx = flat.argmax(-1)
    y, x = idx // w, idx % w
    logs = flat.clamp(min=1e-6).log()  # a parabola through log values: exact for a Gaussian peak

    def at(dy: int, dx: int) -> torch.Tensor:
        yy, xx = (y + dy).clamp(0, h - 1), (x + dx).clamp(0, w - 1)
        return logs.gather(-1, (yy * w + xx)[..., None])[..., 0]

    def offset(minus: torch.Tensor, centre: torch.Tensor, plus: torch.Tensor) -> torch.Tensor:
        curvature = minus - 2 * centre + plus
        step = torch.where(curvature < -1e-12, 0.5 * (minus - plus) / curvature.clamp(max=-1e-12), 0.0)
        return step.clamp(-0.5, 0.5)

    c = at(0, 0)
    ox = torch.where((x > 0) & (x < w - 1), offset(at(0, -1), c, at(0, 1)), torch.zeros_like(c))
    oy = torch.where((y > 0) & (y < h - 1), offset(at(-1, 0), c, at(1, 0)), torch.zeros_like(c))
    return torch.stack([(x.float() + 0.5 + ox) * crop / w, (y.float() + 0.5 + oy) * crop / h], -1)


def augment_hands(x: torch.Tensor, keypoints: torch.Tensor, rotate_deg: float, scale: tuple[float, float],
                  shift: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotated, scaled and shifted crops ``(B, 1, H, W)`` in [-1, 1] and their joints (module docstring)."""
    b, _, h, w = x.shape
    theta = (torch.rand(b, generator=gen) * 2 - 1) * math.radians(rotate_deg)
    s = scale[0] + torch.rand(b, generator=gen) * (scale[1] - scale[0])
    t = (torch.rand(b, 2, generator=gen) * 2 - 1) * 2 * shift  # normalised units (the image spans 2)
    cos, sin = torch.cos(theta), torch.sin(theta)
    rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # (B, 2, 2)
    # output point p maps to input point rot·p / s + t (normalised coordinates, square images)
    affine = torch.cat([rot / s[:, None, None], t[..., None]], -1).to(x.device, x.dtype)
    grid = F.affine_grid(affine, list(x.shape), align_corners=False)
    out = F.grid_sample(x - 1, grid, mode="nearest", padding_mode="zeros", align_corners=False) + 1  # far outside
    size = torch.tensor([w, h], dtype=torch.float32, device=keypoints.device)
    p_in = keypoints[..., :2] / size * 2 - 1
    rel = (p_in - t[:, None, :].to(keypoints.device)) * s[:, None, None].to(keypoints.device)
    p_out = torch.einsum("bij,bkj->bki", rot.transpose(1, 2).to(keypoints.device), rel)
    uv = (p_out + 1) / 2 * size
    inside = (uv >= 0).all(-1) & (uv[..., 0] < w) & (uv[..., 1] < h)
    vis = torch.where(inside, keypoints[..., 2], torch.zeros_like(keypoints[..., 2]))
    return out, torch.cat([uv, vis[..., None]], -1)


@torch.no_grad()
def predict_joints(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """``(B, J, 2)`` joint positions (crop pixels) decoded from the last stack's heatmaps."""
    model.eval()
    return decode(model(images)[:, -1].float(), images.shape[-1])


def prepare_batch(x: torch.Tensor, keypoints: torch.Tensor, cfg: Any, gen: torch.Generator
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """A training batch: augmented (``cfg``: the training config's ``augment``), joints as fractions of the crop."""
    x, keypoints = augment_hands(x, keypoints, cfg.rotate_deg, cfg.scale, cfg.shift, gen)
    return x, torch.cat([keypoints[..., :2] / x.shape[-1], keypoints[..., 2:]], -1)


NETWORK = ImageNetwork(lambda cfg, channels, hw: StackedHourglass(cfg, channels), heatmap_loss, torch.float32,
                       augment=prepare_batch)
