"""Training sources: the datasets of ``--data``, their batch shares and optional subsets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from simreal.data.bank import ImageBank
from simreal.data.reader import SimrealDataset, open_labeled
from simreal.data.subsets import stratified_subset
from simreal.utils.errors import ConfigError
from simreal.utils.seeding import numpy_rng


def shares_and_limits(data: list[Path], share: list[float], limit: list[int]) -> tuple[list[float], list[int]]:
    """One batch share and one subset size per ``--data`` (defaults: equal shares, whole datasets)."""
    if not data:
        raise ConfigError("give at least one --data dataset")
    share = share or [1.0] * len(data)
    limit = limit or [0] * len(data)
    if len(share) != len(data) or len(limit) != len(data):
        raise ConfigError("give one --share and one --limit per --data (or none)")
    bad = [s for s in share if not (np.isfinite(s) and s > 0)]
    if bad:
        raise ConfigError(f"--share must be positive, got {bad[0]:g}")
    if any(n < 0 for n in limit):
        raise ConfigError("--limit must be 0 (all) or a positive number of samples")
    return share, limit


def labeled_subset(ds: SimrealDataset, n: int, seed: int, stratify_by: str | None = None) -> SimrealDataset:
    """``n`` samples of ``ds``: stratified by the class field ``stratify_by`` when given, uniformly at random
    otherwise (all of them for ``n`` = 0)."""
    if not n or n >= len(ds):
        return ds
    if stratify_by is not None:
        return ds.subset(stratified_subset(ds.labels(stratify_by), n, seed))
    return ds.subset(np.sort(numpy_rng(seed, 7).choice(len(ds), n, replace=False)))


def open_image_sources(task: str, label: str, data: list[Path], share: list[float], limit: list[int], seed: int,
                       stratify: bool = False) -> list[tuple[ImageBank, float]]:
    """Banks (with ``label``) for ``--data`` of a ``task`` dataset, their batch shares and optional subsets
    (class-stratified with ``stratify``)."""
    share, limit = shares_and_limits(data, share, limit)
    by = label if stratify else None
    return [(ImageBank(labeled_subset(open_labeled(p, task, label), n, seed, by), label), float(s))
            for p, s, n in zip(data, share, limit, strict=True)]


def open_keypoint_sources(data: list[Path], share: list[float], limit: list[int], cfg: Any
                          ) -> list[tuple[Any, float]]:
    """Keypoint training sources (people of each ``--data``, crops as ``cfg.crop`` says) and their shares."""
    from simreal.data.keypoints import keypoint_set
    from simreal.tasks.keypoints.data import KeypointSource

    share, limit = shares_and_limits(data, share, limit)
    kset = keypoint_set(cfg.keypoint_set)
    return [(KeypointSource(p, kset, cfg.crop, limit=n), float(s)) for p, s, n in zip(data, share, limit, strict=True)]
