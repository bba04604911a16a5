"""Datasets made from another dataset (refined, passed through a camera model, mixed with synthetic people):
what each of them takes from its source — the parent reference for provenance, the label schema, the
keypoint metadata, the mask of a sample — so that labels are carried the same way everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from simreal.data.format import ImageSpec, LabelField, Provenance
from simreal.data.reader import SimrealDataset, manifest_hash
from simreal.data.writer import DatasetWriter


def parent_ref(root: str | Path, manifest: dict[str, Any]) -> dict[str, str]:
    """The provenance entry naming a source dataset: its absolute path, name and manifest hash."""
    return {"path": str(Path(root).resolve()), "name": manifest["name"], "manifest_sha256": manifest_hash(root)}


def derived_writer(source: SimrealDataset, out: str | Path, *, name: str, domain: str, provenance: Provenance,
                   image: ImageSpec | None = None, extra_schema: dict[str, LabelField] | None = None,
                   **kwargs: Any) -> DatasetWriter:
    """A writer for a dataset derived from ``source``: the same task, label schema (plus or replaced by
    ``extra_schema``) and keypoint names, skeleton and flip pairs; ``image`` defaults to the source's.
    ``kwargs`` go to :class:`DatasetWriter` (``overwrite``, ``resume_key``, ``first_index``...). Records are
    then copied with :meth:`DatasetWriter.add_raw` (labels byte for byte) or edited and added."""
    m = source.manifest
    schema = {k: LabelField.from_json(v) for k, v in m["label_schema"].items()} | (extra_schema or {})
    image = image or ImageSpec(m["image"]["mode"], m["image"].get("height"), m["image"].get("width"))
    return DatasetWriter(out, name=name, task=m["task"], domain=domain, image=image, label_schema=schema,
                         provenance=provenance, keypoint_names=m.get("keypoint_names"), skeleton=m.get("skeleton"),
                         flip_pairs=m.get("flip_pairs"), **kwargs)


def sample_mask(source: SimrealDataset, record: dict[str, Any]) -> np.ndarray | None:
    """The instance mask of a sample (``masks/`` beside ``images/``), or None when it has none."""
    path = source.root / record["file_name"].replace("images/", "masks/", 1)
    return np.asarray(Image.open(path)) if path.exists() else None
