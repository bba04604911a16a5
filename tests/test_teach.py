"""Grouping rules, the teacher's update (Eq. 1 and 2, paper and authors' variants) against hand-computed
values, the samplers' API, determinism, state round trip, and one decision for all DDP ranks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from simreal.teach.grouping import (
    Grouping,
    check_groups,
    kmeans_groups,
    linear_bins,
    paper_pitch_bins,
    product_bins,
    quantile_bins,
)
from simreal.teach.teacher import (
    AdversarialTeacher,
    GroupDRO,
    TeacherConfig,
    UniformGroups,
    UniformSamples,
    pseudo_target,
)
from simreal.utils.errors import SimrealError

P = torch.tensor([0.5, 0.3, 0.2])


@pytest.mark.parametrize(("delta", "divisor", "penalty", "expected"), [
    (1, "paper", "paper", [0.55, 0.275, 0.175]),  # P_i + αP_i; P_j − αP_i/(|g|−1)
    (-1, "paper", "paper", [0.45, 0.325, 0.225]),
    (1, "code", "paper", [0.55 / (61 / 60), (0.3 - 0.05 / 3) / (61 / 60), (0.2 - 0.05 / 3) / (61 / 60)]),
    (-1, "paper", "code", [0.5 / 1.05, 0.325 / 1.05, 0.225 / 1.05]),  # penalty leaves P_i, then renormalised
])
def test_pseudo_target_hand_computed(delta, divisor, penalty, expected):
    out = pseudo_target(P, 0, delta, 0.1, divisor, penalty)
    torch.testing.assert_close(out, torch.tensor(expected), atol=1e-6, rtol=0)
    assert abs(float(out.sum()) - 1) < 1e-6


def test_grouping_rules():
    assert linear_bins(np.array([0, 63.9, 64, 639, 700, -5]), 10, 0, 640).labels.tolist() == [0, 0, 1, 9, 9, 0]
    pitch = np.random.default_rng(0).uniform(0, 45, 20000)
    g = paper_pitch_bins(pitch)
    sizes = g.sizes()
    assert g.names[0].startswith("[2.9") and g.names[-1].endswith("42.07)°")  # Var(rad) ≈ 0.051 ≈ 2.9°
    assert 1.4 < sizes[0] / sizes[1:-1].mean() < 1.8 and 1.4 < sizes[-1] / sizes[1:-1].mean() < 1.8
    with pytest.raises(SimrealError, match="empty interval"):
        paper_pitch_bins(np.array([0.0, 180.0]))  # Var = π²/4 rad² > half the range
    assert quantile_bins(pitch, 5).sizes().tolist() == [4000] * 5
    km = kmeans_groups(np.concatenate([np.zeros((50, 2)), np.ones((50, 2)) * 10]), 2)
    assert sorted(km.sizes().tolist()) == [50, 50] and len(set(km.labels[:50])) == 1
    prod = product_bins([pitch[:900], np.arange(900) % 3], [3, 3], min_size=50)
    assert prod.n_groups == 9 and prod.sizes().min() >= 50
    small = Grouping(np.array([0, 0, 0, 1, 2, 2, 2]), ["a", "b", "c"])
    with pytest.raises(SimrealError, match="fewer than 2 samples: b"):
        check_groups(small, 2)
    merged = check_groups(small, 2, merge_small=True)
    assert merged.names == ["a", "b+c"] and merged.sizes().tolist() == [3, 4]


def _grouping(n=300, groups=3):
    return Grouping(np.arange(n) % groups, [f"g{k}" for k in range(groups)])


def _run(sampler, steps=200, hard_group=2, seed=0):
    """A fake training loop: synthetic loss is higher for ``hard_group``; the real inputs are noise."""
    rng = np.random.default_rng(seed)
    groups = []
    for _ in range(steps):
        idx = sampler.indices(8)
        g = sampler.grouping.labels[idx]
        groups.append(g)
        syn = torch.tensor(np.where(g == hard_group, 2.0, 1.0) + rng.normal(0, 0.05, len(g)))
        sampler.observe(torch.tensor(rng.random(4)), torch.tensor(rng.normal(size=(4, 1, 8, 8)), dtype=torch.float32),
                        syn)
    return np.concatenate(groups)


def test_teacher_reward_and_update():
    cfg = TeacherConfig(n_steps=5, history=3, alpha=0.3, lr=0.05, epsilon=0.0)
    t = AdversarialTeacher(_grouping(), 0, 1, cfg)
    seen = _run(t, 300)
    assert all(e.get("reward") in (None, 1, -1) for e in t.log) and len(t.log) == 60
    # rewards follow Eq. 1 exactly
    hist = []
    for e in t.log:
        if hist:
            assert e["reward"] == (1 if e["synthetic_loss"] >= np.mean(hist[-3:]) else -1)
        hist.append(e["synthetic_loss"])
    # the window after an easy one on the hard group (loss 2 vs 1) is rewarded when the last H were easy
    for k in range(3, len(t.log)):
        if t.log[k]["group"] == 2 and all(t.log[j]["group"] != 2 for j in range(k - 3, k)):
            assert t.log[k]["reward"] == 1
    assert len(np.unique(seen)) == 3
    # one update (fresh teacher, no optimizer momentum) moves P~ of the chosen group up for a reward and
    # down for a penalty, for the same input
    x = torch.randn(1, 1, 8, 8)
    for delta in (1, -1):
        fresh = AdversarialTeacher(_grouping(), 0, 1, TeacherConfig(lr=1e-3))
        before = fresh.probabilities(x)[1].item()
        fresh.hard_inputs, fresh.hard_losses = [x[0]], [1.0]
        fresh._update(1, delta)
        assert (fresh.probabilities(x)[1].item() - before) * delta > 0


def test_samplers_deterministic_and_resumable():
    for make in (lambda: AdversarialTeacher(_grouping(), 3, 1, TeacherConfig(n_steps=4, hardest="code", top_k=4,
                                                                             pool=16)),
                 lambda: UniformGroups(_grouping(), 3, 4), lambda: GroupDRO(_grouping(), 3, 0.1),
                 lambda: UniformSamples(_grouping(), 3)):
        a, b = make(), make()
        assert (_run(a, 40) == _run(b, 40)).all() and a.log == b.log
        c = make()
        _run(c, 20)
        state = c.state_dict()
        d = make()
        d.load_state_dict(state)
        if isinstance(c, AdversarialTeacher):
            d.net.load_state_dict(c.net.state_dict())
            d.opt.load_state_dict(c.opt.state_dict())
        assert (_run(c, 20, seed=5) == _run(d, 20, seed=5)).all()
    dro = GroupDRO(_grouping(), 0, eta=0.5)
    _run(dro, 100)
    assert dro.q[2] > 0.9  # exponentiated gradient moves the weight to the high-loss group
    assert set(np.unique(UniformSamples(_grouping(), 0).indices(1000) % 3)) == {0, 1, 2}


DDP_SCRIPT = """
import numpy as np, torch, torch.distributed as dist
from simreal.teach.grouping import Grouping
from simreal.teach.teacher import AdversarialTeacher, TeacherConfig
dist.init_process_group("gloo")
rank = dist.get_rank()
t = AdversarialTeacher(Grouping(np.arange(90) % 3, ["a", "b", "c"]), 0, 1, TeacherConfig(n_steps=3, epsilon=0.5))
rng = np.random.default_rng(rank)  # every rank sees different data
for _ in range(30):
    t.indices(4)
    t.observe(torch.tensor(rng.random(4)), torch.tensor(rng.normal(size=(4, 1, 8, 8)), dtype=torch.float32),
              torch.tensor(rng.random(4)))
groups = torch.tensor([e["group"] for e in t.log] + [t.group])
all_groups = [torch.zeros_like(groups) for _ in range(2)]
dist.all_gather(all_groups, groups)
assert torch.equal(all_groups[0], all_groups[1]), all_groups
print("rank", rank, "ok", flush=True)
import os, sys
from simreal.utils.distributed import leave_process_group
if leave_process_group():
    sys.stdout.flush()
    os._exit(0)  # torch 2.13 + gloo can abort at interpreter exit otherwise
"""


@pytest.mark.slow
def test_teacher_decision_is_shared_under_ddp(tmp_path):
    script = tmp_path / "ddp_teacher.py"
    script.write_text(DDP_SCRIPT)
    torchrun = Path(sys.executable).with_name("torchrun")
    r = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", str(script)], capture_output=True,
                       text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("ok") == 2


@pytest.mark.slow
def test_trainer_with_teacher_resumes_and_cli_study(tmp_path):
    from typer.testing import CliRunner

    from simreal.cli import app
    from simreal.data.bank import ImageBank
    from simreal.data.reader import SimrealDataset
    from simreal.simulate.write import generate_digits
    from simreal.teach.factory import SamplerConfig, make_grouping
    from simreal.train.task import ClassifierTrainConfig, TaskTrainer

    syn = generate_digits(tmp_path / "syn", 200, 0, show_progress=False)
    ds = SimrealDataset(syn)
    bank = ImageBank(ds, "label")
    grouping = make_grouping(bank, SamplerConfig(group_by="rotation_deg", groups=4), 8, 0)
    assert grouping.n_groups == 4 and grouping.sizes().sum() == 200
    cfg = ClassifierTrainConfig(steps=12, batch_size=16, log_every=4, checkpoint_every=6, device="cpu")

    def teacher():
        return AdversarialTeacher(grouping, 0, 1, TeacherConfig(n_steps=3, hardest="code", top_k=4, pool=24))

    full = TaskTrainer(cfg, [(bank, 0.5), (bank, 0.5)], tmp_path / "full", show_progress=False, sampler=teacher())
    full.train()
    # stop at step 7, in the middle of the teacher's third window (N = 3): the hardest real inputs seen so
    # far in that window must come back with the checkpoint
    part_cfg = ClassifierTrainConfig(steps=7, batch_size=16, log_every=4, checkpoint_every=6, device="cpu")
    part = TaskTrainer(part_cfg, [(bank, 0.5), (bank, 0.5)], tmp_path / "part", show_progress=False,
                       sampler=teacher())
    part.train()
    assert part.sampler.hard_inputs and part.sampler.step % 3 == 1
    resumed = TaskTrainer(cfg, [(bank, 0.5), (bank, 0.5)], tmp_path / "part", show_progress=False, sampler=teacher())
    assert resumed._resume() and resumed.sampler.hard_losses == part.sampler.hard_losses
    assert all(torch.equal(a, b) for a, b in zip(resumed.sampler.hard_inputs, part.sampler.hard_inputs, strict=True))
    resumed = TaskTrainer(cfg, [(bank, 0.5), (bank, 0.5)], tmp_path / "part", show_progress=False, sampler=teacher())
    resumed.train(resume=True)
    assert resumed.sampler.log == full.sampler.log and len(full.sampler.log) == 4
    for a, b in zip(full.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(full.sampler.net.parameters(), resumed.sampler.net.parameters(), strict=True):
        assert torch.equal(a, b)

    shared = AdversarialTeacher(grouping, 0, 1, TeacherConfig(n_steps=3, optimizer="shared"))
    trainer = TaskTrainer(cfg, [(bank, 0.5), (bank, 0.5)], None, show_progress=False, sampler=shared)
    assert type(shared.opt) is type(trainer.opt)
    assert shared.opt.defaults["lr"] == trainer.opt.defaults["lr"]
    assert shared.opt.defaults["weight_decay"] == trainer.opt.defaults["weight_decay"]
    assert shared.opt is not trainer.opt

    r = CliRunner().invoke(app, ["experiment", "teacher", "--out", str(tmp_path / "study"), "--seeds", "2",
                                 "--steps", "6", "--groups", "3", "--set", "synthetic_count=120",
                                 "--set", "classifier.batch_size=16", "--set", "teacher.n_steps=2", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    res = __import__("json").loads((tmp_path / "study" / "results.json").read_text())
    assert set(res["scores"]) == {"teacher", "uniform-samples", "uniform-groups", "group-dro"}
    assert set(res["tests_vs_uniform_samples"]) == {"teacher", "uniform-groups", "group-dro"}
    assert (tmp_path / "study" / "teacher_groups.png").exists()
    assert "Welch" in (tmp_path / "study" / "report.md").read_text()


@pytest.mark.slow
def test_cli_train_with_sampler_digits_and_keypoints(tmp_path):
    from typer.testing import CliRunner

    from simreal.cli import app
    from simreal.simulate.people.generate import PeopleConfig, generate_people
    from simreal.simulate.people.scene import SceneConfig
    from simreal.simulate.write import generate_digits

    runner = CliRunner()
    syn = generate_digits(tmp_path / "syn", 120, 0, show_progress=False)
    real = generate_digits(tmp_path / "real", 60, 1, show_progress=False)
    r = runner.invoke(app, ["train", "--task", "digits", "--data", str(real), "--data", str(syn), "--runs",
                            str(tmp_path / "runs"), "--sampler", "teacher", "--group-by", "rotation_deg", "--groups",
                            "3", "--set", "steps=45", "--set", "batch_size=16", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    run = next((tmp_path / "runs").iterdir())
    meta = json.loads(sorted(run.glob("ckpt-*.json"))[-1].read_text())
    assert len(meta["meta"]["sampler"]["log"]) == 2  # N = 20: decisions at steps 20 and 40
    r = runner.invoke(app, ["train", "--task", "digits", "--data", str(syn), "--runs", str(tmp_path / "runs"),
                            "--sampler", "teacher"])
    assert r.exit_code == 2 and "two --data" in r.output
    cfg = PeopleConfig(scene=SceneConfig(width=160, height=160, people_lambda=3.0, max_people=5),
                       person_detector="none")
    people = generate_people(tmp_path / "ppl", 3, 0, cfg, show_progress=False, log=lambda _: None)
    r = runner.invoke(app, ["train", "--task", "keypoints", "--data", str(people), "--data", str(people),
                            "--runs", str(tmp_path / "kruns"), "--sampler", "group-dro", "--group-by",
                            "camera_pitch_deg", "--groups", "2", "--set", "steps=3", "--set", "crop.size=64",
                            "--set", "batch_size=2", "--set", "net.width=0.125", "--set", "net.stages=1",
                            "--device", "cpu"])
    assert r.exit_code == 0, r.output


@pytest.mark.slow
def test_teacher_study_keypoints_small(tmp_path):
    import dataclasses

    from simreal.experiments.teacher_study import TeacherStudyConfig, run_teacher_study
    from simreal.simulate.people.generate import PeopleConfig, generate_people
    from simreal.simulate.people.scene import SceneConfig

    cfg = PeopleConfig(scene=SceneConfig(width=160, height=160, people_lambda=3.0, max_people=5),
                       person_detector="none")
    data = {name: generate_people(tmp_path / name, 3, seed, cfg, show_progress=False, log=lambda _: None)
            for seed, name in enumerate(("real", "synthetic", "test"))}
    study = TeacherStudyConfig(task="keypoints", group_by="min_distance_px", groups=2, seeds=2,
                               samplers=("teacher", "uniform-samples"))
    study = dataclasses.replace(study, keypoints=dataclasses.replace(
        study.keypoints, steps=4, batch_size=2, crop=dataclasses.replace(study.keypoints.crop, size=64)),
        teacher=TeacherConfig(n_steps=2))
    res = run_teacher_study(tmp_path / "study", study, "cpu", log=lambda _: None, data=data)
    assert res["metric"] == "MPII mAP (%)" and len(res["scores"]["teacher"]["values"]) == 2
    assert res["groups"][0]["name"].startswith("[0, 320)")
    assert "GENERATED" in (tmp_path / "study" / "report.md").read_text()


@pytest.mark.slow
def test_teacher_study_gaze_small(tmp_path):
    from typer.testing import CliRunner

    from simreal.cli import app

    def study(seeds: str, groups: str = "3"):
        return CliRunner().invoke(app, [
            "experiment", "teacher", "--task", "gaze", "--out", str(tmp_path / "g"), "--seeds", seeds, "--steps", "4",
            "--groups", groups, "--sampler", "teacher", "--sampler", "uniform-samples", "--set", "synthetic_count=96",
            "--set", "real_labelled=16", "--set", "gaze_test_count=32", "--set", "gaze.batch_size=8",
            "--set", "teacher.n_steps=2", "--device", "cpu"])

    r = study("2")
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "g" / "results.json").read_text())
    assert res["metric"] == "% within 7°" and res["config"]["group_by"] == "eye_pitch_deg"
    assert "SIMULATED webcam" in (tmp_path / "g" / "report.md").read_text()
    # a rerun with one more seed trains only that seed's conditions and keeps the others' results
    done = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "g" / "conditions").iterdir()}
    assert sorted(done) == ["teacher-seed0.json", "teacher-seed1.json", "uniform-samples-seed0.json",
                            "uniform-samples-seed1.json"]
    r = study("3")
    assert r.exit_code == 0, r.output
    assert all((tmp_path / "g" / "conditions" / k).stat().st_mtime_ns == t for k, t in done.items())
    more = json.loads((tmp_path / "g" / "results.json").read_text())["scores"]
    assert more["teacher"]["values"][:2] == res["scores"]["teacher"]["values"]
    assert len(more["teacher"]["values"]) == 3
    r = study("2", groups="4")  # another configuration: refused, nothing reused by mistake
    assert r.exit_code == 2 and "another configuration" in r.output
    r = CliRunner().invoke(app, ["experiment", "teacher", "--out", str(tmp_path / "x"), "--real", str(tmp_path)])
    assert r.exit_code == 2 and "go together" in r.output
