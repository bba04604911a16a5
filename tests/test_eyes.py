"""The eye simulator: conventions, labels that agree with the pixels, determinism, writers."""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np
import pytest

from simreal.data.gaze import pitchyaw_to_vector, vector_to_pitchyaw
from simreal.data.reader import SimrealDataset
from simreal.evaluate.gaze import locate_pupil
from simreal.simulate import write
from simreal.simulate.eyes import EyeRenderer, EyeSimConfig, preset_config, render_eyes, rotation, sample_parameters
from simreal.utils.errors import ConfigError


def test_pitchyaw_round_trip():
    rng = np.random.default_rng(0)
    v = rng.standard_normal((500, 3))
    v[:, 2] = -np.abs(v[:, 2]) - 0.1  # in front of the camera, the domain where yaw is unambiguous
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    assert np.allclose(pitchyaw_to_vector(vector_to_pitchyaw(v)), v, atol=1e-12)
    py = np.stack([rng.uniform(-1.4, 1.4, 500), rng.uniform(-3.0, 3.0, 500)], 1)
    assert np.allclose(vector_to_pitchyaw(pitchyaw_to_vector(py)), py, atol=1e-12)


def test_convention_directions():
    assert np.allclose(pitchyaw_to_vector([0.0, 0.0]), [0, 0, -1])  # into the camera
    up = pitchyaw_to_vector([0.3, 0.0])
    assert up[1] < 0  # looking up is −y (y points down)
    assert pitchyaw_to_vector([0.0, 0.3])[0] < 0  # positive yaw looks towards −x


def test_head_rotation_forward_has_the_given_pitch_and_yaw():
    for pitch, yaw, roll in [(0.2, -0.3, 0.1), (-0.25, 0.35, -0.12), (0.0, 0.0, 0.5)]:
        fwd = rotation(pitch, yaw, roll) @ np.array([0.0, 0.0, -1.0])
        assert np.allclose(vector_to_pitchyaw(fwd), [pitch, yaw], atol=1e-12)


def test_shapes_modes_and_sizes():
    grey, records = render_eyes(EyeSimConfig(), 0, range(3))
    assert grey.shape == (3, 35, 55) and grey.dtype == np.uint8
    rgb, _ = render_eyes(dataclasses.replace(EyeSimConfig(), rgb=True, height=24, width=40), 0, range(2))
    assert rgb.shape == (2, 24, 40, 3)
    assert not np.array_equal(rgb[..., 0], rgb[..., 2])  # colour, not grey in three channels
    r = records[0]
    assert np.isclose(np.linalg.norm(r["gaze"]), 1.0, atol=1e-5)
    assert np.allclose(vector_to_pitchyaw(r["gaze"]), r["gaze_pitchyaw"], atol=1e-5)
    assert np.array(r["interior_margin"]).shape == (16, 2) and np.array(r["iris"]).shape == (32, 2)
    assert set(EyeSimConfig.__dataclass_fields__) >= {"eye_pitch_deg", "noise"}
    assert {"eye_pitch_deg", "light_azimuth_deg", "skin_tone", "blur_px"} <= set(r["factors"])


def test_same_seed_same_bytes_and_batch_independent():
    cfg = preset_config("webcam")
    a, ra = render_eyes(cfg, 3, range(0, 12))
    b, rb = render_eyes(cfg, 3, range(5, 9))
    assert np.array_equal(a[5:9], b) and ra[5:9] == rb
    c, _ = render_eyes(cfg, 4, range(5, 9))
    assert not np.array_equal(b, c)


@pytest.mark.parametrize("preset", ["clean", "calibrated"])
def test_pupil_in_the_image_is_where_the_label_says(preset):
    images, records = render_eyes(preset_config(preset), 11, range(60))
    errors = [math.dist(locate_pupil(im, r["pupil_center"]), r["pupil_center"])
              for im, r in zip(images, records, strict=True)]
    assert np.mean(errors) < 1.0  # measured 0.39 px on 200 images


def test_pupil_follows_the_gaze_and_the_upper_lid_follows_the_pitch():
    cfg = dataclasses.replace(EyeSimConfig(), jitter_px=0.0)
    renderer = EyeRenderer(cfg)
    base = sample_parameters(cfg, 0, 0)["factors"]
    frontal = {**base, "head_pitch_deg": 0.0, "head_yaw_deg": 0.0, "head_roll_deg": 0.0}
    first = lambda factors: {k: v[0] for k, v in renderer.landmarks(factors).items()}  # noqa: E731
    left = first([{**frontal, "eye_yaw_deg": 25.0, "eye_pitch_deg": 0.0}])
    right = first([{**frontal, "eye_yaw_deg": -25.0, "eye_pitch_deg": 0.0}])
    assert left["pupil_center"][0] < right["pupil_center"][0] - 5  # positive yaw looks to the image's left
    up = first([{**frontal, "eye_pitch_deg": 15.0}])
    down = first([{**frontal, "eye_pitch_deg": -20.0}])
    assert up["interior_margin"][4][1] < down["interior_margin"][4][1] - 2  # the upper lid drops looking down
    assert up["pupil_center"][1] < down["pupil_center"][1]


def test_eye_structure_factors_place_the_lids_and_leave_presets_that_fix_them_alone():
    clean = preset_config("clean")
    p = sample_parameters(clean, 0, 5)
    q = sample_parameters(dataclasses.replace(clean, crease=(0.6, 0.6), lid_offset=(0.3, 0.3)), 0, 5)
    changed = {k for k in p["factors"] if p["factors"][k] != q["factors"][k]}
    assert changed == {"crease", "lid_offset"}  # a fixed factor draws no random number: the rest is as before
    assert all(np.array_equal(p["arrays"][k], q["arrays"][k]) for k in p["arrays"])
    cfg = dataclasses.replace(preset_config("calibrated"), jitter_px=0.0)
    renderer = EyeRenderer(cfg)
    f = {**sample_parameters(cfg, 0, 0)["factors"], "head_pitch_deg": 0.0, "head_yaw_deg": 0.0, "head_roll_deg": 0.0,
         "eye_pitch_deg": 0.0, "eye_yaw_deg": 0.0, "corner_tilt": 0.0, "openness": 1.0, "lid_offset": 0.25,
         "upper_lid": 0.8, "lower_lid": 0.25, "upper_fullness": 1.0}
    lm = {k: v[0] for k, v in renderer.landmarks([f]).items()}
    scale = cfg.width / (cfg.field_of_view * 2 * f["eye_width"]) / f["camera_distance"]  # px per eyeball radius
    corner_y = lm["eye_corners"][:, 1].mean()
    assert lm["pupil_center"][1] == pytest.approx(corner_y - 0.25 * scale, abs=1e-6)  # the eyeball above the canthi
    assert lm["interior_margin"][4][1] == pytest.approx(corner_y - 0.8 * scale, abs=1e-6)  # upper lid, t = 0
    assert lm["interior_margin"][12][1] == pytest.approx(corner_y + 0.25 * scale, abs=1e-6)  # lower lid, t = 0
    # a rounder upper lid is higher away from the middle, and the corners stay where they were
    rounder = {k: v[0] for k, v in renderer.landmarks([{**f, "upper_fullness": 0.5}]).items()}
    assert rounder["interior_margin"][2][1] < lm["interior_margin"][2][1] - 1
    assert np.allclose(rounder["eye_corners"], lm["eye_corners"])


def test_webcam_preset_is_a_different_domain():
    clean, _ = render_eyes(preset_config("clean"), 0, range(64))
    web, _ = render_eyes(preset_config("webcam"), 0, range(64))
    # noise: high-frequency energy (pixel differences) is larger in the simulated webcam domain
    hf = lambda x: np.abs(np.diff(x.astype(float), axis=2)).mean()  # noqa: E731
    assert hf(web) > 1.2 * hf(clean)


def test_bad_config_is_a_config_error():
    with pytest.raises(ConfigError, match="range"):
        EyeSimConfig(noise=(0.2, 0.1))
    with pytest.raises(ConfigError, match="unknown eye preset"):
        preset_config("studio")


def _hashes(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "dataset.json"}


@pytest.mark.slow
def test_generate_eyes_resumes_to_the_same_bytes(tmp_path, monkeypatch):
    n = 300  # more than one render chunk
    full = write.generate_eyes(tmp_path / "full", n, seed=2, compile_=False, show_progress=False)
    ds = SimrealDataset(full)
    assert len(ds) == n and ds.manifest["task"] == "gaze" and ds.labels("gaze").shape == (n, 3)
    original = write.DatasetWriter.add
    calls = {"n": 0}

    def dying_add(self, *a, **k):
        if calls["n"] == 270:
            raise KeyboardInterrupt
        calls["n"] += 1
        return original(self, *a, **k)

    monkeypatch.setattr(write.DatasetWriter, "add", dying_add)
    with pytest.raises(KeyboardInterrupt):
        write.generate_eyes(tmp_path / "resumed", n, seed=2, compile_=False, show_progress=False)
    monkeypatch.setattr(write.DatasetWriter, "add", original)
    write.generate_eyes(tmp_path / "resumed", n, seed=2, compile_=False, show_progress=False)
    assert _hashes(full) == _hashes(tmp_path / "resumed")


@pytest.mark.slow
def test_generate_eyes_in_shards_and_workers_writes_the_same_bytes(tmp_path):
    n = 300  # shard 0/2 ends inside the first render chunk, shard 1/2 starts there
    one = write.generate_eyes(tmp_path / "one", n, seed=4, compile_=False, show_progress=False)
    two = write.generate_eyes(tmp_path / "two", n, seed=4, compile_=False, show_progress=False, workers=2)
    assert write.generate_eyes(tmp_path / "k", n, seed=4, compile_=False, show_progress=False, shard=(1, 2)) is None
    three = write.generate_eyes(tmp_path / "k", n, seed=4, compile_=False, show_progress=False, shard=(0, 2))
    assert _hashes(one) == _hashes(two) == _hashes(three) and len(_hashes(one)) == n + 1
