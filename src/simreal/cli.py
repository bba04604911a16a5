"""The ``simreal`` command. It parses and validates options and calls the library; no logic of its own.

Every error a user can cause is a :class:`~simreal.utils.errors.SimrealError` (or an ``OSError`` on a path
they gave); it is printed as one line on stderr and the command exits with status 2.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape as rich_escape

from simreal.utils.errors import SimrealError

app = typer.Typer(help="Train neural networks on synthetic images so that they work on real images.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
generate_app = typer.Typer(help="Simulators: write synthetic datasets.", no_args_is_help=True)
import_app = typer.Typer(help="Importers: write real data you have as simreal datasets.", no_args_is_help=True)
refine_app = typer.Typer(help="SimGAN: train a refiner, and refine datasets with it.", no_args_is_help=True)
app.add_typer(generate_app, name="generate")
app.add_typer(import_app, name="import")
experiment_app = typer.Typer(help="Studies that compare several settings and write a report.",
                             no_args_is_help=True)
app.add_typer(refine_app, name="refine")
app.add_typer(experiment_app, name="experiment")
err = Console(stderr=True)
out = Console()

Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace a finished dataset at --out.")]
Seed = Annotated[int, typer.Option(help="Seed of every random choice; same seed, same bytes.")]
Sets = Annotated[list[str] | None, typer.Option("--set", help="Override a config value: KEY.SUB=VALUE "
                                                "(repeatable; applied after --config).")]
ConfigFile = Annotated[Path | None, typer.Option("--config", help="YAML file overriding the preset.")]
Device = Annotated[str, typer.Option(help="auto (CUDA when present, else CPU), cpu, cuda or cuda:N.")]


def cli_errors(fn):
    """Turn library errors into one line on stderr and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SimrealError as exc:
            err.print(f"[bold red]error:[/] {rich_escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as exc:  # a path the user gave: a file where a folder is needed, no permission, a loop...
            where = f"{exc.filename}: " if exc.filename else ""
            err.print(f"[bold red]error:[/] {rich_escape(where + (exc.strerror or str(exc)))}", highlight=False,
                      soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("interrupted; rerun the same command to resume")
            raise typer.Exit(130) from None

    return wrapper


# -- datasets --------------------------------------------------------------------------------------
@app.command()
@cli_errors
def info(
    dataset: Annotated[Path, typer.Argument(help="A simreal dataset folder.")],
    images: Annotated[bool, typer.Option(help="Also open and check every image (slower).")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Summarise (and validate) a dataset: count, task, domain, image, labels, factor ranges, provenance."""
    from simreal.data.info import dataset_info
    from simreal.data.reader import read_manifest
    from simreal.utils.progress import progress_bar

    count = read_manifest(dataset)["count"]
    with progress_bar(False if as_json else None) as bar:
        task = bar.add_task("checking", total=count, status="")
        summary = dataset_info(dataset, on_step=lambda: bar.advance(task), check_images=images)
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    from simreal.cli_format import print_info

    print_info(out, summary)


@generate_app.command("digits")
@cli_errors
def generate_digits(
    out_dir: Annotated[Path, typer.Option("--out", help="Output dataset folder.")],
    count: Annotated[int, typer.Option(min=1, help="Number of images.")] = 6000,
    seed: Seed = 0,
    fonts: Annotated[Path | None, typer.Option(help="Folder of .ttf/.otf fonts (default: matplotlib's).")] = None,
    overwrite: Overwrite = False,
) -> None:
    """Render printed digits 0–9 as 8×8 UCI-style images (fonts, pose, stroke width randomised)."""
    from simreal.simulate.write import generate_digits as run

    path = run(out_dir, count, seed, fonts, overwrite=overwrite)
    out.print(f"wrote {count} synthetic digits to {path}")


def _size(text: str | None) -> tuple[int, int] | None:
    """``"35x55"`` → (35, 55) (height × width)."""
    if text is None:
        return None
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SimrealError(f"size must be HEIGHTxWIDTH, e.g. 35x55, got {text!r}") from None
    if h < 8 or w < 8:
        raise SimrealError(f"size must be at least 8x8, got {text!r}")
    return h, w


@generate_app.command("eyes")
@cli_errors
def generate_eyes(
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder (a dataset, or UnityEyes files).")],
    count: Annotated[int, typer.Option(min=1, help="Number of images.")] = 10000,
    seed: Seed = 0,
    preset: Annotated[str, typer.Option(help="Appearance: clean (the simulator) or webcam (a SIMULATED low-quality "
                                        "target domain standing in for real eyes; not real data).")] = "clean",
    size: Annotated[str | None, typer.Option(help="HEIGHTxWIDTH of the images (default 35x55, the paper's; "
                                             "240x320 for --layout unityeyes).")] = None,
    rgb: Annotated[bool | None, typer.Option("--rgb/--grey", help="Colour or grey images (default grey; RGB for "
                                      "--layout unityeyes).")] = None,
    supersample: Annotated[int, typer.Option(min=1, max=8, help="Render at k× and average k×k blocks.")] = 2,
    layout: Annotated[str, typer.Option(help="simreal (a dataset) or unityeyes (N.jpg + N.json, wider view, "
                                        "for `simreal import unityeyes`).")] = "simreal",
    compile_: Annotated[bool, typer.Option("--compile/--no-compile", help="torch.compile the pixel shader (4.5x "
                                           "faster on 2 CPU cores after 2-10 s of compilation; same bytes).")]
    = True,
    device: Device = "auto",
    overwrite: Overwrite = False,
) -> None:
    """Render eye images with 3D gaze, head pose and UnityEyes-style landmarks (a procedural UnityEyes)."""
    import dataclasses

    from simreal.simulate.eyes import preset_config
    from simreal.simulate.write import generate_eyes as run
    from simreal.simulate.write import generate_unityeyes_layout

    if layout not in ("simreal", "unityeyes"):
        raise SimrealError(f"--layout must be simreal or unityeyes, got {layout!r}")
    cfg = preset_config(preset, supersample=supersample)
    if layout == "unityeyes":
        cfg = dataclasses.replace(cfg, height=240, width=320, rgb=True, field_of_view=3.0, jitter_px=12.0)
    if size is not None:
        cfg = dataclasses.replace(cfg, height=_size(size)[0], width=_size(size)[1])
    if rgb is not None:
        cfg = dataclasses.replace(cfg, rgb=rgb)
    if layout == "unityeyes":
        path = generate_unityeyes_layout(out_dir, count, seed, preset, cfg, device, compile_)
    else:
        path = run(out_dir, count, seed, preset, cfg, device, compile_, overwrite)
    note = "" if preset == "clean" else f" (preset {preset}: a SIMULATED domain, not real data)"
    out.print(f"wrote {count} synthetic eyes to {path}{note}")


@import_app.command("unityeyes")
@cli_errors
def import_unityeyes(
    src: Annotated[Path, typer.Argument(help="UnityEyes output folder (N.jpg + N.json).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output dataset folder.")],
    size: Annotated[str, typer.Option(help="HEIGHTxWIDTH of the crops.")] = "35x55",
    rgb: Annotated[bool, typer.Option("--rgb/--grey", help="Keep colour (default: grey, as in the paper).")]
    = False,
    limit: Annotated[int, typer.Option(min=0, help="Import only the first N samples (0 = all).")] = 0,
    overwrite: Overwrite = False,
) -> None:
    """Crop UnityEyes renders around the eyelid margin (1.5× the corner distance) with gaze and landmarks."""
    from simreal.data.importers.unityeyes import import_unityeyes as run

    h, w = _size(size)
    path = run(src, out_dir, h, w, rgb, limit, overwrite)
    out.print(f"wrote {path}")


@import_app.command("mpiigaze")
@cli_errors
def import_mpiigaze(
    src: Annotated[Path, typer.Argument(help="MPIIGaze folder (or its Data/Normalized) with pXX/dayYY.mat.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output dataset folder.")],
    flip_left: Annotated[bool, typer.Option("--flip-left/--no-flip-left", help="Mirror left eyes into right "
                                            "eyes (gaze x and head pose mirrored too).")] = True,
    evaluation_subset: Annotated[bool, typer.Option("--evaluation-subset", help="Only the samples of "
                                                    "'Evaluation Subset/sample list for eye image'.")] = False,
    size: Annotated[str | None, typer.Option(help="Resize to HEIGHTxWIDTH (e.g. 35x55 for GazeNet and the "
                                             "refiner); default: keep 36x60.")] = None,
    overwrite: Overwrite = False,
) -> None:
    """Import MPIIGaze's normalized eye images (36×60 grey, 3D gaze, head pose) as a real gaze dataset."""
    from simreal.data.importers.mpiigaze import import_mpiigaze as run

    path = run(src, out_dir, flip_left, evaluation_subset, _size(size), overwrite)
    out.print(f"wrote {path}")


@import_app.command("uci-digits")
@cli_errors
def import_uci(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder that receives pool/, train/ and test/.")],
    seed: Seed = 0,
    pool: Annotated[float, typer.Option(help="Fraction for the unlabeled pool (refiner).")] = 0.5,
    train: Annotated[float, typer.Option(help="Fraction for the labeled training split; test gets the rest.")]
    = 0.25,
    overwrite: Overwrite = False,
) -> None:
    """Write scikit-learn's 1,797 real handwritten UCI digits as disjoint pool/train/test datasets."""
    from simreal.data.importers.uci_digits import import_uci_digits

    paths = import_uci_digits(out_dir, seed, pool, train, overwrite)
    for name, path in paths.items():
        out.print(f"{name}: {path}")


# -- SimGAN ----------------------------------------------------------------------------------------
@refine_app.command("train")
@cli_errors
def refine_train(
    synthetic: Annotated[Path | None, typer.Option(help="Synthetic dataset (labels used only by "
                                                   "--consistency-classifier).")] = None,
    real: Annotated[Path | None, typer.Option(help="Real dataset; its labels are never used.")] = None,
    preset_name: Annotated[str, typer.Option("--preset", help="paper-gaze, paper-hand or digits.")] = "paper-gaze",
    runs: Annotated[Path, typer.Option(help="Parent folder of numbered run directories.")] = Path("runs"),
    config: ConfigFile = None,
    sets: Sets = None,
    consistency_classifier: Annotated[Path | None, typer.Option(
        help="Checkpoint of a task classifier trained on the synthetic data, for loss.label_consistency.")] = None,
    resume: Annotated[Path | None, typer.Option(help="A run directory to continue exactly where it stopped.")]
    = None,
    compile_: Annotated[bool | None, typer.Option("--compile/--no-compile", help="torch.compile the networks "
                                                  "(default: the config's `compile`).")] = None,
    device: Device = "auto",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the resolved config and exit.")] = False,
) -> None:
    """Train a SimGAN refiner (Algorithm 1) into RUNS/NNNNN-refine-PRESET/."""
    from simreal.experiments.stages import RefineRequest, refine_train_stage

    req = RefineRequest(synthetic, real, preset_name, runs, config, tuple(sets or ()), consistency_classifier, resume,
                        compile_, device, dry_run)
    run_dir = refine_train_stage(req, echo=out.print)
    if run_dir is not None:
        out.print(f"run directory: {run_dir}")


@refine_app.command("apply")
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


# -- tasks -----------------------------------------------------------------------------------------
@app.command()
@cli_errors
def train(
    task: Annotated[str, typer.Option(help="Task network to train: digits (DigitNet, label), gaze (the "
                                      "paper's GazeNet, gaze vector) or keypoints (OpenPose, multi-person "
                                      "keypoints; launch with torchrun for DDP).")] = "digits",
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
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the resolved config and exit.")] = False,
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


@app.command()
@cli_errors
def evaluate(
    checkpoint: Annotated[Path, typer.Option(help="Task checkpoint or run directory.")],
    data: Annotated[Path, typer.Option(help="Labeled dataset to evaluate on.")],
    task: Annotated[str | None, typer.Option(help="Refuse a checkpoint of another task: digits, gaze or "
                                             "keypoints (default: the checkpoint's task).")] = None,
    out_json: Annotated[Path | None, typer.Option("--out", help="Also write the metrics to this JSON file.")]
    = None,
    plot: Annotated[Path | None, typer.Option(help="gaze: write the cumulative error curve (% of images "
                                              "within d degrees) to this PNG.")] = None,
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
    """Evaluate a trained task network on a labeled dataset (accuracy; gaze angular error; keypoint MPII AP
    as the official evalMPII, PCKh and OKS AP). The result is also appended to the run's metrics.jsonl."""
    from simreal.experiments.stages import evaluate_stage, metric_summary
    from simreal.train.registry import EvalOptions

    options = EvalOptions(plot, report, size, limit, count_unpredicted, skip_unannotated)
    metrics = evaluate_stage(task, checkpoint, data, device, out_json, options)
    out.print(metric_summary(metrics), highlight=False, soft_wrap=True)


# -- the main job ----------------------------------------------------------------------------------
@app.command()
@cli_errors
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for datasets, runs and the report.")]
    = Path("demo-out"),
    seeds: Annotated[int, typer.Option(min=1, help="Classifier seeds per condition.")] = 3,
    quick: Annotated[bool, typer.Option(help="Tiny sizes for a smoke run (about a minute); numbers are "
                                        "not meaningful.")] = False,
    device: Device = "auto",
) -> None:
    """Synthetic → refined → real handwritten digits, end to end; writes OUT/report.md and results.json."""
    from simreal.cli_format import print_accuracy_table
    from simreal.experiments.digits_demo import DemoConfig, run_demo

    results = run_demo(out_dir, DemoConfig.quick() if quick else DemoConfig(), seeds=seeds, device=device)
    print_accuracy_table(out, results["accuracy"], f"accuracy on {results['counts']['real_test']} real test digits, "
                                                   f"{seeds} seed(s)")
    out.print(f"report: {out_dir / 'report.md'}  ({results['runtime_s']:.0f} s)")


@experiment_app.command("refine-digits")
@cli_errors
def experiment_refine_digits(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for datasets, runs and study.md.")]
    = Path("study-out"),
    variant: Annotated[list[str] | None, typer.Option(help="Variant(s) to run (default: all).")] = None,
    seeds: Annotated[int, typer.Option(min=1, help="Classifier seeds per condition.")] = 2,
    budget: Annotated[int, typer.Option(min=10, help="Labeled real digits mixed with refined data.")] = 20,
    device: Device = "auto",
) -> None:
    """Which refiner settings make refined digits help on real digits (~2 min per variant on 2 CPUs)."""
    from simreal.experiments.digits_study import run_study

    run_study(out_dir, variant, seeds, budget, device=device)
    out.print(f"study: {out_dir / 'study.md'}")


@experiment_app.command("gaze")
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
                                                      "no-noise (default: all).")] = None,
    size: Annotated[str, typer.Option(help="quick (smoke run, meaningless numbers), cpu (default, ~15 min "
                                      "on 2 cores) or paper (the paper's networks; hours).")] = "cpu",
    device: Device = "auto",
) -> None:
    """SimGAN's gaze experiment (Table 2 design + ablations): synthetic vs refined, 1× vs 4×, buffer, local/global."""
    from simreal.cli_format import print_gaze_table
    from simreal.experiments.gaze_study import GazeStudyConfig, run_study

    sizes = {"quick": GazeStudyConfig.quick, "cpu": GazeStudyConfig, "paper": GazeStudyConfig.paper}
    if size not in sizes:
        raise SimrealError(f"--size must be one of {', '.join(sizes)}, got {size!r}")
    cfg = sizes[size]()
    if variant:
        import dataclasses

        cfg = dataclasses.replace(cfg, variants=tuple(variant))
    results = run_study(out_dir, synthetic, real, test, cfg, seeds, device)
    print_gaze_table(out, results)
    out.print(f"report: {out_dir / 'report.md'}  ({results['runtime_s']:.0f} s)")


def main() -> None:
    app()


import simreal.cli_people  # noqa: E402  (registers the keypoint-data commands on app)
import simreal.cli_teach  # noqa: E402
import simreal.cli_turing  # noqa: E402, F401

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
