"""The 1,797 real handwritten UCI digits that ship with scikit-learn, as real datasets.

They are split by a seed into three disjoint parts:

- ``pool``: unlabeled real images for the refiner (labels are kept on disk but never used for training
  the refiner; the ``unlabeled`` flag in the manifest says so),
- ``train``: a labeled training split (for the "trained on real" conditions),
- ``test``: a labeled test split (every evaluation).

Splits are stratified by digit. Each record carries ``source_index`` (the row in ``load_digits``),
which the tests use to check that no sample is in two splits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simreal.data.format import ImageSpec, LabelField, Provenance
from simreal.data.subsets import split_indices
from simreal.data.writer import DatasetWriter
from simreal.utils.errors import SimrealError
from simreal.utils.progress import progress_bar


def import_uci_digits(out: str | Path, seed: int = 0, pool: float = 0.5, train: float = 0.25,
                      overwrite: bool = False, show_progress: bool | None = None) -> dict[str, Path]:
    """Write ``out/pool``, ``out/train`` and ``out/test`` (test gets the remaining fraction)."""
    from sklearn.datasets import load_digits

    test = 1.0 - pool - train
    if min(pool, train, test) <= 0:
        raise SimrealError(f"pool ({pool}) and train ({train}) fractions must leave a positive test fraction")
    digits = load_digits()
    images = np.round(digits.images * 255.0 / 16.0).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    splits = split_indices(labels, {"pool": pool, "train": train, "test": test}, seed)
    schema = {"label": LabelField("int64", (), "the digit 0-9", range=(0, 9)),
              "synthetic": LabelField("bool", (), "false: real handwriting")}
    paths = {}
    with progress_bar(show_progress) as bar:
        for name, idx in splits.items():
            config = {"source": "sklearn.datasets.load_digits (UCI optical recognition of handwritten digits)",
                      "split": name, "fractions": {"pool": pool, "train": train, "test": test}}
            prov = Provenance(f"simreal import uci-digits --seed {seed}", config, seed,
                              extra={"unlabeled": name == "pool"})
            path = Path(out) / name
            task = bar.add_task(f"uci-digits/{name}", total=len(idx), status="")
            with DatasetWriter(path, name=f"uci-digits-{name}", task="digits", domain="real",
                               image=ImageSpec("L", 8, 8), label_schema=schema, provenance=prov,
                               overwrite=overwrite) as writer:
                for j in idx[writer.done:]:
                    writer.add(images[j], {"label": int(labels[j]), "synthetic": False,
                                           "source_index": int(j)})
                    bar.advance(task)
            paths[name] = path
    return paths
