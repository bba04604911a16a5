"""One step of keypoint training (the pose study's CPU recipe: small OpenPose with batch norm, 128-px crops,
batch 8, 50 % real / 50 % synthetic, first 4 layers frozen for synthetic samples), split into:

- batch assembly: person-centred crops with augmentation + confidence maps, PAFs and loss masks;
- the network step (forward through all stages, loss, backward, Adam), timed for the eager NCHW baseline,
  ``channels_last``, and ``torch.compile``, on the same batch and from the same weights.

    python benchmarks/bench_keypoints.py [--steps 20] [--data DATASET]

Without ``--data`` it renders 12 small D_S scenes to a temporary folder first.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import torch

from simreal.experiments.pose_study import PoseStudyConfig
from simreal.train.keypoints import KeypointTrainer, stage_loss
from simreal.train.sources import open_keypoint_sources


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--data", type=Path, default=None)
    args = ap.parse_args()
    cfg = PoseStudyConfig().train
    data = args.data
    if data is None:
        from simreal.simulate.people.generate import PeopleConfig, generate_people
        from simreal.simulate.people.scene import SceneConfig

        data = generate_people(Path(tempfile.mkdtemp()) / "ds", 12, 0,
                               PeopleConfig(scene=SceneConfig(width=320, height=320)), show_progress=False,
                               log=lambda _: None)
    trainer = KeypointTrainer(cfg, open_keypoint_sources([data, data], [0.5, 0.5], [], cfg), None, False)
    t = time.perf_counter()
    batches = [trainer.batch() for _ in range(args.steps)]
    batch_s = (time.perf_counter() - t) / args.steps
    print(f"keypoint training step, batch {cfg.batch_size}, {cfg.crop.size}-px crops, "
          f"{torch.get_num_threads()} threads")
    print(f"  batch assembly (crops + targets)     {1000 * batch_s:7.1f} ms")

    x, tgt, w, synth = batches[0]
    base = copy.deepcopy(trainer.model)
    ref = None
    for name, cl, compiled in (("baseline: eager NCHW", False, False), ("channels_last", True, False),
                               ("torch.compile", False, True)):
        model = copy.deepcopy(base)
        xb = x.contiguous(memory_format=torch.channels_last) if cl else x
        if cl:
            model = model.to(memory_format=torch.channels_last)
        net = torch.compile(model) if compiled else model
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)

        def step(net=net, opt=opt, xb=xb):
            loss = stage_loss(net(xb, cfg.freeze_layers, synth), tgt, w)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        t = time.perf_counter()
        for _ in range(2):
            step()
        warm = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(args.steps):
            step()
        ms = 1000 * (time.perf_counter() - t) / args.steps
        ref = ref or ms
        print(f"  network step, {name:24s} {ms:7.1f} ms  ({ref / ms:.2f}x)  warm-up {warm:.1f} s")


if __name__ == "__main__":
    main()
