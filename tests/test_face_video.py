"""`simreal import face-video` on a video and a photo the test writes itself; the detectors are replaced by
ones that return known eyes: a Haar finder with fixed boxes, and a stand-in for the MediaPipe worker that
prints fixed landmarks in the worker's protocol (detection quality is measured on the real videos, in the
README)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from simreal.cli import app
from simreal.data.importers import face_video
from simreal.data.reader import SimrealDataset
from simreal.utils.errors import SimrealError

BOXES = [("left", [40, 50, 80, 90]), ("right", [120, 50, 160, 90])]


class FixedFinder(face_video.HaarEyes):
    def __init__(self) -> None:
        pass

    def __call__(self, grey: np.ndarray, counts: Counter) -> list[dict]:
        return [{"side": side, "center": ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2), "crop_width": b[2] - b[0],
                 "size": b[2] - b[0], "fields": {"eye_box": b}} for side, b in BOXES]


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
    monkeypatch.setattr(face_video, "HaarEyes", FixedFinder)
    folder = tmp_path / "media"
    folder.mkdir()
    write_video(folder / "a.mp4")
    cv2.imwrite(str(folder / "b.jpg"), np.full((160, 200, 3), 128, np.uint8))
    (folder / "notes.txt").write_text("not media")
    return folder


def test_every_nth_frame_and_each_photo_give_two_crops_with_their_provenance(media, tmp_path):
    counts = face_video.import_face_video(media, tmp_path / "eyes", every=5, landmarks="haar",
                                          show_progress=False, log=lambda _: None)
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
    # the eye on the image's right (the person's left) is mirrored into a right eye, the left one is not
    assert [r["flipped"] for r in recs[:2]] == [False, True]
    face_video.import_face_video(media, tmp_path / "unflipped", every=5, landmarks="haar", flip=False,
                                 show_progress=False, log=lambda _: None)
    plain = SimrealDataset(tmp_path / "unflipped")
    assert torch.equal(ds[1]["image"], plain[1]["image"].flip(-1)) and torch.equal(ds[0]["image"], plain[0]["image"])


def test_max_per_source_thins_each_video_evenly_over_its_frames(media, tmp_path):
    assert face_video.spread(5, None) == face_video.spread(5, 9) == [0, 1, 2, 3, 4]
    assert face_video.spread(10, 3) == [0, 4, 9] and face_video.spread(7, 1) == [0]
    # the video: frames 0, 2, …, 10 give 12 eyes (left, right of each); kept: eyes 0, 6 (5.5 rounded to even)
    # and 11; the photo's 2 stay
    r = CliRunner().invoke(app, ["import", "face-video", str(media), "--out", str(tmp_path / "eyes"), "--every", "2",
                                 "--landmarks", "haar", "--max-per-source", "3"])
    assert r.exit_code == 0, r.output
    assert "over the per-source cap 9, eyes written 5" in " ".join(r.output.split())  # the log, unwrapped
    ds = SimrealDataset(tmp_path / "eyes")
    assert [(ds.record(i)["source"], ds.record(i)["frame"], ds.record(i)["side"]) for i in range(len(ds))] == [
        ("a.mp4", 0, "left"), ("a.mp4", 6, "left"), ("a.mp4", 10, "right"), ("b.jpg", 0, "left"),
        ("b.jpg", 0, "right")]
    assert ds.manifest["provenance"]["config"]["max_per_source"] == 3
    r = CliRunner().invoke(app, ["import", "face-video", str(media), "--out", str(tmp_path / "o"),
                                 "--max-per-source", "0"])
    assert r.exit_code == 2 and not (tmp_path / "o").exists()


def test_small_eyes_are_skipped_and_counted(media, tmp_path):
    with pytest.raises(SimrealError, match=r"no eye found in 4 frames \({'frames': 4, 'eye too small': 8}\)"):
        face_video.import_face_video(media, tmp_path / "eyes", every=5, min_eye_px=41, landmarks="haar",
                                     show_progress=False, log=lambda _: None)


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
    assert face_video.HaarEyes()(np.zeros((240, 320), np.uint8), counts) == [] and counts["no face"] == 1


def test_manifest_records_the_settings(media, tmp_path):
    face_video.import_face_video(media, tmp_path / "eyes", every=6, landmarks="haar", show_progress=False,
                                 log=lambda _: None)
    config = json.loads((tmp_path / "eyes" / "dataset.json").read_text())["provenance"]["config"]
    assert config["every"] == 6 and config["source"] == ["a.mp4", "b.jpg"] and config["detector"].startswith("OpenCV")


def test_an_interrupted_import_resumes_to_the_same_dataset(media, tmp_path, monkeypatch):
    kw = {"every": 5, "landmarks": "haar", "show_progress": False, "log": lambda _: None}
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


STAND_IN = """#!{python}
# Stands in for `python mediapipe_eyes.py EVERY FILE...`: the worker's protocol with fixed landmarks
import json, sys
sys.path.insert(0, {here!r})
from simreal.data.importers.mediapipe_eyes import frames
every, files = int(sys.argv[2]), sys.argv[3:]
for path in files:
    for index, _ in frames(path, every):
        if {fail} and index > 0:
            sys.exit("worker: model failed to load")
        gap = 2 if index == 5 else 12  # frame 5: the right-hand eye is closed
        eyes = [{{"corners": [[160, 70], [120, 70]], "lids": [[140, 64], [140, 64 + gap]], "iris": [140, 70]}},
                {{"corners": [[40, 70], [80, 70]], "lids": [[60, 64], [60, 76]], "iris": [60, 70]}}]
        print(json.dumps({{"file": path, "frame": index, "eyes": eyes}}))
"""


def stand_in(tmp_path: Path, fail: bool = False) -> Path:
    import sys

    path = tmp_path / ("failing-python" if fail else "fake-python")
    path.write_text(STAND_IN.format(python=sys.executable, here=str(Path(face_video.__file__).parents[3]), fail=fail))
    path.chmod(0o755)
    return path


def test_mediapipe_landmarks_give_the_unityeyes_crop_and_skip_closed_eyes(media, tmp_path):
    counts = face_video.import_face_video(media, tmp_path / "eyes", every=5, landmarks="mediapipe",
                                          python=stand_in(tmp_path), show_progress=False, log=lambda _: None)
    assert counts == {"frames": 4, "eyes written": 7, "eye closed": 1}  # frames 0, 5, 10 and the photo
    ds = SimrealDataset(tmp_path / "eyes")
    recs = [ds.record(i) for i in range(len(ds))]
    assert [(r["frame"], r["side"], r["flipped"]) for r in recs[:4]] == [
        (0, "left", False), (0, "right", True), (5, "left", False), (10, "left", False)]
    # centred on the corners' midpoint (60, 70), 1.5 × the corner distance (40) wide, 55:35 → 60 × 38.2
    assert recs[0]["crop_box"] == [30, 51, 90, 89] and recs[1]["crop_box"] == [110, 51, 170, 89]
    assert recs[0]["openness"] == 0.3 and recs[0]["landmarks"]["corners"] == [[40, 70], [80, 70]]
    left = np.round((ds[0]["image"][0].numpy() + 1) * 127.5)
    assert left[12:20, 18:27].mean() > 200  # the bright square (x 50–70, y 60–80) inside the crop
    config = ds.manifest["provenance"]["config"]
    assert config["detector"].startswith("MediaPipe") and config["min_openness"] == 0.15


def test_a_failing_or_missing_mediapipe_is_a_one_line_error(media, tmp_path, monkeypatch):
    with pytest.raises(SimrealError, match=r"worker .* stopped at a.mp4 frame 5: worker: model failed to load"):
        face_video.import_face_video(media, tmp_path / "eyes", every=5, landmarks="mediapipe",
                                     python=stand_in(tmp_path, fail=True), show_progress=False, log=lambda _: None)
    monkeypatch.chdir(tmp_path)  # no .venv-mediapipe here
    monkeypatch.delenv("SIMREAL_MEDIAPIPE_PYTHON", raising=False)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(SimrealError, match="make mediapipe"):
        face_video.import_face_video(media, tmp_path / "eyes2", landmarks="mediapipe", show_progress=False)
    logged = []
    face_video.import_face_video(media, tmp_path / "eyes3", every=5, show_progress=False, log=logged.append)
    assert "using OpenCV's Haar cascades" in logged[0]  # auto falls back, and says so


@pytest.mark.skipif(not (Path(".venv-mediapipe/bin/python").is_file() and Path("data/real-cache/faces").is_dir()),
                    reason="needs `make mediapipe` and `make real-data-faces`")
def test_mediapipe_finds_both_eyes_of_a_real_photo(tmp_path):
    counts = face_video.import_face_video(Path("data/real-cache/faces/audrey.jpg"), tmp_path / "eyes",
                                          landmarks="mediapipe", show_progress=False, log=lambda _: None)
    ds = SimrealDataset(tmp_path / "eyes")
    assert counts["eyes written"] == 2 and [ds.record(i)["side"] for i in range(2)] == ["left", "right"]
    (a0, a1), (b0, b1) = (ds.record(i)["landmarks"]["corners"] for i in range(2))
    assert max(a0[0], a1[0]) < min(b0[0], b1[0])  # the image-left eye is left of the image-right one


def test_power_spectrum_is_flat_for_white_noise_and_falls_for_blurred_images():
    from simreal.data.bank import ImageBank
    from simreal.experiments.real_eyes import power_spectrum

    rng = np.random.default_rng(0)
    noise = np.clip(rng.normal(128, 20, (200, 35, 55)), 0, 255).astype(np.uint8)
    flat = power_spectrum(ImageBank.from_arrays(noise, None, "L"))
    assert max(flat[1:]) / min(flat[1:]) < 1.3  # white: every band alike (the window colours band 0 a little)
    blurred = (noise.astype(float) + np.roll(noise, 1, 2) + np.roll(noise, 1, 1) + np.roll(noise, (1, 1), (1, 2))) / 4
    low = power_spectrum(ImageBank.from_arrays(blurred.astype(np.uint8), None, "L"))
    assert low[-1] < 0.1 * low[1] and low[-1] < 0.1 * flat[-1]  # a 2×2 box blur removes the highest band


def test_mean_image_gap_is_zero_for_the_same_layout_and_sees_a_shifted_one():
    from simreal.data.bank import ImageBank
    from simreal.experiments.real_eyes import mean_image_gap

    rng = np.random.default_rng(0)
    base = np.full((60, 20, 30), 100.0)
    base[:, 8:12, 10:20] = 20  # a dark bar where an eye would be
    noisy = lambda a: np.clip(a + rng.normal(0, 5, a.shape), 0, 255).astype(np.uint8)  # noqa: E731
    a, b = (ImageBank.from_arrays(noisy(base), None, "L") for _ in range(2))
    shifted = ImageBank.from_arrays(noisy(np.roll(base, 5, 1)), None, "L")
    same, moved = mean_image_gap(a, b), mean_image_gap(a, shifted)
    assert same["mean_rms"] < 0.1 and moved["mean_rms"] > 5 * same["mean_rms"]
    # brightness and contrast do not count: each image is normalised first
    brighter = ImageBank.from_arrays(noisy(base * 1.5 + 30), None, "L")
    assert mean_image_gap(a, brighter)["mean_rms"] < 0.1


def test_source_split_takes_the_largest_source_against_all_others():
    from simreal.experiments.real_eyes import source_split

    top, mine, others = source_split(["a.mp4", "b.jpg", "a.mp4", "c.mp4", "a.mp4", "b.jpg", "c.mp4", "c.mp4",
                                      "a.mp4"], min_images=2)
    assert top == "a.mp4" and mine.tolist() == [0, 2, 4, 8] and others.tolist() == [1, 3, 5, 6, 7]
    assert source_split(["a.mp4"] * 9, min_images=2) is None  # one source: nothing to compare
    assert source_split(["a.mp4"] * 8 + ["b.jpg"], min_images=2) is None  # too few others
    assert source_split(["a.mp4", None, "b.jpg", "b.jpg"], min_images=1) is None  # a record without a source


def test_eye_shape_is_the_same_measure_for_mediapipe_records_and_simulator_labels():
    from simreal.experiments.real_eyes import eye_shape

    # a synthetic eye: corners (10, 20) and (50, 20), lids' middles 12 px apart, the pupil 4 px right, 2 px up
    margin = [[10.0, 20.0]] + [[0.0, 0.0]] * 3 + [[30.0, 14.0]] + [[0.0, 0.0]] * 3 + [[50.0, 20.0]] + \
        [[0.0, 0.0]] * 3 + [[30.0, 26.0]] + [[0.0, 0.0]] * 3
    synthetic = {"interior_margin": margin, "eye_corners": [[10.0, 20.0], [50.0, 20.0]], "pupil_center": [34.0, 18.0]}
    # the same eye as MediaPipe reports it in a frame, corners listed right to left, and a mirrored copy
    real = {"landmarks": {"corners": [[150.0, 120.0], [110.0, 120.0]], "lids": [[130.0, 114.0], [130.0, 126.0]],
                          "iris": [134.0, 118.0]}, "flipped": False}
    mirrored = {**real, "flipped": True}
    shape = eye_shape([synthetic, real, mirrored])
    assert np.allclose(shape["openness"], 0.3) and np.allclose(shape["iris_y"], -0.05)
    assert np.allclose(shape["iris_x"], [0.1, 0.1, -0.1])  # a mirrored crop shows the iris on the other side
    # a tilted eye (the frame turned 30° about the eye's middle): the measures follow the corner line
    a = np.radians(30)
    turn = lambda q: (np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ (np.subtract(q, [130, 120]))  # noqa: E731
                      + [130, 120]).tolist()
    tilted = {"landmarks": {k: [turn(q) for q in v] if k != "iris" else turn(v) for k, v in real["landmarks"].items()}}
    assert np.allclose([eye_shape([tilted])[k][0] for k in ("openness", "iris_x", "iris_y")], [0.3, 0.1, -0.05])
    assert eye_shape([synthetic, {"source": "a.mp4"}]) is None and eye_shape([]) is None


def _sourced_copy(src: Path, out: Path, sources: list[str], key: str = "source") -> Path:
    """``src``'s images as an unlabeled real pool whose records name their ``source`` and hold MediaPipe-like
    landmarks, as face-video's do (``key="participant"``: named as MPIIGaze's records name theirs)."""
    from simreal.data.format import ImageSpec, Provenance
    from simreal.data.writer import DatasetWriter

    ds = SimrealDataset(src)
    with DatasetWriter(out, name="sourced", task="gaze", domain="real", image=ImageSpec("L", 35, 55),
                       label_schema={}, provenance=Provenance("test", {}, 0)) as w:
        for i, source in enumerate(sources):
            w.add(ds.image_array(i), {key: source, "flipped": False, "landmarks": {
                "corners": [[10.0, 20.0], [50.0, 20.0]], "lids": [[30.0, 14.0], [30.0, 26.0]], "iris": [30.0, 18.0]}})
    return out


def test_real_eyes_study_defaults_are_the_settings_measured_best():
    from simreal.experiments.real_eyes import RealEyesConfig

    cfg, quick = RealEyesConfig(), RealEyesConfig.quick()
    # the README's runs LC10: the simulator fitted to real webcam eyes, the discriminator's first conv at
    # stride 1, and the gaze-keeping term
    assert cfg.preset == quick.preset == "calibrated"
    assert cfg.refine.discriminator.layers[0] == "conv:64:3:1"
    assert cfg.refine.loss.label_consistency == quick.refine.loss.label_consistency == 10
    assert quick.refine.discriminator.layers == cfg.refine.discriminator.layers
    assert cfg.refine.refiner == quick.refine.refiner


@pytest.mark.slow
def test_real_eyes_study_runs_every_stage_and_reuses_them(tmp_path):
    from simreal.simulate.write import generate_eyes

    eyes = generate_eyes(tmp_path / "eyes", 40, seed=5, preset="webcam", compile_=False, show_progress=False,
                         log=lambda _: None)  # eyes the test can write; the real ones come from face-video
    # two "people": images 0–27 from one video, 28–39 from another
    stand_in = _sourced_copy(eyes, tmp_path / "real", ["a.mp4"] * 28 + ["b.mp4"] * 12)
    runner = CliRunner()
    args = ["experiment", "real-eyes", "--real", str(stand_in), "--out", str(tmp_path / "study"), "--quick",
            "--device", "cpu"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "study" / "results.json").read_text())
    assert set(res["observer"]) == {"synthetic", "refined", "real", "sources"}
    assert len(res["observer"]["refined"]["runs"]) == 2 and len(res["observer"]["sources"]["runs"]) == 2
    assert res["sources"] == {"largest": "a.mp4", "largest_count": 28, "others_count": 12}
    assert res["observer"]["sources"]["runs"][0]["test_per_class"] == 6  # 12 a side, half held out
    assert 0 <= res["observer"]["synthetic"]["accuracy_pct"]["mean"] <= 100
    assert set(res["spectrum"]["power"]) == {"synthetic", "refined", "real"}
    assert (tmp_path / "study" / "figures" / "spectrum.png").stat().st_size > 1000
    assert (tmp_path / "study" / "figures" / "mean_images.png").stat().st_size > 1000
    assert set(res["layout_gap"]) == {"synthetic", "refined"} and res["layout_gap"]["synthetic"]["mean_rms"] > 0
    assert res["statistics"]["real"]["noise"] > 0 and res["pupil_shift_px"]["pairs"] + \
        res["pupil_shift_px"]["not_found"] == 8
    assert "| refined |" in (report := (tmp_path / "study" / "report.md").read_text()) and "| real (control" in report
    assert "| real eyes of the other sources (12) vs the largest, `a.mp4` (28) only |" in report
    shape = res["eye_shape_percentiles"]
    assert shape["real"]["openness"] == [0.3] * 5 and shape["real"]["iris_y"] == [-0.05] * 5
    assert "## Eye shape and gaze" in report and "| iris y (↓), real | -0.050 |" in report
    low, high = shape["synthetic"]["openness"][0], shape["synthetic"]["openness"][-1]
    assert 0.1 < low < high < 0.8  # the simulator's eyes, measured from their labels
    stage = tmp_path / "study" / "observer" / "refined-seed1.json"
    before = stage.stat().st_mtime_ns
    assert runner.invoke(app, args).exit_code == 0 and stage.stat().st_mtime_ns == before  # reused
    r = runner.invoke(app, [*args, "--set", "synthetic_count=50"])
    assert r.exit_code == 2 and "another configuration" in r.output


@pytest.mark.slow
def test_real_eyes_study_compares_participants_as_sources(tmp_path):
    from simreal.simulate.write import generate_eyes

    eyes = generate_eyes(tmp_path / "eyes", 30, seed=5, preset="webcam", compile_=False, show_progress=False,
                         log=lambda _: None)
    pool = _sourced_copy(eyes, tmp_path / "real", ["p00"] * 10 + ["p01"] * 20, key="participant")
    r = CliRunner().invoke(app, ["experiment", "real-eyes", "--real", str(pool), "--out", str(tmp_path / "study"),
                                 "--quick", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "study" / "results.json").read_text())
    assert res["sources"] == {"largest": "p01", "largest_count": 20, "others_count": 10}


@pytest.mark.slow
def test_real_eyes_study_trains_a_gaze_net_for_the_label_consistency_term(tmp_path):
    from simreal.simulate.write import generate_eyes
    from simreal.utils.checkpoint import latest_checkpoint
    from simreal.utils.runs import read_stats

    eyes = generate_eyes(tmp_path / "eyes", 24, seed=5, preset="webcam", compile_=False, show_progress=False,
                         log=lambda _: None)
    pool = _sourced_copy(eyes, tmp_path / "real", ["a.mp4"] * 24)
    args = ["experiment", "real-eyes", "--real", str(pool), "--out", str(tmp_path / "study"), "--quick",
            "--device", "cpu", "--set", "refine.loss.label_consistency=0.5"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    study = tmp_path / "study"
    assert latest_checkpoint(study / "runs" / "gaze-consistency").name == "ckpt-0000004.json"  # quick: 4 steps
    stats = read_stats(study / "runs" / "refine")
    assert [s["step"] for s in stats if "R/consistency" in s] == [5, 6, 7]  # the 3 adversarial steps
    assert "weighs, by 0.5, a frozen GazeNet's gaze error" in (study / "report.md").read_text()
