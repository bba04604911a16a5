"""Explicit random generators derived from one seed (no global RNG in library code)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


def numpy_rng(seed: int, *stream: int) -> np.random.Generator:
    """A numpy generator for ``seed`` and an optional stream id (e.g. a sample index).

    Per-index streams make generation order-independent: sample ``i`` has the same bytes whether
    it is written in one run, after a resume, or by shard ``K/N``.
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(int, stream)]))


def torch_generator(seed: int, *stream: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch generator seeded from ``(seed, *stream)`` through numpy's SeedSequence."""
    state = np.random.SeedSequence([int(seed), *map(int, stream)]).generate_state(1, np.uint64)[0]
    gen = torch.Generator(device=device)
    gen.manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)
    return gen


def pick_device(requested: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else CPU; ``cpu``/``cuda``/``cuda:1`` are taken literally."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


@contextmanager
def seeded_init(seed: int, *stream: int) -> Iterator[None]:
    """Build modules inside this block to get weights that depend only on ``(seed, *stream)``.

    PyTorch's initialisers use the global RNG; this forks it, so the caller's global state is untouched.
    """
    state = np.random.SeedSequence([int(seed), 0x1A1, *map(int, stream)]).generate_state(1, np.uint64)[0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)
        yield
