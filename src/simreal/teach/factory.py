"""The one place that turns a :class:`SamplerConfig` and a training source into groups and a sampler, for
``simreal train`` and every study alike.

A source is anything with ``factor(name) -> (N,) array`` (an :class:`~simreal.data.bank.ImageBank`: one value
per image; a keypoint source: one per person) and ``channels`` (what the teacher's network sees).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from simreal.teach.grouping import Grouping, check_groups, group_values, kmeans_groups
from simreal.teach.teacher import SAMPLERS, AdversarialTeacher, GroupDRO, GroupSampler, TeacherConfig
from simreal.utils.errors import ConfigError

#: factors grouped over a fixed range with linear bins, and the value of a sample that lacks them: the
#: paper's minimal distance (mD) bins span [0, 640) px, and a person alone in the image is as far as it gets
FACTOR_RANGES: dict[str, tuple[float, float]] = {"min_distance_px": (0.0, 640.0)}


RULES = ("linear", "quantile", "paper-pitch", "auto")


@dataclass(frozen=True)
class SamplerConfig(TeacherConfig):
    """Which samples of the last training source a batch takes: ``name`` ``none`` draws uniformly (plain
    training); ``teacher``, ``uniform-samples``, ``uniform-groups`` or ``group-dro`` draw from groups of that
    source, formed by ``group_by``. The adversarial teacher's settings (α, N, H, ε, ...) are inherited from
    :class:`~simreal.teach.teacher.TeacherConfig`; ``n_steps`` is every sampler's window."""

    name: str = "none"
    group_by: str = "rotation_deg"  # a factor of the samples, or kmeans:f1,f2,... over several
    groups: int = 10  # linear/quantile bins or clusters (categories of a text factor: one group each)
    rule: str = "linear"  # linear, quantile, paper-pitch, or auto (paper-pitch for camera_pitch_deg, else linear)
    dro_eta: float = 0.01  # Group DRO's step size η

    def __post_init__(self) -> None:
        check_sampler_name(self.name)
        if self.rule not in RULES:
            raise ConfigError(f"unknown grouping rule {self.rule!r}; available: {', '.join(RULES)}")
        if self.groups < 2:
            raise ConfigError(f"sampler.groups must be at least 2, not {self.groups}")

    @property
    def enabled(self) -> bool:
        return self.name != "none"

    def teacher(self) -> TeacherConfig:
        """The :class:`TeacherConfig` part of this config."""
        return TeacherConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(TeacherConfig)})


def check_sampler_name(name: str) -> None:
    if name != "none" and name not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}; available: none, {', '.join(SAMPLERS)}")


def make_grouping(source: Any, cfg: SamplerConfig, min_size: int, seed: int = 0) -> Grouping:
    """Groups of ``source``'s samples by ``cfg.group_by`` (see :class:`SamplerConfig`); groups smaller than
    ``min_size`` (the samples one batch takes from the source) are merged into a neighbour."""
    if cfg.group_by.startswith("kmeans:"):
        cols = [np.asarray(source.factor(f), dtype=float) for f in cfg.group_by.removeprefix("kmeans:").split(",")]
        grouping = kmeans_groups(np.stack(cols, axis=1), cfg.groups, seed)
    else:
        values = np.asarray(source.factor(cfg.group_by))
        rule = cfg.rule if cfg.rule != "auto" else ("paper-pitch" if cfg.group_by == "camera_pitch_deg" else "linear")
        lo, hi = None, None
        if cfg.group_by in FACTOR_RANGES:
            lo, hi = FACTOR_RANGES[cfg.group_by]
            values = np.where(np.isnan(values.astype(float)), hi, values)
            if rule != "linear":
                lo, hi = None, None
        grouping = group_values(values, cfg.groups, rule, lo, hi)
    return check_groups(grouping, min_size, merge_small=True)


def make_sampler(cfg: SamplerConfig, grouping: Grouping, seed: int, channels: int, min_group_size: int
                 ) -> GroupSampler:
    """The sampler ``cfg.name`` over ``grouping`` (``channels``: of the images the teacher sees)."""
    check_sampler_name(cfg.name)
    if cfg.name == "teacher":
        return AdversarialTeacher(grouping, seed, channels, cfg.teacher(), min_group_size=min_group_size)
    if cfg.name == "group-dro":
        return GroupDRO(grouping, seed, cfg.dro_eta, cfg.n_steps)
    if cfg.name == "none":
        raise ConfigError("sampler 'none' has no groups")
    return SAMPLERS[cfg.name](grouping, seed, cfg.n_steps)


def sampler_for(cfg: SamplerConfig, sources: list[tuple[Any, float]], take: int, seed: int) -> GroupSampler | None:
    """The sampler of a training run over the last of ``sources`` (the synthetic one; the first is the real
    one whose hardest samples the teacher sees), of which every batch takes ``take`` samples; None when
    ``cfg.name`` is ``none``."""
    if not cfg.enabled:
        return None
    check_sampler_name(cfg.name)
    if len(sources) < 2:
        raise ConfigError("a sampler needs two --data: the real data first, the synthetic data last")
    grouping = make_grouping(sources[-1][0], cfg, take, seed)
    return make_sampler(cfg, grouping, seed, sources[0][0].channels, take)
