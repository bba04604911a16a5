"""Zero-label MNIST accuracy of the pen-stroke digit simulator at several control-point jitters: for each σ,
10,000 synthetic digits (the MNIST demo's simulator with `stroke_jitter=σ`), then the demo's classifier trained
on them alone, one per seed, tested on the official MNIST test digits (the README's jitter sweep).

    .venv/bin/python scripts/mnist_zero_label.py MNIST_DATASET WORK_DIR [SIGMA ...] [--seeds N] [--steps N]

MNIST_DATASET is an `simreal import mnist` output (its `test` split is used); WORK_DIR keeps the synthetic
sets, so a rerun reuses them. Default σ: 0.05 0.08 0.11 0.14.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from simreal.data.bank import ImageBank
from simreal.data.reader import SimrealDataset
from simreal.evaluate.classification import evaluate_classifier
from simreal.experiments.digits_demo import DemoConfig
from simreal.simulate.write import generate_digits
from simreal.train.task import TaskTrainer
from simreal.utils.report import mean_std


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mnist", type=Path)
    p.add_argument("work", type=Path)
    p.add_argument("sigmas", type=float, nargs="*", default=[0.05, 0.08, 0.11, 0.14])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=None, help="classifier steps (default: the MNIST demo's)")
    args = p.parse_args()
    demo = DemoConfig.mnist()
    classifier = demo.classifier if args.steps is None else dataclasses.replace(demo.classifier, steps=args.steps)
    test = ImageBank(SimrealDataset(args.mnist / "test"), "label")
    for sigma in args.sigmas:
        path = args.work / f"strokes-jitter-{sigma:g}"
        generate_digits(path, demo.synthetic_count, demo.data_seed,  # resumes, or reuses a finished set
                        cfg=dataclasses.replace(demo.simulator, stroke_jitter=sigma))
        synthetic = ImageBank(SimrealDataset(path), "label")
        accuracies = []
        for seed in range(args.seeds):
            t0 = time.time()
            model = TaskTrainer(dataclasses.replace(classifier, seed=seed), [(synthetic, 1.0)],
                                show_progress=False).train()
            accuracies.append(100 * evaluate_classifier(model, test)["accuracy"])
            print(f"σ {sigma:g} seed {seed}: {accuracies[-1]:.1f} % ({time.time() - t0:.0f} s)", flush=True)
        s = mean_std(accuracies)
        print(f"σ {sigma:g}: synthetic only {s['mean']:.1f} ± {s['std']:.1f} % on {len(test)} MNIST test digits")


if __name__ == "__main__":
    main()
