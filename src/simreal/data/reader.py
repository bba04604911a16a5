"""Lazy, validating reader of ``simreal-dataset/1`` exposed as a ``torch.utils.data.Dataset``.

Memory: one int64 line offset per sample (8 bytes); labels and images are read on access.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from simreal.data.format import FORMAT, MANIFEST, METADATA
from simreal.data.validate import check_manifest, check_record
from simreal.utils.errors import DatasetError
from simreal.utils.fileio import sha256_file

_REQUIRED = ("format", "name", "task", "domain", "image", "label_schema", "count")


def read_manifest(root: str | Path) -> dict[str, Any]:
    """Read and check ``root/dataset.json``."""
    root = Path(root)
    path = root / MANIFEST
    if not root.is_dir():
        raise DatasetError("dataset folder not found", root)
    if not path.is_file():
        hint = " (an unfinished dataset: rerun the command that writes it to resume)" if (
            root / ".simreal-partial.json").exists() else ""
        raise DatasetError(f"missing manifest {MANIFEST}{hint}", root)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"manifest is not valid JSON ({exc})", path) from None
    except OSError as exc:
        raise DatasetError(f"cannot read the manifest ({exc.strerror})", path) from None
    if not isinstance(manifest, dict):
        raise DatasetError(f"manifest must be a JSON object, not {type(manifest).__name__}", path)
    if manifest.get("format") != FORMAT:
        raise DatasetError(f"unknown format version {manifest.get('format')!r} (expected {FORMAT!r})", path)
    missing = [k for k in _REQUIRED if k not in manifest]
    if missing:
        raise DatasetError(f"manifest lacks {', '.join(missing)}", path)
    check_manifest(manifest, path)
    if manifest["count"] == 0:
        raise DatasetError("empty dataset (count is 0)", path)
    return manifest


def manifest_hash(root: str | Path) -> str:
    """SHA-256 of ``dataset.json`` (which itself holds the hash of ``metadata.jsonl``)."""
    return sha256_file(Path(root) / MANIFEST)


class SimrealDataset(torch.utils.data.Dataset):
    """A dataset on disk; ``ds[i]`` is a dict with ``image`` (float32 ``(C, H, W)`` in [-1, 1]),
    ``index`` and every fixed-shape label of the schema as a tensor.

    Args:
        root: the dataset folder.
        validate: check each record and image as it is read (cheap; on by default).
        transform: optional callable applied to the image tensor.
        indices: optional subset of sample indices (a view, e.g. a split).
    """

    def __init__(
        self,
        root: str | Path,
        validate: bool = True,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        indices: np.ndarray | list[int] | None = None,
    ):
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        self.validate = validate
        self.transform = transform
        self.metadata_path = self.root / METADATA
        self._offsets = self._index_lines()
        self.indices = None if indices is None else np.asarray(indices, dtype=np.int64)
        self._fh = None
        self.schema: dict[str, dict[str, Any]] = self.manifest["label_schema"]
        self.tensor_fields = [k for k, v in self.schema.items() if v.get("shape") is not None]

    def _index_lines(self) -> np.ndarray:
        if not self.metadata_path.is_file():
            raise DatasetError(f"missing {METADATA}", self.root)
        offsets = [0]
        try:
            with open(self.metadata_path, "rb") as f:
                for line in f:
                    offsets.append(offsets[-1] + len(line))
        except OSError as exc:
            raise DatasetError(f"cannot read it ({exc.strerror})", self.metadata_path) from None
        n = len(offsets) - 1
        if n == 0:
            raise DatasetError("empty dataset (no samples)", self.metadata_path)
        if n != self.manifest["count"]:
            raise DatasetError(f"has {n} lines but the manifest says count={self.manifest['count']}",
                               self.metadata_path)
        return np.asarray(offsets, dtype=np.int64)

    # -- raw access -----------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self.manifest["image"]["mode"]

    def __len__(self) -> int:
        return len(self.indices) if self.indices is not None else len(self._offsets) - 1

    def _global(self, i: int) -> int:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return int(self.indices[i]) if self.indices is not None else i

    def raw_line(self, i: int) -> str:
        """The exact metadata line of sample ``i`` (without newline)."""
        g = self._global(i)
        if self._fh is None:
            self._fh = open(self.metadata_path, "rb")
        self._fh.seek(int(self._offsets[g]))
        return self._fh.read(int(self._offsets[g + 1] - self._offsets[g])).decode("utf-8").rstrip("\n")

    def record(self, i: int) -> dict[str, Any]:
        """The parsed, validated metadata record of sample ``i``."""
        line_no = self._global(i) + 1
        try:
            rec = json.loads(self.raw_line(i))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"not valid JSON ({exc.msg})", self.metadata_path, line_no) from None
        check_record(rec, self.schema if self.validate else {}, self.metadata_path, line_no)
        return rec

    def image_array(self, i: int, rec: dict[str, Any] | None = None) -> np.ndarray:
        """The image of sample ``i`` as stored: uint8/uint16, ``(H, W)`` or ``(H, W, 3)``."""
        rec = rec or self.record(i)
        path = self.root / rec["file_name"]
        if not path.is_file():
            raise DatasetError("image file is missing", path, self._global(i) + 1)
        try:
            with Image.open(path) as img:
                img.load()
                if img.mode != self.mode and not (self.mode == "I;16" and img.mode.startswith("I")):
                    raise DatasetError(f"image mode {img.mode} does not match the manifest's {self.mode}", path)
                arr = np.asarray(img)
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise DatasetError(f"corrupt image ({exc.__class__.__name__})", path) from None
        h, w = self.manifest["image"].get("height"), self.manifest["image"].get("width")
        if (h is not None and arr.shape[0] != h) or (w is not None and arr.shape[1] != w):
            raise DatasetError(f"image is {arr.shape[1]}x{arr.shape[0]}, the manifest says {w}x{h}", path)
        return arr

    # -- Dataset API ----------------------------------------------------------------------------
    def __getitem__(self, i: int) -> dict[str, Any]:
        rec = self.record(i)
        arr = self.image_array(i, rec)
        out: dict[str, Any] = {"image": image_to_tensor(arr, self.mode), "index": self._global(i)}
        if self.transform is not None:
            out["image"] = self.transform(out["image"])
        for name in self.tensor_fields:
            out[name] = torch.as_tensor(np.asarray(rec[name], dtype=self.schema[name]["dtype"]))
        return out

    def records(self) -> Iterator[dict[str, Any]]:
        for i in range(len(self)):
            yield self.record(i)

    def labels(self, name: str) -> np.ndarray:
        """One fixed-shape label for every sample, stacked (reads only metadata)."""
        return np.stack([np.asarray(r[name], dtype=self.schema[name]["dtype"]) for r in self.records()])

    def subset(self, indices: np.ndarray | list[int]) -> SimrealDataset:
        base = self.indices if self.indices is not None else np.arange(len(self))
        return SimrealDataset(self.root, self.validate, self.transform, base[np.asarray(indices, dtype=np.int64)])

    def __getstate__(self) -> dict[str, Any]:  # file handles do not cross process boundaries
        state = self.__dict__.copy()
        state["_fh"] = None
        return state

    def __del__(self) -> None:
        if getattr(self, "_fh", None) is not None:
            self._fh.close()


def open_labeled(path: str | Path, task: str, label: str) -> SimrealDataset:
    """The dataset at ``path``, refused in one line unless it is a ``task`` dataset with a ``label`` field."""
    ds = SimrealDataset(path)
    if ds.manifest["task"] != task:
        raise DatasetError(f"a {ds.manifest['task']} dataset, not {task}", path)
    if label not in ds.schema:
        raise DatasetError(f"dataset has no '{label}' field for the {task} task", path)
    return ds


def image_to_tensor(arr: np.ndarray, mode: str) -> torch.Tensor:
    """uint8/uint16 ``(H, W[, C])`` -> float32 ``(C, H, W)`` in [-1, 1]."""
    scale = 65535.0 if mode == "I;16" else 255.0
    t = torch.from_numpy(np.ascontiguousarray(arr).astype(np.float32)) / scale * 2.0 - 1.0
    return t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1).contiguous()


def tensor_to_image(t: torch.Tensor, mode: str) -> np.ndarray:
    """float ``(C, H, W)`` in [-1, 1] -> uint8/uint16 ``(H, W[, C])`` (rounded, clipped)."""
    scale = 65535.0 if mode == "I;16" else 255.0
    arr = ((t.detach().float().cpu().clamp(-1, 1) + 1.0) * 0.5 * scale).round()
    arr = arr.numpy().astype(np.uint16 if mode == "I;16" else np.uint8)
    return arr[0] if arr.shape[0] == 1 else np.transpose(arr, (1, 2, 0))


def is_finite_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
