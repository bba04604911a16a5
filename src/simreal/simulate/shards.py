"""Sharded, resumable dataset generation, shared by every simulator that renders
(``simreal generate people`` (D_S) and ``mixed`` (D_M)); :mod:`simreal.simulate.workers` runs the shards.

Row ``i`` of a job depends only on ``(seed, i)``, so any split of ``[0, count)`` into shards — one process,
``--workers N`` local processes, ``--shard K/N`` jobs of a batch scheduler, or Ray tasks — gives the same
rows. Each shard is a complete dataset under ``OUT/shards/K-of-N/`` whose files are named by global index;
when all shards of a run are finished, they are merged into ``OUT`` (images moved, metadata concatenated in
index order) by whichever process finishes last.

A job (:class:`ShardJob`) is a small picklable object: ``count`` rows, a progress ``label``, and
``start(root, rows, log)`` which returns the shard's :class:`DatasetWriter` (with ``first_index =
rows.start``), a function that makes row ``i`` (image, instance mask or None, depth in mm or None, record)
and a function that releases what it holds (a GL context). (Encoding and writing in a second thread
measured slower for eyes, 250 vs 330 images/s on 2 cores: both halves are mostly Python holding the GIL.)
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from simreal.data.format import MANIFEST, METADATA, command_line
from simreal.data.writer import PARTIAL, DatasetWriter
from simreal.utils.errors import DatasetError, SimrealError
from simreal.utils.fileio import atomic_write_json, sha256_file
from simreal.utils.locking import FolderLock

Row = tuple[np.ndarray, np.ndarray | None, np.ndarray | None, dict[str, Any]]


class ShardJob(Protocol):
    count: int
    label: str

    def start(self, root: Path, rows: range, log: Callable[[str], object]
              ) -> tuple[DatasetWriter, Callable[[int], Row], Callable[[], None]]: ...


def shard_range(count: int, k: int, n: int) -> range:
    return range(k * count // n, (k + 1) * count // n)


def shard_dir(out: Path, k: int, n: int) -> Path:
    return out / "shards" / f"{k}-of-{n}"


def write_shard(out: str | Path, job: ShardJob, k: int, n: int, advance: Callable[[int], object] | None = None,
                log: Callable[[str], object] = lambda _: None) -> Path:
    """Write shard ``k`` of ``n`` into ``OUT/shards/K-of-N`` (resumes an unfinished one; skips a done one)."""
    root = shard_dir(Path(out), k, n)
    if (root / MANIFEST).exists():
        return root
    writer, make, close = job.start(root, shard_range(job.count, k, n), log)
    try:
        with writer:
            for i in shard_range(job.count, k, n)[writer.done:]:
                image, mask, depth, record = make(i)
                writer.add(image, record, mask=mask, extra=None if depth is None else {"depth": (depth, "I;16")})
                if advance:
                    advance(1)
    finally:
        close()
    return root


def merge_shards(out: str | Path, n: int) -> Path | None:
    """Merge the ``n`` finished shards into ``out``; None when some are unfinished or another process merges."""
    out = Path(out)
    roots = [shard_dir(out, k, n) for k in range(n)]
    if not all((r / MANIFEST).exists() for r in roots):
        return None
    # a flock, not a marker: a merge killed half-way leaves no stale lock, and merging again is safe (files
    # already moved are skipped, the metadata is rebuilt from the shards')
    lock = FolderLock(out / "shards" / "merging", "another process merging the shards")
    try:
        lock.acquire()
    except SimrealError:
        return None
    try:
        return _merge(out, roots, n)
    finally:
        lock.release()


def _merge(out: Path, roots: list[Path], n: int) -> Path:
    manifests = [json.loads((r / MANIFEST).read_text()) for r in roots]
    configs = {json.dumps([m["provenance"]["config"], m["provenance"]["seed"]], sort_keys=True) for m in manifests}
    if len(configs) != 1:
        raise DatasetError("shards were made with different settings; cannot merge", out / "shards")
    with open(out / PARTIAL, "wb") as meta:
        for r in roots:
            for line in (r / METADATA).read_bytes().splitlines():
                rec = json.loads(line)
                for folder in ("images", "masks", "depth"):
                    src = r / rec["file_name"].replace("images/", f"{folder}/", 1)
                    dst = out / rec["file_name"].replace("images/", f"{folder}/", 1)
                    if src.exists():
                        dst.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(src, dst)
                meta.write(line + b"\n")
        os.fsync(meta.fileno())
    os.replace(out / PARTIAL, out / METADATA)
    manifest = {k: v for k, v in manifests[0].items() if k not in ("count", "metadata_sha256", "provenance")}
    prov = dict(manifests[0]["provenance"])
    prov.pop("shard", None)
    prov["command"] = command_line()
    prov["shards"] = n
    manifest.update(count=sum(m["count"] for m in manifests), metadata_sha256=sha256_file(out / METADATA),
                    provenance=prov)
    atomic_write_json(out / MANIFEST, manifest)
    shutil.rmtree(out / "shards")
    return out


def check_out(out: Path, overwrite: bool) -> None:
    if (out / MANIFEST).exists():
        if not overwrite:
            raise DatasetError("a finished dataset is already here (pass --overwrite to replace it)", out)
        shutil.rmtree(out)
    elif out.exists() and any(out.iterdir()) and not (out / "shards").exists():
        raise DatasetError("folder exists, is not empty and is not a simreal dataset; choose another", out)


def shard_progress(out: Path, n: int) -> int:
    done = 0
    for k in range(n):
        root = shard_dir(out, k, n)
        if (root / MANIFEST).exists():
            done += json.loads((root / MANIFEST).read_text())["count"]
        elif (root / PARTIAL).exists():
            done += (root / PARTIAL).read_bytes().count(b"\n")
    return done


def check_shard_count(out: Path, n: int) -> None:
    other = sorted({d.name.split("-of-")[1] for d in (out / "shards").glob("*-of-*") if d.is_dir()} - {str(n)}) \
        if (out / "shards").exists() else []
    if other:
        raise DatasetError(f"an unfinished run split into {other[0]} shards is here; rerun it with that many "
                           "shards (--workers or --shard) or pass --overwrite", out)
