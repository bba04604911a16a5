"""``simreal turing``: the visual Turing test of SimGAN as a web page, and its report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simreal.cli.common import Device, Seed, cli_errors, err, out

Db = Annotated[Path, typer.Option("--db", help="The study's SQLite file (settings, subjects, answers).")]


@cli_errors
def serve(
    db: Db = Path("turing.sqlite"),
    real: Annotated[Path | None, typer.Option(help="Real images (a simreal dataset); needed to create the study.")]
    = None,
    synthetic: Annotated[Path | None, typer.Option(help="Synthetic or refined images (a simreal dataset of the same "
                                                   "image mode and size); needed to create the study.")] = None,
    per_class: Annotated[int, typer.Option(min=1, help="Trials per subject of each kind (paper: 50 real + 50 "
                                           "refined). Set when the study is created, like the next three.")] = 50,
    examples: Annotated[int, typer.Option(min=0, help="Labelled examples of each kind kept on screen (paper: 20 "
                                          "in all); never used as trials.")] = 10,
    scale: Annotated[int, typer.Option(min=0, help="Show images enlarged by this factor (nearest neighbour); 0: "
                                       "the smallest that shows the shorter side at 200 px or more.")] = 0,
    match_levels: Annotated[bool, typer.Option(
        help="Show synthetic images quantised to the grey levels found in the real ones, so the number of grey "
             "levels cannot give them away (see the warning serve prints).")] = False,
    max_subjects: Annotated[int, typer.Option(min=1, help="Refuse new subjects beyond this many.")] = 1000,
    seed: Seed = 0,
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 for other machines on the network.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Serve the test page: every subject labels real and synthetic images, one at a time, as real or synthetic.

    The first run creates the study in --db; later runs continue it (the settings and datasets are stored
    and must not change). Stop with Ctrl-C; answers are saved as they are given."""
    from simreal.experiments.turing import TuringConfig, TuringStudy
    from simreal.experiments.turing_web import create_app

    cfg = TuringConfig(per_class=per_class, examples=examples, scale=scale, seed=seed, match_levels=match_levels,
                       max_subjects=max_subjects)
    study = TuringStudy(db, real, synthetic, cfg if real is not None else None)
    n = study.score()["trials"]
    out.print(f"study {db}: {len(study.datasets['real'])} real / {len(study.datasets['synthetic'])} synthetic "
              f"images, {2 * study.cfg.per_class} trials per subject, shown at {study.cfg.scale}×, {n} answers so far")
    for tell in study.tells():
        err.print(f"warning: this alone separates the real from the synthetic images, so subjects can answer "
                  f"without judging realism: {tell}" + ("" if study.cfg.match_levels else
                                                        " (--match-levels removes a grey-level tell)"),
                  highlight=False, soft_wrap=True, markup=False)
    out.print(f"open http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}/ "
              "(one browser tab per subject); Ctrl-C stops")
    create_app(study).run(host=host, port=port, threaded=True)


@cli_errors
def report(
    db: Db = Path("turing.sqlite"),
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for report.md, results.json, answers.csv and "
                                          "subjects.png.")] = Path("turing-report"),
) -> None:
    """Score the answers so far: accuracy, binomial test against chance, confusion matrix, per subject."""
    from simreal.experiments.turing import TuringStudy, write_report

    r = write_report(TuringStudy(db), out_dir)
    c = r["confusion"]
    out.print(f"{r['correct']} of {r['trials']} correct ({100 * r['accuracy']:.1f} %), one-sided binomial "
              f"p = {r['p_value']:.3g}, {len(r['subjects'])} subject(s)")
    out.print(f"ground truth real: selected real {c['real']['real']}, synthetic {c['real']['synthetic']}; "
              f"ground truth synthetic: selected real {c['synthetic']['real']}, "
              f"synthetic {c['synthetic']['synthetic']}")
    out.print(f"report: {out_dir / 'report.md'}")


@cli_errors
def observer(
    real: Annotated[Path, typer.Option(help="Real images (a simreal dataset).")],
    synthetic: Annotated[list[Path], typer.Option(help="Synthetic or refined images (repeatable: each is tested "
                                                  "against --real on its own).")],
    seeds: Annotated[int, typer.Option(min=1, help="Independent splits and observers per dataset.")] = 1,
    max_per_class: Annotated[int, typer.Option(min=4, help="Images of each kind (half train, half test).")]
    = 2000,
    steps: Annotated[int, typer.Option(min=1, help="Observer training steps (batch 64).")] = 600,
    max_side: Annotated[int, typer.Option(min=8, help="Shrink larger images to at most this side.")] = 128,
    out_json: Annotated[Path | None, typer.Option("--out", help="Also write the results to this JSON file.")]
    = None,
    explain: Annotated[Path | None, typer.Option(help="Folder for one PNG per --synthetic of what the first "
                                                 "observer looks at: the synthetic mean image, its saliency on "
                                                 "synthetic and on real images, the synthetic images it found "
                                                 "most real, the real ones it found most synthetic.")] = None,
    device: Device = "auto",
) -> None:
    """The machine's visual Turing test: train a small CNN to tell real from synthetic images, score it on
    held-out ones. 50 % = indistinguishable to it; the p value tests "better than chance"."""
    import dataclasses

    import numpy as np

    from simreal.evaluate.realism import ObserverConfig, observer_study
    from simreal.utils.fileio import atomic_write_json
    from simreal.utils.report import markdown_table

    cfg = ObserverConfig(max_per_class=max_per_class, max_side=max_side, steps=steps, device=device)
    results = observer_study(real, synthetic, cfg, seeds, explain=explain)
    rows = [[path, f"{r['accuracy_pct_mean']:.1f}" + (f" ± {r['accuracy_pct_std']:.1f}" if seeds > 1 else ""),
             f"{np.mean([x['auc'] for x in r['runs']]):.3f}", f"{max(x['p_value'] for x in r['runs']):.2g}",
             str(r["runs"][0]["test_per_class"])] for path, r in results.items()]
    if out_json is not None:
        atomic_write_json(out_json, {"real": str(real), "config": dataclasses.asdict(cfg), "results": results})
    out.print(markdown_table(["synthetic", "observer accuracy (%)", "AUC", "p (largest)", "test images per kind"],
                             rows), highlight=False, soft_wrap=True)
    if explain is not None:
        out.print(f"what the observers look at: {explain}/ (one PNG per --synthetic, named after its folder)")
