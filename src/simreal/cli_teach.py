"""``simreal experiment teacher``: learned sampling of synthetic data against its baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simreal.cli import ConfigFile, Device, Sets, cli_errors, experiment_app, out


@experiment_app.command("teacher")
@cli_errors
def experiment_teacher(
    out_dir: Annotated[Path, typer.Option("--out", help="Study folder (data, results.json, report.md).")] = Path(
        "teacher-out"),
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per sampler (≥ 2 for the t-tests).")] = 5,
    group_by: Annotated[str, typer.Option(help="Synthetic-digit factor to group by (rotation_deg, stroke_width, "
                                          "font, scale, shear ...) or kmeans:f1,f2 for several.")]
    = "rotation_deg",
    groups: Annotated[int, typer.Option(min=2, help="Number of groups (linear bins / clusters).")] = 10,
    steps: Annotated[int | None, typer.Option(min=1, help="Classifier training steps (default 1500).")] = None,
    sampler: Annotated[list[str] | None, typer.Option(help="Samplers to compare (repeatable): teacher, "
                                                      "uniform-samples, uniform-groups, group-dro (default all).")]
    = None,
    config: ConfigFile = None,
    sets: Sets = None,
    device: Device = "auto",
) -> None:
    """Compare the adversarial teacher, uniform sampling, uniform groups and Group DRO on real digits."""
    from simreal.experiments.report import markdown_table
    from simreal.experiments.teacher_study import TeacherStudyConfig, run_teacher_study
    from simreal.utils.config import resolve

    extra = [f"seeds={seeds}", f"group_by={group_by}", f"groups={groups}"]
    if steps:
        extra.append(f"classifier.steps={steps}")
    if sampler:
        extra.append("samplers=[" + ",".join(sampler) + "]")
    cfg = resolve(TeacherStudyConfig(), config, [*(sets or []), *extra])
    s = run_teacher_study(out_dir, cfg, device, log=out.print)
    rows = [[k, f"{100 * a['mean']:.2f} ± {100 * a['std']:.2f}"] for k, a in s["accuracy"].items()]
    out.print(markdown_table(["sampler", "accuracy (%)"], rows), highlight=False)
    out.print(f"report: {out_dir / 'report.md'}  ({s['runtime_s'] / 60:.1f} min)")
