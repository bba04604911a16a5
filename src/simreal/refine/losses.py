"""SimGAN losses: local adversarial loss (section 2.2) and self-regularization (Eq. 4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from simreal.utils.errors import ConfigError

REAL, REFINED = 0, 1


def local_adversarial_loss(logits: torch.Tensor, target: int, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of per-patch logits ``(B, 2, h, w)`` against one class (REAL=0 or REFINED=1).

    ``reduction="sum"`` sums over the ``h×w`` patches (the paper) and averages over the batch;
    ``"mean"`` averages over patches too, so λ does not depend on the image size. Returns a scalar.
    """
    labels = torch.full((logits.shape[0], *logits.shape[2:]), target, dtype=torch.long, device=logits.device)
    per_patch = F.cross_entropy(logits.float(), labels, reduction="none")  # (B, h, w)
    if reduction == "sum":
        return per_patch.flatten(1).sum(1).mean()
    if reduction == "mean":
        return per_patch.mean()
    raise ConfigError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def gaussian_kernel1d(sigma: float, device: torch.device | None = None) -> torch.Tensor:
    radius = max(1, round(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(B, C, H, W)`` with reflect padding."""
    k = gaussian_kernel1d(sigma, x.device).to(x.dtype)
    c, r = x.shape[1], k.numel() // 2
    pad_h = min(r, x.shape[2] - 1)
    pad_w = min(r, x.shape[3] - 1)
    y = F.pad(x, (pad_w, pad_w, pad_h, pad_h), mode="reflect" if min(pad_h, pad_w) > 0 else "replicate")
    kh = k[r - pad_h: r + pad_h + 1].view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    kw = k[r - pad_w: r + pad_w + 1].view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    return F.conv2d(F.conv2d(y, kh, groups=c), kw, groups=c)


def feature_transform(x: torch.Tensor, psi: str, scale: float = 2.0) -> torch.Tensor:
    """ψ of the self-regularization loss.

    - ``identity``: ψ(x) = x (the paper's default)
    - ``mean_channels``: mean over colour channels, ``(B, 1, H, W)``
    - ``downsample``: average pooling by the integer factor ``scale`` (keeps coarse shape, frees detail)
    - ``blur``: Gaussian blur with σ = ``scale`` pixels (same idea, no aliasing)
    """
    if psi == "identity":
        return x
    if psi == "mean_channels":
        return x.mean(dim=1, keepdim=True)
    if psi == "downsample":
        f = max(1, int(scale))
        return F.avg_pool2d(x, f, ceil_mode=True) if f > 1 else x
    if psi == "blur":
        return gaussian_blur(x, float(scale))
    raise ConfigError(f"unknown ψ {psi!r} (identity, mean_channels, downsample, blur)")


def self_regularization_loss(refined: torch.Tensor, synthetic: torch.Tensor, psi: str = "identity",
                             scale: float = 2.0, reduction: str = "mean") -> torch.Tensor:
    """‖ψ(R(x)) − ψ(x)‖₁ (Eq. 4 without λ): per-pixel mean (``"mean"``) or per-image sum (``"sum"``)."""
    diff = (feature_transform(refined, psi, scale) - feature_transform(synthetic, psi, scale)).abs()
    if reduction == "sum":
        return diff.flatten(1).sum(1).mean()
    return diff.mean()
