"""Training images/s of the hand task's stacked hourglass (the CPU preset: 128-px input, 64 features, 2 stacks) on
224×224 depth crops, batch 16: the straightforward eager NCHW step against ``channels_last``, in the same run.

Run: ``python benchmarks/bench_hourglass.py [--steps 8] [--features 64] [--input-size 128] [--crop 224]``
(``--features 32 --input-size 64 --crop 64``: the CPU hand study's network). Random crops and joints: speed only.
"""

from __future__ import annotations

import argparse
import time

import torch

from simreal.tasks.hands import HEATMAP_OF_INPUT, HandNetConfig, StackedHourglass, heatmap_loss


def rate(cfg: HandNetConfig, crop: int, steps: int, channels_last: bool, batch: int = 16) -> float:
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = StackedHourglass(cfg).to(memory_format=fmt)
    opt = torch.optim.AdamW(net.parameters(), 2.5e-3)
    x = (torch.rand(batch, 1, crop, crop) * 2 - 1).contiguous(memory_format=fmt)
    kp = torch.rand(batch, 14, 3)
    kp[..., 2] = 2
    for i in range(steps + 2):  # two warm-up steps
        if i == 2:
            t0 = time.perf_counter()
        loss = heatmap_loss(net(x), kp).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--input-size", type=int, default=128, choices=sorted(HEATMAP_OF_INPUT))
    ap.add_argument("--crop", type=int, default=224)
    args = ap.parse_args()
    cfg = HandNetConfig(features=args.features, input_size=args.input_size, heatmap=HEATMAP_OF_INPUT[args.input_size])
    base = rate(cfg, args.crop, args.steps, False)
    last = rate(cfg, args.crop, args.steps, True)
    print(f"stacked hourglass, {args.features} features, input {args.input_size}, batch 16, {args.crop}×{args.crop} "
          f"crops, {torch.get_num_threads()} threads")
    print(f"  baseline: eager NCHW        {base:6.1f} images/s   ×1.00")
    print(f"  channels_last               {last:6.1f} images/s   ×{last / base:.2f}")


if __name__ == "__main__":
    main()
