"""Processes and concurrency: one writer per output folder, workers that die with their parent, and reruns
that resume whatever a kill left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from simreal.data.format import ImageSpec, LabelField, Provenance
from simreal.data.reader import SimrealDataset
from simreal.data.writer import DatasetWriter, encode_png
from simreal.utils.errors import SimrealError


def _writer(root: Path) -> DatasetWriter:
    return DatasetWriter(root, name="d", task="digits", domain="synthetic", image=ImageSpec("L", 2, 2),
                         label_schema={"label": LabelField("int64", (), "digit", range=(0, 9))},
                         provenance=Provenance("t", {}, 0))


def test_a_second_writer_on_the_same_folder_is_refused(tmp_path):
    first = _writer(tmp_path / "out")
    with pytest.raises(SimrealError, match=r"out: another simreal writer is writing here"):
        _writer(tmp_path / "out")
    first.add(np.zeros((2, 2), np.uint8), {"label": 1})
    first.finalize()
    first.close()
    assert not list(tmp_path.glob(".*.lock"))  # released and removed; nothing left beside the dataset
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dataset.json", "images", "metadata.jsonl"]


@pytest.mark.slow
def test_two_generate_commands_on_one_out(tmp_path):
    """The issue's case: `generate digits --out X --count 4000 &` twice. The second is refused at once and the
    first finishes with exactly 4,000 lines."""
    cmd = [sys.executable, "-m", "simreal.cli", "generate", "digits", "--out", str(tmp_path / "x"), "--count", "4000"]
    env = {**os.environ, "SIMREAL_QUIET": "1"}
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 60
    while not (tmp_path / ".x.lock").exists() and time.time() < deadline:
        time.sleep(0.05)
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert second.returncode == 2 and "is writing here" in second.stderr and second.stderr.count("\n") == 1
    assert len(SimrealDataset(tmp_path / "x")) == 4000


def test_an_image_torn_by_a_kill_is_written_again_on_resume(tmp_path):
    """Sample files are written in place; the metadata line after them commits a sample. A kill in the middle
    of sample 3's PNG leaves a torn file but no line for it: the resumed run writes it again."""
    w = _writer(tmp_path / "d")
    for i in range(3):
        w.add(np.full((2, 2), i, np.uint8), {"label": i})
    w.close()  # killed while writing sample 3
    torn = tmp_path / "d" / "images" / "000" / "000003.png"
    torn.write_bytes(b"\x89PNG\r\n")
    w = _writer(tmp_path / "d")
    assert w.done == 3
    w.add(np.full((2, 2), 3, np.uint8), {"label": 3})
    w.finalize()
    w.close()
    ds = SimrealDataset(tmp_path / "d")
    assert [int(ds[i]["image"].eq(ds[i]["image"][0, 0, 0]).all()) for i in range(4)] == [1, 1, 1, 1]
    assert torn.read_bytes() == encode_png(np.full((2, 2), 3, np.uint8), "L")


def test_resume_removes_temporary_files_of_a_killed_write(tmp_path):
    w = _writer(tmp_path / "d")
    for i in range(3):
        w.add(np.full((2, 2), i, np.uint8), {"label": i})
    w.close()  # killed: no finalize
    torn = tmp_path / "d" / "images" / "000" / ".000003.png.abc123.tmp"
    torn.write_bytes(b"")
    w = _writer(tmp_path / "d")
    assert w.done == 3 and not torn.exists()
    w.add(np.zeros((2, 2), np.uint8), {"label": 3})
    w.finalize()
    w.close()
    assert not list((tmp_path / "d").rglob("*.tmp"))


def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie has exited
        return f.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and ps")
def test_killed_generate_people_leaves_no_workers_and_a_rerun_finishes(tmp_path):
    out = tmp_path / "ds"
    cmd = [str(Path(sys.executable).with_name("simreal")), "generate", "people", "--out", str(out), "--count", "10",
           "--workers", "2", "--set", "scene.width=128", "--set", "scene.height=128", "--set", "scene.max_people=3",
           "--set", "person_detector=none"]
    env = {**os.environ, "SIMREAL_QUIET": "1", "OMP_NUM_THREADS": "1"}
    parent = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                              start_new_session=True)
    partial = out / "shards" / "0-of-2" / "metadata.jsonl.partial"
    deadline = time.time() + 240
    while time.time() < deadline and not (partial.exists() and partial.read_bytes().count(b"\n") >= 1):
        assert parent.poll() is None, parent.stderr.read()
        time.sleep(0.1)
    workers = _children(parent.pid)
    assert workers, "no worker processes found"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers), "workers outlived their parent"
    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert len(SimrealDataset(out)) == 10 and not (out / "shards").exists()
