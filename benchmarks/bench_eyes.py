"""Eye simulator throughput: 35×55 grey images per second, rendering and writing a dataset.

Variants, all in this process on the same samples:

- baseline: the shader run eagerly (a straightforward batched PyTorch renderer, one kernel per op);
- simreal: the same shader under ``torch.compile`` (the default of ``simreal generate eyes``); the first
  batch's compile time is reported separately;
- render + labels: ``render_eyes`` (parameter sampling, shading, labels), the bound for any writer;
- writers, end to end with files written (compiled renderer): the baseline writes each image as the
  round-1 writer did (render a chunk, then per image: PNG, temporary file renamed into place, metadata
  line), next to ``generate_eyes`` (images written in place by a second thread while the next chunk
  renders) with 1 and 2 worker processes.

It also checks that the compiled and eager renders are byte-identical and that every writer wrote the
same image bytes.

    python benchmarks/bench_eyes.py [--batch 256] [--batches 8] [--threads N] [--count 8192] [--dir .]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from simreal.data.format import image_file_name
from simreal.data.writer import encode_png
from simreal.simulate.eyes import EyeRenderer, EyeSimConfig, render_eyes, sample_parameters
from simreal.simulate.write import EYE_CHUNK, generate_eyes
from simreal.utils.fileio import atomic_write_bytes


def images_per_second(renderer: EyeRenderer, cfg: EyeSimConfig, batch: int, batches: int) -> tuple[float, np.ndarray]:
    t0, first = time.perf_counter(), None
    for b in range(batches):
        params = [sample_parameters(cfg, 0, b * batch + i) for i in range(batch)]
        out = renderer.render(params)
        first = out if first is None else first
    return batch * batches / (time.perf_counter() - t0), first


def baseline_writer(out: Path, count: int, cfg: EyeSimConfig, renderer: EyeRenderer) -> None:
    """The round-1 writer: one chunk rendered, then each image PNG-encoded and renamed into place in turn."""
    (out / "images").mkdir(parents=True)
    with open(out / "metadata.jsonl", "w") as meta:
        for start in range(0, count, EYE_CHUNK):
            images, records = render_eyes(cfg, 0, range(start, start + EYE_CHUNK), renderer)
            for i, image, record in zip(range(start, min(start + EYE_CHUNK, count)), images, records, strict=False):
                name = image_file_name(i)
                atomic_write_bytes(out / name, encode_png(image, "L"))
                meta.write(json.dumps({"file_name": name, **record}) + "\n")
                meta.flush()


def image_bytes(root: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted((root / "images").rglob("*.png"))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--count", type=int, default=8192, help="images written by each writer")
    ap.add_argument("--dir", default=".", help="where the datasets are written (and deleted): the disk measured")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = EyeSimConfig()
    eager = EyeRenderer(cfg)
    images_per_second(eager, cfg, args.batch, 1)  # warm-up
    base, ref = images_per_second(eager, cfg, args.batch, args.batches)
    compiled = EyeRenderer(cfg, compile=True)
    t0 = time.perf_counter()
    images_per_second(compiled, cfg, args.batch, 1)
    compile_s = time.perf_counter() - t0
    fast, out = images_per_second(compiled, cfg, args.batch, args.batches)
    n = args.count
    t0 = time.perf_counter()
    for start in range(0, n, EYE_CHUNK):
        render_eyes(cfg, 0, range(start, start + EYE_CHUNK), compiled)
    bound = n / (time.perf_counter() - t0)
    writers = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        t0 = time.perf_counter()
        baseline_writer(Path(tmp) / "baseline", n, cfg, compiled)
        writers["baseline_round1_writer"] = n / (time.perf_counter() - t0)
        for workers in (1, 2):
            t0 = time.perf_counter()
            generate_eyes(f"{tmp}/w{workers}", n, seed=0, show_progress=False, device="cpu", workers=workers,
                          log=lambda _: None)
            writers[f"generate_eyes_{workers}_worker"] = n / (time.perf_counter() - t0)
        same = image_bytes(Path(tmp) / "baseline") == image_bytes(Path(tmp) / "w1") == image_bytes(Path(tmp) / "w2")
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                   f"{torch.get_num_threads()} torch threads",
        "image": "35x55 grey, supersample 2",
        "baseline_eager_img_per_s": round(base, 1),
        "compiled_img_per_s": round(fast, 1),
        "speedup": round(fast / base, 2),
        "compile_warmup_s": round(compile_s, 1),
        "identical_bytes": bool(np.array_equal(ref, out)),
        "render_and_labels_img_per_s": round(bound, 1),
        **{f"{k}_img_per_s": round(v, 1) for k, v in writers.items()},
        "writer_speedup_vs_baseline": {k: round(v / writers["baseline_round1_writer"], 2) for k, v in writers.items()},
        "writers_wrote_identical_images": same,
        "count": n,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
