from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from simreal.data.format import ImageSpec, LabelField, Provenance
from simreal.data.writer import DatasetWriter

os.environ.setdefault("SIMREAL_QUIET", "1")
os.environ.setdefault("SIMREAL_BACKGROUNDS", "builtin")  # hermetic: not the photos `make backgrounds` fetched
torch.set_num_threads(min(2, torch.get_num_threads()))


def write_tiny(root: Path, n: int = 6, mode: str = "L", size: tuple[int, int] = (8, 8), domain: str = "synthetic",
               seed: int = 0, **record_extra) -> Path:
    """A small digits dataset with deterministic pixels and labels."""
    rng = np.random.default_rng(seed)
    shape = size if mode == "L" else (*size, 3)
    with DatasetWriter(root, name="tiny", task="digits", domain=domain, image=ImageSpec(mode, *size),
                       label_schema={"label": LabelField("int64", (), "digit"),
                                     "gaze": LabelField("float32", (3,), "a vector", "unit")},
                       provenance=Provenance("test", {"n": n}, seed)) as w:
        for i in range(n):
            w.add(rng.integers(0, 256, shape, dtype=np.uint8),
                  {"label": i % 10, "gaze": [0.0, 0.0, 1.0], "factors": {"rotation_deg": float(i), "font": "f"},
                   **record_extra})
    return root


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_tiny(tmp_path / "tiny")
