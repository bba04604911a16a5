"""CLI: every command explains itself, the demo runs end to end, errors exit with status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from simreal.cli import COMMANDS, app

runner = CliRunner()

def _walk(group, path: tuple[str, ...] = ()):
    """Every command and group under ``group`` (typer's click commands; a group has ``commands``)."""
    yield path, group
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _walk(cmd, (*path, name))
        else:
            yield (*path, name), cmd


CLICK = typer.main.get_command(app)
ALL = list(_walk(CLICK))


def test_every_registered_command_is_reachable():
    leaves = {" ".join(p) for p, c in ALL if not hasattr(c, "commands")}
    assert leaves == {" ".join(filter(None, (g, n))) for g, n, _ in COMMANDS}


@pytest.mark.parametrize("path,cmd", ALL, ids=[" ".join(p) or "simreal" for p, _ in ALL])
def test_help_documents_every_option(path, cmd):
    result = runner.invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and (cmd.help or "").strip()
    undocumented = [p.name for p in cmd.params if not (getattr(p, "help", None) or "").strip()]
    assert not undocumented, undocumented


def test_console_script_exit_code_and_one_line_error(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-m", "simreal.cli", "info", str(tmp_path / "missing")],
                          capture_output=True, text=True, env={"SIMREAL_QUIET": "1", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "dataset folder not found" in proc.stderr


@pytest.mark.slow
def test_demo_quick_runs_every_stage_and_writes_the_report(tmp_path: Path):
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out), "--quick", "--seeds", "1", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    expected = {"synthetic", "refined", "real-20", "real-20+synthetic", "real-20+refined", "real-50",
                "real-50+synthetic", "real-50+refined", "real-all"}
    assert set(results["accuracy"]) == expected
    assert all(0 <= v["mean"] <= 1 and len(v["values"]) == 1 for v in results["accuracy"].values())
    assert results["runtime_s"] > 0
    report = (out / "report.md").read_text()
    assert "| real-20+refined |" in report
    for fig in ("accuracy_vs_budget.png", "refiner_losses.png", "synthetic_refined_real.png"):
        assert (out / "figures" / fig).stat().st_size > 1000
    refined = json.loads((out / "data" / "digits-refined-digits" / "dataset.json").read_text())
    assert refined["domain"] == "refined"


def test_every_command_with_a_config_has_set_and_dry_run():
    leaves = [(p, c) for p, c in ALL if not hasattr(c, "commands")]
    options = {" ".join(p): {o for prm in c.params for o in getattr(prm, "opts", [])} for p, c in leaves}
    with_config = {name for name, opts in options.items() if "--config" in opts}
    assert {"train", "demo", "refine train", "generate digits", "generate eyes", "generate people", "generate mixed",
            "experiment refine-digits", "experiment gaze", "experiment pose", "experiment teacher",
            "experiment real-eyes", "generate hands", "experiment hands", "stylize"} <= with_config
    missing = {name: {"--set", "--dry-run"} - opts for name, opts in options.items()
               if name in with_config and not {"--set", "--dry-run"} <= opts}
    assert not missing, missing


@pytest.mark.parametrize("command, expected", [
    (["experiment", "pose", "--set", "train.steps=7"], '"steps": 7'),
    (["experiment", "teacher", "--task", "gaze", "--steps", "7"], '"steps": 7'),
    (["experiment", "gaze", "--size", "quick", "--variant", "local+buffer", "--set", "gaze.steps=7"], '"steps": 7'),
    (["experiment", "refine-digits", "--set", "classifier.steps=7"], '"steps": 7'),
    (["experiment", "hands", "--size", "quick", "--variant", "local", "--set", "hands.steps=7"], '"steps": 7'),
    (["demo", "--quick", "--set", "refine.iterations=7"], '"iterations": 7'),
    (["generate", "digits", "--set", "shift_px=0.5"], '"shift_px": 0.5'),
    (["stylize", "--mixed", "m", "--work-size", "300", "--set", "work_size=7"], '"work_size": 300'),
    (["generate", "eyes", "--size", "20x30", "--set", "height=7"], '"height": 20'),  # the shorthand wins
    # a list in JSON style: its items lose their quotes
    (["experiment", "real-eyes", "--set", 'refine.discriminator.layers=["conv:8:3:1", \'conv:2:1:1\']'],
     '"conv:8:3:1",\n        "conv:2:1:1"'),
])
def test_dry_run_prints_the_config_and_writes_nothing(command, expected, tmp_path: Path):
    out = tmp_path / "study"
    r = runner.invoke(app, [*command, "--out", str(out), "--dry-run"])
    assert r.exit_code == 0, r.output
    assert expected in r.output and not out.exists()
    r = runner.invoke(app, [*command, "--out", str(out), "--dry-run", "--set", "nonsense=1"])
    assert r.exit_code == 2 and "nonsense" in r.output and not out.exists()


def test_output_into_a_closed_pipe_is_not_an_error(tmp_path: Path):
    """`simreal ... --dry-run | head -1`: the reader stops early; simreal exits 0 without an error line."""
    p = subprocess.Popen([sys.executable, "-m", "simreal.cli", "experiment", "pose", "--out", str(tmp_path / "s"),
                          "--dry-run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()  # long before the command has imported anything and printed
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 0 and "error" not in err, err
