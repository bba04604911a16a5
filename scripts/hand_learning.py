"""How fast the CPU-sized stacked hourglass learns depth hands, and what its loss weighting and learning rate do.

Trains `tasks.hands.StackedHourglass` (32 features by default, 128-px input) on a `simreal generate hands`
dataset exactly as `simreal train --task hands` does (AdamW, batch 16, the task's augmentation), once per
variant, and prints every 100 steps the mean joint error (224-crop pixels) on the first 200 crops of a held-out
dataset:

    simreal generate hands --out /tmp/hl/train --count 3000 --set size=128
    simreal generate hands --out /tmp/hl/test --count 300 --seed 3 --set size=128
    python scripts/hand_learning.py /tmp/hl/train /tmp/hl/test --steps 200 --variant plain-1e-3 \\
        --variant plain-2.5e-3 --variant weighted-1e-3 --variant weighted-2.5e-3

A variant is ``plain`` (the heatmaps' mean squared error) or ``weighted`` (each pixel weighted by
1 + FOREGROUND × target, the task's loss), then the learning rate.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from simreal.data.bank import ImageBank
from simreal.data.reader import open_labeled
from simreal.tasks import hands
from simreal.train.task import HandAugmentConfig


def run(train: ImageBank, test: ImageBank, variant: str, steps: int, net_cfg: hands.HandNetConfig) -> None:
    loss_kind, lr = variant.split("-", 1)
    foreground = {"plain": 0.0, "weighted": hands.FOREGROUND}[loss_kind]
    torch.manual_seed(0)
    net = hands.StackedHourglass(net_cfg)
    opt = torch.optim.AdamW(net.parameters(), float(lr))
    gen = torch.Generator().manual_seed(0)
    idx = torch.arange(min(200, len(test)))
    truth = test.labels[idx].numpy()
    scale = 224 / test.images(idx[:1]).shape[-1]
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        net.train()
        x, y = train.sample(16, gen)
        x, y = hands.prepare_batch(x, y.float(), HandAugmentConfig(), gen)
        loss = hands.heatmap_loss(net(x), y, foreground=foreground).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == steps:
            pred = hands.predict_joints(net, test.images(idx)).numpy()
            err = np.linalg.norm(pred - truth[..., :2], axis=-1)[truth[..., 2] > 0].mean() * scale
            print(f"{variant:<18} step {step:5d}  mean joint error {err:5.1f} px  ({time.perf_counter() - t0:.0f} s)",
                  flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--input-size", type=int, default=128, help="64 (32x32 heatmaps), 128 or 256")
    ap.add_argument("--variant", action="append", default=None)
    args = ap.parse_args()
    train = ImageBank(open_labeled(args.train, "hand", "keypoints"), "keypoints")
    test = ImageBank(open_labeled(args.test, "hand", "keypoints"), "keypoints")
    for variant in args.variant or ["weighted-2.5e-3"]:
        net_cfg = hands.HandNetConfig(features=args.features, input_size=args.input_size,
                                      heatmap=hands.HEATMAP_OF_INPUT[args.input_size])
        run(train, test, variant, args.steps, net_cfg)


if __name__ == "__main__":
    main()
