"""The skeleton every ``simreal experiment`` shares: a folder the study owns, stages computed once, one report.

A study is one module with a config dataclass, a ``run_*`` function and a report function::

    study = Study(out, to_dict(cfg), inputs=[given_paths...])   # refuses a folder made by another config
    data = study.dataset("data/synthetic", lambda p: generate_digits(p, cfg.count, cfg.seed))
    for seed in range(seeds):
        r = study.stage(f"results/synthetic-seed{seed}", lambda: train_and_score(data, seed))
    return study.finish({"conditions": ...}, report=lambda results: "# My study\\n...")

Stages are JSON results kept under ``out`` (``results/NAME.json``): a rerun on the same ``out`` (after an
interruption, or with more seeds or variants) reads them back instead of recomputing. ``finish`` adds
``machine`` and ``runtime_s`` (this invocation's wall time) and writes ``results.json`` and ``report.md``
atomically. Summaries over seeds use :func:`simreal.utils.report.mean_std` (sample std) and tables
:func:`simreal.utils.report.markdown_table`. ``experiments/gaze_study.py`` is the template.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from simreal.data.reader import read_manifest
from simreal.utils.fileio import atomic_write, atomic_write_json
from simreal.utils.report import machine
from simreal.utils.runs import claim_study_dir

T = TypeVar("T")


class Study:
    """One study's folder ``out``. ``config`` and ``inputs`` (the datasets the user gave) are recorded in
    ``out/study-config.json`` (:func:`~simreal.utils.runs.claim_study_dir`); leave out of ``config`` what only
    selects conditions (seeds, variants), so a larger rerun reuses the finished ones. ``config=None``: a study
    that recomputes everything on each run and claims nothing (``simreal demo``)."""

    def __init__(self, out: str | Path, config: dict[str, Any] | None = None,
                 inputs: Sequence[str | Path | None] = ()) -> None:
        self.out = Path(out)
        if config is not None:
            claim_study_dir(self.out, config, list(inputs))
        self.out.mkdir(parents=True, exist_ok=True)
        self.t0 = time.time()

    def stage(self, key: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The JSON result of stage ``key`` (a path under ``out`` without ``.json``): ``run()`` once, written
        atomically, then read back by every later call and rerun."""
        path = self.out / f"{key}.json"
        if path.exists():
            return json.loads(path.read_text())
        result = run()
        atomic_write_json(path, result)
        return result

    def dataset(self, key: str, make: Callable[[Path], Any],
                reuse: Callable[[dict[str, Any]], bool] = lambda manifest: True) -> Path:
        """The dataset ``out/KEY``: reused when finished and ``reuse(its manifest)``, else ``make(path)``
        (which must write or resume it there; a dataset writer resumes an interrupted one)."""
        path = self.out / key
        if (path / "dataset.json").exists() and reuse(read_manifest(path)):
            return path
        make(path)
        return path

    def refiner(self, name: str, cfg: Any, synthetic: Any, real: Any, consistency: Any = None) -> Path:
        """The final checkpoint of a SimGAN refiner trained with ``cfg`` (a ``RefineConfig``) on ``synthetic``
        against ``real`` (image banks) in ``out/runs/refine-NAME``: trained there, resumed, or reused.
        ``consistency``: its label-consistency term, where ``cfg.loss.label_consistency`` > 0."""
        from simreal.refine.train import SimGANTrainer

        run_dir = self.out / "runs" / f"refine-{name}"
        run_dir.mkdir(parents=True, exist_ok=True)
        return SimGANTrainer(cfg, synthetic, real, run_dir, consistency).train(resume=True)

    def each_condition(self, conditions: dict[str, T], seeds: int, what: str,
                       run: Callable[[str, int, T], dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """``run(name, seed, data)`` for every seed and condition (seed by seed, so an interrupted study has
        whole seeds), under a progress bar of ``what``; the results per condition in seed order."""
        from simreal.utils.progress import progress_bar

        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in conditions}
        with progress_bar() as bar:
            task = bar.add_task(what, total=len(conditions) * seeds, status="")
            for seed in range(seeds):
                for name, data in conditions.items():
                    bar.update(task, status=f"{name} seed {seed}")
                    runs[name].append(run(name, seed, data))
                    bar.advance(task)
        return runs

    def finish(self, results: dict[str, Any], report: Callable[[dict[str, Any]], str], *,
               results_name: str = "results.json", report_name: str = "report.md") -> dict[str, Any]:
        """``results`` with ``machine`` and ``runtime_s`` added, written to ``results.json``, and the markdown
        ``report(results)`` to ``report.md``; both atomic (a kill leaves the previous ones or none)."""
        results = {**results, "machine": machine(), "runtime_s": round(time.time() - self.t0, 1)}
        text = report(results)
        atomic_write_json(self.out / results_name, results)
        atomic_write(self.out / report_name, lambda p: p.write_text(text, encoding="utf-8"))
        return results


def given_datasets(synthetic: str | Path | None, real: str | Path | None, test: str | Path | None, label: str,
                   task: str | None = None) -> None:
    """Checks the datasets a user gave a study: all three or none (the built-in data), else a one-line error;
    given ones must open, and the labeled ones (synthetic, test) have ``label`` (and the dataset task ``task``).
    Call it before ``Study(...)``, so a bad path leaves no claimed folder behind."""
    from simreal.data.reader import SimrealDataset
    from simreal.utils.errors import SimrealError

    if len({p is None for p in (synthetic, real, test)}) > 1:
        raise SimrealError("give all of --synthetic, --real and --test, or none (for the built-in data)")
    if synthetic is None:
        return
    need = f"a {task + ' ' if task else ''}dataset with '{label}' labels"
    for p in (synthetic, test):
        ds = SimrealDataset(p)
        if label not in ds.schema or (task is not None and ds.manifest.get("task") != task):
            raise SimrealError(f"{p}: not {need}")
    SimrealDataset(real)
