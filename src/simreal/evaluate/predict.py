"""The prediction loop every image-task metric shares."""

from __future__ import annotations

import numpy as np
import torch

from simreal.data.bank import ImageBank


@torch.no_grad()
def predict_outputs(model: torch.nn.Module, bank: ImageBank, batch_size: int = 512) -> np.ndarray:
    """``model``'s outputs ``(N, ...)`` (float32) for every image of ``bank``, in dataset order, in eval mode."""
    device = next(model.parameters()).device
    model.eval()
    out = []
    for start in range(0, len(bank), batch_size):
        idx = torch.arange(start, min(start + batch_size, len(bank)))
        out.append(model(bank.images(idx).to(device)).float().cpu().numpy())
    return np.concatenate(out)
