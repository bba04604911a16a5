"""Scenes/s of `simreal generate people` (640×640, Poisson(9) people) and where the time goes.

Compares, in the same run:

- baseline: the straightforward way, a MuJoCo model compiled and a GL context created for every scene;
- simreal, one process: one model with person slots and one GL context reused for every scene;
- simreal, ``--workers 2``: two processes (end to end, including start-up and the final merge).

Run: ``python benchmarks/bench_people.py [--scenes 40]``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import simreal.simulate.people  # noqa: F401  (sets MUJOCO_GL before mujoco is imported)
from simreal.data.writer import encode_png
from simreal.simulate.people import scene as scene_mod
from simreal.simulate.people.backgrounds import load_backgrounds, load_detector
from simreal.simulate.people.generate import PeopleConfig, SceneMaker, generate_people


class Timed:
    """Replaces ``owner.name`` (a function or method) by a wrapper that accumulates its wall time."""

    def __init__(self, owner, name):
        self.owner, self.name, self.fn, self.total = owner, name, getattr(owner, name), 0.0

        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return self.fn(*a, **k)
            finally:
                self.total += time.perf_counter() - t

        setattr(owner, name, wrapper)

    def restore(self):
        setattr(self.owner, self.name, self.fn)


def run_maker(maker: SceneMaker, n: int, start: int = 1000) -> tuple[float, float]:
    """Seconds for n scenes (render + labels + PNG encoding) and of that, encoding."""
    encode = 0.0
    t0 = time.perf_counter()
    for i in range(start, start + n):
        image, mask, depth, _ = maker.make(0, i)
        t = time.perf_counter()
        encode_png(image, "RGB"), encode_png(mask, "L"), encode_png(depth, "I;16")
        encode += time.perf_counter() - t
    return time.perf_counter() - t0, encode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=40)
    args = ap.parse_args()
    cfg = PeopleConfig()
    backgrounds = load_backgrounds(None, 512, load_detector("opencv"))

    # baseline: a fresh model and GL context per scene
    n_base = max(4, args.scenes // 4)
    t0 = time.perf_counter()
    for i in range(n_base):
        maker = SceneMaker(cfg, backgrounds)
        image, mask, depth, _ = maker.make(0, 1000 + i)
        encode_png(image, "RGB"), encode_png(mask, "L"), encode_png(depth, "I;16")
        maker.close()
    base = n_base / (time.perf_counter() - t0)

    maker = SceneMaker(cfg, backgrounds)
    run_maker(maker, 2)  # warm-up
    pose = Timed(scene_mod, "sample_pose")
    contacts = Timed(scene_mod.Poser, "contacts")
    maker.timings = dict.fromkeys(maker.timings, 0.0)
    total, encode = run_maker(maker, args.scenes)
    pose.restore(), contacts.restore()
    maker.close()
    one = args.scenes / total

    out = Path(tempfile.mkdtemp())
    t0 = time.perf_counter()
    generate_people(out / "ds", count=args.scenes, seed=0, cfg=cfg, workers=2, show_progress=False, log=lambda _: None)
    two = args.scenes / (time.perf_counter() - t0)
    shutil.rmtree(out)

    scene_t = maker.timings["scene"]
    share = {
        "pose sampling": pose.total,
        "collision checks (MuJoCo)": contacts.total,
        "bodies, placement, other scene set-up": scene_t - pose.total - contacts.total,
        "rendering (RGB+depth, segmentation)": maker.timings["render"],
        "labels, background, compositing": maker.timings["labels"],
        "PNG encoding (image, mask, depth)": encode,
    }
    print(f"640x640 scenes, Poisson(9) people, {args.scenes} scenes")
    print(f"  baseline (model + GL context per scene):   {base:6.2f} scenes/s")
    print(f"  simreal, 1 process (reused model/context): {one:6.2f} scenes/s  ({one / base:.1f}x)")
    print(f"  simreal, --workers 2 (end to end):         {two:6.2f} scenes/s")
    print("  share of the 1-process time:")
    for name, t in share.items():
        print(f"    {name:40s} {100 * t / total:5.1f} %  ({1000 * t / args.scenes:6.1f} ms/scene)")


if __name__ == "__main__":
    main()
