"""Training steps/s of the realism observer (``simreal turing observer``) on 35×55 grey eyes, batch 64:

- baseline: the straightforward eager NCHW loop;
- ``channels_last`` memory format;
- ``torch.compile`` of the model (warm-up excluded, reported separately);

all in this process on the same random inputs, from the same initial weights.

    python benchmarks/bench_observer.py [--steps 200] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
import torch.nn.functional as F

from simreal.evaluate.realism import Observer


def steps_per_s(model, x, y, steps, channels_last):
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t = time.perf_counter()
    for _ in range(3):  # warm-up (compilation for compiled models)
        step()
    warm = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - t), warm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    torch.manual_seed(0)
    x, y = torch.randn(args.batch_size, 1, 35, 55), torch.randint(0, 2, (args.batch_size,)).float()
    base = Observer(1)
    variants = {
        "baseline: eager NCHW": (copy.deepcopy(base), False),
        "channels_last": (copy.deepcopy(base), True),
        "torch.compile": (torch.compile(copy.deepcopy(base)), False),
        "torch.compile + channels_last": (torch.compile(copy.deepcopy(base)), True),
    }
    print(f"observer training, 35x55 grey, batch {args.batch_size}, {torch.get_num_threads()} threads")
    ref = None
    for name, (model, cl) in variants.items():
        rate, warm = steps_per_s(model, x.clone(), y, args.steps, cl)
        ref = ref or rate
        print(f"  {name:32s} {rate:7.1f} steps/s  ({rate / ref:.2f}x)  warm-up {warm:.1f} s")


if __name__ == "__main__":
    main()
