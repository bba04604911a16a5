"""Training the OpenPose network with real and synthetic data (synthetic-humans paper, section 4).

- **Batches** hold ``round(share·b)`` person-centred crops of each source (paper: 50 % real / 50 %
  synthetic), drawn from a generator seeded by (seed, rank).
- **Frozen feature extractor** "whenever training on synthetic data": ``freeze_mode = synthetic`` detaches the
  output of the first ``freeze_layers`` convs (paper: 4) for samples of synthetic or mixed sources, so in a
  mixed batch those layers receive gradient from the real samples only; ``all`` freezes them for every
  sample (the authors' code); ``none`` trains everything.
- **Masked loss** (``masked_synthetic_loss``, the paper's "+ masks"): the loss ignores every confidence-map
  and PAF contribution of synthetic people (:func:`~simreal.tasks.keypoints.targets.loss_weights`).
- Loss: the weighted squared error of every stage's output (intermediate supervision), summed over stages,
  averaged over the batch and the output grid.
- DDP: launched with ``torchrun``, each process trains on its own samples (batch size is per process);
  gradients are averaged by :class:`~torch.nn.parallel.DistributedDataParallel`; rank 0 logs and saves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from simreal.data.keypoints import keypoint_set
from simreal.tasks.keypoints.data import MEAN, STD, CropConfig, KeypointSource
from simreal.tasks.keypoints.network import PRESETS, OpenPose, OpenPoseConfig, load_vgg_weights
from simreal.teach.factory import SamplerConfig
from simreal.train.loop import SampledTrainer
from simreal.utils.distributed import rank_world
from simreal.utils.seeding import numpy_rng, pick_device, seeded_init


@dataclass(frozen=True)
class KeypointTrainConfig:
    TASK: ClassVar[str] = "keypoints"
    keypoint_set: Literal["mpii", "coco"] = "mpii"
    net: OpenPoseConfig = field(default_factory=lambda: PRESETS["small"])
    crop: CropConfig = field(default_factory=CropConfig)
    steps: int = 2000
    batch_size: int = 10  # per process
    lr: float = 1e-4
    freeze_layers: int = 4
    freeze_mode: Literal["synthetic", "all", "none"] = "synthetic"
    masked_synthetic_loss: bool = False
    seed: int = 0
    device: str = "auto"
    log_every: int = 50
    checkpoint_every: int = 500
    channels_last: bool = True  # 1.17× faster steps on a 2-core CPU (benchmarks/bench_keypoints.py)
    sampler: SamplerConfig = field(default_factory=lambda: SamplerConfig(group_by="camera_pitch_deg"))  # of the
    # last --data (off by default)


def stage_loss(outputs: list[torch.Tensor], target: torch.Tensor, weights: torch.Tensor,
               per_sample: bool = False) -> torch.Tensor:
    """Σ over stages of the weighted squared error, averaged over the grid (and the batch unless
    ``per_sample``)."""
    total = sum(((o - target) ** 2 * weights).mean(dim=(1, 2, 3)) for o in outputs)
    return total if per_sample else total.mean()


def build_openpose(cfg: KeypointTrainConfig) -> OpenPose:
    """The untrained network of ``cfg``: K + 1 confidence maps and 2L PAF channels of its keypoint set."""
    kset = keypoint_set(cfg.keypoint_set)
    return OpenPose(cfg.net, len(kset.names) + 1, 2 * len(kset.limbs))


class KeypointTrainer(SampledTrainer):
    def __init__(self, cfg: KeypointTrainConfig, sources: list[tuple[KeypointSource, float]],
                 run_dir: str | Path | None = None, show_progress: bool | None = None, sampler: Any = None,
                 sampler_source: int = 1, real_source: int = 0):
        """``sampler`` (a :mod:`simreal.teach` group sampler over ``sources[sampler_source].samples``, i.e.
        people) picks that source's crops and observes the per-sample losses of ``sources[real_source]``."""
        from simreal.train.task import batch_counts

        self.cfg, self.sources = cfg, sources
        self.kset = keypoint_set(cfg.keypoint_set)
        self.rank, self.world = rank_world()
        if self.world > 1 and torch.cuda.is_available():
            self.device = torch.device("cuda", self.rank % torch.cuda.device_count())
        else:
            self.device = pick_device(cfg.device)
        self.counts = batch_counts([s for _, s in sources], cfg.batch_size)
        with seeded_init(cfg.seed):
            self.model = build_openpose(cfg)
        if cfg.net.vgg_weights:
            load_vgg_weights(self.model, cfg.net.vgg_weights)
        if cfg.freeze_mode == "all":
            for conv in self.model.vgg_convs()[: cfg.freeze_layers]:
                conv.requires_grad_(False)
        self.fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model.to(self.device, memory_format=self.fmt)
        self.net = self.model
        if self.world > 1:
            self.net = torch.nn.parallel.DistributedDataParallel(self.model)
        self.opt = torch.optim.Adam([p for p in self.model.parameters() if p.requires_grad], lr=cfg.lr)
        self.gens = {"batches": numpy_rng(cfg.seed, 20, self.rank)}
        self.step = 0
        self.resume_dir = Path(run_dir) if run_dir is not None else None  # every rank reads the checkpoint
        self.run_dir = self.resume_dir if self.rank == 0 else None  # rank 0 writes
        self.show_progress = show_progress if self.rank == 0 else False
        self.last_batch: tuple[torch.Tensor, list[torch.Tensor]] | None = None
        self.sampler, self.sampler_source, self.real_source = sampler, sampler_source, real_source
        if hasattr(sampler, "bind_student_optimizer"):
            sampler.bind_student_optimizer(self.opt)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        xs, ts, ws, synth = [], [], [], []
        rng = self.gens["batches"]
        for k, ((source, _), n) in enumerate(zip(self.sources, self.counts, strict=True)):
            picks = self.sampler.indices(n) if self.sampler is not None and k == self.sampler_source \
                else rng.integers(0, len(source.samples), n)
            for i in picks:
                x, t, w = source.sample(int(i), rng, self.cfg.masked_synthetic_loss)
                xs.append(x)
                ts.append(torch.from_numpy(t))
                ws.append(torch.from_numpy(w))
                synth.append(source.synthetic)
        dev = self.device
        return (torch.stack(xs).to(dev).contiguous(memory_format=self.fmt), torch.stack(ts).to(dev),
                torch.stack(ws).to(dev), torch.tensor(synth, device=dev))

    def train_step(self) -> float:
        self.net.train()
        x, t, w, synth = self.batch()
        detach = synth if self.cfg.freeze_mode == "synthetic" else None
        outputs = self.net(x, self.cfg.freeze_layers, detach)
        losses = stage_loss(outputs, t, w, per_sample=True)
        loss = losses.mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step += 1
        self.last_batch = (x.detach(), [o.detach() for o in outputs[-1:]])
        self._observe(losses, x)  # the paper's "mean loss per joint": the loss averaged over the maps
        return loss.item()

    def save(self) -> Path:
        path = self._save_checkpoint()
        self._grid()
        return path

    def _grid(self) -> None:
        """Predicted skeletons on up to 4 crops of the last batch: ``grid-STEP.png``."""
        from PIL import Image

        from simreal.data.show import draw_people
        from simreal.tasks.keypoints.decode import decode

        if self.last_batch is None:
            return
        x, (out,) = self.last_batch
        k = len(self.kset.names)
        tiles = []
        for i in range(min(4, x.shape[0])):
            img = (x[i].cpu().numpy().transpose(1, 2, 0) * STD + MEAN).clip(0, 255).astype(np.uint8)
            up = torch.nn.functional.interpolate(out[i:i + 1].float().cpu(), scale_factor=8, mode="bicubic",
                                                 align_corners=False)[0].numpy()
            people = decode(up[: k + 1], up[k + 1:], self.kset)
            tiles.append(np.asarray(draw_people(Image.fromarray(img), people, self.kset.limbs)))
        Image.fromarray(np.concatenate(tiles, axis=1)).save(self.run_dir / f"grid-{self.step:07d}.png")
