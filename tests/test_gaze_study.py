"""`simreal experiment gaze` end to end at smoke-test sizes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from simreal.cli import app
from simreal.experiments.gaze_study import MAIN_CONDITIONS, GazeStudyConfig, run_study


@pytest.mark.slow
def test_gaze_experiment_builtin_quick(tmp_path):
    out = tmp_path / "study"
    r = run_study(out, cfg=GazeStudyConfig.quick(), device="cpu")
    assert set(r["conditions"]) == {*MAIN_CONDITIONS, "refined (no-buffer)", "refined (global)"}
    assert r["counts"] == {"synthetic_4x": 64, "synthetic_1x": 16, "real": 32, "test": 32}
    assert r["conditions"]["synthetic"]["train_count"] == 16 and r["conditions"]["refined 4x"]["train_count"] == 64
    assert set(r["pupil_shift_px"]) == {"local+buffer", "no-buffer", "global"}
    report = (out / "report.md").read_text()
    assert "simulated" in report and "NOT real data" in report
    for f in ("cumulative_main.png", "cumulative_ablations.png", "synthetic_refined_target.png"):
        assert (out / "figures" / f).stat().st_size > 1000
    saved = json.loads((out / "results.json").read_text())
    assert saved["conditions"]["refined"]["within_7_deg_pct"] == r["conditions"]["refined"]["within_7_deg_pct"]
    # a rerun reuses every finished stage and gives the same numbers
    again = run_study(out, cfg=GazeStudyConfig.quick(), device="cpu")
    assert again["conditions"] == r["conditions"]


def test_gaze_experiment_needs_all_three_datasets(tmp_path):
    res = CliRunner().invoke(app, ["experiment", "gaze", "--synthetic", str(tmp_path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "give all of --synthetic, --real and --test" in res.output
    res = CliRunner().invoke(app, ["experiment", "gaze", "--size", "huge", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--size" in res.output
