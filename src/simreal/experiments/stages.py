"""Single stages as the CLI runs them: resolve configs, open datasets, make run directories."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simreal.data.bank import ImageBank
from simreal.data.reader import SimrealDataset
from simreal.evaluate.metrics import METRICS, METRICS_FILE, append_result
from simreal.refine.config import RefineConfig, preset
from simreal.refine.train import SimGANTrainer
from simreal.tasks.spec import LabelConsistency
from simreal.teach.factory import sampler_for
from simreal.train.registry import EvalOptions, load_model, task
from simreal.train.task import batch_counts
from simreal.utils.config import dumps, from_dict, merge, resolve
from simreal.utils.distributed import init_distributed, is_rank0, shared_run_dir
from simreal.utils.errors import ConfigError, SimrealError
from simreal.utils.fileio import atomic_write_json
from simreal.utils.runs import next_run_dir


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


@dataclass(frozen=True)
class RefineRequest:
    """What ``simreal refine train`` asks for: a new run (datasets, preset, config) or ``resume`` of one."""

    synthetic: Path | None = None
    real: Path | None = None
    preset: str = "paper-gaze"
    runs: Path = Path("runs")  # parent of the numbered run directories
    config: Path | None = None  # YAML overriding the preset
    sets: tuple[str, ...] = ()  # KEY.SUB=VALUE overrides, after ``config``
    consistency_classifier: Path | None = None  # for loss.label_consistency
    resume: Path | None = None  # a run directory to continue (its own config and datasets)
    compile: bool | None = None  # None: the config's ``compile``
    device: str = "auto"
    dry_run: bool = False  # print the resolved config, train nothing


def _refuse_changes_on_resume(resume: Path, config: Path | None, sets: tuple[str, ...], options: str) -> None:
    if config is not None or sets:
        raise ConfigError(f"{resume}: a resumed run keeps the config it was started with; drop --config, "
                          f"--set and the options that set config values ({options})")


def refine_train_stage(req: RefineRequest, echo: Callable[[str], Any] = print) -> Path | None:
    """``simreal refine train``: returns the run directory (None for a dry run)."""
    resume, dry_run, consistency_classifier = req.resume, req.dry_run, req.consistency_classifier
    synthetic, real = req.synthetic, req.real
    if resume is not None:
        _refuse_changes_on_resume(resume, req.config, req.sets, "--preset")
        inputs = _read_inputs(resume, "refine")
        cfg = _resumed_config(RefineConfig, resume)
        if req.compile is not None:  # a speed switch, not a result: it may change on resume
            cfg = merge(cfg, {"compile": req.compile})
        synthetic, real = Path(inputs["synthetic"]), Path(inputs["real"])
        consistency_classifier = Path(inputs["consistency_classifier"]) if inputs["consistency_classifier"] else None
    else:
        cfg = resolve(preset(req.preset), req.config, list(req.sets))
        cfg = merge(cfg, {"device": req.device, "compile": cfg.compile if req.compile is None else req.compile})
    if dry_run:
        echo(dumps(cfg))
        return None
    if synthetic is None or real is None:
        raise ConfigError("--synthetic and --real are required")
    if cfg.loss.label_consistency > 0 and consistency_classifier is None:
        raise ConfigError("loss.label_consistency > 0 needs --consistency-classifier (a task network trained on "
                          "the synthetic data, e.g. simreal train --task digits --data SYNTHETIC), or "
                          "--set loss.label_consistency=0")
    syn_ds, real_ds = SimrealDataset(synthetic), SimrealDataset(real)
    if syn_ds.mode != real_ds.mode:
        raise SimrealError(f"synthetic images are {syn_ds.mode} but real images are {real_ds.mode}")
    label, consistency = None, None
    if consistency_classifier is not None:  # any image task's network: its loss, on the field it learned
        model, tcfg = load_model(consistency_classifier, cfg.device)
        if getattr(tcfg, "NETWORK", None) is None:
            raise ConfigError(f"{consistency_classifier}: a {tcfg.TASK} network cannot score single refined "
                              "images; --consistency-classifier takes a digits or gaze checkpoint")
        label, consistency = task(tcfg.TASK).label, LabelConsistency(model, tcfg.NETWORK)
    run_dir = resume or next_run_dir(req.runs, f"refine-{req.preset}")
    if resume is None:
        atomic_write_json(_inputs_path(run_dir), {
            "synthetic": str(synthetic.resolve()), "real": str(real.resolve()),
            "consistency_classifier": str(consistency_classifier.resolve()) if consistency_classifier else None})
    trainer = SimGANTrainer(cfg, ImageBank(syn_ds, label), ImageBank(real_ds), run_dir, consistency)
    ckpt = trainer.train(resume=resume is not None)
    echo(f"final checkpoint: {ckpt}")
    return run_dir


@dataclass(frozen=True)
class TrainRequest:
    """What ``simreal train`` asks for: a new run (``task``, datasets, config) or ``resume`` of one."""

    task: str = "digits"
    data: tuple[Path, ...] = ()  # training datasets, mixed per batch
    share: tuple[float, ...] = ()  # batch share of each (default: equal)
    limit: tuple[int, ...] = ()  # subset size of each (0: all)
    runs: Path = Path("runs")  # parent of the numbered run directories
    config: Path | None = None  # YAML overriding the task's training config
    sets: tuple[str, ...] = ()  # KEY.SUB=VALUE overrides, after ``config``
    resume: Path | None = None  # a run directory to continue (its own config and datasets)
    device: str = "auto"
    dry_run: bool = False  # print the resolved config, train nothing


def train_stage(req: TrainRequest, echo: Callable[[str], Any] = print) -> Path | None:
    """``simreal train``: returns the run directory (None for a dry run)."""
    if req.resume is not None:
        _refuse_changes_on_resume(req.resume, req.config, req.sets, "--seed, --sampler, --group-by, ...")
        inputs = _read_inputs(req.resume, "train")
        spec = task(inputs.get("task", "digits"))  # the run knows its task; --task is not needed to resume
        cfg = _resumed_config(spec.config, req.resume)
        if inputs.get("sampling") and not cfg.sampler.enabled:  # runs made before the sampler was in the config
            old = inputs["sampling"]
            cfg = merge(cfg, {"sampler": {"name": old["sampler"], "group_by": old["group_by"],
                                          "groups": old.get("groups", 10), "rule": old.get("rule", "linear")}})
        data, share, limit = [Path(p) for p in inputs["data"]], inputs["share"], inputs["limit"]
    else:
        spec = task(req.task)
        cfg = merge(resolve(spec.config(), req.config, list(req.sets)), {"device": req.device})
        data, share, limit = list(req.data), list(req.share), list(req.limit)
    if req.dry_run:
        echo(dumps(cfg))
        return None
    if spec.distributed:
        init_distributed()
    sources = spec.open_sources(data, share, limit, cfg)
    run_dir = req.resume or shared_run_dir(lambda: next_run_dir(req.runs, f"train-{spec.name}"))
    take = batch_counts([s for _, s in sources], cfg.batch_size)[-1]
    sampler = sampler_for(cfg.sampler, sources, take, cfg.seed)
    if req.resume is None and is_rank0():
        atomic_write_json(_inputs_path(run_dir), {"task": spec.name, "data": [str(p.resolve()) for p in data],
                                                  "share": [s for _, s in sources], "limit": limit or [0] * len(data)})
    spec.trainer(cfg, sources, run_dir, sampler=sampler, sampler_source=len(sources) - 1).train(
        resume=req.resume is not None)
    return run_dir


def evaluate_stage(task_name: str | None, checkpoint: Path, data: Path, device: str = "auto",
                   out_json: Path | None = None, options: EvalOptions = EvalOptions()) -> dict[str, Any]:
    """``simreal evaluate``: the task's metric of a checkpoint on a labeled dataset (``task_name`` None: the
    checkpoint's task). The result also goes to ``out_json`` and, for a checkpoint inside a run directory,
    is appended to its ``metrics.jsonl``."""
    model, cfg = load_model(checkpoint, device, task_name)
    spec = task(cfg.TASK)
    metrics = spec.evaluate(model, cfg, data, options, str(checkpoint))
    metrics.update(task=spec.name, checkpoint=str(checkpoint), data=str(data))
    if out_json is not None:
        atomic_write_json(out_json, metrics)
    run_dir = checkpoint if checkpoint.is_dir() else checkpoint.parent
    if (run_dir / "config.json").is_file():
        append_result(run_dir / METRICS_FILE, spec.metric, metrics)
    return metrics


def metric_summary(metrics: dict[str, Any]) -> str:
    """The lines ``simreal evaluate`` prints for ``metrics`` (from :func:`evaluate_stage`)."""
    return METRICS[task(metrics["task"]).metric].summary(metrics)
