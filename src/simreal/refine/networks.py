"""SimGAN networks (Shrivastava et al. 2017, sections 2 and 3): the refiner R and the discriminator D."""

from __future__ import annotations

import torch
from torch import nn

from simreal.utils.errors import ConfigError, InputError
from simreal.utils.shapes import assert_shape


def _norm(kind: str, width: int) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(width)
    if kind == "instance":
        return nn.InstanceNorm2d(width, affine=True)
    raise ConfigError(f"unknown norm {kind!r} (none, batch, instance)")


class ResnetBlock(nn.Module):
    """conv k×k → ReLU → conv k×k, plus the input, then ReLU (the paper's refiner block)."""

    def __init__(self, width: int, kernel: int, norm: str = "none", padding: str = "zeros"):
        super().__init__()
        pad = kernel // 2
        self.body = nn.Sequential(
            nn.Conv2d(width, width, kernel, padding=pad, padding_mode=padding), _norm(norm, width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, kernel, padding=pad, padding_mode=padding), _norm(norm, width),
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class Refiner(nn.Module):
    """Fully convolutional ResNet R_θ: conv k×k (w) → n ResNet blocks → conv 1×1 → tanh.

    No striding or pooling, so any image size works and every output pixel sees a
    ``(2n + 1)(k − 1) + 1`` pixel neighbourhood. Input and output: ``(B, C, H, W)`` in [-1, 1].

    Beyond the paper, ``noise_channels > 0`` feeds standard-normal noise maps as extra input channels
    (as PixelDA does), so R can synthesise sensor noise instead of faking it with input-dependent
    patterns; a deterministic R cannot produce noise that is independent of its input.

    ``padding`` is the convs' border rule: ``"zeros"`` (PyTorch's default; the paper does not say) or
    ``"reflect"``/``"replicate"``. With zeros every conv sees a dark frame around the image, and a refiner
    learns to mark the border (visible in the std image of refined eyes, README): a signature of its own.

    Example::

        >>> R = Refiner(in_channels=1, width=64, blocks=4, kernel=3)
        >>> R(torch.zeros(2, 1, 35, 55)).shape
        torch.Size([2, 1, 35, 55])
    """

    def __init__(self, in_channels: int = 1, width: int = 64, blocks: int = 4, kernel: int = 3, norm: str = "none",
                 noise_channels: int = 0, padding: str = "zeros"):
        super().__init__()
        if kernel % 2 != 1:
            raise ConfigError(f"kernel must be odd to keep the image size, got {kernel}")
        if padding not in ("zeros", "reflect", "replicate"):
            raise ConfigError(f"unknown refiner padding {padding!r} (zeros, reflect, replicate)")
        self.in_channels, self.noise_channels = in_channels, noise_channels
        self.head = nn.Sequential(nn.Conv2d(in_channels + noise_channels, width, kernel, padding=kernel // 2,
                                            padding_mode=padding), nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(*[ResnetBlock(width, kernel, norm, padding) for _ in range(blocks)])
        self.tail = nn.Conv2d(width, in_channels, 1)

    @property
    def receptive_field(self) -> int:
        k = self.head[0].kernel_size[0]
        return (2 * len(self.blocks) + 1) * (k - 1) + 1

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """``noise`` ``(B, noise_channels, H, W)``, standard normal, is required iff ``noise_channels > 0``."""
        assert_shape(x, 4, self.in_channels, "Refiner")
        if self.noise_channels:
            if noise is None or noise.shape[1] != self.noise_channels:
                raise InputError(f"this refiner takes {self.noise_channels} noise channel(s): pass noise=")
            x = torch.cat([x, noise.to(device=x.device, dtype=x.dtype)], 1)
        return torch.tanh(self.tail(self.blocks(self.head(x))))


def parse_layers(spec: tuple[str, ...]) -> list[tuple[str, int, int, int]]:
    """``("conv:96:3:2", "maxpool:3:1")`` -> ``[("conv", 96, 3, 2), ("maxpool", 0, 3, 1)]``."""
    layers = []
    for item in spec:
        parts = item.split(":")
        try:
            if parts[0] == "conv" and len(parts) == 4:
                layers.append(("conv", int(parts[1]), int(parts[2]), int(parts[3])))
            elif parts[0] == "maxpool" and len(parts) == 3:
                layers.append(("maxpool", 0, int(parts[1]), int(parts[2])))
            else:
                raise ConfigError
        except (ValueError, ConfigError):
            raise ConfigError(f"bad discriminator layer {item!r}: use conv:C:K:S or maxpool:K:S") from None
    return layers


# Section 3.1 (eyes) and 3.2 (hands) of the paper; the last 1×1 conv gives 2 logits per patch.
EYE_LAYERS = ("conv:96:3:2", "conv:64:3:2", "maxpool:3:1", "conv:32:3:1", "conv:32:1:1", "conv:2:1:1")
HAND_LAYERS = ("conv:96:7:4", "conv:64:5:2", "maxpool:3:2", "conv:32:3:2", "conv:32:1:1", "conv:2:1:1")


class PatchDiscriminator(nn.Module):
    """D_φ: a fully convolutional net giving raw logits ``(B, 2, h, w)``, one pair per local patch.

    Channel 0 is "real", channel 1 is "refined" (the paper's label 1). There is deliberately no
    activation after the last layer: a ReLU on logits (as in one of three public ports checked) makes
    the "real" logit unable to go negative and stalls training. With ``global_=True`` the logits are
    averaged over space, which gives the whole-image discriminator of the paper's ablation.
    """

    def __init__(self, in_channels: int = 1, layers: tuple[str, ...] = EYE_LAYERS, global_: bool = False):
        super().__init__()
        parsed = parse_layers(layers)
        if not parsed or parsed[-1][0] != "conv" or parsed[-1][1] != 2:
            raise ConfigError("the last discriminator layer must be a conv with 2 output maps (real, refined)")
        mods: list[nn.Module] = []
        ch = in_channels
        for i, (kind, out, k, s) in enumerate(parsed):
            if kind == "conv":
                mods.append(nn.Conv2d(ch, out, k, stride=s, padding=k // 2))
                ch = out
                if i < len(parsed) - 1:
                    mods.append(nn.ReLU(inplace=True))
            else:
                mods.append(nn.MaxPool2d(k, stride=s, padding=k // 2))
        self.in_channels = in_channels
        self.net = nn.Sequential(*mods)
        self.global_ = global_

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert_shape(x, 4, self.in_channels, "PatchDiscriminator")
        logits = self.net(x)
        if self.global_:
            logits = logits.mean(dim=(2, 3), keepdim=True)
        return logits
