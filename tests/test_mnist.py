"""The MNIST importer, on IDX files the tests write themselves in the real format (gzipped and not)."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from simreal.cli import app
from simreal.data.importers.mnist import import_mnist, read_idx
from simreal.data.reader import SimrealDataset
from simreal.utils.errors import SimrealError


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX as LeCun defines it: 0, 0, type 0x08 (unsigned byte), ndim, one big-endian uint32 per dim, data."""
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_mnist(folder: Path, n_train: int = 40, n_test: int = 20, gz: bool = False) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": (np.arange(n_test, dtype=np.uint8) * 3) % 10}
    for name, a in arrays.items():
        data = idx_bytes(a)
        (folder / (name + ".gz" if gz else name)).write_bytes(gzip.compress(data) if gz else data)
    return tuple(arrays.values())


@pytest.mark.parametrize("gz", [False, True])
def test_import_keeps_the_official_test_split_and_splits_train_into_disjoint_pool_and_train(tmp_path, gz):
    train_x, train_y, test_x, test_y = write_mnist(tmp_path / "raw", gz=gz)
    paths = import_mnist(tmp_path / "raw", tmp_path / "out", seed=3, pool=0.25, show_progress=False)
    pool, train, test = (SimrealDataset(paths[k]) for k in ("pool", "train", "test"))
    assert (len(pool), len(train), len(test)) == (10, 30, 20)  # a quarter of each digit's 4 training samples
    src = {k: [ds.record(i)["source_index"] for i in range(len(ds))] for k, ds in (("pool", pool), ("train", train))}
    assert not set(src["pool"]) & set(src["train"]) and sorted(src["pool"] + src["train"]) == list(range(40))
    assert sorted(pool.labels("label").tolist()) == list(range(10))  # stratified: one of each digit
    assert pool.manifest["provenance"]["unlabeled"] is True
    # pixels and labels land where the IDX files put them
    j = 7
    rec = test.record(j)
    assert rec["source_split"] == "t10k" and rec["source_index"] == j and rec["label"] == int(test_y[j])
    pixels = np.round((test[j]["image"][0].numpy() + 1) * 127.5).astype(np.uint8)
    assert np.array_equal(pixels, test_x[j])
    k = src["train"][0]
    assert train.record(0)["label"] == int(train_y[k])
    assert np.array_equal(np.round((train[0]["image"][0].numpy() + 1) * 127.5).astype(np.uint8), train_x[k])


def _corrupt(folder: Path, name: str, data: bytes) -> None:
    (folder / name).write_bytes(data)


@pytest.mark.parametrize("case, data, message", [
    ("not idx", b"\x89PNG....", "not an IDX file"),
    ("wrong type", bytes([0, 0, 0x0D, 3]) + struct.pack(">3I", 2, 28, 28) + bytes(2 * 784 * 4), "is not unsigned"),
    ("truncated", idx_bytes(np.zeros((40, 28, 28), np.uint8))[:-5], "the header says 40 × 28 × 28"),
    ("labels as images", idx_bytes(np.zeros(40, np.uint8)), "magic number 0x00000801, expected 0x00000803"),
    ("wrong size", idx_bytes(np.zeros((40, 20, 20), np.uint8)), "MNIST's are 28×28"),
    ("bad gzip", b"\x1f\x8b\x08\x00broken", "not a valid gzip"),
])
def test_bad_image_files_are_refused_with_one_line(tmp_path, case, data, message):
    write_mnist(tmp_path / "raw")
    _corrupt(tmp_path / "raw", "train-images-idx3-ubyte", data)
    r = CliRunner().invoke(app, ["import", "mnist", str(tmp_path / "raw"), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and message in r.output and r.output.strip().count("\n") == 0, r.output
    assert not (tmp_path / "out").exists()


def test_counts_and_labels_are_checked(tmp_path):
    write_mnist(tmp_path / "raw")
    _corrupt(tmp_path / "raw", "t10k-labels-idx1-ubyte", idx_bytes(np.zeros(19, np.uint8)))
    with pytest.raises(SimrealError, match="20 t10k images but 19 labels"):
        import_mnist(tmp_path / "raw", tmp_path / "out", show_progress=False)
    _corrupt(tmp_path / "raw", "t10k-labels-idx1-ubyte", idx_bytes(np.full(20, 10, np.uint8)))
    with pytest.raises(SimrealError, match="label 10 is not a digit"):
        import_mnist(tmp_path / "raw", tmp_path / "out", show_progress=False)
    (tmp_path / "raw" / "t10k-labels-idx1-ubyte").unlink()
    r = CliRunner().invoke(app, ["import", "mnist", str(tmp_path / "raw"), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "make real-data-mnist" in r.output, r.output


def test_read_idx_matches_the_format_definition(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "x").write_bytes(b"\0\0\x08\x03" + b"\0\0\0\x02" + b"\0\0\0\x03" + b"\0\0\0\x04" + a.tobytes())
    assert np.array_equal(read_idx(tmp_path / "x"), a)


@pytest.mark.slow
def test_demo_on_mnist_runs_every_stage_on_28_pixel_digits(tmp_path):
    write_mnist(tmp_path / "raw", n_train=200, n_test=40)
    out = tmp_path / "demo"
    r = CliRunner().invoke(app, ["demo", "--out", str(out), "--quick", "--real", "mnist", "--seeds", "1",
                                 "--device", "cpu", "--set", f"mnist_dir={tmp_path / 'raw'}", "--set", "budgets=[10]"])
    assert r.exit_code == 0, r.output
    results = json.loads((out / "results.json").read_text())
    assert set(results["accuracy"]) == {"synthetic", "refined", "real-10", "real-10+synthetic", "real-10+refined",
                                        "real-all"}
    assert results["counts"] == {"synthetic": 300, "real_pool": 100, "real_train": 100, "real_test": 40}
    assert "MNIST handwritten digits" in (out / "report.md").read_text()
    refined = SimrealDataset(out / "data" / "digits-refined-digits")
    assert refined.manifest["image"] == {"mode": "L", "height": 28, "width": 28}


def test_demo_refuses_uci_digits_with_the_mnist_simulator(tmp_path):
    r = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d"), "--quick", "--set", "simulator.sensor=mnist"])
    assert r.exit_code == 2 and "simulator writes 28 px digits, the uci digits are 8 px" in r.output, r.output
