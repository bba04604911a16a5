"""Algorithm 1 of SimGAN: pre-train R (self-regularization only) and D, then alternate Kg R-steps and
Kd D-steps, with D learning from a history buffer of refined images.

One *step* is one pre-training update in the pre-training phases and one Algorithm-1 iteration
(Kg R-updates + Kd D-updates) afterwards; ``RefineConfig`` counts them separately.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from simreal.data.bank import ImageBank
from simreal.refine.buffer import ImageHistoryBuffer
from simreal.refine.config import RefineConfig
from simreal.refine.losses import REAL, REFINED, local_adversarial_loss, self_regularization_loss
from simreal.refine.networks import PatchDiscriminator, Refiner
from simreal.utils.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    restore,
    restore_rng,
    rng_state,
    save_checkpoint,
)
from simreal.utils.config import from_dict, to_dict
from simreal.utils.errors import CheckpointError, ConfigError
from simreal.utils.images import save_grid
from simreal.utils.progress import progress_bar
from simreal.utils.runs import StatsLogger, write_config
from simreal.utils.seeding import pick_device, seeded_init, torch_generator

ConsistencyLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def build_refiner(cfg: RefineConfig, channels: int) -> Refiner:
    r = cfg.refiner
    return Refiner(channels, r.width, r.blocks, r.kernel, r.norm, r.noise_channels, r.padding)


def build_discriminator(cfg: RefineConfig, channels: int) -> PatchDiscriminator:
    return PatchDiscriminator(channels, cfg.discriminator.layers, cfg.discriminator.global_)


def make_optimizer(params, cfg: RefineConfig) -> torch.optim.Optimizer:
    o = cfg.optim
    if o.name == "adam":
        return torch.optim.Adam(params, lr=o.lr, betas=(o.beta1, o.beta2))
    return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum)


class SimGANTrainer:
    """Trains a refiner on a synthetic and a real :class:`ImageBank` into ``run_dir``.

    Args:
        cfg: the resolved config.
        synthetic: bank of synthetic images (with labels if ``consistency`` is given).
        real: bank of unlabeled real images.
        run_dir: a fresh run directory, or an existing one to resume.
        consistency: optional ``f(refined, labels) -> scalar`` (e.g. a frozen classifier's
            cross-entropy), weighted by ``cfg.loss.label_consistency``.
        show_progress: draw a Rich progress bar.
    """

    def __init__(self, cfg: RefineConfig, synthetic: ImageBank, real: ImageBank, run_dir: str | Path,
                 consistency: ConsistencyLoss | None = None, show_progress: bool | None = None):
        self.cfg, self.synthetic, self.real = cfg, synthetic, real
        self.run_dir = Path(run_dir)
        self.device = pick_device(cfg.device)
        self.consistency = consistency if cfg.loss.label_consistency > 0 else None
        if cfg.loss.label_consistency > 0 and consistency is None:
            raise ConfigError("loss.label_consistency > 0 needs a consistency model (a trained task network)")
        channels = synthetic.images(torch.zeros(1, dtype=torch.long)).shape[1]
        with seeded_init(cfg.seed):
            self.R = build_refiner(cfg, channels).to(self.device)
            self.D = build_discriminator(cfg, channels).to(self.device)
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.R.to(memory_format=self.memory_format)
        self.D.to(memory_format=self.memory_format)
        self.R_fwd: Callable = torch.compile(self.R) if cfg.compile else self.R
        self.D_fwd: Callable = torch.compile(self.D) if cfg.compile else self.D
        self.opt_R = make_optimizer(self.R.parameters(), cfg)
        self.opt_D = make_optimizer(self.D.parameters(), cfg)
        self.gens = {"synthetic": torch_generator(cfg.seed, 1), "real": torch_generator(cfg.seed, 2),
                     "noise": torch_generator(cfg.seed, 5)}
        self.buffer = ImageHistoryBuffer(cfg.buffer_size, torch_generator(cfg.seed, 3))
        self.step = 0
        self.show_progress = show_progress
        fixed = torch_generator(cfg.seed, 4)
        self.grid_synthetic = synthetic.sample(8, fixed)[0]
        self.grid_real = real.sample(8, fixed)[0]

    # -- phases -----------------------------------------------------------------------------------
    @property
    def total_steps(self) -> int:
        c = self.cfg
        return c.pretrain_refiner_steps + c.pretrain_discriminator_steps + c.iterations

    def phase(self, step: int) -> str:
        c = self.cfg
        if step < c.pretrain_refiner_steps:
            return "pretrain_refiner"
        if step < c.pretrain_refiner_steps + c.pretrain_discriminator_steps:
            return "pretrain_discriminator"
        return "adversarial"

    def _batch(self, bank: ImageBank, gen: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        images, labels = bank.sample(self.cfg.batch_size, self.gens[gen])
        images = images.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        return images, (labels.to(self.device) if labels is not None else None)

    def _noise(self, x: torch.Tensor) -> torch.Tensor | None:
        """The refiner's noise input for batch ``x`` (None for the paper's noise-free refiner)."""
        k = self.R.noise_channels
        if not k:
            return None
        noise = torch.randn((x.shape[0], k, *x.shape[2:]), generator=self.gens["noise"])
        return noise.to(self.device).contiguous(memory_format=self.memory_format)

    # -- updates ----------------------------------------------------------------------------------
    def refiner_step(self, adversarial: bool) -> dict[str, torch.Tensor]:
        """One SGD step on L_R (Eq. 4): realism + λ·self-regularization (+ label consistency).

        Returns detached scalar tensors (no device sync here; the loop converts them when it logs).
        """
        lc = self.cfg.loss
        x, y = self._batch(self.synthetic, "synthetic")
        refined = self.R_fwd(x, self._noise(x))
        reg = self_regularization_loss(refined, x, lc.psi, lc.psi_scale, lc.reduction)
        loss = lc.reg_weight * reg
        out = {"R/reg": reg.detach()}
        if adversarial:
            self.D.requires_grad_(False)
            adv = local_adversarial_loss(self.D_fwd(refined), REAL, lc.reduction)
            self.D.requires_grad_(True)
            loss = loss + adv
            out["R/adv"] = adv.detach()
            if self.consistency is not None:
                cons = self.consistency(refined, y)
                loss = loss + lc.label_consistency * cons
                out["R/consistency"] = cons.detach()
        self.opt_R.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_R.step()
        out["R/loss"] = loss.detach()
        return out

    def discriminator_step(self) -> dict[str, torch.Tensor]:
        """One SGD step on L_D (Eq. 2): real patches → class 0, refined (current + history) → class 1."""
        x, _ = self._batch(self.synthetic, "synthetic")
        y, _ = self._batch(self.real, "real")
        with torch.no_grad():
            refined = self.R_fwd(x, self._noise(x))
        fake = self.buffer.discriminator_batch(refined) if self.cfg.use_buffer else refined
        logits_real, logits_fake = self.D_fwd(y), self.D_fwd(fake)
        red = self.cfg.loss.reduction
        loss_real = local_adversarial_loss(logits_real, REAL, red)
        loss_fake = local_adversarial_loss(logits_fake, REFINED, red)
        loss = loss_real + loss_fake
        self.opt_D.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_D.step()
        with torch.no_grad():
            acc_real = (logits_real.argmax(1) == REAL).float().mean()
            acc_fake = (logits_fake.argmax(1) == REFINED).float().mean()
        return {"D/loss_real": loss_real.detach(), "D/loss_fake": loss_fake.detach(),
                "D/acc_real": acc_real, "D/acc_refined": acc_fake}

    def train_step(self) -> dict[str, torch.Tensor]:
        """Run the update(s) of step ``self.step`` and advance it."""
        phase, stats = self.phase(self.step), {}
        if phase == "pretrain_refiner":
            stats = self.refiner_step(adversarial=False)
        elif phase == "pretrain_discriminator":
            stats = self.discriminator_step()
        else:
            for _ in range(self.cfg.kg):
                stats.update(self.refiner_step(adversarial=True))
            for _ in range(self.cfg.kd):
                stats.update(self.discriminator_step())
        self.step += 1
        return stats

    # -- outputs ----------------------------------------------------------------------------------
    @torch.no_grad()
    def save_grid(self) -> Path:
        synthetic = self.grid_synthetic.to(self.device)
        noise = refiner_noise(self.R, range(len(synthetic)), synthetic.shape[2:], self.cfg.seed, 4)
        refined = self.R(synthetic.contiguous(memory_format=self.memory_format), noise).float().cpu()
        diff = (refined - synthetic.cpu()).abs() - 1.0  # |R(x) - x| in [0, 2] shown on [-1, 1]
        rows = [synthetic.cpu(), refined, self.grid_real, diff]
        return save_grid(rows, self.run_dir / "grids" / f"grid-{self.step:07d}.png")

    def save(self) -> Path:
        extra = self.buffer.state_tensors()
        meta = {
            "step": self.step,
            "config": to_dict(self.cfg),
            "image_mode": self.synthetic.mode,
            "image_size": list(self.synthetic.images(torch.zeros(1, dtype=torch.long)).shape[-2:]),
            "task": self.synthetic.dataset.manifest["task"] if self.synthetic.dataset is not None else None,
            "rng": rng_state(self.gens),
            "buffer": self.buffer.state_meta(),
        }
        return save_checkpoint(self.run_dir / f"ckpt-{self.step:07d}", {"refiner": self.R, "discriminator": self.D},
                               {"refiner": self.opt_R, "discriminator": self.opt_D}, extra, meta)

    def load(self, path: str | Path) -> None:
        tensors, sidecar = load_checkpoint(path)
        restore(tensors, sidecar, {"refiner": self.R, "discriminator": self.D},
                {"refiner": self.opt_R, "discriminator": self.opt_D})
        meta = sidecar["meta"]
        restore_rng(self.gens, meta["rng"])
        extras = {k.removeprefix("extra/"): v for k, v in tensors.items() if k.startswith("extra/")}
        self.buffer.load_state(meta["buffer"], extras, self.device)
        self.step = int(meta["step"])

    def train(self, resume: bool = False) -> Path:
        """Run to ``total_steps``; returns the final checkpoint's JSON path."""
        cfg = self.cfg
        if resume and (ckpt := latest_checkpoint(self.run_dir)) is not None:
            self.load(ckpt)
        else:
            write_config(self.run_dir, to_dict(cfg))
        logger = StatsLogger(self.run_dir, resume_step=self.step if resume else None)
        sums: dict[str, torch.Tensor | float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        last = None
        t0 = time.time()
        try:
            with progress_bar(self.show_progress) as bar:
                task = bar.add_task("SimGAN", total=self.total_steps, completed=self.step, status="")
                while self.step < self.total_steps:
                    for key, value in self.train_step().items():
                        sums[key] += value
                        counts[key] += 1
                    if self.step % cfg.log_every == 0 or self.step == self.total_steps:
                        means = {k: float(sums[k]) / counts[k] for k in sums}
                        logger.log(self.step, **means)
                        bar.update(task, status=f"{self.phase(self.step - 1)} " + " ".join(
                            f"{k.split('/')[1]}={v:.3f}" for k, v in means.items() if k in ("R/adv", "D/acc_real")))
                        sums.clear()
                        counts.clear()
                    if self.step % cfg.grid_every == 0:
                        self.save_grid()
                    if self.step % cfg.checkpoint_every == 0 or self.step == self.total_steps:
                        last = self.save()
                    bar.advance(task)
        finally:
            logger.close()
        self.save_grid()
        summary = {"steps": self.step, "train_time_s": round(time.time() - t0, 2), "device": str(self.device)}
        (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return last or self.save()


def refiner_noise(refiner: Refiner, indices, size: tuple[int, int], seed: int, stream: int = 0
                  ) -> torch.Tensor | None:
    """Noise maps for refining samples ``indices``, each drawn from ``(seed, stream, index)``, so sample
    ``i`` is refined the same way in any batch (resumable ``refine apply``). None if R takes no noise."""
    k = refiner.noise_channels
    if not k:
        return None
    return torch.stack([torch.randn((k, *size), generator=torch_generator(seed, stream, int(i))) for i in indices])


def load_refiner(path: str | Path, device: str = "auto") -> tuple[Refiner, dict[str, Any]]:
    """A trained refiner (eval mode) and its checkpoint sidecar, from a checkpoint or a run directory."""
    path = Path(path)
    if path.is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise CheckpointError(f"{path}: no checkpoint in this run directory")
        path = found
    tensors, sidecar = load_checkpoint(path)
    if "refiner" not in sidecar.get("modules", []):
        task = sidecar.get("meta", {}).get("task")
        raise CheckpointError(f"{path}: not a refiner checkpoint (it holds {', '.join(sidecar.get('modules', []))}"
                              + (f": a {task} network from simreal train" if task else "") + ")")
    cfg = from_dict(RefineConfig, sidecar["meta"]["config"])
    channels = {"RGB": 3}.get(sidecar["meta"].get("image_mode"), 1)
    refiner = build_refiner(cfg, channels)
    restore(tensors, sidecar, {"refiner": refiner})
    refiner.to(pick_device(device)).eval()
    return refiner, sidecar
