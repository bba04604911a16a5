"""ImageHistoryBuffer: it fills, returns old images, replaces at random, and survives checkpoints."""

from __future__ import annotations

import torch

from simreal.refine.buffer import ImageHistoryBuffer
from simreal.utils.checkpoint import load_checkpoint, save_checkpoint


def _batch(step: int, b: int = 8) -> torch.Tensor:
    """Images whose every pixel holds (step, index) so their origin can be read back."""
    return (step * 100 + torch.arange(b, dtype=torch.float32)).view(b, 1, 1, 1).expand(b, 1, 2, 2).clone()


def _ids(images: torch.Tensor) -> list[int]:
    return images[:, 0, 0, 0].long().tolist()


def test_first_batch_is_all_current_then_half_history():
    buf = ImageHistoryBuffer(32, torch.Generator().manual_seed(0))
    first = buf.discriminator_batch(_batch(0))
    assert _ids(first) == _ids(_batch(0)) and len(buf) == 4
    second = buf.discriminator_batch(_batch(1))
    assert _ids(second)[:4] == [100, 101, 102, 103]
    assert all(i // 100 == 0 for i in _ids(second)[4:])  # the other half comes from the history


def test_buffer_fills_to_capacity_and_stays_full():
    buf = ImageHistoryBuffer(20, torch.Generator().manual_seed(0))
    sizes = []
    for step in range(8):
        buf.discriminator_batch(_batch(step))
        sizes.append(len(buf))
    assert sizes == [4, 8, 12, 16, 20, 20, 20, 20]


def test_returns_images_from_many_steps_ago():
    buf = ImageHistoryBuffer(64, torch.Generator().manual_seed(0))
    seen_old = set()
    for step in range(40):
        batch = buf.discriminator_batch(_batch(step))
        seen_old |= {step - i // 100 for i in _ids(batch)[4:]}
    assert max(seen_old) >= 10, "history must reach far back, not only the previous step"


def test_replaces_random_slots_not_fifo():
    buf = ImageHistoryBuffer(16, torch.Generator().manual_seed(0))
    for step in range(4):
        buf.push(_batch(step, 4))
    assert len(buf) == 16
    before = buf.images.clone()
    buf.push(_batch(9, 4))
    changed = torch.nonzero((buf.images != before).flatten(1).any(1)).flatten().tolist()
    assert len(changed) == 4 and changed != [0, 1, 2, 3]
    slots = set()
    for step in range(10, 30):
        before = buf.images.clone()
        buf.push(_batch(step, 4))
        slots |= set(torch.nonzero((buf.images != before).flatten(1).any(1)).flatten().tolist())
    assert len(slots) > 12  # replacements spread over the whole buffer


def test_checkpoint_round_trip_restores_contents_and_randomness(tmp_path):
    buf = ImageHistoryBuffer(12, torch.Generator().manual_seed(3))
    for step in range(5):
        buf.discriminator_batch(_batch(step))
    save_checkpoint(tmp_path / "ckpt", {}, extra_tensors=buf.state_tensors(), meta={"buffer": buf.state_meta()})
    tensors, sidecar = load_checkpoint(tmp_path / "ckpt.json")
    restored = ImageHistoryBuffer(12, torch.Generator().manual_seed(999))
    extras = {k.removeprefix("extra/"): v for k, v in tensors.items()}
    restored.load_state(sidecar["meta"]["buffer"], extras, torch.device("cpu"))
    assert len(restored) == len(buf) and torch.equal(restored.images[: len(buf)], buf.images[: len(buf)])
    assert torch.equal(restored.discriminator_batch(_batch(7)), buf.discriminator_batch(_batch(7)))
    assert torch.equal(restored.images, buf.images)


def test_history_half_holds_distinct_images():
    """The paper samples b/2 history images: none twice (a draw with replacement repeats one in 70 % of
    the draws of 5 out of 10)."""
    buf = ImageHistoryBuffer(10, torch.Generator().manual_seed(0))
    buf.push(_batch(0, 10))
    for _ in range(50):
        ids = _ids(buf.sample(5))
        assert len(set(ids)) == 5
    assert sorted(_ids(buf.sample(10))) == list(range(10))


def test_filling_push_never_overwrites_images_of_the_same_call():
    """B = 10, b/2 = 4 (B not a multiple of b/2): the third push appends 2 and must put the other 2 over
    images stored before, so all 4 new images are in the buffer."""
    for seed in range(20):
        buf = ImageHistoryBuffer(10, torch.Generator().manual_seed(seed))
        buf.push(_batch(0, 4))
        buf.push(_batch(1, 4))
        buf.push(_batch(2, 4))
        assert len(buf) == 10 and {200, 201, 202, 203} <= set(_ids(buf.images)), seed
