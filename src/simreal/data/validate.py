"""Checks of what a dataset holds: the manifest's structure, each label against its schema, and the
people of keypoint records. The reader runs them on what it reads and the writer on what it writes, so
a dataset that breaks them is refused with one line naming the file (and line) instead of crashing later.

A label field of the schema may give ``range: [low, high]`` (inclusive); integer fields take JSON integers
only (``3.7``, ``"three"`` and ``true`` are refused, never truncated or cast), float fields take numbers,
bool fields take ``true``/``false``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from simreal.data.format import DOMAINS, MODES, TASKS
from simreal.utils.errors import DatasetError

#: Fields of a person (keypoint tasks) that hold ``[[x, y, v], ...]``.
KEYPOINT_FIELDS = ("keypoints", "keypoints_mpii", "keypoints_coco", "keypoints_hands")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def check_manifest(manifest: Any, path: Path) -> None:
    """The manifest's structure and types (after the format version is known to match)."""
    if not isinstance(manifest, dict):
        raise DatasetError(f"manifest must be a JSON object, not {type(manifest).__name__}", path)

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise DatasetError(what, path)

    need(isinstance(manifest.get("name"), str), "manifest 'name' must be a string")
    need(manifest.get("task") in TASKS, f"manifest 'task' must be one of {', '.join(TASKS)}, "
         f"got {manifest.get('task')!r}")
    need(manifest.get("domain") in DOMAINS, f"manifest 'domain' must be one of {', '.join(DOMAINS)}, "
         f"got {manifest.get('domain')!r}")
    count = manifest.get("count")
    need(_is_int(count) and count >= 0, f"manifest 'count' must be a non-negative integer, got {count!r}")
    image = manifest.get("image")
    need(isinstance(image, dict), f"manifest 'image' must be an object, got {image!r}")
    need(image.get("mode") in MODES, f"unknown image mode {image.get('mode')!r}")
    for side in ("height", "width"):
        v = image.get(side)
        need(v is None or (_is_int(v) and v > 0), f"manifest image '{side}' must be a positive integer or null, "
             f"got {v!r}")
    schema = manifest.get("label_schema")
    need(isinstance(schema, dict), "manifest 'label_schema' must be an object")
    for name, spec in schema.items():
        need(isinstance(spec, dict) and isinstance(spec.get("dtype"), str),
             f"label_schema '{name}' must be an object with a 'dtype' string")
        try:
            np.dtype(spec["dtype"])
        except TypeError:
            raise DatasetError(f"label_schema '{name}' has an unknown dtype {spec['dtype']!r}", path) from None
        shape = spec.get("shape")
        need(shape is None or (isinstance(shape, list) and all(_is_int(d) and d >= 0 for d in shape)),
             f"label_schema '{name}' shape must be a list of sizes or null, got {shape!r}")
        bounds = spec.get("range")
        need(bounds is None or (isinstance(bounds, list) and len(bounds) == 2 and all(map(_is_number, bounds))),
             f"label_schema '{name}' range must be [low, high], got {bounds!r}")
    digest = manifest.get("metadata_sha256")
    need(digest is None or isinstance(digest, str), "manifest 'metadata_sha256' must be a string")


def check_label(name: str, value: Any, spec: dict[str, Any], where: Path, line: int) -> None:
    """One fixed-shape label against its schema entry: shape, type, finiteness and ``range``."""
    shape = spec.get("shape")
    if shape is None:
        if name == "people":
            check_people(value, where, line)
        return
    kind = np.dtype(spec["dtype"]).kind
    try:
        arr = np.asarray(value)
    except ValueError:  # ragged nested lists
        raise DatasetError(f"label '{name}' has a ragged shape, schema says {list(shape)}", where, line) from None
    if list(arr.shape) != list(shape):
        raise DatasetError(f"label '{name}' has shape {list(arr.shape)}, schema says {list(shape)}", where, line)
    ok = {"i": "iu", "u": "iu", "f": "iuf", "b": "b"}.get(kind, arr.dtype.kind)
    if arr.dtype.kind not in ok:
        raise DatasetError(f"label '{name}' must be {_kind_name(kind)}, got {value!r}", where, line)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise DatasetError(f"label '{name}' contains NaN or infinity", where, line)
    bounds = spec.get("range")
    if bounds is not None and arr.size and (arr.min() < bounds[0] or arr.max() > bounds[1]):
        raise DatasetError(f"label '{name}' must lie in [{bounds[0]:g}, {bounds[1]:g}], got {value!r}", where, line)


def _kind_name(kind: str) -> str:
    return {"i": "an integer", "u": "an integer", "f": "a number", "b": "true or false"}.get(kind, kind)


def check_people(people: Any, where: Path, line: int) -> None:
    """``people`` of a keypoint record: a list of objects whose keypoints are ``[x, y, v]`` with finite
    numbers and v in {0, 1, 2}, and whose ``bbox`` (if any) is four finite numbers."""
    if not isinstance(people, list):
        raise DatasetError(f"label 'people' must be a list, got {type(people).__name__}", where, line)
    for k, person in enumerate(people):
        if not isinstance(person, dict):
            raise DatasetError(f"person {k} must be an object", where, line)
        for field in KEYPOINT_FIELDS:
            kps = person.get(field)
            if kps is None:
                continue
            if not isinstance(kps, list) or not all(isinstance(p, list) and len(p) == 3 for p in kps):
                raise DatasetError(f"person {k} '{field}' must be a list of [x, y, v]", where, line)
            for j, (x, y, v) in enumerate(kps):
                if not (_is_number(x) and _is_number(y) and v in (0, 1, 2) and not isinstance(v, bool)):
                    raise DatasetError(f"person {k} '{field}'[{j}] = {[x, y, v]!r}: x, y must be finite numbers "
                                       "and v one of 0, 1, 2", where, line)
        box = person.get("bbox")
        if box is not None and not (isinstance(box, list) and len(box) == 4 and all(map(_is_number, box))):
            raise DatasetError(f"person {k} 'bbox' must be four numbers, got {box!r}", where, line)


def check_record(rec: Any, schema: dict[str, dict[str, Any]], where: Path, line: int) -> None:
    """A metadata record: a ``file_name`` inside the dataset and every label of the schema."""
    if not isinstance(rec, dict) or not isinstance(rec.get("file_name"), str):
        raise DatasetError("record lacks a 'file_name' string", where, line)
    name = Path(rec["file_name"])
    if name.is_absolute() or ".." in name.parts:
        raise DatasetError(f"file_name {rec['file_name']!r} must be a path inside the dataset", where, line)
    for field, spec in schema.items():
        if field not in rec:
            raise DatasetError(f"record lacks label '{field}'", where, line)
        check_label(field, rec[field], spec, where, line)
