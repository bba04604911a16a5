"""Single stages as the CLI runs them: resolve configs, open datasets, make run directories."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simreal.data.bank import ImageBank
from simreal.data.reader import SimrealDataset
from simreal.data.subsets import stratified_subset
from simreal.evaluate.classification import evaluate_classifier
from simreal.evaluate.gaze import evaluate_gaze, plot_cumulative
from simreal.refine.config import RefineConfig, preset
from simreal.refine.train import SimGANTrainer
from simreal.tasks.digits import LabelConsistency
from simreal.tasks.registry import task_spec
from simreal.train.task import TaskTrainer, load_task_model, train_config
from simreal.utils.config import dumps, from_dict, merge, resolve
from simreal.utils.errors import ConfigError, SimrealError
from simreal.utils.fileio import atomic_write_json
from simreal.utils.runs import next_run_dir
from simreal.utils.seeding import numpy_rng


def _resumed_config(cls, run_dir: Path):
    path = run_dir / "config.json"
    if not path.is_file():
        raise SimrealError(f"{run_dir}: not a run directory (no config.json)")
    try:
        return from_dict(cls, json.loads(path.read_text()))
    except (ConfigError, json.JSONDecodeError) as exc:
        raise SimrealError(f"{path}: not the config of this kind of run ({exc})") from None


def _inputs_path(run_dir: Path) -> Path:
    return run_dir / "inputs.json"


def _read_inputs(run_dir: Path, kind: str) -> dict[str, Any]:
    """The run's ``inputs.json``; ``kind`` ("train" or "refine") is the command resuming it, and a run made by
    the other one is refused by name."""
    path = _inputs_path(run_dir)
    if not path.is_file():
        raise SimrealError(f"{run_dir}: not a run directory (no inputs.json)")
    try:
        inputs = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SimrealError(f"{path}: not valid JSON ({exc.msg})") from None
    found = "refine" if isinstance(inputs, dict) and "synthetic" in inputs else "train"
    if found != kind:
        what = "a refiner run (resume it with simreal refine train --resume)" if found == "refine" else \
            "a task training run (resume it with simreal train --resume)"
        raise SimrealError(f"{run_dir}: {what}")
    return inputs


def refine_train_stage(synthetic: Path | None, real: Path | None, preset_name: str, runs: Path,
                       config: Path | None, sets: list[str], consistency_classifier: Path | None,
                       resume: Path | None, compile_: bool | None, device: str, dry_run: bool,
                       echo: Callable[[str], Any] = print) -> Path | None:
    """``simreal refine train``: returns the run directory (None for a dry run)."""
    if resume is not None:
        inputs = _read_inputs(resume, "refine")
        cfg = _resumed_config(RefineConfig, resume)
        synthetic, real = Path(inputs["synthetic"]), Path(inputs["real"])
        consistency_classifier = Path(inputs["consistency_classifier"]) if inputs["consistency_classifier"] else None
    else:
        cfg = resolve(preset(preset_name), config, sets)
        cfg = merge(cfg, {"device": device, "compile": cfg.compile if compile_ is None else compile_})
    if dry_run:
        echo(dumps(cfg))
        return None
    if synthetic is None or real is None:
        raise ConfigError("--synthetic and --real are required")
    if cfg.loss.label_consistency > 0 and consistency_classifier is None:
        raise ConfigError("loss.label_consistency > 0 needs --consistency-classifier (a classifier trained on the "
                          "synthetic data: simreal train --task digits --data SYNTHETIC), or "
                          "--set loss.label_consistency=0")
    syn_ds, real_ds = SimrealDataset(synthetic), SimrealDataset(real)
    if syn_ds.mode != real_ds.mode:
        raise SimrealError(f"synthetic images are {syn_ds.mode} but real images are {real_ds.mode}")
    label = "label" if consistency_classifier is not None else None
    consistency = None
    if consistency_classifier is not None:
        consistency = LabelConsistency(load_task_model(consistency_classifier, cfg.device))
    run_dir = resume or next_run_dir(runs, f"refine-{preset_name}")
    if resume is None:
        atomic_write_json(_inputs_path(run_dir), {
            "synthetic": str(synthetic.resolve()), "real": str(real.resolve()),
            "consistency_classifier": str(consistency_classifier.resolve()) if consistency_classifier else None})
    trainer = SimGANTrainer(cfg, ImageBank(syn_ds, label), ImageBank(real_ds), run_dir, consistency)
    ckpt = trainer.train(resume=resume is not None)
    echo(f"final checkpoint: {ckpt}")
    return run_dir


def labeled_subset(ds: SimrealDataset, task: str, n: int, seed: int) -> SimrealDataset:
    """``n`` samples of ``ds``: class-stratified for digits, uniformly at random otherwise."""
    if not n or n >= len(ds):
        return ds
    if task == "digits":
        return ds.subset(stratified_subset(ds.labels("label"), n, seed))
    return ds.subset(np.sort(numpy_rng(seed, 7).choice(len(ds), n, replace=False)))


def open_labeled(path: Path, task: str) -> SimrealDataset:
    ds = SimrealDataset(path)
    if ds.manifest["task"] != task:
        raise SimrealError(f"{path}: a {ds.manifest['task']} dataset, not {task}")
    label = task_spec(task).label
    if label not in ds.schema:
        raise SimrealError(f"{path}: dataset has no '{label}' field for the {task} task")
    return ds


def _shares_and_limits(data: list[Path], share: list[float], limit: list[int]) -> tuple[list[float], list[int]]:
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


def open_sources(task: str, data: list[Path], share: list[float], limit: list[int], seed: int
                 ) -> list[tuple[ImageBank, float]]:
    """Banks (with labels) for ``--data``, their batch shares and optional subsets."""
    share, limit = _shares_and_limits(data, share, limit)
    label = task_spec(task).label
    return [(ImageBank(labeled_subset(open_labeled(p, task), task, n, seed), label), float(s))
            for p, s, n in zip(data, share, limit, strict=True)]


def train_stage(task: str, data: list[Path], share: list[float], limit: list[int], runs: Path,
                config: Path | None, sets: list[str], seed: int, resume: Path | None, device: str, dry_run: bool,
                echo: Callable[[str], Any] = print, sampling: dict[str, Any] | None = None) -> Path | None:
    """``simreal train``: returns the run directory (None for a dry run). ``sampling`` (``sampler``,
    ``group_by``, ``groups``, ``rule``) puts a :mod:`simreal.teach` sampler on the last ``--data``."""
    if resume is not None:
        inputs = _read_inputs(resume, "train")
        task = inputs.get("task", "digits")  # the run knows its task; --task is not needed to resume
        cfg = _resumed_config(train_config(task), resume)
        data, share, limit = [Path(p) for p in inputs["data"]], inputs["share"], inputs["limit"]
        sampling = inputs.get("sampling")
    else:
        cfg_cls = train_config(task)
        cfg = merge(resolve(cfg_cls(), config, sets), {"seed": seed, "device": device})
    if dry_run:
        echo(dumps(cfg))
        return None
    if task == "keypoints":
        from simreal.train.keypoints import init_distributed, shared_run_dir

        init_distributed()
        sources = open_keypoint_sources(data, share, limit, cfg)
        run_dir = resume or shared_run_dir(lambda: next_run_dir(runs, f"train-{task}"))
    else:
        sources = open_sources(task, data, share, limit, cfg.seed)
        run_dir = resume or next_run_dir(runs, f"train-{task}")
    sampler = make_sampler(task, sources, sampling, cfg) if sampling else None
    if resume is None and _is_rank0():
        atomic_write_json(_inputs_path(run_dir), {"task": task, "data": [str(p.resolve()) for p in data],
                                                  "share": [s for _, s in sources], "limit": limit or [0] * len(data),
                                                  "sampling": sampling})
    last = len(sources) - 1
    if task == "keypoints":
        from simreal.train.keypoints import KeypointTrainer

        KeypointTrainer(cfg, sources, run_dir, sampler=sampler, sampler_source=last).train(resume=resume is not None)
    else:
        TaskTrainer(cfg, sources, run_dir, sampler=sampler, sampler_source=last).train(resume=resume is not None)
    return run_dir


def make_sampler(task: str, sources: list[tuple[Any, float]], sampling: dict[str, Any], cfg: Any) -> Any:
    """A group sampler over the last source's samples (people, for keypoints), grouped by one factor; the
    first source is the real one whose hardest samples the teacher sees."""
    from simreal.teach.grouping import check_groups, group_values
    from simreal.teach.teacher import SAMPLERS, AdversarialTeacher, TeacherConfig

    name = sampling["sampler"]
    if name not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}; available: {', '.join(SAMPLERS)}")
    if len(sources) < 2:
        raise ConfigError("a sampler needs two --data: the real data first, the synthetic data last")
    source = sources[-1][0]
    if task == "keypoints":
        values = source.factor(sampling["group_by"])
    else:
        from simreal.experiments.teacher_study import factor_values

        values = factor_values(source.dataset, sampling["group_by"])
    from simreal.train.task import batch_counts

    need = batch_counts([s for _, s in sources], cfg.batch_size)[-1]
    grouping = check_groups(group_values(values, sampling.get("groups", 10), sampling.get("rule", "linear")),
                            need, merge_small=True)
    if name == "teacher":
        channels = 3 if task == "keypoints" else sources[0][0].images(torch.zeros(1, dtype=torch.long)).shape[1]
        return AdversarialTeacher(grouping, cfg.seed, channels, TeacherConfig(), min_group_size=need)
    return SAMPLERS[name](grouping, cfg.seed)


def _is_rank0() -> bool:
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def open_keypoint_sources(data: list[Path], share: list[float], limit: list[int], cfg: Any
                          ) -> list[tuple[Any, float]]:
    """Keypoint training sources (people of each ``--data``) and their batch shares."""
    from simreal.tasks.keypoints.data import KeypointSource
    from simreal.tasks.keypoints.targets import keypoint_set

    share, limit = _shares_and_limits(data, share, limit)
    kset = keypoint_set(cfg.keypoint_set)
    return [(KeypointSource(p, kset, cfg.crop, limit=n), float(s)) for p, s, n in zip(data, share, limit, strict=True)]


def evaluate_stage(task: str, checkpoint: Path, data: Path, device: str, out_json: Path | None,
                   plot: Path | None = None) -> dict[str, Any]:
    """``simreal evaluate``: metrics of a task checkpoint on a labeled dataset (and, for gaze, the
    cumulative error curve as a PNG)."""
    spec = task_spec(task)
    bank = ImageBank(open_labeled(data, task), spec.label)
    model = load_task_model(checkpoint, device, task)
    if task == "gaze":
        metrics, errors = evaluate_gaze(model, bank)
        if plot is not None:
            plot_cumulative({Path(checkpoint).name: errors}, plot, title=f"{data.name}")
    else:
        metrics = evaluate_classifier(model, bank)
    metrics.update(task=task, checkpoint=str(checkpoint), data=str(data))
    if out_json is not None:
        atomic_write_json(out_json, metrics)
    return metrics
