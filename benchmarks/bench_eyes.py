"""Eye simulator throughput: 35×55 grey images per second, rendering and writing a dataset.

Variants, all in this process on the same samples:

- baseline: the shader run eagerly (a straightforward batched PyTorch renderer, one kernel per op);
- simreal: the same shader under ``torch.compile`` (the default of ``simreal generate eyes``); the first
  batch's compile time is reported separately;
- end to end: ``generate_eyes`` writing PNGs + metadata (compiled), the figure a user sees.

It also checks that the compiled and eager renders are byte-identical.

    python benchmarks/bench_eyes.py [--batch 256] [--batches 8] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np
import torch

from simreal.simulate.eyes import EyeRenderer, EyeSimConfig, sample_parameters
from simreal.simulate.write import generate_eyes


def images_per_second(renderer: EyeRenderer, cfg: EyeSimConfig, batch: int, batches: int) -> tuple[float, np.ndarray]:
    t0, first = time.perf_counter(), None
    for b in range(batches):
        params = [sample_parameters(cfg, 0, b * batch + i) for i in range(batch)]
        out = renderer.render(params)
        first = out if first is None else first
    return batch * batches / (time.perf_counter() - t0), first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
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
    n = args.batch * args.batches
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        generate_eyes(f"{tmp}/eyes", n, seed=0, show_progress=False, device="cpu")
        end_to_end = n / (time.perf_counter() - t0)
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                   f"{torch.get_num_threads()} torch threads",
        "image": "35x55 grey, supersample 2",
        "baseline_eager_img_per_s": round(base, 1),
        "compiled_img_per_s": round(fast, 1),
        "speedup": round(fast / base, 2),
        "compile_warmup_s": round(compile_s, 1),
        "generate_eyes_end_to_end_img_per_s": round(end_to_end, 1),
        "identical_bytes": bool(np.array_equal(ref, out)),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
