"""What every task trainer shares: checkpointing with the sampler's state, resume, the sampler's view of a
step, and the training loop with its progress bar, log, checkpoints and summary.

A subclass sets ``cfg`` (with ``TASK``, ``steps``, ``log_every``, ``checkpoint_every``, ``seed``), ``model``,
``opt``, ``gens`` (the generators saved in checkpoints), ``counts`` (samples per source in a batch),
``sampler``/``sampler_source``/``real_source``, ``run_dir`` (where this process writes; None on ranks > 0),
``resume_dir`` (where it reads a checkpoint from) and ``show_progress``, and implements ``train_step()``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simreal.utils.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    restore,
    restore_rng,
    rng_state,
    save_checkpoint,
)
from simreal.utils.config import to_dict
from simreal.utils.progress import progress_bar
from simreal.utils.runs import StatsLogger, write_config


class SampledTrainer:
    cfg: Any
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    gens: dict[str, Any]
    counts: list[int]
    sampler: Any = None
    sampler_source: int = 1
    real_source: int = 0
    run_dir: Path | None = None
    resume_dir: Path | None = None
    show_progress: bool | None = None
    step: int = 0
    world: int = 1

    def train_step(self) -> float:
        raise NotImplementedError

    def _modules(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The modules and optimizers a checkpoint holds: the student's, and the teacher's if there is one."""
        modules, optimizers = {"model": self.model}, {"model": self.opt}
        if self.sampler is not None:
            extra_modules, extra_optimizers = self.sampler.checkpoint_modules()
            modules.update(extra_modules)
            optimizers.update(extra_optimizers)
        return modules, optimizers

    def _save_checkpoint(self, **meta: Any) -> Path:
        assert self.run_dir is not None
        meta = {"step": self.step, "config": to_dict(self.cfg), "rng": rng_state(self.gens), "task": self.cfg.TASK,
                **meta}
        extra = {}
        if self.sampler is not None:
            meta["sampler"] = self.sampler.state_dict()
            extra = {f"sampler/{k}": v for k, v in self.sampler.tensor_state().items()}
        return save_checkpoint(self.run_dir / f"ckpt-{self.step:07d}", *self._modules(), extra_tensors=extra,
                               meta=meta)

    def _resume(self) -> bool:
        """Loads the latest checkpoint of ``resume_dir``; False if there is none."""
        if self.resume_dir is None or (ckpt := latest_checkpoint(self.resume_dir)) is None:
            return False
        tensors, sidecar = load_checkpoint(ckpt)
        restore(tensors, sidecar, *self._modules())
        restore_rng(self.gens, sidecar["meta"]["rng"])
        if self.sampler is not None:
            prefix = "extra/sampler/"
            self.sampler.load_state_dict(sidecar["meta"]["sampler"],
                                         {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
        self.step = sidecar["meta"]["step"]
        return True

    def _observe(self, losses: torch.Tensor, x: torch.Tensor) -> None:
        """Shows the sampler this step's per-sample losses of the real source (and its images, the teacher's
        inputs) and of the sampled source."""
        if self.sampler is None:
            return
        bounds = np.cumsum([0, *self.counts])
        real = slice(bounds[self.real_source], bounds[self.real_source + 1])
        synth = slice(bounds[self.sampler_source], bounds[self.sampler_source + 1])
        self.sampler.observe(losses[real].detach().cpu(), x[real].detach().cpu(), losses[synth].detach().cpu())

    def train(self, resume: bool = False) -> torch.nn.Module:
        """Trains to ``cfg.steps`` (from the latest checkpoint with ``resume``) and returns the model in eval
        mode. The run directory gets the config, ``stats.jsonl``, checkpoints, the sampler's decisions and
        plot, and ``summary.json``."""
        cfg = self.cfg
        resumed = resume and self._resume()
        logger = None
        if self.run_dir is not None:
            if not resumed:
                write_config(self.run_dir, to_dict(cfg))
            logger = StatsLogger(self.run_dir, resume_step=self.step if resume else None)
        t0, running = time.time(), []
        with progress_bar(self.show_progress) as bar:
            task = bar.add_task(f"train {cfg.TASK}", total=cfg.steps, completed=self.step, status="")
            while self.step < cfg.steps:
                running.append(self.train_step())
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    mean = float(np.mean(running))
                    running.clear()
                    bar.update(task, status=f"loss={mean:.4g}")
                    if logger is not None:
                        logger.log(self.step, loss=mean)
                if self.run_dir is not None and (self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps):
                    self.save()
                bar.advance(task)
        if self.sampler is not None and self.run_dir is not None:
            from simreal.teach.plots import write_sampler_outputs

            write_sampler_outputs(self.sampler, self.run_dir)
        if logger is not None:
            logger.close()
            (self.run_dir / "summary.json").write_text(json.dumps(
                {"steps": self.step, "train_time_s": round(time.time() - t0, 2), "processes": self.world},
                indent=2) + "\n")
        return self.model.eval()

    def save(self) -> Path:
        return self._save_checkpoint()
