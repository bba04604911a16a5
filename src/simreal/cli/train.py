"""``simreal train``, ``evaluate``, ``refine train/apply``, ``demo`` and the refiner studies."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from simreal.cli.common import (
    ConfigFile,
    Device,
    DryRun,
    Overwrite,
    Sets,
    cli_errors,
    dry_run_printed,
    out,
    sized_config,
)
from simreal.utils.errors import SimrealError


@cli_errors
def refine_train(
    synthetic: Annotated[Path | None, typer.Option(help="Synthetic dataset (labels used only by "
                                                   "--consistency-classifier).")] = None,
    real: Annotated[Path | None, typer.Option(help="Real dataset; its labels are never used.")] = None,
    preset_name: Annotated[str, typer.Option("--preset", help="paper-gaze, paper-hand, eyes-cpu, hands-cpu, digits or "
                                             "mnist (simreal.refine.config.PRESETS).")] = "paper-gaze",
    runs: Annotated[Path, typer.Option(help="Parent folder of numbered run directories.")] = Path("runs"),
    config: ConfigFile = None,
    sets: Sets = None,
    consistency_classifier: Annotated[Path | None, typer.Option(
        help="Checkpoint of a task network (digits or gaze) trained on the synthetic data: "
             "loss.label_consistency weighs its loss on the refined images.")] = None,
    resume: Annotated[Path | None, typer.Option(help="A run directory to continue exactly where it stopped.")]
    = None,
    compile_: Annotated[bool | None, typer.Option("--compile/--no-compile", help="torch.compile the networks "
                                                  "(default: the config's `compile`).")] = None,
    device: Device = "auto",
    dry_run: DryRun = False,
) -> None:
    """Train a SimGAN refiner (Algorithm 1) into RUNS/NNNNN-refine-PRESET/."""
    from simreal.experiments.stages import RefineRequest, refine_train_stage

    req = RefineRequest(synthetic, real, preset_name, runs, config, tuple(sets or ()), consistency_classifier, resume,
                        compile_, device, dry_run)
    run_dir = refine_train_stage(req, echo=out.print)
    if run_dir is not None:
        out.print(f"run directory: {run_dir}")


@cli_errors
def refine_apply(
    checkpoint: Annotated[Path, typer.Option(help="Refiner checkpoint (.json/.safetensors) or run directory.")],
    input_dir: Annotated[Path, typer.Option("--input", help="Dataset to refine.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Refined dataset to write.")],
    batch_size: Annotated[int, typer.Option(min=1, help="Images per forward pass.")] = 256,
    device: Device = "auto",
    overwrite: Overwrite = False,
) -> None:
    """Refine every image of a dataset; labels are copied byte-for-byte."""
    from simreal.refine.apply import refine_dataset

    path = refine_dataset(checkpoint, input_dir, out_dir, batch_size, device, overwrite)
    out.print(f"wrote refined dataset {path}")


@cli_errors
def train(
    task: Annotated[str, typer.Option(help="Task network to train: digits (DigitNet, label), gaze (the "
                                      "paper's GazeNet, gaze vector), hand (or hands: the stacked "
                                      "hourglass on depth crops, NYU's 14 joints) or keypoints (OpenPose, "
                                      "multi-person keypoints; launch with torchrun for DDP).")] = "digits",
    data: Annotated[list[Path] | None, typer.Option(help="Training dataset (repeat to mix several).")] = None,
    share: Annotated[list[float] | None, typer.Option(help="Share of each --data in every batch "
                                                      "(default: equal).")] = None,
    limit: Annotated[list[int] | None, typer.Option(help="Use a subset of this many samples of each --data "
                                                    "(class-stratified for digits; the first N images for "
                                                    "keypoints; 0 = all).")] = None,
    runs: Annotated[Path, typer.Option(help="Parent folder of numbered run directories.")] = Path("runs"),
    config: ConfigFile = None,
    sets: Sets = None,
    seed: Annotated[int | None, typer.Option(help="Seed of every random choice (sets `seed`; default 0).")] = None,
    resume: Annotated[Path | None, typer.Option(help="A run directory to continue with its own config and "
                                                "datasets.")] = None,
    sampler: Annotated[str | None, typer.Option(help="Group sampler for the last --data (the synthetic one; the "
                                                "first is the real one): teacher (adversarial teacher), "
                                                "uniform-groups, group-dro or uniform-samples (sets "
                                                "`sampler.name`; its settings: --set sampler.alpha=...).")] = None,
    group_by: Annotated[str | None, typer.Option(help="Factor that groups the synthetic samples for --sampler (e.g. "
                                                 "rotation_deg, eye_pitch_deg, camera_pitch_deg, min_distance_px, "
                                                 "kmeans:f1,f2; sets `sampler.group_by`).")] = None,
    groups: Annotated[int | None, typer.Option(min=2, help="Number of groups for --sampler (sets "
                                               "`sampler.groups`; default 10).")] = None,
    group_rule: Annotated[str | None, typer.Option(help="linear (bins over the range), quantile, paper-pitch or "
                                                   "auto (sets `sampler.rule`; default linear).")] = None,
    device: Device = "auto",
    dry_run: DryRun = False,
) -> None:
    """Train a task network on one or more datasets mixed per batch (e.g. 50 % real / 50 % synthetic)."""
    from simreal.experiments.stages import TrainRequest, train_stage
    from simreal.utils.distributed import is_rank0, leave_process_group

    given = {"seed": seed, "sampler.name": sampler, "sampler.group_by": group_by, "sampler.groups": groups,
             "sampler.rule": group_rule}
    extra = [f"{k}={v}" for k, v in given.items() if v is not None]
    req = TrainRequest(task, tuple(data or ()), tuple(share or ()), tuple(limit or ()), runs, config,
                       (*(sets or []), *extra), resume, device, dry_run)
    run_dir = train_stage(req, echo=out.print)
    if run_dir is not None and is_rank0():
        out.print(f"run directory: {run_dir}")
    if leave_process_group():  # under torchrun: torch 2.13 + gloo can abort at interpreter exit otherwise
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


@cli_errors
def evaluate(
    checkpoint: Annotated[Path, typer.Option(help="Task checkpoint or run directory.")],
    data: Annotated[Path, typer.Option(help="Labeled dataset to evaluate on.")],
    task: Annotated[str | None, typer.Option(help="Refuse a checkpoint of another task: digits, gaze, "
                                             "hand (hands) or keypoints (default: the checkpoint's task).")] = None,
    out_json: Annotated[Path | None, typer.Option("--out", help="Also write the metrics to this JSON file.")]
    = None,
    plot: Annotated[Path | None, typer.Option(help="gaze, hand: write the cumulative error curve (% of images "
                                              "within d degrees, or d pixels) to this PNG.")] = None,
    report: Annotated[Path | None, typer.Option(help="keypoints: write report.md, metrics.json, predictions.jsonl "
                                                "and figures to this folder.")] = None,
    size: Annotated[int, typer.Option(min=32, help="keypoints: longer image side fed to the network.")] = 368,
    limit: Annotated[int, typer.Option(min=0, help="keypoints: evaluate the first N images only (0: all).")] = 0,
    count_unpredicted: Annotated[bool, typer.Option(
        help="keypoints: people of an image without any prediction count as misses in MPII AP (the official "
             "evalMPII leaves them out).")] = False,
    skip_unannotated: Annotated[bool, typer.Option(
        help="keypoints: a joint annotated nowhere in the set is left out of the MPII mean (officially its AP "
             "is NaN when it has predictions, so mAP is NaN).")] = False,
    device: Device = "auto",
) -> None:
    """Evaluate a trained task network on a labeled dataset (accuracy; gaze angular error; hand: % of images
    within d pixels and joint error; keypoint MPII AP
    as the official evalMPII, PCKh and OKS AP). The result is also appended to the run's metrics.jsonl."""
    from simreal.experiments.stages import evaluate_stage, metric_summary
    from simreal.train.registry import EvalOptions

    options = EvalOptions(plot, report, size, limit, count_unpredicted, skip_unannotated)
    metrics = evaluate_stage(task, checkpoint, data, device, out_json, options)
    out.print(metric_summary(metrics), highlight=False, soft_wrap=True)


@cli_errors
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for datasets, runs and the report.")]
    = Path("demo-out"),
    seeds: Annotated[int, typer.Option(min=1, help="Classifier seeds per condition.")] = 3,
    quick: Annotated[bool, typer.Option(help="Tiny sizes for a smoke run (about a minute); numbers are "
                                        "not meaningful.")] = False,
    real: Annotated[str, typer.Option(help="The real digits: uci (8×8, built in), mnist (28×28; needs `make "
                                      "real-data-mnist`) or auto (mnist when its files are there, else uci).")]
    = "uci",
    config: ConfigFile = None,
    sets: Sets = None,
    dry_run: DryRun = False,
    device: Device = "auto",
) -> None:
    """Synthetic → refined → real handwritten digits, end to end; writes OUT/report.md and results.json."""
    from simreal.cli.format import print_accuracy_table
    from simreal.experiments.digits_demo import DemoConfig, mnist_available, run_demo
    from simreal.utils.config import resolve

    if real not in ("uci", "mnist", "auto"):
        raise SimrealError(f"--real must be uci, mnist or auto, got {real!r}")
    if real == "auto":
        real = "mnist" if mnist_available(DemoConfig().mnist_dir) else "uci"
        out.print(f"real digits: {real}" + ("" if real == "mnist" else
                                           " (MNIST is not in data/real-cache/mnist: `make real-data-mnist` adds it)"))
    base = {"uci": DemoConfig, "mnist": DemoConfig.mnist}[real]()
    if quick:
        base = DemoConfig.quick(base)
    cfg = resolve(base, config, sets)
    if dry_run_printed(cfg, dry_run):
        return
    results = run_demo(out_dir, cfg, seeds=seeds, device=device)
    print_accuracy_table(out, results["accuracy"], f"accuracy on {results['counts']['real_test']} real test digits, "
                                                   f"{seeds} seed(s)")
    out.print(f"report: {out_dir / 'report.md'}  ({results['runtime_s']:.0f} s)")


@cli_errors
def experiment_refine_digits(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for datasets, runs and study.md.")]
    = Path("study-out"),
    variant: Annotated[list[str] | None, typer.Option(help="Variant(s) to run (default: all).")] = None,
    seeds: Annotated[int, typer.Option(min=1, help="Classifier seeds per condition.")] = 2,
    budget: Annotated[int, typer.Option(min=10, help="Labeled real digits mixed with refined data.")] = 20,
    config: ConfigFile = None,
    sets: Sets = None,
    dry_run: DryRun = False,
    device: Device = "auto",
) -> None:
    """Which refiner settings make refined digits help on real digits (~2 min per variant on 2 CPUs).

    --config/--set change the base every variant's overrides apply to: the demo's config (data sizes,
    classifier, the digits refiner preset)."""
    from simreal.experiments.digits_demo import DemoConfig
    from simreal.experiments.digits_study import run_study
    from simreal.utils.config import resolve

    cfg = resolve(DemoConfig(), config, sets)
    if dry_run_printed(cfg, dry_run):
        return
    run_study(out_dir, variant, seeds, budget, cfg, device=device)
    out.print(f"study: {out_dir / 'study.md'}")


@cli_errors
def experiment_gaze(
    synthetic: Annotated[Path | None, typer.Option(help="Labeled synthetic gaze dataset (e.g. imported "
                                                   "UnityEyes). Default: the built-in eye simulator.")] = None,
    real: Annotated[Path | None, typer.Option(help="Unlabeled real eyes for the refiner (e.g. MPIIGaze). "
                                              "Default: a SIMULATED webcam domain.")] = None,
    test: Annotated[Path | None, typer.Option(help="Labeled test set (e.g. MPIIGaze). Default: the simulated "
                                              "webcam domain, another seed.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for datasets, runs, report.md and results.json.")]
    = Path("gaze-out"),
    seeds: Annotated[int, typer.Option(min=1, help="GazeNet seeds per condition.")] = 1,
    variant: Annotated[list[str] | None, typer.Option(help="Refiner variants: local+buffer, no-buffer, global, "
                                                      "no-noise (default: these four, the paper's ablation), "
                                                      "gaze-consistency (+ a frozen GazeNet's gaze error, "
                                                      "weight 10).")] = None,
    size: Annotated[str, typer.Option(help="quick (smoke run, meaningless numbers), cpu (default, ~15 min "
                                      "on 2 cores) or paper (the paper's networks; hours).")] = "cpu",
    config: ConfigFile = None,
    sets: Sets = None,
    dry_run: DryRun = False,
    device: Device = "auto",
) -> None:
    """SimGAN's gaze experiment (Table 2 design + ablations): synthetic vs refined, 1× vs 4×, buffer, local/global."""
    from simreal.cli.format import print_gaze_table
    from simreal.experiments.gaze_study import GazeStudyConfig, run_study

    cfg = sized_config(GazeStudyConfig, size, config, sets, variant)
    if dry_run_printed(cfg, dry_run):
        return
    results = run_study(out_dir, synthetic, real, test, cfg, seeds, device)
    print_gaze_table(out, results)
    out.print(f"report: {out_dir / 'report.md'}  ({results['runtime_s']:.0f} s)")


@cli_errors
def experiment_real_eyes(
    real: Annotated[Path, typer.Option(help="Unlabeled real eyes (simreal import face-video).")]
    = Path("data/real-eyes"),
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the data, the refiner run and report.md.")]
    = Path("real-eyes-out"),
    quick: Annotated[bool, typer.Option(help="Tiny sizes for a smoke run; numbers are not meaningful.")] = False,
    config: ConfigFile = None,
    sets: Sets = None,
    dry_run: DryRun = False,
    device: Device = "auto",
) -> None:
    """SimGAN's eye refiner against real eyes: machine-observer realism, pupil shift, grey-level statistics."""
    from simreal.experiments.real_eyes import RealEyesConfig, run_real_eyes
    from simreal.utils.config import resolve

    cfg = resolve(RealEyesConfig.quick() if quick else RealEyesConfig(), config, sets)
    if dry_run_printed(cfg, dry_run):
        return
    if not (real / "dataset.json").is_file():
        raise SimrealError(f"{real}: no dataset of real eyes (`make real-data-faces` and `simreal import "
                           "face-video` make one)")
    r = run_real_eyes(out_dir, real, cfg, device)
    o = r["observer"]
    out.print(f"observer accuracy vs real eyes: synthetic {o['synthetic']['accuracy_pct']['mean']:.1f} %, refined "
              f"{o['refined']['accuracy_pct']['mean']:.1f} %; pupil shift {r['pupil_shift_px']['mean_px']:.2f} px")
    out.print(f"report: {out_dir / 'report.md'}  ({r['runtime_s']:.0f} s)")
