"""`simreal import video`: every N-th frame of a video the test writes, as an unlabeled real dataset."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from typer.testing import CliRunner

from simreal.cli import app
from simreal.data.importers.face_video import frames
from simreal.data.reader import SimrealDataset


def test_every_nth_frame_is_written_with_its_index(tmp_path: Path):
    video = tmp_path / "v.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(10):
        w.write(np.full((48, 64, 3), (25 * i, 0, 255 - 25 * i), np.uint8))  # BGR: blue grows, red fades
    w.release()
    r = CliRunner().invoke(app, ["import", "video", str(video), "--out", str(tmp_path / "f"), "--every", "4"])
    assert r.exit_code == 0, r.output
    ds = SimrealDataset(tmp_path / "f")
    assert ds.manifest["task"] == "images" and ds.manifest["image"] == {"mode": "RGB", "height": 48, "width": 64}
    assert [ds.record(i)["frame"] for i in range(len(ds))] == [0, 4, 8]
    decoded = dict(frames(video, 4))
    for i, k in enumerate((0, 4, 8)):
        pixels = np.round((ds[i]["image"].numpy().transpose(1, 2, 0) + 1) * 127.5)
        assert np.array_equal(pixels, decoded[k][:, :, ::-1])  # stored as RGB, exactly the decoded frame
    assert ds[2]["image"][0].mean() < ds[0]["image"][0].mean()  # channel 0 is red, and red fades


def test_a_missing_or_unreadable_video_is_one_line(tmp_path: Path):
    r = CliRunner().invoke(app, ["import", "video", str(tmp_path / "no.avi"), "--out", str(tmp_path / "f")])
    assert r.exit_code == 2 and "make real-data-people" in r.output
    (tmp_path / "bad.avi").write_bytes(b"garbage")
    r = CliRunner().invoke(app, ["import", "video", str(tmp_path / "bad.avi"), "--out", str(tmp_path / "f")])
    assert r.exit_code == 2 and "cannot open" in r.output, r.output
