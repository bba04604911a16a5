"""``simreal refine apply``: stream a dataset through a trained refiner into a ``refined`` dataset.

Memory is constant in the dataset size (one batch at a time). Each metadata line is copied
byte-for-byte, so the refined dataset's ``metadata.jsonl`` — every label — is identical to its parent's.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import numpy as np
import torch

from simreal.data.bank import ImageBank
from simreal.data.derive import derived_writer, parent_ref
from simreal.data.format import MANIFEST, Provenance
from simreal.data.reader import SimrealDataset, image_to_tensor, read_manifest, tensor_to_image
from simreal.refine.train import load_refiner, refiner_noise
from simreal.utils.checkpoint import latest_checkpoint
from simreal.utils.errors import DatasetError
from simreal.utils.fileio import sha256_file
from simreal.utils.progress import progress_bar

APPLY_STREAM = 6  # noise for sample i of a noise-input refiner comes from (refiner seed, 6, i)


def _checkpoint_json(path: Path) -> Path:
    if path.is_dir():
        found = latest_checkpoint(path)
        return found if found is not None else path
    return path.with_suffix(".json") if path.suffix in ("", ".safetensors") else path


def _made_by(out_dir: Path, provenance: Provenance) -> bool:
    """Whether ``out_dir`` is a finished dataset refined by the same checkpoint from the same parent (the
    batch size does not matter: refining is batch-independent)."""
    if not (out_dir / MANIFEST).is_file():
        return False
    old = read_manifest(out_dir)["provenance"]
    return (old["config"].get("checkpoint", {}).get("sha256") == provenance.config["checkpoint"]["sha256"]
            and [p["manifest_sha256"] for p in old["parents"]] == [p["manifest_sha256"] for p in provenance.parents])


def refine_dataset(checkpoint: str | Path, input_dir: str | Path, out_dir: str | Path, batch_size: int = 256,
                   device: str = "auto", overwrite: bool = False, show_progress: bool | None = None,
                   reuse_finished: bool = False) -> Path:
    """Write ``out_dir`` = R(every image of ``input_dir``) with the parent's labels; returns ``out_dir``.

    ``reuse_finished``: return a finished ``out_dir`` at once when it was made by the same checkpoint
    (weights' SHA-256) from the same parent dataset (manifest hash)."""
    checkpoint = _checkpoint_json(Path(checkpoint))
    refiner, sidecar = load_refiner(checkpoint, device)
    source = SimrealDataset(input_dir)
    m = source.manifest
    meta = sidecar["meta"]
    if m["image"]["mode"] != meta.get("image_mode", m["image"]["mode"]):
        raise DatasetError(f"image mode {m['image']['mode']} does not match the refiner's "
                           f"{meta['image_mode']}", input_dir)
    if meta.get("task") and meta["task"] != m["task"]:
        raise DatasetError(f"a {m['task']} dataset, but the refiner was trained on {meta['task']} images", input_dir)
    size = [m["image"].get("height"), m["image"].get("width")]
    if meta.get("image_size") and None not in size and size != meta["image_size"]:
        raise DatasetError(f"images are {size[1]}x{size[0]}, the refiner was trained on "
                           f"{meta['image_size'][1]}x{meta['image_size'][0]}", input_dir)
    ckpt_ref = {"path": str(checkpoint.resolve()), "sha256": sha256_file(checkpoint.with_suffix(".safetensors"))}
    provenance = Provenance(
        command=shlex.join(["simreal", *sys.argv[1:]]) if sys.argv else "refine_dataset",
        config={"checkpoint": ckpt_ref, "refine": sidecar["meta"]["config"], "batch_size": batch_size},
        seed=None,
        parents=[parent_ref(input_dir, m)],
        labels_copied_from=m["name"],
        extra={"checkpoint": ckpt_ref},
    )
    if reuse_finished and _made_by(Path(out_dir), provenance):
        return Path(out_dir)
    param = next(refiner.parameters())
    seed = sidecar["meta"]["config"].get("seed", 0)
    with derived_writer(source, out_dir, name=f"{m['name']}-refined", domain="refined", provenance=provenance,
                        overwrite=overwrite,
                        resume_key={"checkpoint": ckpt_ref, "parent": provenance.parents}) as writer, \
            progress_bar(show_progress) as bar:
        task = bar.add_task("refine apply", total=len(source), completed=writer.done, status="")
        for start in range(writer.done, len(source), batch_size):
            idx = range(start, min(start + batch_size, len(source)))
            lines = [source.raw_line(i) for i in idx]
            arrays = [source.image_array(i) for i in idx]
            batch = torch.stack([image_to_tensor(a, source.mode) for a in arrays]).to(param.device)
            with torch.no_grad():
                noise = refiner_noise(refiner, idx, batch.shape[2:], seed, APPLY_STREAM)
                refined = refiner(batch, noise)
            for line, out in zip(lines, refined, strict=True):
                writer.add_raw(tensor_to_image(out, source.mode), line)
            bar.advance(task, len(lines))
    return Path(out_dir)


@torch.no_grad()
def refine_bank(checkpoint: Path, bank: ImageBank, device: str, batch: int = 256) -> ImageBank:
    """``bank`` refined in memory (uint8 or uint16, as a dataset on disk stores it), with the same labels."""
    refiner, sidecar = load_refiner(checkpoint, device)
    dev = next(refiner.parameters()).device
    out = []
    for start in range(0, len(bank), batch):
        idx = range(start, min(start + batch, len(bank)))
        x = bank.images(torch.as_tensor(idx)).to(dev)
        noise = refiner_noise(refiner, idx, x.shape[2:], sidecar["meta"]["config"]["seed"], APPLY_STREAM)
        out.extend(tensor_to_image(r, bank.mode) for r in refiner(x, noise).cpu())
    return ImageBank.from_arrays(np.stack(out), bank.labels, bank.mode)
