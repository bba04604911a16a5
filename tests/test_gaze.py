"""GazeNet, the gaze metrics, gaze training and evaluation from the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from simreal.cli import app
from simreal.data.bank import ImageBank
from simreal.data.reader import SimrealDataset
from simreal.evaluate.gaze import angular_error_deg, gaze_metrics, locate_pupil, plot_cumulative, pupil_shift, within
from simreal.simulate.write import generate_eyes
from simreal.tasks.gaze import GazeNet, GazeNetConfig, gaze_loss
from simreal.train.registry import load_model
from simreal.train.task import GazeTrainConfig, TaskTrainer
from simreal.utils.config import merge

SMALL = GazeNetConfig(widths=(4, 4, 8, 8, 8), hidden=(16,))


def test_fc9600_is_the_flattened_feature_size():
    assert GazeNet().flat_features == 9600
    assert GazeNet(image_size=(36, 60)).flat_features == 5 * 11 * 192
    out = GazeNet(SMALL)(torch.zeros(2, 1, 35, 55))
    assert out.shape == (2, 3)


@pytest.mark.slow
def test_every_parameter_gets_a_gradient_and_one_batch_overfits():
    torch.manual_seed(0)
    net = GazeNet(SMALL)
    x, y = torch.randn(8, 1, 35, 55), torch.nn.functional.normalize(torch.randn(8, 3), dim=1)
    gaze_loss(net(x), y).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    first = gaze_loss(net(x), y).mean().item()
    for _ in range(150):
        opt.zero_grad()
        loss = gaze_loss(net(x), y).mean()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * first


def test_angular_error_known_values_and_clipping():
    a = np.array([[0, 0, -1], [0, 0, -1], [1, 0, 0], [0, 0, -2]], dtype=float)
    b = np.array([[0, 0, -1], [1, 0, 0], [-1, 0, 0], [0, 0, -1]], dtype=float)
    assert np.allclose(angular_error_deg(a, b), [0, 90, 180, 0])
    v = np.array([[0.6, 0.0, -0.8]]) * (1 + 1e-16)  # a cosine that rounds above 1 must give 0, not NaN
    assert np.isfinite(angular_error_deg(v, v)).all()


def test_metrics_and_curve():
    errors = np.array([1.0, 3.0, 7.0, 7.5, 30.0])
    m = gaze_metrics(errors)
    assert m["within_7_deg_pct"] == 60.0 and within(errors, 0.5) == 0.0
    assert m["median_error_deg"] == 7.0 and np.isclose(m["mean_error_deg"], 9.7)
    assert m["curve_degrees"] == list(range(26)) and m["curve_pct"][-1] == 80.0
    assert all(a <= b for a, b in zip(m["curve_pct"], m["curve_pct"][1:], strict=False))


def test_plot_is_written(tmp_path):
    path = plot_cumulative({"a": np.array([1.0, 5.0]), "b": np.array([2.0, 20.0])}, tmp_path / "c.png")
    assert path.stat().st_size > 1000


def test_pupil_shift_is_zero_for_identical_images_and_measures_a_shift():
    img = np.full((35, 55), 180, np.uint8)
    yy, xx = np.mgrid[:35, :55]
    img[(xx - 27) ** 2 + (yy - 17) ** 2 <= 9] = 10
    assert np.allclose(locate_pupil(img, (27.5, 17.5)), (27.5, 17.5))
    moved = np.roll(img, 2, axis=1)
    s = pupil_shift([img, img], [img, moved], np.array([[27.5, 17.5], [27.5, 17.5]]))
    assert s["pairs"] == 2 and np.isclose(s["mean_px"], 1.0) and np.isclose(s["std_px"], 1.0)
    # the signed offset: moved 2 px right in one pair of two, 1 px down in the other
    down = np.roll(img, 1, axis=0)
    s = pupil_shift([img, img], [moved, down], np.array([[27.5, 17.5], [27.5, 17.5]]))
    assert np.isclose(s["mean_dx_px"], 1.0) and np.isclose(s["mean_dy_px"], 0.5) and np.isclose(s["mean_px"], 1.5)


@pytest.fixture(scope="module")
def eyes(tmp_path_factory):
    return generate_eyes(tmp_path_factory.mktemp("gz") / "eyes", 64, seed=0, compile_=False, show_progress=False)


def test_gaze_training_runs_and_learns(eyes, tmp_path):
    bank = ImageBank(SimrealDataset(eyes), "gaze")
    cfg = merge(GazeTrainConfig(), {"net": {"widths": [8, 8, 16, 16, 16], "hidden": [32]}, "steps": 60,
                                    "batch_size": 16, "device": "cpu", "log_every": 20, "checkpoint_every": 30})
    model = TaskTrainer(cfg, [(bank, 1.0)], tmp_path / "run", show_progress=False).train()
    loaded, _ = load_model(tmp_path / "run", "cpu", "gaze")
    x = bank.images(torch.arange(4))
    assert torch.allclose(model(x), loaded(x))
    stats = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    assert stats[-1]["loss"] < stats[0]["loss"]


def _train_tiny_gaze(runner: CliRunner, eyes, runs, steps: int):
    """`simreal train --task gaze` at toy width into ``runs``; returns (the CLI result, its run directory)."""
    r = runner.invoke(app, ["train", "--task", "gaze", "--data", str(eyes), "--runs", str(runs),
                            "--set", f"steps={steps}", "--set", "batch_size=8", "--set", "net.widths=[4,4,8,8,8]",
                            "--set", "net.hidden=[8]", "--device", "cpu"])
    return r, next(runs.iterdir(), None)


def test_cli_train_and_evaluate_gaze(eyes, tmp_path):
    from simreal.utils.checkpoint import latest_checkpoint

    runner = CliRunner()
    r, run = _train_tiny_gaze(runner, eyes, tmp_path / "runs", steps=4)
    assert r.exit_code == 0, r.output
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "steps": 6}))  # two steps left
    r = runner.invoke(app, ["train", "--resume", str(run)])  # the run knows it is a gaze run
    assert r.exit_code == 0, r.output
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert stats[-1]["step"] == 6 and latest_checkpoint(run).name == "ckpt-0000006.json"
    r = runner.invoke(app, ["train", "--resume", str(tmp_path)])
    assert r.exit_code == 2 and "not a run directory" in r.output
    r = runner.invoke(app, ["evaluate", "--task", "gaze", "--checkpoint", str(run), "--data", str(eyes),
                            "--out", str(tmp_path / "m.json"), "--plot", str(tmp_path / "curve.png"),
                            "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "within 7°" in r.output and (tmp_path / "curve.png").exists()
    assert len(json.loads((tmp_path / "m.json").read_text())["curve_pct"]) == 26
    r = runner.invoke(app, ["evaluate", "--task", "digits", "--checkpoint", str(run), "--data", str(eyes)])
    assert r.exit_code == 2 and "a gaze checkpoint, not digits" in r.output


def test_label_consistency_is_the_frozen_networks_mean_task_loss():
    from simreal.tasks import digits, gaze, hands
    from simreal.tasks.spec import LabelConsistency
    from simreal.utils.errors import ConfigError

    class Scaled(torch.nn.Module):  # a "gaze network": each image's mean times (1, 2, 3)
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))

        def forward(self, x):
            return x.mean((1, 2, 3))[:, None] * self.w

    term = LabelConsistency(Scaled(), gaze.NETWORK)
    refined = torch.full((2, 1, 4, 4), 0.5, requires_grad=True)
    labels = torch.tensor([[0.0, 0.0, 0.0], [0.5, 1.0, 1.5]], dtype=torch.float64)
    loss = term(refined, labels)
    assert loss.item() == pytest.approx((0.25 + 1 + 2.25 + 0) / 2)  # image 0 predicts (0.5, 1, 1.5), image 1 its label
    loss.backward()
    assert term.model.w.grad is None  # frozen: only the refined images get a gradient
    assert refined.grad[1].abs().max() == 0 and refined.grad[0].min() > 0

    class Uniform(torch.nn.Module):  # a "digit classifier" with equal logits for the 10 classes
        def forward(self, x):
            return x.sum((1, 2, 3))[:, None] * torch.zeros(1, 10)

    ce = LabelConsistency(Uniform(), digits.NETWORK)(torch.zeros(3, 1, 8, 8), torch.tensor([1.0, 2.0, 3.0]))
    assert ce.item() == pytest.approx(np.log(10))
    with pytest.raises(ConfigError, match="prepares its labels per batch"):
        LabelConsistency(Uniform(), hands.NETWORK)  # its joints become crop fractions per batch


def test_cli_refine_train_keeps_gaze_with_a_gaze_network(eyes, tmp_path):
    runner = CliRunner()
    r, gaze_run = _train_tiny_gaze(runner, eyes, tmp_path / "gaze", steps=2)
    assert r.exit_code == 0, r.output
    sets = [a for k, v in {"refiner.width": 8, "refiner.blocks": 1, "batch_size": 8, "buffer_size": 16,
                           "pretrain_refiner_steps": 1, "pretrain_discriminator_steps": 1, "iterations": 2,
                           "log_every": 1, "loss.label_consistency": 2}.items() for a in ("--set", f"{k}={v}")]
    args = ["refine", "train", "--synthetic", str(eyes), "--real", str(eyes), "--preset", "eyes-cpu", "--runs",
            str(tmp_path / "runs"), "--device", "cpu", "--no-compile", *sets]
    r = runner.invoke(app, [*args, "--consistency-classifier", str(gaze_run)])
    assert r.exit_code == 0, r.output
    stats = [json.loads(line) for line in next((tmp_path / "runs").iterdir()).joinpath("stats.jsonl").open()]
    assert [s["step"] for s in stats if "R/consistency" in s] == [3, 4]  # adversarial steps only
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and "needs --consistency-classifier" in r.output


def test_cli_generate_eyes_bad_input(tmp_path):
    r = CliRunner().invoke(app, ["generate", "eyes", "--out", str(tmp_path / "e"), "--size", "3x"])
    assert r.exit_code == 2 and "HEIGHTxWIDTH" in r.output
    r = CliRunner().invoke(app, ["generate", "eyes", "--out", str(tmp_path / "e"), "--preset", "studio"])
    assert r.exit_code == 2 and "unknown eye preset" in r.output
