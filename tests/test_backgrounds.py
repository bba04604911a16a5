"""Background photos: horizon-matched camera pitch, the manifest (horizons, person-filter verdicts), where
backgrounds come from, and the list `make backgrounds` fetches."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from simreal.simulate.people.backgrounds import (
    BUILTIN,
    MANIFEST,
    Backgrounds,
    load_backgrounds,
    resolve_backgrounds,
)
from simreal.simulate.people.generate import PeopleConfig, generate_people
from simreal.simulate.people.scene import SceneConfig, make_camera
from simreal.utils.errors import SimrealError

ROOT = Path(__file__).resolve().parents[1]
SIZE = 320


def horizon_row(pitch_deg: float, fovy_deg: float, size: int = SIZE) -> float:
    """Row (pixels from the top) where the ground plane's horizon appears: the projection of a ground point
    very far ahead, by the camera model itself (independent of the formula in Backgrounds.sample)."""
    cam = make_camera(pitch_deg, 6.0, 1.0, fovy_deg, size, size)
    (_, v), _ = (c[0] for c in cam.project(np.array([[1e7, 0.0, 0.0]])))
    return float(v)


def photo(h: int = 600, w: int = 800) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("horizon", [0.1, 0.35, 0.5, 0.62])
def test_pitch_puts_the_rendered_horizon_on_the_photo_horizon(horizon):
    bg = Backgrounds([photo()], ["p.jpg"], [], [horizon])
    for seed in range(12):
        rng = np.random.default_rng(seed)
        fovy = float(rng.uniform(35, 65))
        _, info, pitch = bg.sample(rng, SIZE, SIZE, fovy, (-15.0, 45.0))
        _, y, side = info["background_crop"]
        assert info["background_horizon"] == pytest.approx((horizon * 600 - y) / side, abs=1e-4)
        assert info["horizon_error_px"] == pytest.approx(0.0, abs=0.01)  # reachable within ±15..45°
        assert horizon_row(pitch, fovy) == pytest.approx(info["background_horizon"] * SIZE, abs=0.05)


def test_an_unreachable_horizon_clips_the_pitch_and_reports_the_mismatch():
    bg = Backgrounds([photo()], ["p.jpg"], [], [1.6])  # below the photo: the camera would have to look up a lot
    rng = np.random.default_rng(1)
    _, info, pitch = bg.sample(rng, SIZE, SIZE, 50.0, (-15.0, 45.0))
    _, y, side = info["background_crop"]
    assert pitch == -15.0 and y == 600 - side  # the lowest crop, the steepest upward look allowed
    t = (1.6 * 600 - y) / side
    assert info["background_horizon"] == pytest.approx(t, abs=1e-4)
    assert info["horizon_error_px"] == pytest.approx(horizon_row(-15.0, 50.0) - t * SIZE, abs=0.05)
    assert info["horizon_error_px"] < -100


def test_without_a_horizon_or_a_field_of_view_the_pitch_is_left_to_the_scene():
    for horizons, fovy in (([None], 50.0), (None, 50.0), ([0.4], None)):
        img, info, pitch = Backgrounds([photo()], ["p.jpg"], [], horizons).sample(np.random.default_rng(0), 64, 64,
                                                                                   fovy)
        assert pitch is None and "background_horizon" not in info and img.shape == (64, 64, 3)


def _folder(tmp_path: Path, manifest: dict | None) -> Path:
    folder = tmp_path / "bg"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg"):
        Image.fromarray(photo(520, 600)).save(folder / name)
    if manifest is not None:
        (folder / MANIFEST).write_text(json.dumps(manifest))
    return folder


def test_the_manifest_gives_horizons_and_spares_rechecking_photos_the_same_filter_passed(tmp_path):
    folder = _folder(tmp_path, {"images": [{"file": "a.jpg", "horizon": 0.4, "person_filter": "opencv",
                                            "people_found": 0}]})
    seen = []

    def detector(img):
        seen.append(img.shape)
        return []

    bg = load_backgrounds(folder, 512, detector, detector_name="opencv")
    assert bg.names == ["a.jpg", "b.jpg"] and bg.horizons == [0.4, None] and len(seen) == 1  # only b checked
    seen.clear()
    load_backgrounds(folder, 512, detector, detector_name="my.module:detect")  # another filter: both checked
    assert len(seen) == 2


def test_flagged_photos_are_rejected_and_logged_and_a_broken_manifest_is_one_line(tmp_path):
    folder = _folder(tmp_path, {"images": [{"file": "a.jpg", "horizon": 0.4}]})
    logs = []
    with pytest.raises(SimrealError, match="no usable background"):
        load_backgrounds(folder, 512, lambda img: [(1, 1, 5, 5)], logs.append, "opencv")
    assert logs == ["background rejected: a.jpg: contains people (1 detections)",
                    "background rejected: b.jpg: contains people (1 detections)"]
    (folder / MANIFEST).write_text('{"pictures": []}')
    with pytest.raises(SimrealError, match="not a background manifest"):
        load_backgrounds(folder, 512)
    (folder / MANIFEST).write_text('{"images": [{"file": "a.jpg", "horizon": "high"}]}')
    with pytest.raises(SimrealError, match=r"a\.jpg: horizon must be a number"):
        load_backgrounds(folder, 512)


def test_where_backgrounds_come_from(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIMREAL_BACKGROUNDS", raising=False)
    logs = []
    assert resolve_backgrounds(None, logs.append) == BUILTIN and "make backgrounds" in logs[0]
    (tmp_path / "data" / "backgrounds").mkdir(parents=True)
    (tmp_path / "data" / "backgrounds" / MANIFEST).write_text('{"images": []}')
    assert resolve_backgrounds(None) == str(Path("data/backgrounds"))
    monkeypatch.setenv("SIMREAL_BACKGROUNDS", "/my/photos")
    assert resolve_backgrounds(None) == "/my/photos"
    assert resolve_backgrounds("elsewhere") == "elsewhere"


def test_generated_scenes_are_pitched_to_the_background_horizon(tmp_path):
    folder = _folder(tmp_path, {"images": [{"file": "a.jpg", "horizon": 0.3}, {"file": "b.jpg", "horizon": 0.55}]})
    cfg = PeopleConfig(scene=SceneConfig(width=160, height=160, people_lambda=2.0, max_people=4, body="capsules"),
                       backgrounds=str(folder), person_detector="none")
    out = generate_people(tmp_path / "ds", count=4, seed=2, cfg=cfg, show_progress=False, log=lambda _: None)
    records = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    for r in records:
        cam = r["camera"]
        rot, position = np.array(cam["rotation"]), np.array(cam["position"])
        far = rot @ (np.array([1e7, 0.0, 0.0]) - position)
        v = cam["intrinsics"][1][1] * far[1] / far[2] + cam["intrinsics"][1][2]
        assert v == pytest.approx(r["background_horizon"] * 160 + r["horizon_error_px"], abs=0.3)
        assert r["horizon_error_px"] == pytest.approx(0.0, abs=0.01)
        assert math.isclose(r["factors"]["fovy_deg"], cam["fovy_deg"], abs_tol=1e-3)
    from simreal.data.show import HORIZON, draw_sample

    drawn = np.asarray(draw_sample(out, 0))  # `simreal show` draws the photo's horizon, dashed
    row = int(records[0]["background_horizon"] * 160)
    assert 0 <= row < 160 and (drawn[row, :160] == HORIZON).all(axis=1).sum() >= 40


def test_the_fetch_list_is_consistent():
    spec = importlib.util.spec_from_file_location("fetch_backgrounds", ROOT / "scripts" / "backgrounds.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    entries = [*mod.PHOTOS, mod.VIDEO]
    assert len({e[0] for e in entries}) == len(entries)  # unique file names
    for _, package, member, horizon, what in entries:
        assert package in mod.PACKAGES and not member.startswith("/") and what
        assert horizon is None or -1.0 <= horizon <= 2.0
    assert all(len(sha) == 64 for _, sha, _ in mod.PACKAGES.values())


def test_the_fetch_refuses_a_package_with_another_checksum_and_leaves_nothing(tmp_path):
    """scripts/backgrounds.py through a stand-in `apt-get` that serves junk (what a tampered mirror would)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    apt = bin_dir / "apt-get"
    apt.write_text('#!/bin/sh\nfor a; do last=$a; done\necho junk > "${last%%=*}_1_all.deb"\n')
    apt.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    out = tmp_path / "data" / "backgrounds"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "backgrounds.py"), str(out)], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 1 and "mate-backgrounds 1.26.0-1: SHA-256 mismatch, refusing it" in r.stderr, r.stderr
    assert not out.exists() and not list(out.parent.iterdir())  # no partial folder, no temporary one
