"""One Algorithm 1 iteration (Kg=2 refiner steps + Kd=1 discriminator step with the history buffer)
of the ``paper-gaze`` preset (55×35 grey, 4 ResNet blocks, 64 maps), timed for:

- baseline: a straightforward eager NCHW PyTorch implementation written here, the way public SimGAN
  ports do it (nn.Sequential, default memory format, no compilation);
- simreal with each combination of ``channels_last`` and ``torch.compile``.

All variants run in this process on the same inputs; the script prints images/s (refined synthetic
images per second, i.e. Kg·b per iteration) and the ratio to the baseline, and checks that every
variant has exactly the baseline's parameter shapes (the same networks).

    python benchmarks/bench_refiner.py [--batch-size 512] [--iters 3] [--warmup 2] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import torch
from torch import nn

from simreal.refine.config import preset
from simreal.refine.losses import REAL, REFINED, local_adversarial_loss, self_regularization_loss
from simreal.refine.train import SimGANTrainer
from simreal.utils.config import merge

H, W = 35, 55


class RandomBank:
    """Stands in for an ImageBank: fixed random images, sampled with the trainer's generators."""

    mode = "L"

    def __init__(self, n: int, seed: int):
        self.data = torch.rand((n, 1, H, W), generator=torch.Generator().manual_seed(seed)) * 2 - 1

    def __len__(self) -> int:
        return len(self.data)

    def images(self, idx: torch.Tensor) -> torch.Tensor:
        return self.data[idx]

    def sample(self, n: int, generator: torch.Generator):
        return self.data[torch.randint(len(self.data), (n,), generator=generator)], None


# -- the baseline: the straightforward way ------------------------------------------------------------
class BaselineBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(64, 64, 3, padding=1), nn.Conv2d(64, 64, 3, padding=1)

    def forward(self, x):
        return torch.relu(x + self.c2(torch.relu(self.c1(x))))


def baseline_networks() -> tuple[nn.Module, nn.Module]:
    refiner = nn.Sequential(nn.Conv2d(1, 64, 3, padding=1), nn.ReLU(), *[BaselineBlock() for _ in range(4)],
                            nn.Conv2d(64, 1, 1), nn.Tanh())
    disc = nn.Sequential(nn.Conv2d(1, 96, 3, 2, 1), nn.ReLU(), nn.Conv2d(96, 64, 3, 2, 1), nn.ReLU(),
                         nn.MaxPool2d(3, 1, 1), nn.Conv2d(64, 32, 3, 1, 1), nn.ReLU(), nn.Conv2d(32, 32, 1),
                         nn.ReLU(), nn.Conv2d(32, 2, 1))
    return refiner, disc


def baseline_iteration(R, D, opt_r, opt_d, syn, real, history, b, gen, reg_weight):
    for _ in range(2):
        x = syn[torch.randint(len(syn), (b,), generator=gen)]
        refined = R(x)
        for p in D.parameters():
            p.requires_grad_(False)
        loss = local_adversarial_loss(D(refined), REAL) + reg_weight * self_regularization_loss(refined, x)
        for p in D.parameters():
            p.requires_grad_(True)
        opt_r.zero_grad()
        loss.backward()
        opt_r.step()
    x = syn[torch.randint(len(syn), (b,), generator=gen)]
    y = real[torch.randint(len(real), (b,), generator=gen)]
    with torch.no_grad():
        refined = R(x)
    fake = torch.cat([refined[: b // 2], history[torch.randint(len(history), (b - b // 2,), generator=gen)]])
    history[torch.randint(len(history), (b // 2,), generator=gen)] = refined[b // 2:]
    loss = local_adversarial_loss(D(y), REAL) + local_adversarial_loss(D(fake), REFINED)
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()


def time_baseline(cfg, syn, real, iters, warmup):
    torch.manual_seed(0)
    R, D = baseline_networks()
    opt_r, opt_d = torch.optim.SGD(R.parameters(), lr=cfg.optim.lr), torch.optim.SGD(D.parameters(), lr=cfg.optim.lr)
    history = syn.data[: cfg.buffer_size].clone()
    gen = torch.Generator().manual_seed(0)
    for _ in range(warmup):
        baseline_iteration(R, D, opt_r, opt_d, syn.data, real.data, history, cfg.batch_size, gen, cfg.loss.reg_weight)
    t0 = time.perf_counter()
    for _ in range(iters):
        baseline_iteration(R, D, opt_r, opt_d, syn.data, real.data, history, cfg.batch_size, gen, cfg.loss.reg_weight)
    return (time.perf_counter() - t0) / iters


def shapes(*modules: nn.Module) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for m in modules for p in m.parameters()]


def time_simreal(cfg, syn, real, iters, warmup, run_dir):
    trainer = SimGANTrainer(cfg, syn, real, run_dir, show_progress=False)
    if shapes(trainer.R, trainer.D) != shapes(*baseline_networks()):
        raise SystemExit("benchmark error: simreal's networks differ from the baseline's")
    trainer.step = cfg.pretrain_refiner_steps + cfg.pretrain_discriminator_steps  # straight to Algorithm 1
    t_compile = time.perf_counter()
    for _ in range(warmup):
        trainer.train_step()
    t_compile = time.perf_counter() - t_compile
    t0 = time.perf_counter()
    for _ in range(iters):
        trainer.train_step()
    return (time.perf_counter() - t0) / iters, t_compile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = merge(preset("paper-gaze"), {"compile": False, "batch_size": args.batch_size,
                                       "buffer_size": 4 * args.batch_size,
                                       "device": args.device})
    syn, real = RandomBank(4 * args.batch_size, 0), RandomBank(4 * args.batch_size, 1)
    images_per_iter = cfg.kg * cfg.batch_size
    print(f"paper-gaze Algorithm 1 iteration: batch {cfg.batch_size}, {H}x{W} grey, Kg={cfg.kg}, Kd={cfg.kd}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}")
    base = time_baseline(cfg, syn, real, args.iters, args.warmup)
    rows = [("baseline eager NCHW", base, 0.0)]
    with tempfile.TemporaryDirectory() as tmp:
        for channels_last in (False, True):
            for compiled in (False, True):
                variant = merge(cfg, {"channels_last": channels_last, "compile": compiled})
                name = f"simreal {'channels_last' if channels_last else 'NCHW'}{' + compile' if compiled else ''}"
                sec, warm = time_simreal(variant, syn, real, args.iters, args.warmup, tmp)
                rows.append((name, sec, warm))
    print(f"{'variant':<34}{'s/iter':>9}{'images/s':>11}{'× baseline':>12}{'warm-up s':>11}")
    for name, sec, warm in rows:
        print(f"{name:<34}{sec:>9.3f}{images_per_iter / sec:>11.1f}{base / sec:>12.2f}{warm:>11.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"variant": n, "s_per_iter": s, "images_per_s": images_per_iter / s, "ratio": base / s,
                        "warmup_s": w} for n, s, w in rows], f, indent=2)


if __name__ == "__main__":
    main()
