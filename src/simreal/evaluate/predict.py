"""The prediction loop every image-task metric shares."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from simreal.data.bank import ImageBank


@torch.no_grad()
def predict_outputs(model: torch.nn.Module, bank: ImageBank, batch_size: int = 512,
                    forward: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor] | None = None) -> np.ndarray:
    """``model``'s outputs ``(N, ...)`` (float32) for every image of ``bank``, in dataset order, in eval mode;
    ``forward(model, images)`` instead of ``model(images)`` where the outputs need decoding (hand heatmaps)."""
    device = next(model.parameters()).device
    model.eval()
    out = []
    for start in range(0, len(bank), batch_size):
        idx = torch.arange(start, min(start + batch_size, len(bank)))
        images = bank.images(idx).to(device)
        out.append((model(images) if forward is None else forward(model, images)).float().cpu().numpy())
    return np.concatenate(out)
