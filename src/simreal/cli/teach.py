"""``simreal experiment teacher``: learned sampling of synthetic data against its baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simreal.cli.common import ConfigFile, Device, DryRun, Sets, cli_errors, dry_run_printed, out


@cli_errors
def experiment_teacher(
    out_dir: Annotated[Path, typer.Option("--out", help="Study folder (data, results.json, report.md).")] = Path(
        "teacher-out"),
    task: Annotated[str, typer.Option(help="digits (real UCI test digits), gaze (simulated webcam eyes) or "
                                      "keypoints (the paper's Table 3 setting on the pose study's data).")]
    = "digits",
    seeds: Annotated[int | None, typer.Option(min=1, help="Seeds per sampler, ≥ 2 for the t-tests (default 5 for "
                                              "digits, 2 for gaze and keypoints).")] = None,
    group_by: Annotated[str | None, typer.Option(help="Factor to group the synthetic samples by: for digits "
                                                 "rotation_deg (default), stroke_width, font, ... or kmeans:f1,f2; "
                                                 "for gaze eye_pitch_deg (default), eye_yaw_deg, ...; for "
                                                 "keypoints camera_pitch_deg (C, default) or min_distance_px "
                                                 "(mD).")] = None,
    groups: Annotated[int, typer.Option(min=2, help="Number of groups (linear bins / clusters).")] = 10,
    steps: Annotated[int | None, typer.Option(min=1, help="Student training steps (default: digits 1500, gaze 800, "
                                                "keypoints 400).")] = None,
    sampler: Annotated[list[str] | None, typer.Option(help="Samplers to compare (repeatable): teacher, "
                                                      "uniform-samples, uniform-groups, group-dro (default all).")]
    = None,
    real: Annotated[Path | None, typer.Option(help="gaze, keypoints: labelled target-domain training data (with "
                                              "--synthetic and --test; default: built-in generated data).")] = None,
    synthetic: Annotated[Path | None, typer.Option(help="gaze, keypoints: the grouped synthetic data (D_S).")] = None,
    test: Annotated[Path | None, typer.Option(help="gaze, keypoints: labelled test data.")] = None,
    config: ConfigFile = None,
    sets: Sets = None,
    dry_run: DryRun = False,
    device: Device = "auto",
) -> None:
    """Compare the adversarial teacher, uniform sampling, uniform groups and Group DRO (digits: on real UCI
    digits; gaze: % within 7° on simulated webcam eyes; keypoints: MPII mAP on the pose study's generated
    data)."""
    from simreal.experiments.teacher_study import run_teacher_study, teacher_study_config
    from simreal.utils.report import markdown_table

    cfg = teacher_study_config(task, config, sets, seeds, group_by, groups, steps, sampler)
    if dry_run_printed(cfg, dry_run):
        return
    given = {"real": real, "synthetic": synthetic, "test": test}
    s = run_teacher_study(out_dir, cfg, device, log=out.print, data=given)
    rows = [[k, f"{100 * a['mean']:.2f} ± {100 * a['std']:.2f}"] for k, a in s["scores"].items()]
    out.print(markdown_table(["sampler", s["metric"]], rows), highlight=False)
    out.print(f"report: {out_dir / 'report.md'}  ({s['runtime_s'] / 60:.1f} min)")
