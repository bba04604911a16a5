"""Fast random batches from a dataset: images held in memory as uint8 when they fit, else read lazily.

Sampling draws indices from an explicit ``torch.Generator``, so a run that saves the generator state
resumes with exactly the same batches.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from simreal.data.format import MODES
from simreal.data.reader import SimrealDataset, image_to_tensor
from simreal.utils.errors import DatasetError


class ImageBank:
    """Random access to a dataset's images (and one optional label) as float tensors in [-1, 1].

    Args:
        dataset: a :class:`SimrealDataset` (or a subset of one).
        label: name of a fixed-shape label to return with the images, or None.
        cache_bytes: hold all images in memory when they take at most this many bytes.
        on_step: called once per image while caching (for a progress bar).
    """

    def __init__(self, dataset: SimrealDataset, label: str | None = None, cache_bytes: int = 2 << 30,
                 on_step=None):
        self.dataset = dataset
        self.mode = dataset.mode
        self.label = label
        self.labels = torch.as_tensor(dataset.labels(label)) if label else None
        first = dataset.image_array(0)
        per_image = first.nbytes
        self.cache: torch.Tensor | None = None
        if per_image * len(dataset) <= cache_bytes and dataset.manifest["image"].get("height") is not None:
            arrays = np.empty((len(dataset), *first.shape), dtype=first.dtype)
            for i in range(len(dataset)):
                arrays[i] = dataset.image_array(i)
                if on_step is not None:
                    on_step()
            self.cache = torch.from_numpy(arrays)
        self._pool = ThreadPoolExecutor(max_workers=4) if self.cache is None else None

    @classmethod
    def from_arrays(cls, images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor | None, mode: str
                    ) -> ImageBank:
        """A bank over images already in memory (uint8 ``(N, H, W)`` or ``(N, H, W, 3)``), e.g. refined
        on the fly; it has no dataset behind it."""
        bank = cls.__new__(cls)
        bank.dataset, bank.mode, bank.label = None, mode, "label" if labels is not None else None
        bank.cache = torch.as_tensor(np.asarray(images))
        bank.labels = torch.as_tensor(np.asarray(labels)) if labels is not None else None
        bank._pool = None
        return bank

    def __len__(self) -> int:
        return len(self.cache) if self.dataset is None else len(self.dataset)

    @property
    def channels(self) -> int:
        return MODES[self.mode][1]

    def factor(self, name: str) -> np.ndarray:
        """The simulator factor ``name`` of every image, from the records (for grouping samples)."""
        if self.dataset is None:
            raise DatasetError(f"factor {name!r}: this bank has no dataset records")
        values = [(rec.get("factors") or {}).get(name) for rec in self.dataset.records()]
        if any(v is None for v in values):
            raise DatasetError(f"factor {name!r} is missing in some records", self.dataset.root)
        return np.asarray(values)

    def images(self, idx: torch.Tensor) -> torch.Tensor:
        """Float ``(n, C, H, W)`` images in [-1, 1] for the given indices."""
        if self.cache is not None:
            raw = self.cache[idx]
            scale = 65535.0 if self.mode == "I;16" else 255.0
            t = raw.float() / scale * 2.0 - 1.0
            return t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2).contiguous()
        arrays = list(self._pool.map(self.dataset.image_array, idx.tolist()))
        return torch.stack([image_to_tensor(a, self.mode) for a in arrays])

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` images drawn uniformly with replacement, and their labels (or None)."""
        idx = torch.randint(len(self), (n,), generator=generator)
        return self.images(idx), (self.labels[idx] if self.labels is not None else None)
