"""The task registry: every network it knows trains, commands dispatch through it with no task names of their
own, the sampler is part of the training config (set, saved, resumed), and evaluations append to the run's
metrics.jsonl."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from simreal.cli import app
from simreal.train.registry import TASKS, load_model

runner = CliRunner()
SRC = Path(__file__).resolve().parents[1] / "src" / "simreal"

# an input each task's network takes; a task added to the registry must be added here too
INPUT_SHAPES = {"digits": (1, 8, 8), "gaze": (1, 36, 60), "hand": (1, 224, 224), "keypoints": (3, 64, 64)}


def test_every_task_has_an_input_shape_here():
    assert set(INPUT_SHAPES) == set(TASKS)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_registry_network_gets_a_finite_gradient_in_every_parameter(name):
    spec = TASKS[name]
    cfg = spec.config()
    shape = INPUT_SHAPES[name]
    torch.manual_seed(0)
    model = spec.build(cfg, {"image_shape": list(shape)}).train()
    out = model(torch.rand(2, *shape))
    outs = out if isinstance(out, list | tuple) else [out]
    loss = sum((o.float() ** 2).mean() + o.float().mean() for o in outs)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    zero = [n for n, p in model.named_parameters() if p.grad is not None and not p.grad.abs().sum() > 0]
    assert not missing and not bad and not zero, (missing, bad, zero)


def _compares_a_task_name(tree: ast.AST) -> list[int]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for operand in [node.left, *node.comparators]:
                if any(isinstance(c, ast.Constant) and c.value in TASKS for c in ast.walk(operand)):
                    found.append(node.lineno)
    return found


def test_commands_and_trainers_never_test_a_task_name():
    """Task-specific behaviour belongs to tasks/, evaluate/ and the registry's entries; the CLI, the stages,
    the trainers and the samplers dispatch through :data:`TASKS`. Datasets may check their own kind (a COCO
    export needs people), and a study may have per-task setups, so data/ and the studies are not checked."""
    files = [*(SRC / "cli").glob("*.py"), SRC / "experiments" / "stages.py", *(SRC / "train").glob("*.py"),
             *(SRC / "teach").glob("*.py")]
    assert len(files) > 10 and all(f.is_file() for f in files)
    offenders = {f.relative_to(SRC).as_posix(): lines for f in files
                 if (lines := _compares_a_task_name(ast.parse(f.read_text())))}
    assert not offenders, offenders


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    from simreal.simulate.write import generate_digits

    return generate_digits(tmp_path_factory.mktemp("reg") / "digits", 120, 0, show_progress=False)


def _train(digits: Path, runs: Path, steps: int, *extra: str) -> Path:
    r = runner.invoke(app, ["train", "--data", str(digits), "--data", str(digits), "--runs", str(runs),
                            "--sampler", "teacher",
                            "--group-by", "rotation_deg", "--groups", "3", "--set", "sampler.alpha=0.05",
                            "--set", "sampler.n_steps=2", "--set", f"steps={steps}", "--set", "batch_size=8",
                            "--set", "checkpoint_every=3", "--set", "log_every=3", "--device", "cpu", *extra])
    assert r.exit_code == 0, r.output
    return next(runs.iterdir())


def test_train_sampler_options_are_config_saved_and_resumed(digits, tmp_path):
    run = _train(digits, tmp_path / "runs", 3)
    saved = json.loads((run / "config.json").read_text())
    assert saved["sampler"]["name"] == "teacher" and saved["sampler"]["alpha"] == 0.05
    assert saved["sampler"]["group_by"] == "rotation_deg" and saved["sampler"]["groups"] == 3
    # a run with steps left: 3 of 6 done, resumed to 6, must end where a straight run of 6 steps ends
    (run / "config.json").write_text(json.dumps({**saved, "steps": 6}))
    r = runner.invoke(app, ["train", "--resume", str(run)])
    assert r.exit_code == 0, r.output
    assert json.loads((run / "config.json").read_text())["sampler"]["alpha"] == 0.05
    straight = _train(digits, tmp_path / "straight", 6)
    from simreal.utils.checkpoint import latest_checkpoint, load_checkpoint

    a, meta_a = load_checkpoint(latest_checkpoint(run))
    b, meta_b = load_checkpoint(latest_checkpoint(straight))
    assert latest_checkpoint(run).name == "ckpt-0000006.json" and a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the teacher's decisions are in its checkpointed state; resumed and straight made the same ones
    assert meta_a["meta"].get("sampler") == meta_b["meta"].get("sampler")


def test_resume_refuses_config_changes(digits, tmp_path):
    run = _train(digits, tmp_path / "runs", 3)
    for extra in (["--set", "sampler.alpha=0.5"], ["--sampler", "group-dro"], ["--seed", "3"]):
        r = runner.invoke(app, ["train", "--resume", str(run), *extra])
        assert r.exit_code == 2 and "keeps the config it was started with" in r.output, (extra, r.output)


def test_train_dry_run_shows_the_sampler_config(digits, tmp_path):
    r = runner.invoke(app, ["train", "--data", str(digits), "--data", str(digits), "--runs", str(tmp_path / "runs"),
                            "--sampler", "group-dro", "--set", "sampler.dro_eta=0.2", "--dry-run"])
    assert r.exit_code == 0, r.output
    shown = json.loads(r.output)["sampler"]
    assert shown["dro_eta"] == 0.2 and shown["name"] == "group-dro" and not (tmp_path / "runs").exists()
    r = runner.invoke(app, ["train", "--data", str(digits), "--set", "sampler.name=annealing", "--dry-run"])
    assert r.exit_code == 2 and "unknown sampler 'annealing'" in r.output


def test_evaluate_appends_to_the_runs_metrics_file_and_load_model_reads_the_task(digits, tmp_path):
    run = _train(digits, tmp_path / "runs", 3)
    for _ in range(2):
        r = runner.invoke(app, ["evaluate", "--checkpoint", str(run), "--data", str(digits), "--device", "cpu"])
        assert r.exit_code == 0, r.output
        assert "accuracy" in r.output
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and all(x["metric"] == "accuracy" for x in lines)
    assert lines[0]["results"]["accuracy"] == lines[1]["results"]["accuracy"]
    model, cfg = load_model(run, "cpu")
    assert cfg.TASK == "digits" and not model.training
