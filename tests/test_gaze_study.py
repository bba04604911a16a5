"""`simreal experiment gaze` end to end at smoke-test sizes."""

from __future__ import annotations

import dataclasses
import json

import pytest
from typer.testing import CliRunner

from simreal.cli import app
from simreal.experiments.gaze_study import MAIN_CONDITIONS, GazeStudyConfig, run_study
from simreal.simulate.eyes import EyeSimConfig
from simreal.utils.checkpoint import latest_checkpoint
from simreal.utils.errors import SimrealError
from simreal.utils.runs import read_stats


@pytest.mark.slow
def test_gaze_experiment_builtin_quick(tmp_path):
    out = tmp_path / "study"
    r = run_study(out, cfg=GazeStudyConfig.quick(), device="cpu")
    assert set(r["conditions"]) == {*MAIN_CONDITIONS, "refined (no-buffer)", "refined (global)", "refined (no-noise)"}
    assert r["counts"] == {"synthetic_4x": 64, "synthetic_1x": 16, "real": 32, "test": 32}
    assert r["conditions"]["synthetic"]["train_count"] == 16 and r["conditions"]["refined 4x"]["train_count"] == 64
    assert set(r["pupil_shift_px"]) == {"local+buffer", "no-buffer", "global", "no-noise"}
    report = (out / "report.md").read_text()
    assert "simulated" in report and "NOT real data" in report
    for f in ("cumulative_main.png", "cumulative_ablations.png", "synthetic_refined_target.png"):
        assert (out / "figures" / f).stat().st_size > 1000
    saved = json.loads((out / "results.json").read_text())
    assert saved["conditions"]["refined"]["within_7_deg_pct"] == r["conditions"]["refined"]["within_7_deg_pct"]
    # a rerun reuses every finished stage and gives the same numbers
    again = run_study(out, cfg=GazeStudyConfig.quick(), device="cpu")
    assert again["conditions"] == r["conditions"]
    # another selection of variants is the same study: the finished ones are reused, a new one is added
    cfg = dataclasses.replace(GazeStudyConfig.quick(), variants=("local+buffer", "gaze-consistency"))
    more = run_study(out, cfg=cfg, device="cpu")
    assert more["conditions"]["refined"] == r["conditions"]["refined"]
    assert set(more["conditions"]) == {*MAIN_CONDITIONS, "refined (gaze-consistency)"}


def test_gaze_experiment_needs_all_three_datasets(tmp_path):
    res = CliRunner().invoke(app, ["experiment", "gaze", "--synthetic", str(tmp_path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "give all of --synthetic, --real and --test" in res.output
    res = CliRunner().invoke(app, ["experiment", "gaze", "--size", "huge", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--size" in res.output
    # a bad dataset is refused before the study claims --out
    res = CliRunner().invoke(app, ["experiment", "gaze", "--synthetic", str(tmp_path / "no"), "--real", str(tmp_path),
                                   "--test", str(tmp_path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "dataset folder not found" in res.output and not (tmp_path / "o").exists()


@pytest.mark.slow
def test_gaze_experiment_on_user_datasets(tmp_path):
    from simreal.simulate.write import generate_eyes

    kw = {"compile_": False, "show_progress": False, "device": "cpu"}
    syn = generate_eyes(tmp_path / "syn", 40, seed=0, **kw)
    real = generate_eyes(tmp_path / "real", 24, seed=1, preset="webcam", **kw)
    test = generate_eyes(tmp_path / "test", 16, seed=2, preset="webcam", **kw)
    cfg = dataclasses.replace(GazeStudyConfig.quick(), variants=("local+buffer", "gaze-consistency"))
    r = run_study(tmp_path / "o", syn, real, test, cfg, device="cpu")
    assert not r["builtin_data"] and r["counts"] == {"synthetic_4x": 40, "synthetic_1x": 10, "real": 24, "test": 16}
    assert set(r["conditions"]) == {*MAIN_CONDITIONS, "refined (gaze-consistency)"}
    # the gaze-keeping refiner got its frozen GazeNet's term, the main refiner did not
    stats = {v: read_stats(tmp_path / "o" / "runs" / f"refine-{v}") for v in cfg.variants}
    assert any("R/consistency" in s for s in stats["gaze-consistency"])
    assert not any("R/consistency" in s for s in stats["local+buffer"])
    assert latest_checkpoint(tmp_path / "o" / "runs" / "gaze-consistency") is not None
    assert "NOT real data" not in (tmp_path / "o" / "report.md").read_text()
    small = generate_eyes(tmp_path / "small", 8, seed=3, cfg=dataclasses.replace(EyeSimConfig(), height=30), **kw)
    with pytest.raises(SimrealError, match="--size 35x55"):
        run_study(tmp_path / "o2", syn, small, test, cfg, device="cpu")


def test_gaze_experiment_refuses_a_folder_of_another_study(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "study-config.json").write_text('{"config": {}, "inputs": [null, null, null]}')
    with pytest.raises(SimrealError, match="another configuration"):
        run_study(out, cfg=GazeStudyConfig.quick(), device="cpu")
