"""simreal-dataset/1: round trip, atomic and resumable writing, lazy validating reading, info."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import write_tiny
from simreal.cli import app
from simreal.data.format import ImageSpec, LabelField, Provenance
from simreal.data.info import dataset_info
from simreal.data.reader import SimrealDataset, read_manifest
from simreal.data.writer import DatasetWriter
from simreal.utils.errors import DatasetError

runner = CliRunner()


def test_round_trip_images_labels_and_manifest(tiny: Path):
    ds = SimrealDataset(tiny)
    m = read_manifest(tiny)
    assert m["format"] == "simreal-dataset/1" and m["count"] == 6 == len(ds)
    assert m["image"] == {"mode": "L", "height": 8, "width": 8}
    item = ds[3]
    assert item["image"].shape == (1, 8, 8) and item["image"].dtype == torch.float32
    assert item["image"].min() >= -1 and item["image"].max() <= 1
    assert item["label"].item() == 3 and item["gaze"].tolist() == [0.0, 0.0, 1.0]
    expected = np.random.default_rng(0).integers(0, 256, (4, 8, 8), dtype=np.uint8)[3]
    assert np.array_equal(ds.image_array(3), expected)
    assert ds.record(0)["file_name"] == "images/000/000000.png"
    assert len(torch.utils.data.DataLoader(ds, batch_size=4).__iter__().__next__()["image"]) == 4


def test_rgb_and_subset(tmp_path: Path):
    root = write_tiny(tmp_path / "rgb", n=5, mode="RGB", size=(4, 6))
    ds = SimrealDataset(root)
    assert ds[0]["image"].shape == (3, 4, 6)
    sub = ds.subset([4, 1])
    assert len(sub) == 2 and sub[0]["index"] == 4 and sub[1]["label"].item() == 1


def test_shards_of_1000(tmp_path: Path):
    with DatasetWriter(tmp_path / "d", name="d", task="digits", domain="real", image=ImageSpec("L", 2, 2),
                       label_schema={}, provenance=Provenance("t", {}, 0)) as w:
        for _ in range(1001):
            w.add(np.zeros((2, 2), np.uint8), {})
    assert (tmp_path / "d/images/000/000999.png").is_file() and (tmp_path / "d/images/001/001000.png").is_file()
    assert len(list((tmp_path / "d/images/000").iterdir())) == 1000


def _writer(root: Path, seed: int = 0) -> DatasetWriter:
    return DatasetWriter(root, name="r", task="digits", domain="synthetic", image=ImageSpec("L", 4, 4),
                         label_schema={"label": LabelField("int64", (), "x")}, provenance=Provenance("t", {}, seed))


def _sample(i: int) -> np.ndarray:
    return np.random.default_rng([7, i]).integers(0, 256, (4, 4), dtype=np.uint8)


def test_interrupted_writer_leaves_no_manifest_and_resumes_to_identical_bytes(tmp_path: Path):
    full = tmp_path / "full"
    with _writer(full) as w:
        for i in range(10):
            w.add(_sample(i), {"label": i})
    cut = tmp_path / "cut"
    w = _writer(cut)
    for i in range(4):
        w.add(_sample(i), {"label": i})
    w.close()  # killed: no finalize
    with open(cut / "metadata.jsonl.partial", "a") as f:
        f.write('{"file_name": "images/000/0000')  # a line torn by the kill
    assert not (cut / "dataset.json").exists()
    with pytest.raises(DatasetError, match=r"missing manifest.*unfinished"):
        SimrealDataset(cut)
    with _writer(cut) as w:
        assert w.done == 4
        for i in range(w.done, 10):
            w.add(_sample(i), {"label": i})
    for rel in ["metadata.jsonl", *[f"images/000/{i:06d}.png" for i in range(10)]]:
        assert (full / rel).read_bytes() == (cut / rel).read_bytes(), rel
    assert read_manifest(full)["metadata_sha256"] == read_manifest(cut)["metadata_sha256"]
    assert not list(cut.rglob("*.tmp")) and not (cut / ".simreal-partial.json").exists()


def test_writer_refuses_to_clobber(tmp_path: Path, tiny: Path):
    with pytest.raises(DatasetError, match="finished dataset is already here"):
        _writer(tiny)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not a simreal dataset"):
        _writer(tmp_path / "other")
    w = _writer(tmp_path / "fresh", seed=1)
    w.close()
    with pytest.raises(DatasetError, match="different command"):
        _writer(tmp_path / "fresh", seed=2)


def test_empty_writer_refuses(tmp_path: Path):
    w = _writer(tmp_path / "e")
    with pytest.raises(DatasetError, match="empty"):
        w.finalize()


def test_info_summary(tiny: Path):
    s = dataset_info(tiny)
    assert s["count"] == 6 and s["task"] == "digits" and s["domain"] == "synthetic"
    assert s["factors"]["rotation_deg"] == {"min": 0.0, "max": 5.0}
    assert s["factors"]["font"] == {"values": {"f": 6}}
    assert s["provenance"][0]["command"] == "test"
    result = runner.invoke(app, ["info", str(tiny)])
    assert result.exit_code == 0, result.output
    assert "6 samples" in result.output and "rotation_deg" in result.output


def _edit_line(root: Path, line: int, **changes) -> None:
    lines = (root / "metadata.jsonl").read_text().splitlines()
    rec = json.loads(lines[line - 1])
    rec.update(changes)
    lines[line - 1] = json.dumps(rec)
    (root / "metadata.jsonl").write_text("\n".join(lines) + "\n")


BAD_CASES = {
    "missing manifest": (lambda r: (r / "dataset.json").unlink(), r"tiny: missing manifest dataset\.json"),
    "unknown format": (lambda r: (r / "dataset.json").write_text(json.dumps(
        {**json.loads((r / "dataset.json").read_text()), "format": "simreal-dataset/9"})),
        r"dataset\.json: unknown format version 'simreal-dataset/9'"),
    "missing image": (lambda r: (r / "images/000/000002.png").unlink(), r"000002\.png:3: image file is missing"),
    "corrupt image": (lambda r: (r / "images/000/000004.png").write_bytes(b"not a png"),
                      r"000004\.png: corrupt image"),
    "label shape": (lambda r: _edit_line(r, 2, gaze=[1.0, 0.0]),
                    r"metadata\.jsonl:2: label 'gaze' has shape \[2\], schema says \[3\]"),
    "label NaN": (lambda r: _edit_line(r, 5, gaze=[float("nan"), 0.0, 1.0]),
                  r"metadata\.jsonl:5: label 'gaze' contains NaN"),
    "mode mismatch": (lambda r: (r / "dataset.json").write_text(json.dumps(
        {**json.loads((r / "dataset.json").read_text()), "image": {"mode": "RGB", "height": 8, "width": 8}})),
        r"000000\.png: image mode L does not match the manifest's RGB"),
    "empty dataset": (lambda r: ((r / "metadata.jsonl").write_text(""), (r / "dataset.json").write_text(json.dumps(
        {**json.loads((r / "dataset.json").read_text()), "count": 0}))), r"dataset\.json: empty dataset"),
    "bad json line": (lambda r: (r / "metadata.jsonl").write_text(
        (r / "metadata.jsonl").read_text().replace('"label": 1,', '"label": 1,,', 1)),
        r"metadata\.jsonl:2: not valid JSON"),
    "escaping path": (lambda r: _edit_line(r, 3, file_name="../../etc/passwd"),
                      r"metadata\.jsonl:3: file_name '\.\./\.\./etc/passwd' must be a path inside the dataset"),
    "count mismatch": (lambda r: (r / "dataset.json").write_text(json.dumps(
        {**json.loads((r / "dataset.json").read_text()), "count": 7})), r"has 6 lines but the manifest says count=7"),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_dataset_gives_one_line_error_and_exit_2(tiny: Path, case: str):
    damage, pattern = BAD_CASES[case]
    damage(tiny)
    result = runner.invoke(app, ["info", str(tiny)])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert message.startswith("error:"), message
    assert re.search(pattern, message), message


def test_huggingface_imagefolder_reads_a_simreal_dataset(tiny: Path):
    datasets = pytest.importorskip("datasets")
    hf = datasets.load_dataset("imagefolder", data_dir=str(tiny), split="train")
    assert len(hf) == 6
    assert sorted(hf["label"]) == list(range(6))
    assert hf[0]["image"].size == (8, 8)
