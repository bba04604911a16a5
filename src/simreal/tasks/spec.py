"""What a trainer needs of an image task's network (digits, gaze): how to build it and its per-sample loss."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from simreal.utils.errors import ConfigError


@dataclass(frozen=True)
class ImageNetwork:
    build: Callable[[Any, int, tuple[int, int]], nn.Module]  # (net config, channels, (H, W)) -> module
    per_sample_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (B,) losses; the mean is trained
    target_dtype: torch.dtype  # of the labels the loss takes
    # (images, labels, the training config's augment, generator) -> both augmented; None: the trainer's
    # image-only shifts and noise (labels that do not move with the image)
    augment: Callable[[Tensor, Tensor, Any, torch.Generator], tuple[Tensor, Tensor]] | None = None


class LabelConsistency:
    """The refiner's label term ``f(refined, labels)``: a frozen task network's mean per-sample loss
    (``network.per_sample_loss``: digits cross-entropy, gaze the squared error of the gaze vector) on the
    refined images against the synthetic images' labels. Its gradient reaches the refiner, not the network.
    Only for networks that take their labels as stored (no ``augment``: hand joints, for one, become
    fractions of the crop per batch)."""

    def __init__(self, model: nn.Module, network: ImageNetwork):
        if network.augment is not None:
            raise ConfigError("this task prepares its labels per batch; its network cannot serve as the refiner's "
                              "label-consistency term (digits and gaze can)")
        self.model, self.network = model.eval().requires_grad_(False), network

    def __call__(self, refined: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.network.per_sample_loss(self.model(refined.float()), labels.to(self.network.target_dtype)).mean()
