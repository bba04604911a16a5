"""The gaze network of the SimGAN paper (section 3.1) and its loss.

Architecture (35×55 grey input): conv3×3 32, conv3×3 32, conv3×3 64, maxpool 3×3/2, conv3×3 80,
conv3×3 192, maxpool 2×2/2, "FC9600", FC1000, FC3, Euclidean loss on the 3D gaze vector.

How we read "FC9600": with unpadded ("valid") 3×3 convolutions a 35×55 input becomes
33×53 → 31×51 → 29×49 → (pool 3/2) 14×24 → 12×22 → 10×20 → (pool 2/2) 5×10 feature maps of 192
channels, and 5 × 10 × 192 = 9600 exactly. So FC9600 is the flattened 9600-dimensional feature vector
that feeds FC1000, not a 9600-unit layer (which would add 92 M weights). Other input sizes work (the
flattened size follows), e.g. MPIIGaze's 36×60 gives 10,560. ReLU after every conv and hidden FC; the
paper does not name the activation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from simreal.tasks.spec import ImageNetwork
from simreal.utils.shapes import assert_shape


@dataclass(frozen=True)
class GazeNetConfig:
    widths: tuple[int, int, int, int, int] = (32, 32, 64, 80, 192)  # the five conv layers
    hidden: tuple[int, ...] = (1000,)  # FC layers between the flattened features and FC3
    dropout: float = 0.0
    normalize_input: bool = False  # subtract each image's mean and divide by its std first


class GazeNet(nn.Module):
    """Input ``(B, C, H, W)`` in [-1, 1]; output ``(B, 3)`` gaze vectors (not normalised)."""

    def __init__(self, cfg: GazeNetConfig = GazeNetConfig(), in_channels: int = 1,
                 image_size: tuple[int, int] = (35, 55)):
        super().__init__()
        c1, c2, c3, c4, c5 = cfg.widths
        self.cfg, self.in_channels, self.image_size = cfg, in_channels, tuple(image_size)
        relu = lambda: nn.ReLU(inplace=True)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3), relu(), nn.Conv2d(c1, c2, 3), relu(), nn.Conv2d(c2, c3, 3), relu(),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(c3, c4, 3), relu(), nn.Conv2d(c4, c5, 3), relu(),
            nn.MaxPool2d(2, 2),
            nn.Flatten(),
        )
        with torch.no_grad():
            self.flat_features = self.features(torch.zeros(1, in_channels, *self.image_size)).shape[1]
        layers: list[nn.Module] = []
        width = self.flat_features
        for h in cfg.hidden:
            layers += [nn.Linear(width, h), relu()] + ([nn.Dropout(cfg.dropout)] if cfg.dropout > 0 else [])
            width = h
        self.head = nn.Sequential(*layers, nn.Linear(width, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert_shape(x, 4, self.in_channels, "GazeNet")
        if tuple(x.shape[2:]) != self.image_size:
            x = F.interpolate(x, size=self.image_size, mode="bilinear", align_corners=False)
        if self.cfg.normalize_input:
            mean = x.mean((1, 2, 3), keepdim=True)
            x = (x - mean) / x.std((1, 2, 3), keepdim=True).clamp(min=1e-3)
        return self.head(self.features(x))


def gaze_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The paper's Euclidean (L2) loss per sample: ``‖pred − target‖²``, shape ``(B,)``; training minimises its
    mean over the batch."""
    return ((pred - target.to(pred.dtype)) ** 2).sum(1)


NETWORK = ImageNetwork(lambda cfg, channels, hw: GazeNet(cfg, channels, hw), gaze_loss, torch.float32)
