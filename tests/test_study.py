"""The study skeleton (experiments/study.py): stages run once, reports written whole, a folder claimed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simreal.experiments.study import Study
from simreal.simulate.write import generate_digits
from simreal.utils.errors import SimrealError


def test_a_stage_runs_once_and_a_rerun_reads_it_back(tmp_path: Path):
    calls = []

    def run() -> dict:
        calls.append(1)
        return {"score": 0.5}

    assert Study(tmp_path, {"a": 1}).stage("results/x-seed0", run) == {"score": 0.5}
    assert Study(tmp_path, {"a": 1}).stage("results/x-seed0", run) == {"score": 0.5}  # a rerun
    assert len(calls) == 1 and (tmp_path / "results" / "x-seed0.json").exists()


def test_another_configuration_is_refused_before_anything_is_written(tmp_path: Path):
    Study(tmp_path, {"a": 1})
    with pytest.raises(SimrealError, match="another configuration"):
        Study(tmp_path, {"a": 2})


def test_a_failing_stage_leaves_nothing_behind(tmp_path: Path):
    def broken() -> dict:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Study(tmp_path, {}).stage("results/y", broken)
    assert not (tmp_path / "results" / "y.json").exists()


def test_finish_adds_machine_and_runtime_and_writes_both_files(tmp_path: Path):
    r = Study(tmp_path, {}).finish({"x": 1}, lambda r: f"# report\n{r['runtime_s']} s on {r['machine']['platform']}\n")
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved == r and saved["x"] == 1 and saved["runtime_s"] >= 0 and "cpu_count" in saved["machine"]
    assert (tmp_path / "report.md").read_text().startswith("# report\n")
    assert not list(tmp_path.glob(".*tmp*"))


def test_a_report_that_fails_leaves_the_previous_results(tmp_path: Path):
    Study(tmp_path).finish({"x": 1}, lambda r: "first\n")
    with pytest.raises(KeyError):
        Study(tmp_path).finish({"x": 2}, lambda r: r["missing"])
    assert json.loads((tmp_path / "results.json").read_text())["x"] == 1
    assert (tmp_path / "report.md").read_text() == "first\n"


def test_a_dataset_is_reused_only_when_it_matches(tmp_path: Path):
    study = Study(tmp_path, {})
    made = []

    def make(path: Path) -> None:
        made.append(path)
        generate_digits(path, 5, seed=len(made), overwrite=True, show_progress=False)

    same_seed = lambda m: m["provenance"]["seed"] == 1  # noqa: E731
    path = study.dataset("data/digits", make, reuse=same_seed)
    assert study.dataset("data/digits", make, reuse=same_seed) == path and len(made) == 1
    study.dataset("data/digits", make, reuse=lambda m: False)
    assert len(made) == 2 and json.loads((path / "dataset.json").read_text())["provenance"]["seed"] == 2
