"""Keypoint task: targets round trip, MPII AP against hand-computed cases, frozen layers, masked loss,
training/evaluation from the CLI, and DDP with two CPU processes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from simreal.cli import app
from simreal.data.keypoints import keypoint_set
from simreal.evaluate.keypoints import Person, head_size, mpii_ap, pckh, voc_ap
from simreal.simulate.people.generate import PeopleConfig, generate_people
from simreal.simulate.people.scene import SceneConfig
from simreal.tasks.keypoints.decode import decode
from simreal.tasks.keypoints.network import OpenPose, OpenPoseConfig
from simreal.tasks.keypoints.targets import encode, loss_weights
from simreal.train.keypoints import stage_loss

runner = CliRunner()
TEMPLATE = np.array([[-8, 60], [-8, 30], [-8, 0], [8, 0], [8, 30], [8, 60], [0, 0], [0, -40], [0, -50], [0, -70],
                     [-20, 0], [-18, -20], [-14, -40], [14, -40], [18, -20], [20, 0]], float)  # MPII order


def stick(cx: float, cy: float, v: int = 2) -> np.ndarray:
    return np.concatenate([TEMPLATE + np.array([cx, cy]), np.full((16, 1), v)], axis=1)


def upsample(t: np.ndarray) -> np.ndarray:
    return torch.nn.functional.interpolate(torch.from_numpy(t)[None], scale_factor=8, mode="bicubic",
                                           align_corners=False)[0].numpy()


@pytest.mark.parametrize("name", ["mpii", "coco"])
def test_encode_decode_round_trip(name):
    kset = keypoint_set(name)
    k = len(kset.names)
    rng = np.random.default_rng(0)
    if name == "mpii":
        people = [stick(60, 90), stick(170, 100)]
    else:  # a COCO-17 person: face points above the shoulders
        base = np.array([[0, -60], [-4, -64], [4, -64], [-9, -60], [9, -60], [-14, -40], [14, -40], [-18, -20],
                         [18, -20], [-20, 0], [20, 0], [-8, 0], [8, 0], [-8, 30], [8, 30], [-8, 60], [8, 60]], float)
        people = [np.concatenate([base + c, np.full((17, 1), 2)], axis=1) for c in ((60, 95), (170, 100))]
    target = encode(people, kset, (32, 32), 8)
    assert target.shape == (kset.channels, 32, 32) and np.isfinite(target).all()
    up = upsample(target + rng.normal(0, 0.005, target.shape).astype(np.float32))
    found = sorted(decode(up[: k + 1], up[k + 1:], kset), key=lambda p: p["keypoints"][0][0])
    assert len(found) == 2
    for person, truth in zip(found, sorted(people, key=lambda p: p[0, 0]), strict=True):
        err = np.abs(np.asarray(person["keypoints"])[:, :2] - truth[:, :2])
        assert err.max() <= 1.5 and min(kp[2] for kp in person["keypoints"]) > 0.5


def _gt(*centres, head=10.0):
    return [Person(stick(x, y), head_size=head) for x, y in centres]


def _pred(kps, score=1.0):
    k = kps.copy()
    k[:, 2] = score
    return Person(k, score=score)


def test_mpii_ap_hand_computed_cases():
    perfect = mpii_ap([([_pred(stick(50, 50))], _gt((50, 50)), None)])
    assert perfect["mAP"] == 100 and all(a == 100 for a in perfect["ap_per_joint"])
    swapped = stick(50, 50)
    for a, b in ((10, 15), (11, 14), (12, 13)):  # right/left wrist, elbow, shoulder
        swapped[[a, b]] = swapped[[b, a]]
    res = mpii_ap([([_pred(swapped)], _gt((50, 50)), None)])
    assert res["table"]["Wrist"] == res["table"]["Elbow"] == res["table"]["Shoulder"] == 0
    assert res["table"]["Head"] == res["table"]["Ankle"] == 100
    assert math.isclose(res["mAP"], 100 * 8 / 14, abs_tol=1e-3)
    missed = mpii_ap([([_pred(stick(50, 50))], _gt((50, 50), (150, 50)), None)])
    assert missed["mAP"] == 50  # precision 1 up to recall 0.5
    # a duplicate with a lower score: [T, F] → AP 100; with a higher score the first (index 0) keeps the
    # person, so the ranking is [F (0.9), T (0.8)] → precision 0, 0.5 → AP 50
    dup_low = mpii_ap([([_pred(stick(50, 50), 0.9), _pred(stick(50, 50), 0.8)], _gt((50, 50)), None)])
    dup_high = mpii_ap([([_pred(stick(50, 50), 0.8), _pred(stick(50, 50), 0.9)], _gt((50, 50)), None)])
    assert dup_low["mAP"] == 100 and dup_high["mAP"] == 50
    # ties keep the input order (stable sort): [F, T] → 25, [T, F] → 50
    wrong, right = ([_pred(stick(300, 300), 0.5)], _gt((50, 50))), ([_pred(stick(50, 50), 0.5)], _gt((50, 50)))
    assert mpii_ap([(*wrong, None), (*right, None)])["mAP"] == 25
    assert mpii_ap([(*right, None), (*wrong, None)])["mAP"] == 50
    # within 0.5 head sizes counts, beyond does not
    near = stick(50, 50)
    near[:, 0] += 4.9
    far = stick(50, 50)
    far[:, 0] += 5.1
    assert mpii_ap([([_pred(near)], _gt((50, 50)), None)])["mAP"] == 100
    assert mpii_ap([([_pred(far)], _gt((50, 50)), None)])["mAP"] == 0


def _far(kps: np.ndarray, keep: list[int]) -> np.ndarray:
    """A prediction equal to ``kps`` at the joints ``keep`` and 1000 px away everywhere else."""
    out = kps.copy()
    others = [j for j in range(16) if j not in keep]
    out[others, :2] += 1000
    out[:, 2] = 1.0
    return out


def test_mpii_ap_official_rules_that_separate_the_variants():
    """Cases where evalMPII (assignGTmulti + getRPC + VOCap + evaluateAP's plain mean) differs from the
    obvious rules; each expected number derived by hand from the official code."""
    # A. PCK over 14 joints: a prediction hitting A at pelvis + thorax only (0/14) and B at the upper neck
    # (1/14) goes to B; upper neck: 1 true of 2 positives → 50; every other joint 0 → mAP 50/14.
    a_b = _gt((50, 50), (300, 50))
    pred = _far(a_b[0].keypoints, [6, 7])
    pred[8, :2] = a_b[1].keypoints[8, :2]
    res = mpii_ap([([Person(pred, score=1.0)], a_b, None)])
    assert res["ap_per_joint"][8] == 50 and res["table"]["Head"] == 25
    assert math.isclose(res["mAP"], 50 / 14, abs_tol=1e-3)
    # B. an image without predictions adds no positives: 100 officially, 50 when counted
    images = [([_pred(stick(50, 50))], _gt((50, 50)), None), ([], _gt((50, 50)), None)]
    assert mpii_ap(images)["mAP"] == 100
    assert mpii_ap(images, count_unpredicted=True)["mAP"] == 50
    # ... and so does a group without predictions (one image, two groups, one predicted)
    groups = [([_pred(stick(50, 50))], _gt((50, 50), (400, 50)), [[0], [1]])]
    assert mpii_ap(groups)["mAP"] == 100 and mpii_ap(groups, count_unpredicted=True)["mAP"] == 50
    # C. a joint (left ankle) annotated nowhere: AP NaN with predictions of it, so mAP NaN; 0 without any,
    # so mAP 13/14 × 100; skip_unannotated leaves it out (mAP 100)
    gt = _gt((50, 50))
    gt[0].keypoints[5, 2] = 0
    assert math.isnan(mpii_ap([([_pred(stick(50, 50))], gt, None)])["mAP"])
    assert math.isnan(mpii_ap([([_pred(stick(50, 50))], gt, None)])["table"]["Ankle"])
    no_ankle = _pred(stick(50, 50))
    no_ankle.keypoints[5, 2] = 0
    res = mpii_ap([([no_ankle], gt, None)])
    assert res["ap_per_joint"][5] == 0 and math.isclose(res["mAP"], 100 * 13 / 14, abs_tol=1e-3)
    skipped = mpii_ap([([_pred(stick(50, 50))], gt, None)], skip_unannotated=True)
    assert skipped["mAP"] == 100 and skipped["table"]["Ankle"] == 100
    # pelvis and thorax count for nothing in the mean: a prediction wrong only there still scores 100
    torso = stick(50, 50)
    torso[[6, 7], 0] += 100
    assert mpii_ap([([_pred(torso)], _gt((50, 50)), None)])["mAP"] == 100


def test_keypoint_ground_truth_reindexes_groups_after_dropping_people():
    from simreal.evaluate.keypoints import ground_truth
    from simreal.utils.errors import DatasetError

    def person(x):
        return {"keypoints_mpii": stick(x, 50).tolist()}

    unannotated = {"keypoints_mpii": stick(0, 0) * np.array([1, 1, 0])}
    rec = {"file_name": "a.png", "people": [{"bbox": [0, 0, 1, 1]}, person(100), unannotated, person(300)],
           "groups": [[1], [2, 3], [0]]}
    people, _, _, groups = ground_truth(rec, keypoint_set("mpii"))
    assert len(people) == 2 and groups == [[0], [1]]
    assert people[groups[1][0]].keypoints[0, 0] == stick(300, 50)[0, 0]
    with pytest.raises(DatasetError, match="group index 7"):
        ground_truth({**rec, "groups": [[7]]}, keypoint_set("mpii"))


def test_oks_ap_through_pycocotools():
    from simreal.evaluate.keypoints import MPII_SIGMAS, oks_ap

    images = [([_pred(stick(50, 50))], _gt((50, 50)), None),
              ([_pred(stick(80, 60)), _pred(stick(300, 300), 0.2)], _gt((80, 60)), None)]
    assert oks_ap(images, [[2000.0], [2000.0]], MPII_SIGMAS)["AP"] == 100  # the stray low-score one ranks last
    shifted = stick(50, 50)
    shifted[:, 0] += 3
    res = oks_ap([([_pred(shifted)], _gt((50, 50)), None)], [[2000.0]], MPII_SIGMAS)
    assert res["AP50"] == 100 and res["AP"] == 80  # OKS in [0.85, 0.90): passes 8 of the 10 thresholds


def test_voc_ap_and_pckh_and_head_size():
    assert math.isclose(voc_ap(np.array([0.5, 0.5]), np.array([1.0, 0.5])), 0.5)
    assert math.isclose(head_size({"head_box": [0, 0, 30, 40]}, stick(0, 0)), 30.0)
    assert math.isclose(head_size({}, stick(0, 0)), 0.6 * math.sqrt(2) * 20)  # head top – upper neck = 20 px
    half = stick(50, 50)
    half[:8, 0] += 100  # legs and torso far off: 8 of 16 joints within 0.5 head sizes
    assert pckh([([_pred(half)], _gt((50, 50)), None)])["PCKh@0.5"] == 50


def test_frozen_layers_get_gradient_from_real_samples_only():
    kset = keypoint_set("mpii")
    torch.manual_seed(0)
    model = OpenPose(OpenPoseConfig(width=0.125, stages=1, stage_kernel=3), 17, 2 * len(kset.limbs))
    x = torch.randn(4, 3, 32, 32)
    target, weights = torch.rand(4, kset.channels, 4, 4), torch.ones(4, kset.channels, 4, 4)
    synthetic = torch.tensor([False, True, False, True])

    def grads(loss):
        model.zero_grad()
        loss.backward()
        return [p.grad.clone() for p in model.parameters()]

    mixed = grads(stage_loss(model(x, 4, synthetic), target, weights))
    per_sample = stage_loss(model(x), target, weights, per_sample=True)
    real_only = grads(per_sample[~synthetic].sum() / 4)
    everything = grads(stage_loss(model(x), target, weights))
    first4 = 8  # weight and bias of the first 4 convs
    for g, r in zip(mixed[:first4], real_only[:first4], strict=True):
        torch.testing.assert_close(g, r)
    for g, e in zip(mixed[first4:], everything[first4:], strict=True):
        torch.testing.assert_close(g, e)
    assert all((g - e).abs().max() > 1e-3 * e.abs().max() for g, e in zip(mixed[:first4], everything[:first4],
                                                                        strict=True))  # synthetic samples did count


def test_masked_loss_ignores_synthetic_people():
    kset = keypoint_set("mpii")
    real, synth = stick(60, 100), stick(190, 100)
    target = encode([real, synth], kset, (32, 32), 8)
    only_real = encode([real], kset, (32, 32), 8)
    mask = np.zeros((256, 256), bool)
    mask[20:170, 160:220] = True  # the synthetic person's instance mask
    weights = loss_weights((32, 32), kset, 8, [synth], mask)
    assert weights[:, 12, 24].sum() == 0 and weights[:, 12, 7].min() == 1  # on the synthetic / real person
    pred = [torch.from_numpy(only_real)[None]]  # perfect on the real person, blind to the synthetic one
    t, w = torch.from_numpy(target)[None], torch.from_numpy(weights)[None]
    assert stage_loss(pred, t, w).item() < 1e-6  # only Gaussian tails below the 1 % support remain
    assert stage_loss(pred, t, torch.ones_like(w)).item() > 1e-3


@pytest.fixture(scope="module")
def ds(tmp_path_factory) -> Path:
    cfg = PeopleConfig(scene=SceneConfig(width=192, height=192, people_lambda=3.0, max_people=6),
                       person_detector="none")
    return generate_people(tmp_path_factory.mktemp("kp") / "ds", count=3, seed=1, cfg=cfg, show_progress=False,
                           log=lambda _: None)


@pytest.mark.slow
def test_cli_train_resume_and_evaluate(ds, tmp_path):
    sets = ["--set", "steps=3", "--set", "crop.size=64", "--set", "batch_size=2", "--set", "checkpoint_every=2",
            "--set", "net.width=0.125", "--set", "net.stages=1", "--set", "masked_synthetic_loss=true"]
    r = runner.invoke(app, ["train", "--task", "keypoints", "--data", str(ds), "--data", str(ds), "--share", "0.5",
                            "--share", "0.5", "--runs", str(tmp_path / "runs"), "--device", "cpu", *sets])
    assert r.exit_code == 0, r.output
    run = next((tmp_path / "runs").iterdir())
    assert (run / "grid-0000003.png").exists() and len(list(run.glob("ckpt-*.safetensors"))) == 2
    # stopped at step 3 (a checkpoint between the regular ones at 2 and 4), then resumed to 4: the same weights
    # as a straight run of 4 steps
    r = runner.invoke(app, ["train", "--task", "keypoints", "--data", str(ds), "--data", str(ds), "--share", "0.5",
                            "--share", "0.5", "--runs", str(tmp_path / "straight"), "--device", "cpu", *sets,
                            "--set", "steps=4"])
    assert r.exit_code == 0, r.output
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "steps": 4}))
    r = runner.invoke(app, ["train", "--resume", str(run)])
    assert r.exit_code == 0, r.output
    from simreal.utils.checkpoint import latest_checkpoint, load_checkpoint

    straight, _ = load_checkpoint(latest_checkpoint(next((tmp_path / "straight").iterdir())))
    resumed, _ = load_checkpoint(latest_checkpoint(run))
    assert latest_checkpoint(run).name == "ckpt-0000004.json" and straight.keys() == resumed.keys()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    r = runner.invoke(app, ["evaluate", "--task", "keypoints", "--checkpoint", str(run), "--data", str(ds),
                            "--size", "96", "--report", str(tmp_path / "rep"), "--out", str(tmp_path / "m.json"),
                            "--device", "cpu"])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "m.json").read_text())
    assert {"mpii", "pckh", "oks", "map_by_visible_ratio"} <= set(m) and len(m["mpii"]["ap_per_joint"]) == 16
    assert (tmp_path / "rep" / "report.md").exists() and (tmp_path / "rep" / "predictions_vs_truth.png").exists()
    r = runner.invoke(app, ["evaluate", "--task", "keypoints", "--checkpoint", str(tmp_path), "--data", str(ds)])
    assert r.exit_code == 2


DDP_SCRIPT = """
import sys, torch, torch.distributed as dist
from simreal.tasks.keypoints.data import CropConfig, KeypointSource
from simreal.tasks.keypoints.network import OpenPoseConfig
from simreal.data.keypoints import keypoint_set
from simreal.train.keypoints import KeypointTrainConfig, KeypointTrainer
from simreal.utils.distributed import init_distributed
assert init_distributed()
cfg = KeypointTrainConfig(net=OpenPoseConfig(width=0.125, stages=1, stage_kernel=3), crop=CropConfig(size=64),
                          steps=2, batch_size=2, device="cpu")
src = KeypointSource(sys.argv[1], keypoint_set("mpii"), cfg.crop)
trainer = KeypointTrainer(cfg, [(src, 1.0)], None, show_progress=False)
before = torch.cat([p.detach().flatten() for p in trainer.model.parameters()]).clone()
trainer.train()
after = torch.cat([p.detach().flatten() for p in trainer.model.parameters()])
gathered = [torch.zeros_like(after) for _ in range(dist.get_world_size())]
dist.all_gather(gathered, after)
assert torch.equal(gathered[0], gathered[1]), "ranks diverged"
assert not torch.equal(before, after)
print("rank", dist.get_rank(), "ok", flush=True)
import os, sys
from simreal.utils.distributed import leave_process_group
if leave_process_group():
    sys.stdout.flush()
    os._exit(0)  # torch 2.13 + gloo can abort at interpreter exit otherwise
"""


@pytest.mark.slow
def test_ddp_two_cpu_processes(ds, tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", str(script), str(ds)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("ok") == 2


@pytest.mark.slow
def test_experiment_pose_builtin_small(tmp_path):
    sets = ["--set", "real_train_count=4", "--set", "synthetic_count=3", "--set", "test_count=2", "--set",
            "mixed_from=2", "--set", "mixed_renders=1", "--set", "image_size=160", "--set", "eval_size=160",
            "--set", "train.crop.size=64", "--set", "train.batch_size=2", "--set", "train.net.width=0.125",
            "--set", "train.net.stages=1"]
    r = runner.invoke(app, ["experiment", "pose", "--out", str(tmp_path / "study"), "--steps", "2", "--variant",
                            "M_R", "--variant", "M_R+M+masks", "--variant", "M_R+D_Style+masks", "--device", "cpu",
                            *sets])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "study" / "results.json").read_text())
    assert res["builtin_data"] and set(res["results"]) == {"M_R", "M_R+M+masks", "M_R+D_Style+masks"}
    assert res["counts"] == {"real": 4, "synthetic": 3, "test": 2, "mixed": 2, "stylized": 2}
    report = (tmp_path / "study" / "report.md").read_text()
    assert "The data are generated" in report and "| M_R+D_Style+masks |" in report and "D_Style 2" in report
    data = tmp_path / "study" / "data"
    assert json.loads((data / "mixed" / "dataset.json").read_text())["domain"] == "mixed"
    styled = json.loads((data / "stylized" / "dataset.json").read_text())
    assert styled["domain"] == "stylized" and styled["provenance"]["real_people_from"] == {"dataset masks": 2}
    # another recipe in the same folder would reuse runs trained with the old one: refused
    r = runner.invoke(app, ["experiment", "pose", "--out", str(tmp_path / "study"), "--steps", "3", "--variant",
                            "M_R", "--device", "cpu", *sets])
    assert r.exit_code == 2 and "another configuration" in r.output
    r = runner.invoke(app, ["experiment", "pose", "--out", str(tmp_path / "x"), "--real", str(tmp_path)])
    assert r.exit_code == 2 and "or none" in r.output


def test_vgg_weights_load_from_a_user_file(tmp_path):
    from safetensors.torch import save_file

    from simreal.tasks.keypoints.network import load_vgg_weights
    from simreal.utils.errors import CheckpointError

    torch.manual_seed(0)
    model = OpenPose(OpenPoseConfig(width=1.0, stages=1, stage_kernel=3), 17, 30)
    convs = model.vgg_convs()
    # torchvision's vgg19().features numbering: convs at 0, 2, 5, 7, 10, 12, 14, 16, 19, 21, ...
    index = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21]
    state = {}
    for i, conv in zip(index, convs, strict=True):
        state[f"features.{i}.weight"] = torch.randn_like(conv.weight)
        state[f"features.{i}.bias"] = torch.randn_like(conv.bias)
    state["features.23.weight"] = torch.randn(512, 512, 3, 3)  # conv4_3 of VGG: not used
    save_file(state, str(tmp_path / "vgg.safetensors"))
    assert load_vgg_weights(model, tmp_path / "vgg.safetensors") == 10
    for i, conv in zip(index, convs, strict=True):
        assert torch.equal(conv.weight, state[f"features.{i}.weight"]) and torch.equal(conv.bias,
                                                                                         state[f"features.{i}.bias"])
    torch.save({k: v for k, v in state.items() if k != "features.23.weight"}, tmp_path / "vgg.pt")
    assert load_vgg_weights(model, tmp_path / "vgg.pt") == 10
    small = OpenPose(OpenPoseConfig(width=0.25, stages=1, stage_kernel=3), 17, 30)
    with pytest.raises(CheckpointError, match="shape"):
        load_vgg_weights(small, tmp_path / "vgg.safetensors")
    with pytest.raises(CheckpointError, match="not found"):
        load_vgg_weights(small, tmp_path / "missing.safetensors")
