"""Training images/s of the hand task's stacked hourglass (the CPU preset: 128-px input, 64 features, 2 stacks) on
224×224 depth crops, batch 16: the straightforward eager NCHW step against ``channels_last``, in the same run.

Run: ``python benchmarks/bench_hourglass.py [--steps 8] [--features 64]``. Random crops and joints: speed only.
"""

from __future__ import annotations

import argparse
import time

import torch

from simreal.tasks.hands import HandNetConfig, StackedHourglass, heatmap_loss


def rate(features: int, steps: int, channels_last: bool, batch: int = 16) -> float:
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = StackedHourglass(HandNetConfig(features=features)).to(memory_format=fmt)
    opt = torch.optim.AdamW(net.parameters(), 2.5e-3)
    x = (torch.rand(batch, 1, 224, 224) * 2 - 1).contiguous(memory_format=fmt)
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
    args = ap.parse_args()
    base = rate(args.features, args.steps, False)
    last = rate(args.features, args.steps, True)
    print(f"stacked hourglass, {args.features} features, batch 16, 224×224 crops, {torch.get_num_threads()} threads")
    print(f"  baseline: eager NCHW        {base:6.1f} images/s   ×1.00")
    print(f"  channels_last               {last:6.1f} images/s   ×{last / base:.2f}")


if __name__ == "__main__":
    main()
