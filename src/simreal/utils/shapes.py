"""Shape checks inside ``forward`` so that a wrong input fails with a clear message."""

from __future__ import annotations

import torch

from simreal.utils.errors import InputError


def assert_shape(x: torch.Tensor, ndim: int, channels: int, name: str) -> None:
    """Raise :class:`InputError` (a ``ValueError``) unless ``x`` is ``(B, channels, ...)`` with ``ndim`` dimensions."""
    if x.ndim != ndim or x.shape[1] != channels:
        raise InputError(f"{name} expects (B, {channels}, H, W) input, got {tuple(x.shape)}")
