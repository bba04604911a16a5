"""Seeded, class-stratified subsets and splits of a labeled dataset."""

from __future__ import annotations

import numpy as np

from simreal.utils.errors import SimrealError


def split_indices(labels: np.ndarray, fractions: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    """Stratified disjoint split of ``range(len(labels))`` into parts with the given fractions."""
    if not np.isclose(sum(fractions.values()), 1.0):
        raise SimrealError(f"split fractions must sum to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {name: [] for name in fractions}
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        bounds = np.round(np.cumsum([0, *fractions.values()]) * len(idx)).astype(int)
        for name, lo, hi in zip(fractions, bounds[:-1], bounds[1:], strict=True):
            parts[name].extend(idx[lo:hi].tolist())
    return {name: np.sort(np.asarray(v, dtype=np.int64)) for name, v in parts.items()}


def stratified_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` indices with classes as balanced as possible (round-robin over shuffled classes)."""
    labels = np.asarray(labels)
    if not 0 < n <= len(labels):
        raise SimrealError(f"subset size must be in 1..{len(labels)}, got {n}")
    rng = np.random.default_rng(seed)
    queues = [list(rng.permutation(np.flatnonzero(labels == c))) for c in rng.permutation(np.unique(labels))]
    chosen: list[int] = []
    while len(chosen) < n:
        for q in queues:
            if q and len(chosen) < n:
                chosen.append(int(q.pop()))
    return np.sort(np.asarray(chosen, dtype=np.int64))
