"""`simreal import face-video` on a video and a photo the test writes itself; the detector is replaced by one
that returns known boxes (detection quality is measured on the real videos, in the README)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from simreal.cli import app
from simreal.data.importers import face_video
from simreal.data.reader import SimrealDataset
from simreal.utils.errors import SimrealError

BOXES = [{"side": "left", "eye_box": [40, 50, 80, 90], "face_box": [20, 20, 180, 180]},
         {"side": "right", "eye_box": [120, 50, 160, 90], "face_box": [20, 20, 180, 180]}]


class FixedFinder:
    def __init__(self) -> None:
        pass

    def __call__(self, grey: np.ndarray, counts: Counter) -> list[dict]:
        return [dict(b) for b in BOXES]


def write_video(path: Path, n: int = 12) -> None:
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (200, 160))
    assert out.isOpened()
    for i in range(n):
        frame = np.full((160, 200, 3), 20 * i % 250, np.uint8)
        frame[60:80, 50:70] = 255  # a bright square inside the left eye box
        out.write(frame)
    out.release()


@pytest.fixture
def media(tmp_path, monkeypatch):
    monkeypatch.setattr(face_video, "EyeFinder", FixedFinder)
    folder = tmp_path / "media"
    folder.mkdir()
    write_video(folder / "a.mp4")
    cv2.imwrite(str(folder / "b.jpg"), np.full((160, 200, 3), 128, np.uint8))
    (folder / "notes.txt").write_text("not media")
    return folder


def test_every_nth_frame_and_each_photo_give_two_crops_with_their_provenance(media, tmp_path):
    counts = face_video.import_face_video(media, tmp_path / "eyes", every=5, show_progress=False, log=lambda _: None)
    ds = SimrealDataset(tmp_path / "eyes")
    assert counts["frames"] == 3 + 1 and len(ds) == 8  # frames 0, 5, 10 of the video, and the photo
    recs = [ds.record(i) for i in range(len(ds))]
    assert [(r["source"], r["frame"], r["side"]) for r in recs[:4]] == [
        ("a.mp4", 0, "left"), ("a.mp4", 0, "right"), ("a.mp4", 5, "left"), ("a.mp4", 5, "right")]
    # the crop: centred on the eye box, as wide as it (crop_scale 1), 55:35
    assert recs[0]["crop_box"] == [40, 57, 80, 83]
    left = np.round((ds[0]["image"][0].numpy() + 1) * 127.5)
    assert left.shape == (35, 55) and left[10:20, 20:30].mean() > 200  # the bright square, mid-left of the crop
    assert ds.manifest["domain"] == "real" and ds.manifest["provenance"]["unlabeled"] is True


def test_small_eyes_are_skipped_and_counted(media, tmp_path):
    with pytest.raises(SimrealError, match=r"no eye found in 4 frames \({'frames': 4, 'eye too small': 8}\)"):
        face_video.import_face_video(media, tmp_path / "eyes", every=5, min_eye_px=41, show_progress=False,
                                     log=lambda _: None)


def test_bad_sources_are_one_line_errors(tmp_path, monkeypatch):
    runner = CliRunner()
    r = runner.invoke(app, ["import", "face-video", str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "make real-data-faces" in r.output, r.output
    (tmp_path / "empty").mkdir()
    r = runner.invoke(app, ["import", "face-video", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "no video" in r.output, r.output
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    r = runner.invoke(app, ["import", "face-video", str(tmp_path / "bad.mp4"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "cannot open" in r.output, r.output


def test_the_real_detector_finds_no_eye_in_a_blank_frame(tmp_path):
    counts = Counter()
    assert face_video.EyeFinder()(np.zeros((240, 320), np.uint8), counts) == [] and counts["no face"] == 1


def test_manifest_records_the_settings(media, tmp_path):
    face_video.import_face_video(media, tmp_path / "eyes", every=6, show_progress=False, log=lambda _: None)
    config = json.loads((tmp_path / "eyes" / "dataset.json").read_text())["provenance"]["config"]
    assert config["every"] == 6 and config["source"] == ["a.mp4", "b.jpg"]


def test_an_interrupted_import_resumes_to_the_same_dataset(media, tmp_path, monkeypatch):
    kw = {"every": 5, "show_progress": False, "log": lambda _: None}
    face_video.import_face_video(media, tmp_path / "straight", **kw)
    original, calls = face_video.DatasetWriter.add, {"n": 0}

    def dying_add(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(self, *a, **k)

    monkeypatch.setattr(face_video.DatasetWriter, "add", dying_add)
    with pytest.raises(KeyboardInterrupt):
        face_video.import_face_video(media, tmp_path / "resumed", **kw)
    monkeypatch.setattr(face_video.DatasetWriter, "add", original)
    face_video.import_face_video(media, tmp_path / "resumed", **kw)
    files = lambda root: {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")  # noqa: E731
                          if p.is_file() and p.name != "dataset.json"}
    assert files(tmp_path / "straight") == files(tmp_path / "resumed")


@pytest.mark.slow
def test_real_eyes_study_runs_every_stage_and_reuses_them(tmp_path):
    from simreal.simulate.write import generate_eyes

    stand_in = generate_eyes(tmp_path / "real", 40, seed=5, preset="webcam", compile_=False, show_progress=False,
                             log=lambda _: None)  # eyes the test can write; the real ones come from face-video
    runner = CliRunner()
    args = ["experiment", "real-eyes", "--real", str(stand_in), "--out", str(tmp_path / "study"), "--quick",
            "--device", "cpu"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "study" / "results.json").read_text())
    assert set(res["observer"]) == {"synthetic", "refined"} and len(res["observer"]["refined"]["runs"]) == 2
    assert 0 <= res["observer"]["synthetic"]["accuracy_pct"]["mean"] <= 100
    assert res["statistics"]["real"]["noise"] > 0 and res["pupil_shift_px"]["pairs"] + \
        res["pupil_shift_px"]["not_found"] == 8
    assert "| refined |" in (tmp_path / "study" / "report.md").read_text()
    stage = tmp_path / "study" / "observer" / "refined-seed1.json"
    before = stage.stat().st_mtime_ns
    assert runner.invoke(app, args).exit_code == 0 and stage.stat().st_mtime_ns == before  # reused
    r = runner.invoke(app, [*args, "--set", "synthetic_count=50"])
    assert r.exit_code == 2 and "another configuration" in r.output
