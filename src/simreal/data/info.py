"""``simreal info``: a summary of a dataset (count, task, domain, image, labels, factors, provenance)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simreal.data.reader import SimrealDataset, is_finite_number, read_manifest
from simreal.utils.errors import DatasetError
from simreal.utils.fileio import sha256_file


def factor_summary(ds: SimrealDataset, on_step: Callable[[], None] | None = None,
                   check_images: bool = True) -> dict[str, Any]:
    """Ranges of numeric factors and value counts of categorical ones, over every sample.

    Reading every record also validates the dataset (and every image when ``check_images``).
    """
    numeric: dict[str, list[float]] = {}
    categorical: dict[str, Counter] = {}
    for i in range(len(ds)):
        rec = ds.record(i)
        if check_images:
            ds.image_array(i, rec)
        for key, value in (rec.get("factors") or {}).items():
            if is_finite_number(value):
                lo_hi = numeric.setdefault(key, [float(value), float(value)])
                lo_hi[0], lo_hi[1] = min(lo_hi[0], value), max(lo_hi[1], value)
            elif isinstance(value, (str, bool)):
                categorical.setdefault(key, Counter())[str(value)] += 1
        if on_step is not None:
            on_step()
    out: dict[str, Any] = {k: {"min": v[0], "max": v[1]} for k, v in sorted(numeric.items())}
    for key, counts in sorted(categorical.items()):
        out[key] = {"values": dict(counts.most_common())}
    return out


def provenance_chain(root: str | Path, max_depth: int = 16) -> list[dict[str, Any]]:
    """This dataset and its ancestors, following ``provenance.parents[*].path`` while they exist."""
    chain, current = [], Path(root)
    for _ in range(max_depth):
        manifest = read_manifest(current)
        prov = manifest.get("provenance", {})
        chain.append({"name": manifest["name"], "domain": manifest["domain"], "path": str(current),
                      "command": prov.get("command"), "checkpoint": prov.get("checkpoint")})
        parents = prov.get("parents") or []
        if not parents or not parents[0].get("path") or not Path(parents[0]["path"]).is_dir():
            if parents:
                chain.append({"name": parents[0].get("name"), "path": parents[0].get("path"), "missing": True})
            break
        current = Path(parents[0]["path"])
    return chain


def check_metadata_hash(ds: SimrealDataset) -> None:
    """``metadata.jsonl`` must be the file the manifest's ``metadata_sha256`` was computed from."""
    expected = ds.manifest.get("metadata_sha256")
    if expected is not None and sha256_file(ds.metadata_path) != expected:
        raise DatasetError("does not match the manifest's metadata_sha256 (edited or damaged after it was "
                           "written)", ds.metadata_path)


def dataset_info(root: str | Path, on_step: Callable[[], None] | None = None,
                 check_images: bool = True) -> dict[str, Any]:
    """The summary of ``simreal info``; reading it validates every record (and image), then the metadata's
    hash (after the records, so a damaged line is named by its own error first)."""
    ds = SimrealDataset(root)
    m = ds.manifest
    factors = factor_summary(ds, on_step, check_images)
    check_metadata_hash(ds)
    return {
        "path": str(Path(root)),
        "name": m["name"],
        "count": len(ds),
        "task": m["task"],
        "domain": m["domain"],
        "image": m["image"],
        "labels": m["label_schema"],
        "factors": factors,
        "provenance": provenance_chain(root),
        "seed": m.get("provenance", {}).get("seed"),
    }
