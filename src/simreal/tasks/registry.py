"""The task networks simreal can train: which label each predicts, how to build it, and its loss."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from simreal.tasks.digits import DigitNet, classification_loss
from simreal.tasks.gaze import GazeNet, gaze_loss
from simreal.utils.errors import SimrealError


@dataclass(frozen=True)
class TaskSpec:
    name: str
    label: str  # the dataset field the network predicts
    build: Callable[[Any, int, tuple[int, int]], nn.Module]  # (net config, channels, (H, W)) -> module
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    target_dtype: torch.dtype
    per_sample_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (B,) losses, mean = loss


TASKS: dict[str, TaskSpec] = {
    "digits": TaskSpec("digits", "label", lambda cfg, ch, hw: DigitNet(cfg, ch), classification_loss, torch.long,
                       lambda logits, y: F.cross_entropy(logits, y, reduction="none")),
    "gaze": TaskSpec("gaze", "gaze", lambda cfg, ch, hw: GazeNet(cfg, ch, hw), gaze_loss, torch.float32,
                     lambda pred, y: ((pred - y.to(pred.dtype)) ** 2).sum(1)),
}


def task_spec(name: str) -> TaskSpec:
    if name not in TASKS:
        raise SimrealError(f"unknown task {name!r}; available: {', '.join(TASKS)}")
    return TASKS[name]
