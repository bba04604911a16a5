"""``simreal generate hands`` (and the hand-pose study's other commands)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simreal.cli.common import (
    ConfigFile,
    Device,
    DryRun,
    Overwrite,
    RayOpt,
    Seed,
    Sets,
    ShardOpt,
    Workers,
    cli_errors,
    dry_run_printed,
    out,
    parse_shard,
    sized_config,
    with_shorthands,
)

HAND_PRESETS_HELP = ("clean (default): the renderer's depth; kinect: through a simulated structured-light sensor "
                     "(holes in the projector's shadow, flying and missing pixels at depth edges, disparity noise and "
                     "quantisation): the hand study's SIMULATED stand-in for real depth, not real data.")


@cli_errors
def generate_hands(
    out_dir: Annotated[Path, typer.Option("--out", help="Output dataset folder.")],
    count: Annotated[int, typer.Option(min=1, help="Number of depth crops (hand poses × views).")] = 3000,
    seed: Seed = 0,
    preset: Annotated[str | None, typer.Option(help=HAND_PRESETS_HELP)] = None,
    views: Annotated[int | None, typer.Option(help="Camera views per pose: 1 (frontal) or 3 (default: frontal "
                                              "and two side views; all three are the paper's 3x).")] = None,
    full_frame: Annotated[bool | None, typer.Option("--full-frame/--crops-only", help="Also write each view's "
                                                    "640x480 depth in millimetres under depth/ (slower; default: crops "
                                                    "only).")] = None,
    body_model: Annotated[Path | None, typer.Option(help="The Anny body file (default: $SIMREAL_BODY_MODEL, else "
                                                    "data/body-cache/anny-0.6.2.npz from `make body-model`).")]
    = None,
    workers: Workers = 1,
    shard: ShardOpt = None,
    ray: RayOpt = None,
    config: ConfigFile = None,
    sets: Sets = None,
    dry_run: DryRun = False,
    overwrite: Overwrite = False,
) -> None:
    """Render depth hands (Anny hand and forearm, posed) as a Kinect sees them: 224x224 crops with NYU's 14
    joints and 21 hand keypoints (SimGAN section 3.2)."""
    from simreal.simulate.hands.generate import HandSimConfig
    from simreal.simulate.hands.generate import generate_hands as run
    from simreal.utils.config import resolve

    cfg = resolve(HandSimConfig(), config, with_shorthands(sets, {"preset": preset, "views": views,
                                                                  "full_frame": full_frame}))
    if dry_run_printed(cfg, dry_run):
        return
    path = run(out_dir, count, seed, cfg, workers, parse_shard(shard), ray, overwrite,
               body_path=str(body_model) if body_model else None, log=out.print)
    if path is not None:
        note = "" if cfg.preset == "clean" else " (preset kinect: a SIMULATED sensor, not real data)"
        out.print(f"wrote {count} depth hand crops to {path}{note}")


@cli_errors
def import_nyu_hands(
    src: Annotated[Path, typer.Argument(help="The NYU hand pose dataset folder (holding train/ and test/), or one "
                                        "split folder with joint_data.mat, depth_K_NNNNNNN.png and "
                                        "synthdepth_K_NNNNNNN.png.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output dataset folder.")],
    views: Annotated[int, typer.Option(help="Cameras per frame: 1 (the frontal one) or 3 (all, the paper's 3x).")]
    = 1,
    split: Annotated[str, typer.Option(help="train or test (the subfolder of SRC, when SRC holds both).")] = "train",
    synthetic: Annotated[bool, typer.Option("--synthetic/--real", help="Import NYU's rendered depth "
                                            "(synthdepth_*) instead of the Kinect's (depth_*).")] = False,
    every: Annotated[int, typer.Option(min=1, help="Keep every N-th frame.")] = 1,
    limit: Annotated[int, typer.Option(min=0, help="At most this many frames (0: all).")] = 0,
    overwrite: Overwrite = False,
) -> None:
    """Import NYU hand pose depth frames as 224x224 crops with the 14 evaluated joints (the crop from the
    synthetic image's support, as SimGAN and the simulator do)."""
    from simreal.data.importers.nyu_hands import import_nyu_hands as run

    path = run(src, out_dir, views, split, synthetic, every, limit, overwrite=overwrite)
    out.print(f"wrote {path}")


@cli_errors
def experiment_hands(
    synthetic: Annotated[Path | None, typer.Option(help="Labeled synthetic depth crops, 3 views per pose (e.g. "
                                                   "simreal import nyu-hands --synthetic --views 3). Default: the "
                                                   "built-in hand simulator.")] = None,
    real: Annotated[Path | None, typer.Option(help="Real depth crops: the refiners' unlabeled pool, and their "
                                              "frontal views' joints train the 'real data' row (e.g. simreal "
                                              "import nyu-hands --views 3). Default: a SIMULATED Kinect.")] = None,
    test: Annotated[Path | None, typer.Option(help="Labeled test crops (e.g. simreal import nyu-hands --split "
                                              "test). Default: the simulated Kinect, another seed.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for datasets, runs, report.md and results.json.")]
    = Path("hands-out"),
    seeds: Annotated[int, typer.Option(min=1, help="Hourglass seeds per condition.")] = 2,
    variant: Annotated[list[str] | None, typer.Option(help="Refiners: local (the paper's) and global (Figure 11's "
                                                      "ablation); default: both.")] = None,
    size: Annotated[str, typer.Option(help="quick (smoke run, meaningless numbers), cpu (default, ~28 min on 2 "
                                      "cores: 64-px crops, small refiner and hourglass) or paper (224-px crops, "
                                      "the paper's networks; days on a CPU).")] = "cpu",
    config: ConfigFile = None,
    sets: Sets = None,
    dry_run: DryRun = False,
    device: Device = "auto",
) -> None:
    """SimGAN's hand-pose experiment (Table 4 design, Figures 9 and 11): synthetic vs refined vs real, 1× vs 3×."""
    from simreal.cli.format import print_hand_table
    from simreal.experiments.hand_study import HandStudyConfig, run_study

    cfg = sized_config(HandStudyConfig, size, config, sets, variant)
    if dry_run_printed(cfg, dry_run):
        return
    results = run_study(out_dir, synthetic, real, test, cfg, seeds, device)
    print_hand_table(out, results)
    out.print(f"report: {out_dir / 'report.md'}  ({results['runtime_s']:.0f} s)")
