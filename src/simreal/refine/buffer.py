"""The history of refined images that D learns from (section 2.3, Figure 4)."""

from __future__ import annotations

from typing import Any

import torch

from simreal.utils.checkpoint import restore_rng, rng_state
from simreal.utils.errors import CheckpointError, ConfigError, InputError


class ImageHistoryBuffer:
    """A fixed-size buffer of past refined images.

    Each discriminator step uses b/2 current refined images and b/2 distinct images drawn at random from
    the buffer; then b/2 random buffer entries are replaced by new refined images. Until the buffer is
    full, new images are appended instead (so it does fill — unlike one of three public
    ports checked, whose buffer stays empty). Before anything is stored the batch is all current.

    Args:
        capacity: B, the number of images kept.
        generator: a CPU ``torch.Generator`` for every random choice (saved in checkpoints).
    """

    def __init__(self, capacity: int, generator: torch.Generator | None = None):
        if capacity < 1:
            raise ConfigError("buffer capacity must be at least 1")
        self.capacity = capacity
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.images: torch.Tensor | None = None  # (capacity, C, H, W), allocated on first push
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def push(self, refined: torch.Tensor) -> None:
        """Store ``refined`` ``(n, C, H, W)``: append while there is room, then replace distinct random entries
        among those stored before this call (so a new image never overwrites another new one; when the call
        brings more images than that, the extra ones are not kept)."""
        refined = refined.detach()
        if self.images is None:
            self.images = torch.empty((self.capacity, *refined.shape[1:]), dtype=refined.dtype, device=refined.device)
        before = self.size
        n_append = min(self.capacity - self.size, refined.shape[0])
        if n_append:
            self.images[self.size:self.size + n_append] = refined[:n_append]
            self.size += n_append
        rest = refined[n_append:]
        if rest.shape[0] and before:
            slots = torch.randperm(before, generator=self.generator)[: rest.shape[0]]
            self.images[slots.to(self.images.device)] = rest[: len(slots)]

    def sample(self, n: int) -> torch.Tensor:
        """``n`` distinct random stored images (the paper's b/2 history images); the buffer must not be empty.
        Only while it holds fewer than ``n`` images are some drawn twice (each permutation of the stored ones
        is used in turn)."""
        if self.size == 0:
            raise InputError("the history buffer is empty: push refined images before sampling")
        perms = [torch.randperm(self.size, generator=self.generator) for _ in range(-(-n // self.size))]
        return self.images[torch.cat(perms)[:n].to(self.images.device)]

    def discriminator_batch(self, refined: torch.Tensor) -> torch.Tensor:
        """The fake half-and-half batch for one D step, then store b/2 of the new images."""
        b = refined.shape[0]
        half = b // 2
        if self.size == 0:
            batch = refined
        else:
            batch = torch.cat([refined[: b - half], self.sample(half)])
        self.push(refined[b - half:] if half else refined)
        return batch

    # -- checkpointing ----------------------------------------------------------------------------
    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {} if self.images is None else {"history_buffer": self.images[: self.size].cpu()}

    def state_meta(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "size": self.size, "rng": rng_state({"g": self.generator})["g"]}

    def load_state(self, meta: dict[str, Any], tensors: dict[str, torch.Tensor], device: torch.device) -> None:
        if meta["capacity"] != self.capacity:
            raise CheckpointError(f"checkpoint buffer holds {meta['capacity']} images, this one {self.capacity}")
        restore_rng({"g": self.generator}, {"g": meta["rng"]})
        self.size = int(meta["size"])
        stored = tensors.get("history_buffer")
        if stored is not None and self.size:
            self.images = torch.empty((self.capacity, *stored.shape[1:]), dtype=stored.dtype, device=device)
            self.images[: self.size] = stored.to(device)
