"""Every task simreal trains, in one place: the dataset field it learns, its training config (which names its
network and loss), its trainer, how ``--data`` becomes training sources, how a checkpoint becomes a model, and
its metric. Commands and studies dispatch through :data:`TASKS` and never test a task's name.

To add a task: a network and per-sample loss in ``tasks/`` (an :class:`~simreal.tasks.spec.ImageNetwork` for
an image task), a training config, a metric in ``evaluate/metrics.py``, and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from simreal.data.bank import ImageBank
from simreal.data.keypoints import keypoint_set
from simreal.data.reader import open_labeled
from simreal.evaluate.metrics import METRICS
from simreal.tasks.keypoints.predict import evaluate_keypoint_model
from simreal.train.keypoints import KeypointTrainConfig, KeypointTrainer, build_openpose
from simreal.train.sources import open_image_sources, open_keypoint_sources
from simreal.train.task import ClassifierTrainConfig, GazeTrainConfig, HandTrainConfig, TaskTrainer
from simreal.utils.checkpoint import latest_checkpoint, load_checkpoint, restore
from simreal.utils.config import from_dict
from simreal.utils.errors import CheckpointError, SimrealError
from simreal.utils.seeding import pick_device


@dataclass(frozen=True)
class EvalOptions:
    """What ``simreal evaluate`` may ask of a task's metric (each task uses the options that apply to it)."""

    plot: Path | None = None  # gaze: the cumulative error curve as a PNG
    report: Path | None = None  # keypoints: report.md, metrics.json, predictions.jsonl and figures
    size: int = 368  # keypoints: longer image side fed to the network
    limit: int = 0  # keypoints: the first N images only (0: all)
    count_unpredicted: bool = False  # keypoints: MPII AP option (see evaluate/keypoints.py)
    skip_unannotated: bool = False  # keypoints: MPII AP option


@dataclass(frozen=True)
class Task:
    name: str
    label: str  # the dataset field the network learns (keypoints: the people, with the config's keypoint set)
    config: type  # the training config: a frozen dataclass with TASK (and NETWORK for image tasks)
    trainer: type  # a train.loop.SampledTrainer: (cfg, sources, run_dir, show_progress, sampler=, sampler_source=)
    open_sources: Callable[[list[Path], list[float], list[int], Any], list[tuple[Any, float]]]  # (data, share,
    # limit, cfg) -> [(source, share)], each source with .factor(name) for samplers
    build: Callable[[Any, dict[str, Any]], nn.Module]  # (training config, checkpoint meta) -> the untrained network
    metric: str  # a key of evaluate.metrics.METRICS
    evaluate: Callable[[nn.Module, Any, Path, EvalOptions, str], dict[str, Any]]  # (model, cfg, data, options,
    # name) -> metrics
    distributed: bool = False  # the trainer joins a torchrun process group (DDP)


def _image_model(cfg: Any, meta: dict[str, Any]) -> nn.Module:
    channels, *hw = meta.get("image_shape", [1, 8, 8])
    return cfg.NETWORK.build(cfg.net, channels, tuple(hw))


def _image_bank(cfg: Any, data: Path) -> ImageBank:
    label = TASKS[cfg.TASK].label
    return ImageBank(open_labeled(data, cfg.TASK, label), label)


def _evaluate_digits(model: nn.Module, cfg: Any, data: Path, options: EvalOptions, name: str) -> dict[str, Any]:
    return METRICS["accuracy"].compute(model, _image_bank(cfg, data))


def _evaluate_gaze(model: nn.Module, cfg: Any, data: Path, options: EvalOptions, name: str) -> dict[str, Any]:
    return METRICS["gaze_error"].compute(model, _image_bank(cfg, data), options.plot, name)


def _evaluate_hand(model: nn.Module, cfg: Any, data: Path, options: EvalOptions, name: str) -> dict[str, Any]:
    from simreal.evaluate.predict import predict_outputs
    from simreal.tasks.hands import predict_joints

    bank = _image_bank(cfg, data)
    pred = predict_outputs(model, bank, 64, forward=predict_joints)  # decoded per batch: no heatmaps kept
    return METRICS["hand_pose"].compute(pred, bank, options.plot, name)


def _evaluate_keypoints(model: nn.Module, cfg: Any, data: Path, options: EvalOptions, name: str) -> dict[str, Any]:
    return evaluate_keypoint_model(model, keypoint_set(cfg.keypoint_set), data, options.size, options.limit,
                                   options.report, name=name, count_unpredicted=options.count_unpredicted,
                                   skip_unannotated=options.skip_unannotated)


def _image_sources(stratify: bool) -> Callable[..., list[tuple[Any, float]]]:
    def open_sources(data: list[Path], share: list[float], limit: list[int], cfg: Any) -> list[tuple[Any, float]]:
        return open_image_sources(cfg.TASK, TASKS[cfg.TASK].label, data, share, limit, cfg.seed, stratify)

    return open_sources


TASKS: dict[str, Task] = {
    "digits": Task("digits", "label", ClassifierTrainConfig, TaskTrainer, _image_sources(stratify=True),
                   _image_model, "accuracy", _evaluate_digits),
    "gaze": Task("gaze", "gaze", GazeTrainConfig, TaskTrainer, _image_sources(stratify=False), _image_model,
                 "gaze_error", _evaluate_gaze),
    "hand": Task("hand", "keypoints", HandTrainConfig, TaskTrainer, _image_sources(stratify=False), _image_model,
                 "hand_pose", _evaluate_hand),
    "keypoints": Task("keypoints", "people", KeypointTrainConfig, KeypointTrainer, open_keypoint_sources,
                      lambda cfg, meta: build_openpose(cfg), "mpii_pose", _evaluate_keypoints, distributed=True),
}


ALIASES = {"hands": "hand"}  # `simreal train/evaluate --task hands`


def task(name: str) -> Task:
    """The registry entry of ``name``, or a one-line error naming the tasks there are."""
    name = ALIASES.get(name, name)
    if name not in TASKS:
        raise SimrealError(f"unknown task {name!r}; available: {', '.join(TASKS)}")
    return TASKS[name]


def load_model(path: str | Path, device: str = "auto", task_name: str | None = None) -> tuple[nn.Module, Any]:
    """A trained task network in eval mode and its training config, from a checkpoint file or a run directory
    (its latest checkpoint). ``task_name``, when given, must be the checkpoint's task."""
    path = Path(path)
    if path.is_dir():
        path = latest_checkpoint(path) or path
    tensors, sidecar = load_checkpoint(path)
    meta = sidecar["meta"]
    if "model" not in sidecar.get("modules", []):
        raise CheckpointError(f"{path}: not a task network checkpoint (it holds "
                              f"{', '.join(sidecar.get('modules', []))}: a refiner from simreal refine train?)")
    found = meta.get("task", "digits")
    if task_name is not None and found != ALIASES.get(task_name, task_name):
        raise CheckpointError(f"{path}: a {found} checkpoint, not {task_name}")
    spec = task(found)
    cfg = from_dict(spec.config, meta["config"])
    model = spec.build(cfg, meta)
    restore(tensors, sidecar, {"model": model})
    return model.to(pick_device(device)).eval(), cfg
