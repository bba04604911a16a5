"""Image grids for run directories and reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from simreal.utils.fileio import atomic_write


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """``(C, H, W)`` in [-1, 1] -> uint8 ``(H, W, 3)``."""
    arr = ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
    arr = np.repeat(arr, 3, axis=0) if arr.shape[0] == 1 else arr[:3]
    return np.transpose(arr, (1, 2, 0))


def stretch(t: torch.Tensor) -> torch.Tensor:
    """``t`` linearly mapped onto [-1, 1] (its minimum to -1, its maximum to 1): a map or mean image for a grid."""
    return (t - t.min()) / (t.max() - t.min()).clamp(min=1e-12) * 2 - 1


def grid_image(rows: list[torch.Tensor], min_cell: int = 48, pad: int = 2) -> Image.Image:
    """One row per tensor ``(n, C, H, W)`` (values in [-1, 1]); cells upscaled to ≥ ``min_cell`` px."""
    n = max(r.shape[0] for r in rows)
    h, w = rows[0].shape[2:]
    zoom = max(1, int(np.ceil(min_cell / max(h, w))))
    ch, cw = h * zoom + pad, w * zoom + pad
    canvas = np.full((len(rows) * ch + pad, n * cw + pad, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c in range(row.shape[0]):
            tile = to_uint8(row[c]).repeat(zoom, 0).repeat(zoom, 1)
            canvas[pad + r * ch: pad + r * ch + h * zoom, pad + c * cw: pad + c * cw + w * zoom] = tile
    return Image.fromarray(canvas)


def save_grid(rows: list[torch.Tensor], path: str | Path, min_cell: int = 48) -> Path:
    img = grid_image(rows, min_cell)
    return atomic_write(path, lambda p: img.save(p, format="PNG"))
