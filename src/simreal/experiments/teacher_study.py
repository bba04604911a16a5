"""``simreal experiment teacher``: the adversarial teacher against its baselines (digits, gaze or keypoints).

**Keypoints** (``task="keypoints"``, the paper's Table 3 setting): the OpenPose recipe of the pose study,
50 % "real" / 50 % D_S, the synthetic people grouped by ``camera_pitch_deg`` (the paper's pitch rule, C) or
``min_distance_px`` (linear bins over [0, 640) px, mD; a person alone counts as 640), scored by MPII mAP
on the test set. With no datasets it uses the pose study's built-in generated data.

**Gaze** (``task="gaze"``): GazeNet with 50 % labelled target-domain eyes / 50 % synthetic eyes grouped by
``eye_pitch_deg`` (or any factor, or ``kmeans:...``), scored by % of test images within 7°. Built-in data:
the simulator's clean eyes and its SIMULATED webcam domain, not real eyes.

**Digits**:
Every condition trains the digit classifier with 50 % real / 50 % synthetic batches: the real half from a
small labelled subset of the UCI training split (the teacher's inputs are its hardest images), the
synthetic half chosen by a sampler over groups of the synthetic digits (by a simulator factor:
``rotation_deg`` in 10 linear bins by default, ``stroke_width``, ``font``, or k-means over several). The
samplers: the adversarial teacher (paper defaults), uniform over samples (plain training), uniform over
groups, and Group DRO. Each is run for several seeds; accuracy on the real UCI test split is reported as
mean ± std, with a Welch t-test of each sampler against uniform sampling, and plots of the teacher's group
probabilities (stacked) and reward rate over training.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simreal.data.bank import ImageBank
from simreal.data.importers.uci_digits import import_uci_digits
from simreal.data.reader import SimrealDataset
from simreal.evaluate.classification import evaluate_classifier
from simreal.experiments.study import Study
from simreal.simulate.write import generate_digits
from simreal.teach.factory import SamplerConfig, make_grouping, make_sampler
from simreal.teach.grouping import Grouping
from simreal.teach.plots import plot_decisions
from simreal.teach.teacher import SAMPLERS, TeacherConfig
from simreal.train.sources import labeled_subset
from simreal.train.task import ClassifierTrainConfig, TaskTrainer
from simreal.utils.config import resolve, to_dict
from simreal.utils.errors import SimrealError
from simreal.utils.fileio import atomic_write_json
from simreal.utils.progress import progress_bar
from simreal.utils.report import markdown_table, mean_std


def _keypoint_recipe() -> Any:
    from simreal.experiments.pose_study import PoseStudyConfig

    return dataclasses.replace(PoseStudyConfig().train, steps=400)


def _gaze_recipe() -> Any:
    from simreal.experiments.gaze_study import small_gaze

    return small_gaze()  # the gaze study's half-width GazeNet, 800 steps, batch 64


@dataclass(frozen=True)
class TeacherStudyConfig:
    task: str = "digits"  # digits | gaze | keypoints
    samplers: tuple[str, ...] = ("teacher", "uniform-samples", "uniform-groups", "group-dro")
    group_by: str = "rotation_deg"  # a factor name, or "kmeans:f1,f2,..."
    groups: int = 10
    synthetic_count: int = 6000
    real_labelled: int = 50  # the real half of every batch comes from this many labelled UCI digits
    seeds: int = 5
    classifier: ClassifierTrainConfig = field(default_factory=ClassifierTrainConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    dro_eta: float = 0.01
    data_seed: int = 0
    keypoints: Any = field(default_factory=_keypoint_recipe)  # KeypointTrainConfig for task=keypoints
    gaze: Any = field(default_factory=_gaze_recipe)  # GazeTrainConfig for task=gaze
    gaze_test_count: int = 1000
    group_rule: str = "auto"  # keypoints: paper-pitch for camera_pitch_deg, linear [0, 640) for min_distance_px


def sampler_config(cfg: TeacherStudyConfig, name: str = "none") -> SamplerConfig:
    """The study's sampler settings as the :class:`~simreal.teach.factory.SamplerConfig` every trainer takes."""
    return SamplerConfig(**{**to_dict(cfg.teacher), "name": name, "group_by": cfg.group_by, "groups": cfg.groups,
                            "rule": cfg.group_rule, "dro_eta": cfg.dro_eta})


@dataclass(frozen=True)
class _Setup:
    """What differs between the study's tasks: how it runs, its defaults, and the report's first sentence."""

    run: Callable[..., dict[str, Any]]  # (study, cfg, device, log, data) -> summary
    group_by: str  # default factor
    seeds: int  # default seeds per sampler
    recipe: str  # the field of TeacherStudyConfig holding the student's training config
    takes_data: bool  # accepts --real/--synthetic/--test
    describe: Callable[[dict[str, Any], dict[str, Any]], str]  # (config, summary) -> the report's setup text


def teacher_study_config(task: str = "digits", config: str | Path | None = None, sets: list[str] | None = None,
                         seeds: int | None = None, group_by: str | None = None, groups: int = 10,
                         steps: int | None = None, samplers: list[str] | None = None) -> TeacherStudyConfig:
    """The study's config for ``task`` from its defaults, ``config`` (YAML), ``sets`` and the command's options
    (None: the task's default)."""
    setup = _setup(task)
    extra = [f"task={task}", f"seeds={seeds or setup.seeds}", f"group_by={group_by or setup.group_by}",
             f"groups={groups}"]
    if steps:
        extra.append(f"{setup.recipe}.steps={steps}")
    if samplers:
        extra.append("samplers=[" + ",".join(samplers) + "]")
    return resolve(TeacherStudyConfig(), config, [*(sets or []), *extra])


def _setup(task: str) -> _Setup:
    if task not in SETUPS:
        raise SimrealError(f"experiment teacher runs on {', '.join(SETUPS)}, not {task!r}")
    return SETUPS[task]


def run_teacher_study(out: str | Path, cfg: TeacherStudyConfig = TeacherStudyConfig(), device: str = "auto",
                      log=print, data: dict[str, Path] | None = None) -> dict[str, Any]:
    """Runs (or resumes) the study in ``out``; ``data``: the task's ``real``/``synthetic``/``test`` datasets
    (all three, for tasks that take them; None: built-in data)."""
    out = Path(out)
    setup = _setup(cfg.task)
    for s in cfg.samplers:
        if s not in SAMPLERS:
            raise SimrealError(f"unknown sampler {s!r}; available: {', '.join(SAMPLERS)}")
    given = {k: v for k, v in (data or {}).items() if v is not None}
    if given and (not setup.takes_data or set(given) != {"real", "synthetic", "test"}):
        takes = [k for k, v in SETUPS.items() if v.takes_data]
        raise SimrealError(f"--real, --synthetic and --test go together, with --task {' or '.join(takes)}")
    # finished conditions are reused only by the same study; more seeds or samplers may be added later
    study = Study(out, to_dict(dataclasses.replace(cfg, seeds=0, samplers=())),
                  [given.get(k) for k in ("real", "synthetic", "test")])
    return setup.run(study, cfg, device, log, given or None)


def _run_digits(study: Study, cfg: TeacherStudyConfig, device: str, log, data: dict[str, Path] | None
                ) -> dict[str, Any]:
    syn_path, uci = study.out / "data" / "digits-synthetic", study.out / "data" / "uci"
    if not (syn_path / "dataset.json").exists():
        generate_digits(syn_path, cfg.synthetic_count, cfg.data_seed)
    if not (uci / "test" / "dataset.json").exists():
        import_uci_digits(uci, cfg.data_seed)
    synthetic = ImageBank(SimrealDataset(syn_path), "label")
    real_train, test = SimrealDataset(uci / "train"), ImageBank(SimrealDataset(uci / "test"), "label")
    grouping = make_grouping(synthetic, sampler_config(cfg), cfg.classifier.batch_size // 2, cfg.data_seed)
    ccfg = dataclasses.replace(cfg.classifier, device=device)

    def train_eval(seed: int, sampler: Any) -> tuple[float, str]:
        real = ImageBank(labeled_subset(real_train, cfg.real_labelled, seed, stratify_by="label"), "label")
        model = TaskTrainer(dataclasses.replace(ccfg, seed=seed), [(real, 0.5), (synthetic, 0.5)], None,
                            show_progress=False, sampler=sampler).train()
        acc = evaluate_classifier(model, test)["accuracy"]
        return acc, f"{acc:.4f}"

    return _compare(study, cfg, "accuracy (%)", grouping, train_eval, channels=1,
                    need=cfg.classifier.batch_size // 2, test_count=len(test))


def _compare(study: Study, cfg: TeacherStudyConfig, metric: str, grouping: Grouping,
             train_eval: Callable[[int, Any], tuple[float, str]], channels: int, need: int,
             **extra: Any) -> dict[str, Any]:
    """Trains and scores a student with every sampler and seed (``train_eval(seed, sampler)`` gives the
    score as a fraction and a status line), then writes ``results.json``, ``decisions.json``, the plot and
    the report."""
    results: dict[str, list[float]] = {s: [] for s in cfg.samplers}
    logs: dict[str, list[Any]] = {}
    with progress_bar() as bar:
        task = bar.add_task(f"teacher study ({cfg.task})", total=len(cfg.samplers) * cfg.seeds, status="")
        for seed in range(cfg.seeds):
            for name in cfg.samplers:
                def run(name: str = name, seed: int = seed) -> dict[str, Any]:
                    sampler = _sampler(name, grouping, seed, cfg, channels, need)
                    score, status = train_eval(seed, sampler)
                    return {"score": score, "status": status, "log": sampler.log}

                rec = study.stage(f"conditions/{name}-seed{seed}", run)  # a rerun (or a larger one) reuses it
                results[name].append(rec["score"])
                logs[f"{name}-seed{seed}"] = rec["log"]
                bar.update(task, advance=1, status=f"{name} seed {seed}: {rec['status']}")
    summary = {"config": to_dict(cfg), "metric": metric, "groups": grouping.report(),
               "scores": _stats(results), "tests_vs_uniform_samples": _tests(results), **extra}
    atomic_write_json(study.out / "decisions.json", logs)
    plot_decisions(logs.get("teacher-seed0", []), grouping.names, study.out / "teacher_groups.png",
                   "adversarial teacher, seed 0")
    summary = study.finish(summary, report)
    atomic_write_json(study.out / "summary.json", {k: v["mean"] for k, v in summary["scores"].items()})
    return summary


def _run_keypoints(study: Study, cfg: TeacherStudyConfig, device: str, log, data: dict[str, Path] | None
                   ) -> dict[str, Any]:
    from simreal.experiments.pose_study import PoseStudyConfig, builtin_data
    from simreal.tasks.keypoints.predict import evaluate_keypoint_model
    from simreal.train.keypoints import KeypointTrainer
    from simreal.train.sources import open_keypoint_sources
    from simreal.train.task import batch_counts

    pcfg = PoseStudyConfig(seed=cfg.data_seed)
    data = data or builtin_data(study.out, pcfg, log)
    kcfg = dataclasses.replace(cfg.keypoints, device=device)
    probe = open_keypoint_sources([data["real"], data["synthetic"]], [0.5, 0.5], [], kcfg)
    need = batch_counts([0.5, 0.5], kcfg.batch_size)[1]
    grouping = make_grouping(probe[1][0], sampler_config(cfg), need, cfg.data_seed)

    def train_eval(seed: int, sampler: Any) -> tuple[float, str]:
        run_cfg = dataclasses.replace(kcfg, seed=seed)
        sources = open_keypoint_sources([data["real"], data["synthetic"]], [0.5, 0.5], [], run_cfg)
        model = KeypointTrainer(run_cfg, sources, None, show_progress=False, sampler=sampler).train()
        m = evaluate_keypoint_model(model, sources[0][0].kset, data["test"], pcfg.eval_size, show_progress=False)
        return m["mpii"]["mAP"] / 100, f"mAP {m['mpii']['mAP']:.2f}"

    return _compare(study, cfg, "MPII mAP (%)", grouping, train_eval, channels=3, need=need,
                    test_count=read_count(data["test"]), data={k: str(v) for k, v in data.items()})


def _run_gaze(study: Study, cfg: TeacherStudyConfig, device: str, log, data: dict[str, Path] | None
              ) -> dict[str, Any]:
    """GazeNet with 50 % labelled target-domain eyes / 50 % synthetic eyes grouped by a factor (gaze pitch by
    default), scored by % of test images within 7°. Built-in data: the simulator's clean eyes (synthetic)
    and its SIMULATED webcam domain (a small labelled "real" set and the test set, other seeds)."""
    from simreal.evaluate.gaze import evaluate_gaze
    from simreal.simulate.write import generate_eyes

    if data is None:
        data = {}
        for name, count, seed, preset in (("synthetic", cfg.synthetic_count, cfg.data_seed + 1, "clean"),
                                          ("real", cfg.real_labelled, cfg.data_seed + 2, "webcam"),
                                          ("test", cfg.gaze_test_count, cfg.data_seed + 3, "webcam")):
            path = study.out / "data" / f"eyes-{name}"
            if not (path / "dataset.json").exists():
                log(f"generating {name} eyes ({count}, preset {preset})")
                generate_eyes(path, count, seed, preset, device=device, overwrite=True)
            data[name] = path
    synthetic = ImageBank(SimrealDataset(data["synthetic"]), "gaze")
    real, test = ImageBank(SimrealDataset(data["real"]), "gaze"), ImageBank(SimrealDataset(data["test"]), "gaze")
    gcfg = dataclasses.replace(cfg.gaze, device=device)
    need = gcfg.batch_size // 2
    grouping = make_grouping(synthetic, sampler_config(cfg), need, cfg.data_seed)

    def train_eval(seed: int, sampler: Any) -> tuple[float, str]:
        model = TaskTrainer(dataclasses.replace(gcfg, seed=seed), [(real, 0.5), (synthetic, 0.5)], None,
                            show_progress=False, sampler=sampler).train()
        m, _ = evaluate_gaze(model, test)
        return m["within_7_deg_pct"] / 100, f"{m['within_7_deg_pct']:.1f} % within 7°"

    return _compare(study, cfg, "% within 7°", grouping, train_eval, channels=1, need=need,
                    test_count=len(test), data={k: str(v) for k, v in data.items()})


def read_count(path: Path) -> int:
    return int(json.loads((Path(path) / "dataset.json").read_text())["count"])


def _sampler(name: str, grouping: Grouping, seed: int, cfg: TeacherStudyConfig, channels: int, need: int):
    return make_sampler(sampler_config(cfg, name), grouping, seed, channels, need)


def _stats(results: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    return {k: mean_std(v) for k, v in results.items()}


def _tests(results: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Welch's t-test of each sampler against uniform sampling (needs ≥ 2 seeds each)."""
    from scipy.stats import ttest_ind

    base = results.get("uniform-samples")
    out = {}
    for k, v in results.items():
        if k == "uniform-samples" or base is None or len(v) < 2 or len(base) < 2:
            continue
        t = ttest_ind(v, base, equal_var=False)
        out[k] = {"difference": float(np.mean(v) - np.mean(base)), "p_value": float(t.pvalue)}
    return out


def report(s: dict[str, Any]) -> str:
    """The markdown of ``report.md``."""
    acc = s["scores"]
    tests = s["tests_vs_uniform_samples"]
    rows = []
    for name, a in acc.items():
        t = tests.get(name)
        rows.append([name, f"{100 * a['mean']:.2f} ± {100 * a['std']:.2f}",
                     f"{100 * t['difference']:+.2f}" if t else "–", f"{t['p_value']:.3f}" if t else "–"])
    significant = [k for k, t in tests.items() if t["p_value"] < 0.05]
    verdict = (f"Differences from uniform sampling larger than the seed noise (Welch p < 0.05): "
               f"{', '.join(significant)}." if significant else
               "No sampler differs from uniform sampling by more than the seed noise (all Welch p ≥ 0.05).")
    c = s["config"]
    setup = SETUPS[c["task"]].describe(c, s)
    lines = [f"# Teacher study ({c['task']})", "", setup + " Scores: mean ± sample std over seeds."
             f" Runtime {s['runtime_s'] / 60:.1f} min "
             f"({s['machine']['cpu_count']} CPUs).", "",
             markdown_table(["sampler", s["metric"], "vs uniform samples", "Welch p"], rows), "", verdict, "",
             "Groups: " + ", ".join(f"{g['name']} ({g['size']})" for g in s["groups"]), "",
             "![teacher group probabilities and reward rate](teacher_groups.png)", ""]
    return "\n".join(lines)


def _describe_digits(c: dict[str, Any], s: dict[str, Any]) -> str:
    return (f"Classifier trained with 50 % real ({c['real_labelled']} labelled UCI digits) / 50 % synthetic "
            f"batches; synthetic digits grouped by `{c['group_by']}` into {len(s['groups'])} groups; "
            f"{c['seeds']} seeds; accuracy on {s['test_count']} real UCI test digits.")


def _describe_gaze(c: dict[str, Any], s: dict[str, Any]) -> str:
    return (f"GazeNet trained with 50 % labelled target eyes ({c['real_labelled']}) / 50 % synthetic eyes "
            f"grouped by `{c['group_by']}` into {len(s['groups'])} groups; {c['seeds']} seeds; % of "
            f"{s['test_count']} test images within 7°. With built-in data the target domain is the "
            "simulator's SIMULATED webcam, not real eyes.")


def _describe_keypoints(c: dict[str, Any], s: dict[str, Any]) -> str:
    return (f"OpenPose trained with 50 % 'real' / 50 % D_S batches, synthetic people grouped by "
            f"`{c['group_by']}` into {len(s['groups'])} groups; {c['seeds']} seeds; MPII mAP on "
            f"{s['test_count']} test images. The built-in 'real' and test data are GENERATED (D_S through "
            "a simulated camera; see the pose study).")


SETUPS: dict[str, _Setup] = {
    "digits": _Setup(_run_digits, "rotation_deg", 5, "classifier", False, _describe_digits),
    "gaze": _Setup(_run_gaze, "eye_pitch_deg", 2, "gaze", True, _describe_gaze),
    "keypoints": _Setup(_run_keypoints, "camera_pitch_deg", 2, "keypoints", True, _describe_keypoints),
}
