"""``simreal-dataset/1``: the on-disk layout every stage reads and writes.

::

    DATASET/
      dataset.json        manifest, written last (its absence marks an unfinished dataset)
      metadata.jsonl      one JSON object per sample; "file_name" is relative to DATASET
      images/000/000000.png ...   at most 1000 files per subfolder
      masks/000/000000.png ...    optional instance masks

``metadata.jsonl`` with ``file_name`` is the Hugging Face ``imagefolder`` convention.
"""

from __future__ import annotations

import dataclasses
import platform
import shlex
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import simreal
from simreal.utils.errors import InputError

FORMAT = "simreal-dataset/1"
MANIFEST = "dataset.json"
METADATA = "metadata.jsonl"
SHARD_SIZE = 1000
TASKS = ("digits", "gaze", "keypoints", "hand", "images")  # "images": unlabeled images (e.g. video frames)
DOMAINS = ("synthetic", "real", "refined", "mixed", "stylized")
MODES = {"L": (np.uint8, 1), "RGB": (np.uint8, 3), "I;16": (np.uint16, 1)}


@dataclass(frozen=True)
class ImageSpec:
    """Image mode (``L``, ``RGB`` or ``I;16``) and size; ``height``/``width`` None means variable."""

    mode: str
    height: int | None
    width: int | None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"image mode must be one of {list(MODES)}, got {self.mode!r}")

    @property
    def channels(self) -> int:
        return MODES[self.mode][1]


@dataclass(frozen=True)
class LabelField:
    """One per-sample label: numpy dtype name, shape (None = variable, e.g. a list of people), and for
    numbers the valid ``range`` [low, high] (inclusive; checked by the reader and the writer)."""

    dtype: str
    shape: tuple[int, ...] | None
    description: str
    units: str | None = None
    range: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["shape"] = list(self.shape) if self.shape is not None else None
        if self.range is None:
            del d["range"]  # schemas without a range stay byte-identical to earlier versions
        else:
            d["range"] = list(self.range)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LabelField:
        return cls(d["dtype"], tuple(d["shape"]) if d.get("shape") is not None else None, d.get("description", ""),
                   d.get("units"), tuple(d["range"]) if d.get("range") is not None else None)


@dataclass
class Provenance:
    """Where a dataset came from: command, resolved config, seed and the parents it derives from."""

    command: str
    config: dict[str, Any]
    seed: int | None = None
    parents: list[dict[str, Any]] = field(default_factory=list)
    labels_copied_from: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = {
            "simreal_version": simreal.__version__,
            "python": sys.version.split()[0],
            "platform": platform.platform(terse=True),
            "command": self.command,
            "config": self.config,
            "seed": self.seed,
            "parents": self.parents,
        }
        if self.labels_copied_from is not None:
            out["labels_copied_from"] = self.labels_copied_from
        out.update(self.extra)
        return out


def command_line() -> str:
    """The command that is running, for provenance (``simreal ...`` when run from the CLI)."""
    return shlex.join(["simreal", *sys.argv[1:]])


def image_file_name(index: int, folder: str = "images") -> str:
    """Relative path of sample ``index``: ``images/000/000123.png`` (1000 files per subfolder)."""
    return f"{folder}/{index // SHARD_SIZE:03d}/{index:06d}.png"
