"""What a trainer needs of an image task's network (digits, gaze): how to build it and its per-sample loss."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class ImageNetwork:
    build: Callable[[Any, int, tuple[int, int]], nn.Module]  # (net config, channels, (H, W)) -> module
    per_sample_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (B,) losses; the mean is trained
    target_dtype: torch.dtype  # of the labels the loss takes
    # (images, labels, the training config's augment, generator) -> both augmented; None: the trainer's
    # image-only shifts and noise (labels that do not move with the image)
    augment: Callable[[Tensor, Tensor, Any, torch.Generator], tuple[Tensor, Tensor]] | None = None
