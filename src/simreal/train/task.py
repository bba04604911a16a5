"""Training a task network (digits, gaze, hand) on one or more datasets mixed with fixed shares in every batch.

Every batch holds ``round(share·b)`` samples of each source (e.g. 50 % real / 50 % synthetic), drawn
with replacement from explicit generators, so runs are deterministic and resumable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from simreal.data.bank import ImageBank
from simreal.tasks import digits, gaze, hands
from simreal.tasks.digits import DigitNetConfig
from simreal.tasks.gaze import GazeNetConfig
from simreal.tasks.hands import HandNetConfig
from simreal.tasks.spec import ImageNetwork
from simreal.teach.factory import SamplerConfig
from simreal.train.loop import SampledTrainer
from simreal.utils.errors import ConfigError, SimrealError
from simreal.utils.seeding import pick_device, seeded_init, torch_generator


@dataclass(frozen=True)
class AugmentConfig:
    shift_px: int = 1  # random integer translation
    pad: Literal["constant", "replicate"] = "constant"  # fill of shifted-in pixels: black (-1) or the edge
    noise: float = 0.0  # std of additive Gaussian noise in [-1, 1] units


@dataclass(frozen=True)
class ClassifierTrainConfig:
    """Digit classifier training (the built-in demo)."""

    TASK: ClassVar[str] = "digits"
    NETWORK: ClassVar[ImageNetwork] = digits.NETWORK
    channels_last: ClassVar[bool] = False  # 8×8 images: nothing to gain
    lr_schedule: ClassVar[str] = "constant"
    net: DigitNetConfig = field(default_factory=DigitNetConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    steps: int = 1500
    batch_size: int = 64
    lr: float = 0.001
    weight_decay: float = 0.0001
    seed: int = 0
    device: str = "auto"
    log_every: int = 100
    checkpoint_every: int = 500
    sampler: SamplerConfig = field(default_factory=SamplerConfig)  # of the last --data (off by default)


@dataclass(frozen=True)
class GazeTrainConfig:
    """GazeNet training. The paper: constant learning rate 0.001, batch 512, until the validation error
    converges (optimizer not given; we use AdamW)."""

    TASK: ClassVar[str] = "gaze"
    NETWORK: ClassVar[ImageNetwork] = gaze.NETWORK
    channels_last: ClassVar[bool] = False  # not measured for GazeNet
    lr_schedule: ClassVar[str] = "constant"
    net: GazeNetConfig = field(default_factory=GazeNetConfig)
    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig(shift_px=2, pad="replicate"))
    steps: int = 3000
    batch_size: int = 512
    lr: float = 0.001
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"
    log_every: int = 100
    checkpoint_every: int = 500
    sampler: SamplerConfig = field(default_factory=lambda: SamplerConfig(group_by="eye_pitch_deg"))  # last --data


@dataclass(frozen=True)
class HandAugmentConfig:
    rotate_deg: float = 20.0  # uniform in [−r, r] (the paper: ±20°)
    scale: tuple[float, float] = (0.9, 1.1)
    shift: float = 0.05  # of the crop's size, each axis


@dataclass(frozen=True)
class HandTrainConfig:
    """The stacked hourglass on depth crops (SimGAN section 3.2). The paper gives no optimizer or schedule for
    it; AdamW at a constant rate as the other tasks (2.5e-3 learned faster than 1e-3: scripts/hand_learning.py),
    batch 16 for a CPU."""

    TASK: ClassVar[str] = "hand"
    NETWORK: ClassVar[ImageNetwork] = hands.NETWORK
    net: HandNetConfig = field(default_factory=HandNetConfig)
    augment: HandAugmentConfig = field(default_factory=HandAugmentConfig)
    steps: int = 1000
    batch_size: int = 16
    lr: float = 0.0025
    lr_schedule: str = "constant"  # or cosine: step k = 0…steps−1 at lr · ½(1 + cos(π · k / steps))
    channels_last: bool = True  # 1.18-1.23x the eager NCHW step (benchmarks/bench_hourglass.py)
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"
    log_every: int = 50
    checkpoint_every: int = 250
    sampler: SamplerConfig = field(default_factory=lambda: SamplerConfig(group_by="pose_class"))  # last --data


TrainConfig = ClassifierTrainConfig | GazeTrainConfig | HandTrainConfig


def augment(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Random per-image integer shifts (``cfg.pad`` fill) and Gaussian noise; ``(B, C, H, W)`` in [-1, 1]."""
    if cfg.shift_px > 0:
        s = cfg.shift_px
        fill = {"value": -1.0} if cfg.pad == "constant" else {}
        padded = torch.nn.functional.pad(x, (s, s, s, s), mode=cfg.pad, **fill)
        dx = torch.randint(0, 2 * s + 1, (x.shape[0],), generator=gen)
        dy = torch.randint(0, 2 * s + 1, (x.shape[0],), generator=gen)
        h, w = x.shape[2:]
        x = torch.stack([padded[i, :, dy[i]: dy[i] + h, dx[i]: dx[i] + w] for i in range(x.shape[0])])
    if cfg.noise > 0:
        x = (x + cfg.noise * torch.randn(x.shape, generator=gen)).clamp(-1, 1)
    return x


def batch_counts(shares: list[float], batch_size: int) -> list[int]:
    """Samples per source in one batch (largest remainder), e.g. [0.5, 0.5], 64 -> [32, 32]."""
    total = sum(shares)
    raw = np.array(shares, dtype=float) / total * batch_size
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts))[: batch_size - counts.sum()]:
        counts[i] += 1
    return counts.tolist()


class TaskTrainer(SampledTrainer):
    """Trains the task network of ``cfg`` (``cfg.TASK``) on ``sources`` = [(bank with labels, share), ...]."""

    def __init__(self, cfg: TrainConfig, sources: list[tuple[ImageBank, float]],
                 run_dir: str | Path | None = None, show_progress: bool | None = None,
                 sampler: Any = None, sampler_source: int = 1, real_source: int = 0):
        """``sampler`` (a :mod:`simreal.teach` group sampler) picks the samples of source ``sampler_source``
        and observes the per-sample losses of source ``real_source`` (the teacher's inputs)."""
        if not sources:
            raise ConfigError("need at least one training source")
        if cfg.lr_schedule not in ("constant", "cosine"):
            raise ConfigError(f"lr_schedule must be constant or cosine, got {cfg.lr_schedule!r}")
        self.cfg, self.sources, self.network = cfg, sources, cfg.NETWORK
        shapes = {tuple(bank.images(torch.zeros(1, dtype=torch.long)).shape[1:]) for bank, _ in sources}
        if len(shapes) != 1:
            raise SimrealError(f"training datasets differ in image shape: {sorted(shapes)}")
        (channels, *hw), = shapes
        self.counts = batch_counts([s for _, s in sources], cfg.batch_size)
        self.device = pick_device(cfg.device)
        self.run_dir = self.resume_dir = Path(run_dir) if run_dir is not None else None
        self.image_shape = (channels, *hw)
        with seeded_init(cfg.seed):
            self.model = self.network.build(cfg.net, channels, tuple(hw)).to(self.device)
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.gens = {f"source{i}": torch_generator(cfg.seed, 10 + i) for i in range(len(sources))}
        self.gens["augment"] = torch_generator(cfg.seed, 99)
        # Dropout draws from the global RNG; each step swaps this private state in and out.
        self.gens["dropout"] = torch_generator(cfg.seed, 98)
        self.step = 0
        self.show_progress = show_progress
        self.sampler, self.sampler_source, self.real_source = sampler, sampler_source, real_source
        if hasattr(sampler, "bind_student_optimizer"):
            sampler.bind_student_optimizer(self.opt)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for i, ((bank, _), n) in enumerate(zip(self.sources, self.counts, strict=True)):
            if n:
                if self.sampler is not None and i == self.sampler_source:
                    idx = torch.as_tensor(self.sampler.indices(n), dtype=torch.long)
                    x, y = bank.images(idx), bank.labels[idx]
                else:
                    x, y = bank.sample(n, self.gens[f"source{i}"])
                xs.append(x)
                ys.append(y)
        x, y = torch.cat(xs), torch.cat(ys)
        if self.network.augment is not None:
            x, y = self.network.augment(x, y.to(self.network.target_dtype), self.cfg.augment, self.gens["augment"])
        else:
            x = augment(x, self.cfg.augment, self.gens["augment"])
        x = x.to(self.device).contiguous(memory_format=self.memory_format)
        return x, y.to(self.network.target_dtype).to(self.device)

    def train_step(self) -> float:
        self.model.train()
        x, y = self.batch()
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.gens["dropout"].get_state())
            losses = self.network.per_sample_loss(self.model(x), y)
            loss = losses.mean()
            self.gens["dropout"].set_state(torch.get_rng_state())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.lr_schedule == "cosine":
            for group in self.opt.param_groups:
                group["lr"] = self.cfg.lr * 0.5 * (1 + math.cos(math.pi * self.step / self.cfg.steps))
        self.opt.step()
        self.step += 1
        self._observe(losses, x)
        return loss.item()

    def save(self) -> Path:
        return self._save_checkpoint(image_shape=list(self.image_shape))
