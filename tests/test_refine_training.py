"""Algorithm 1 runs, checkpoints, exact resume, and `refine apply` (labels byte-identical)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import write_tiny
from simreal.cli import app
from simreal.data.bank import ImageBank
from simreal.data.reader import SimrealDataset, manifest_hash
from simreal.refine.apply import refine_dataset
from simreal.refine.config import RefineConfig, preset
from simreal.refine.train import SimGANTrainer, load_refiner
from simreal.utils.checkpoint import latest_checkpoint, load_checkpoint
from simreal.utils.config import merge
from simreal.utils.runs import read_stats

runner = CliRunner()

SMALL = {"refiner": {"width": 8, "blocks": 1}, "batch_size": 8, "buffer_size": 16, "pretrain_refiner_steps": 3,
         "pretrain_discriminator_steps": 2, "iterations": 5, "log_every": 2, "grid_every": 4, "checkpoint_every": 4,
         "device": "cpu", "discriminator": {"layers": ("conv:8:3:2", "conv:8:3:1", "conv:2:1:1")}}


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    return write_tiny(tmp_path / "syn", n=20, seed=1), write_tiny(tmp_path / "real", n=20, seed=2, domain="real")


def _trainer(cfg: RefineConfig, data, run_dir: Path) -> SimGANTrainer:
    syn, real = data
    return SimGANTrainer(cfg, ImageBank(SimrealDataset(syn)), ImageBank(SimrealDataset(real)), run_dir)


def test_phases_follow_algorithm_1():
    cfg = merge(RefineConfig(), SMALL)
    t = SimGANTrainer.__new__(SimGANTrainer)
    t.cfg = cfg
    assert [t.phase(s) for s in range(7)] == ["pretrain_refiner"] * 3 + ["pretrain_discriminator"] * 2 + [
        "adversarial"] * 2


def test_run_writes_config_stats_grids_and_checkpoints(data, tmp_path):
    cfg = merge(RefineConfig(), {**SMALL, "optim": {"name": "adam"}})
    run = tmp_path / "run"
    run.mkdir()
    last = _trainer(cfg, data, run).train()
    assert last.name == "ckpt-0000010.json"
    assert json.loads((run / "config.json").read_text())["batch_size"] == 8
    stats = read_stats(run)
    assert [r["step"] for r in stats] == [2, 4, 6, 8, 10]
    assert "R/adv" in stats[-1] and "D/acc_real" in stats[-1] and "R/reg" in stats[0]
    assert (run / "grids" / "grid-0000008.png").is_file()
    assert any((run / "tensorboard").iterdir())
    tensors, sidecar = load_checkpoint(last)
    assert any(k.startswith("refiner/") for k in tensors) and any(k.startswith("optim/discriminator/") for k in tensors)
    assert tensors["extra/history_buffer"].shape[0] == sidecar["meta"]["buffer"]["size"] == 16
    assert sidecar["meta"]["step"] == 10 and set(sidecar["meta"]["rng"]) == {"synthetic", "real", "noise"}


@pytest.mark.parametrize(("optim", "noise"), [("sgd", 0), ("adam", 0), ("adam", 1)])
def test_resume_continues_bit_for_bit(data, tmp_path, optim, noise):
    cfg = merge(RefineConfig(), {**SMALL, "optim": {"name": optim, "momentum": 0.9 if optim == "sgd" else 0.0},
                                 "refiner": {**SMALL["refiner"], "noise_channels": noise}})
    straight = tmp_path / "straight"
    straight.mkdir()
    _trainer(cfg, data, straight).train()
    interrupted = tmp_path / "interrupted"
    interrupted.mkdir()
    first = _trainer(merge(cfg, {"iterations": 1}), data, interrupted)
    first.train()  # stops after step 6 with a checkpoint, as a killed run would have one
    assert latest_checkpoint(interrupted).name == "ckpt-0000006.json"
    (interrupted / "config.json").write_text(json.dumps(json.loads((straight / "config.json").read_text())))
    _trainer(cfg, data, interrupted).train(resume=True)
    a, _ = load_checkpoint(latest_checkpoint(straight))
    b, _ = load_checkpoint(latest_checkpoint(interrupted))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert [r["step"] for r in read_stats(interrupted)] == [2, 4, 6, 8, 10]


def test_apply_copies_labels_byte_for_byte_and_records_provenance(data, tmp_path):
    cfg = merge(RefineConfig(), SMALL)
    run = tmp_path / "run"
    run.mkdir()
    ckpt = _trainer(cfg, data, run).train()
    syn = data[0]
    out = refine_dataset(ckpt, syn, tmp_path / "refined", batch_size=7, device="cpu")
    assert (out / "metadata.jsonl").read_bytes() == (syn / "metadata.jsonl").read_bytes()
    m = json.loads((out / "dataset.json").read_text())
    assert m["domain"] == "refined" and m["count"] == 20
    assert m["provenance"]["parents"][0]["manifest_sha256"] == manifest_hash(syn)
    assert m["provenance"]["checkpoint"]["path"] == str(ckpt.resolve())
    assert m["provenance"]["labels_copied_from"] == "tiny"
    refined, source = SimrealDataset(out), SimrealDataset(syn)
    assert refined[0]["image"].shape == source[0]["image"].shape
    assert not torch.equal(refined[0]["image"], source[0]["image"])
    stamp = (out / "dataset.json").stat().st_mtime_ns
    refine_dataset(ckpt, syn, out, device="cpu", overwrite=True, reuse_finished=True)  # same inputs: kept
    assert (out / "dataset.json").stat().st_mtime_ns == stamp
    refine_dataset(ckpt, data[1], out, device="cpu", overwrite=True, reuse_finished=True)  # another parent: redone
    assert json.loads((out / "dataset.json").read_text())["provenance"]["parents"][0]["manifest_sha256"] == \
        manifest_hash(data[1])


def test_noise_input_refiner_applies_the_same_in_any_batch(data, tmp_path):
    cfg = merge(RefineConfig(), {**SMALL, "refiner": {**SMALL["refiner"], "noise_channels": 1}})
    run = tmp_path / "run"
    run.mkdir()
    ckpt = _trainer(cfg, data, run).train()
    a = refine_dataset(ckpt, data[0], tmp_path / "a", batch_size=7, device="cpu", show_progress=False)
    b = refine_dataset(ckpt, data[0], tmp_path / "b", batch_size=20, device="cpu", show_progress=False)
    for i in range(20):
        assert np.array_equal(SimrealDataset(a).image_array(i), SimrealDataset(b).image_array(i))
    refiner, _ = load_refiner(ckpt, "cpu")
    with pytest.raises(ValueError, match="noise channel"):
        refiner(torch.zeros(1, 1, 8, 8))


def test_cli_refine_train_apply_and_resume(data, tmp_path):
    syn, real = data
    runs = tmp_path / "runs"
    sets = [a for k, v in {"refiner.width": 8, "refiner.blocks": 1, "batch_size": 8, "buffer_size": 16,
                           "pretrain_refiner_steps": 2, "pretrain_discriminator_steps": 1, "iterations": 2,
                           "checkpoint_every": 2, "grid_every": 2, "log_every": 1}.items()
            for a in ("--set", f"{k}={v}")]
    args = ["refine", "train", "--synthetic", str(syn), "--real", str(real), "--preset", "paper-gaze",
            "--runs", str(runs), "--device", "cpu", "--no-compile", *sets]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    run_dir = runs / "00000-refine-paper-gaze"
    assert latest_checkpoint(run_dir).name == "ckpt-0000005.json"
    # resume with one more iteration asked for: the same weights as a straight run of 3 iterations
    result = runner.invoke(app, [*args[:-len(sets)], *sets, "--set", "iterations=3"])
    assert result.exit_code == 0, result.output
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "iterations": 3}))
    result = runner.invoke(app, ["refine", "train", "--resume", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert latest_checkpoint(run_dir).name == "ckpt-0000006.json"
    a, _ = load_checkpoint(latest_checkpoint(run_dir))
    b, _ = load_checkpoint(latest_checkpoint(runs / "00001-refine-paper-gaze"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    result = runner.invoke(app, ["refine", "apply", "--checkpoint", str(run_dir), "--input", str(syn),
                                 "--out", str(tmp_path / "r"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert SimrealDataset(tmp_path / "r").manifest["domain"] == "refined"


def test_cli_dry_run_and_config_errors(tmp_path):
    result = runner.invoke(app, ["refine", "train", "--preset", "paper-hand", "--dry-run"])
    assert result.exit_code == 0 and '"blocks": 10' in result.output and '"kernel": 7' in result.output
    result = runner.invoke(app, ["refine", "train", "--dry-run", "--set", "loss.lambda=3"])
    assert result.exit_code == 2 and "unknown config key: loss.lambda" in result.output
    result = runner.invoke(app, ["refine", "train", "--dry-run", "--preset", "paper-eyes"])
    assert result.exit_code == 2 and "unknown preset 'paper-eyes'" in result.output
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("loss:\n  reg_weight: 0.25\nkg: 50\n")
    result = runner.invoke(app, ["refine", "train", "--dry-run", "--config", str(yaml_file), "--set", "kd=3"])
    assert result.exit_code == 0 and '"reg_weight": 0.25' in result.output and '"kg": 50' in result.output
    assert '"kd": 3' in result.output


def test_presets_match_the_paper():
    gaze, hand = preset("paper-gaze"), preset("paper-hand")
    assert (gaze.refiner.blocks, gaze.refiner.kernel, gaze.refiner.width, gaze.batch_size) == (4, 3, 64, 512)
    assert (gaze.pretrain_refiner_steps, gaze.pretrain_discriminator_steps, gaze.kg, gaze.kd) == (1000, 200, 2, 1)
    assert (gaze.optim.name, gaze.optim.lr) == ("sgd", 0.001)
    assert (hand.refiner.blocks, hand.refiner.kernel, hand.pretrain_refiner_steps) == (10, 7, 500)
    # Eq. 4's units: both terms summed per image; λ keeps the balance of 0.5 between per-patch and
    # per-pixel means, so it is 0.5 × patches / pixels of each discriminator on its image size
    from simreal.refine.networks import PatchDiscriminator

    for cfg, (h, w) in ((gaze, (35, 55)), (hand, (224, 224))):
        logits = PatchDiscriminator(1, cfg.discriminator.layers)(torch.zeros(1, 1, h, w))
        assert cfg.loss.reduction == "sum"
        assert math.isclose(cfg.loss.reg_weight, 0.5 * logits.shape[2] * logits.shape[3] / (h * w))
