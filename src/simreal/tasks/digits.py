"""A small CNN digit classifier for 8×8 (or any size) grey images."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from simreal.tasks.spec import ImageNetwork
from simreal.utils.shapes import assert_shape


@dataclass(frozen=True)
class DigitNetConfig:
    width: int = 32
    hidden: int = 128
    dropout: float = 0.3
    classes: int = 10
    stem_stride: int = 1  # 2 for 28×28 digits: the first convolution halves the image (4× fewer FLOPs)


class DigitNet(nn.Module):
    """conv3×3 w (stride ``stem_stride``) → conv3×3 w → maxpool 2 → conv3×3 2w → 2×2 average pool → FC → FC 10.

    Input ``(B, 1, H, W)`` in [-1, 1]; output logits ``(B, classes)``.
    """

    def __init__(self, cfg: DigitNetConfig = DigitNetConfig(), in_channels: int = 1):
        super().__init__()
        w = cfg.width
        self.in_channels = in_channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, stride=cfg.stem_stride, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w, w, 3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(8 * w, cfg.hidden), nn.ReLU(inplace=True), nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, cfg.classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert_shape(x, 4, self.in_channels, "DigitNet")
        return self.head(self.features(x))


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of ``(B, classes)`` logits against ``(B,)`` class indices, per sample ``(B,)``."""
    return F.cross_entropy(logits, labels, reduction="none")


NETWORK = ImageNetwork(lambda cfg, channels, hw: DigitNet(cfg, channels), classification_loss, torch.long)
