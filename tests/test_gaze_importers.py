"""UnityEyes and MPIIGaze importers, on files written the way those datasets write them."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from scipy.io import savemat

from simreal.data.importers.mpiigaze import head_pose_pitchyaw, import_mpiigaze
from simreal.data.importers.unityeyes import head_pose_to_unity, import_unityeyes, unity_head_pose
from simreal.data.reader import SimrealDataset
from simreal.simulate.eyes import preset_config
from simreal.simulate.write import generate_unityeyes_layout
from simreal.utils.errors import DatasetError

UE_CFG = dataclasses.replace(preset_config("clean"), height=96, width=128, rgb=True, field_of_view=3.0,
                             jitter_px=6.0)


@pytest.fixture(scope="module")
def unity_dir(tmp_path_factory):
    return generate_unityeyes_layout(tmp_path_factory.mktemp("ue") / "raw", 6, seed=4, cfg=UE_CFG,
                                     show_progress=False)


def test_unityeyes_round_trip(unity_dir, tmp_path):
    raw = [json.loads((unity_dir / f"{i}.json").read_text()) for i in range(1, 7)]
    ds = SimrealDataset(import_unityeyes(unity_dir, tmp_path / "crops", show_progress=False))
    assert len(ds) == 6 and ds.mode == "L" and ds.image_array(0).shape == (35, 55)
    for i, rec in enumerate(ds.records()):
        look = np.array([float(v) for v in raw[i]["eye_details"]["look_vec"].strip("()").split(",")])
        assert np.allclose(rec["gaze"], [look[0], -look[1], look[2]], atol=1e-5)  # Unity y up → y down
        corners = np.array(rec["eye_corners"])
        assert abs(abs(corners[1, 0] - corners[0, 0]) - 55 / 1.5) < 0.05  # the crop is 1.5× the corner distance
        margin = np.array(rec["interior_margin"])
        assert abs((margin.min(0)[0] + margin.max(0)[0]) / 2 - 27.5) < 0.05  # centred on the margin
        # the simulator's exact pupil centre, mapped through the same crop, is near the iris mean
        assert np.all(np.array(rec["pupil_center"]) > 0) and np.all(np.array(rec["pupil_center"]) < [55, 35])


def test_unityeyes_head_pose_round_trip():
    for pitch, yaw in [(0.1, -0.2), (-0.3, 0.4), (0.0, 0.0)]:
        assert np.allclose(unity_head_pose(np.array(head_pose_to_unity([pitch, yaw]))), [pitch, yaw], atol=1e-9)
    assert np.allclose(unity_head_pose(np.array([0.0, 180.0, 0.0])), [0, 0])  # yaw 180° faces the camera


def test_unityeyes_errors(unity_dir, tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        import_unityeyes(tmp_path / "nope", tmp_path / "o1")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no UnityEyes samples"):
        import_unityeyes(tmp_path / "empty", tmp_path / "o2")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "1.json").write_text((unity_dir / "1.json").read_text())
    with pytest.raises(DatasetError, match=r"1\.jpg: image missing"):
        import_unityeyes(bad, tmp_path / "o3", show_progress=False)
    (bad / "1.jpg").write_bytes((unity_dir / "1.jpg").read_bytes())
    (bad / "1.json").write_text("{not json")
    with pytest.raises(DatasetError, match=r"1\.json: not valid JSON"):
        import_unityeyes(bad, tmp_path / "o4", show_progress=False)
    data = json.loads((unity_dir / "1.json").read_text())
    del data["eye_details"]["look_vec"]
    (bad / "1.json").write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="look_vec"):
        import_unityeyes(bad, tmp_path / "o5", show_progress=False)
    data = json.loads((unity_dir / "1.json").read_text())
    data["iris_2d"] = data["iris_2d"][:5]
    (bad / "1.json").write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="expected 32 points"):
        import_unityeyes(bad, tmp_path / "o6", show_progress=False)


def _day(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    side = lambda: {  # noqa: E731
        "image": rng.integers(0, 256, (n, 36, 60), dtype=np.uint8),
        "gaze": np.column_stack([rng.normal(0, 0.2, n), rng.normal(0, 0.2, n), -np.ones(n)]),
        "pose": rng.normal(0, 0.1, (n, 3)),
    }
    names = np.array([f"{i + 1:04d}.jpg" for i in range(n)], dtype=object)
    return {"data": {"right": side(), "left": side()}, "filenames": names}


@pytest.fixture
def mpii_dir(tmp_path):
    root = tmp_path / "MPIIGaze"
    for p, days in (("p00", 2), ("p01", 1)):
        for d in range(1, days + 1):
            folder = root / "Data" / "Normalized" / p
            folder.mkdir(parents=True, exist_ok=True)
            savemat(folder / f"day{d:02d}.mat", _day(3, hash((p, d)) % 1000))
    lists = root / "Evaluation Subset" / "sample list for eye image"
    lists.mkdir(parents=True)
    (lists / "p00.txt").write_text("day01/0002.jpg left\nday02/0003.jpg right\n")
    (lists / "p01.txt").write_text("day01/0001.jpg right\n")
    return root


def test_mpiigaze_import_and_flip(mpii_dir, tmp_path):
    ds = SimrealDataset(import_mpiigaze(mpii_dir, tmp_path / "all", show_progress=False))
    assert len(ds) == 3 * 2 * 3 and ds.manifest["domain"] == "real" and ds.image_array(0).shape == (36, 60)
    from scipy.io import loadmat

    mat = loadmat(str(mpii_dir / "Data/Normalized/p00/day01.mat"), squeeze_me=True, struct_as_record=False)
    left = [r for r in ds.records() if r["participant"] == "p00" and r["day"] == "day01" and r["side"] == "left"]
    i = [r["source_file"] for r in left].index("0002.jpg")
    rec = left[i]
    g = mat["data"].left.gaze[1]
    assert rec["flipped"] and np.allclose(rec["gaze"], g * [-1, 1, 1] / np.linalg.norm(g), atol=1e-6)
    idx = next(k for k, r in enumerate(ds.records()) if r["side"] == "left" and r["participant"] == "p00"
               and r["day"] == "day01" and r["source_file"] == "0002.jpg")
    assert np.array_equal(ds.image_array(idx), mat["data"].left.image[1][:, ::-1])
    unflipped = SimrealDataset(import_mpiigaze(mpii_dir, tmp_path / "raw", flip_left=False, size=(35, 55),
                                               show_progress=False))
    assert unflipped.image_array(0).shape == (35, 55) and not any(r["flipped"] for r in unflipped.records())


def test_mpiigaze_evaluation_subset(mpii_dir, tmp_path):
    ds = SimrealDataset(import_mpiigaze(mpii_dir, tmp_path / "eval", evaluation_subset=True, show_progress=False))
    got = sorted((r["participant"], r["day"], r["source_file"], r["side"]) for r in ds.records())
    assert got == [("p00", "day01", "0002.jpg", "left"), ("p00", "day02", "0003.jpg", "right"),
                   ("p01", "day01", "0001.jpg", "right")]


def test_mpiigaze_head_pose_convention():
    assert np.allclose(head_pose_pitchyaw(np.zeros(3)), [[0, 0]])  # no rotation: facing the camera
    assert head_pose_pitchyaw(np.array([0.0, 0.3, 0.0]))[0, 1] != 0


def test_mpiigaze_errors(mpii_dir, tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        import_mpiigaze(tmp_path / "nope", tmp_path / "o1")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"pXX/dayYY\.mat"):
        import_mpiigaze(tmp_path / "empty", tmp_path / "o2")
    broken = tmp_path / "broken" / "p00"
    broken.mkdir(parents=True)
    (broken / "day01.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(DatasetError, match="cannot read MATLAB file"):
        import_mpiigaze(tmp_path / "broken", tmp_path / "o3")
    day = _day(2, 0)
    del day["data"]["left"]["pose"]
    savemat(broken / "day01.mat", day)
    with pytest.raises(DatasetError, match="no field 'pose'"):
        import_mpiigaze(tmp_path / "broken", tmp_path / "o4")
    (mpii_dir / "Evaluation Subset" / "sample list for eye image" / "p01.txt").unlink()
    with pytest.raises(DatasetError, match="no evaluation subset list for p01"):
        import_mpiigaze(mpii_dir, tmp_path / "o5", evaluation_subset=True, show_progress=False)
