"""Scenes/s of `simreal generate people` (640×640, Poisson(9) people) and where the time goes, for the
Anny bodies and the capsule bodies.

Compares, in the same run and for each body:

- baseline: the straightforward way, a MuJoCo model compiled and a GL context created for every scene;
- simreal, one process: one model with person slots and one GL context reused for every scene (Anny: also
  with the full 27,420-triangle mesh instead of the 1 cm decimation, ``scene.mesh_cell_m=0``);
- simreal, ``--workers 2``: two processes (end to end, including start-up and the final merge).

Run: ``python benchmarks/bench_people.py [--scenes 40] [--body anny|capsules|both]`` (Anny needs
``make body-model``).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

import simreal.simulate.people  # noqa: F401  (sets MUJOCO_GL before mujoco is imported)
from simreal.data.writer import encode_png
from simreal.simulate import render
from simreal.simulate.people import anny
from simreal.simulate.people import scene as scene_mod
from simreal.simulate.people.backgrounds import load_backgrounds, load_detector, resolve_backgrounds
from simreal.simulate.people.clothes import Atlas
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
    ap.add_argument("--body", choices=["anny", "capsules", "both"], default="both")
    args = ap.parse_args()
    backgrounds = load_backgrounds(resolve_backgrounds(None, print), 512, load_detector("opencv"), print, "opencv")
    for body in (["anny", "capsules"] if args.body == "both" else [args.body]):
        if body == "anny" and not anny.available():
            print("anny: no body model (run `make body-model`); skipped")
            continue
        measure(PeopleConfig(scene=dataclasses.replace(PeopleConfig().scene, body=body)), backgrounds, args.scenes)


def measure(cfg: PeopleConfig, backgrounds, scenes: int) -> None:
    # baseline: a fresh model and GL context per scene
    n_base = max(4, scenes // 4)
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
    bodies = [Timed(anny.AnnyModel, name) for name in ("shape", "proxy_shape", "pose")]
    paint = Timed(Atlas, "paint")
    uploads = [Timed(render.mujoco, name) for name in ("mjr_uploadMesh", "mjr_uploadTexture")]
    maker.timings = dict.fromkeys(maker.timings, 0.0)
    total, encode = run_maker(maker, scenes)
    for t in (pose, contacts, *bodies, paint, *uploads):
        t.restore()
    maker.close()
    one = scenes / total
    full = None
    if cfg.scene.body == "anny":
        full_mesh = SceneMaker(dataclasses.replace(cfg, scene=dataclasses.replace(cfg.scene, mesh_cell_m=0.0)),
                               backgrounds)
        run_maker(full_mesh, 2)
        full = scenes / run_maker(full_mesh, scenes)[0]
        full_mesh.close()

    out = Path(tempfile.mkdtemp())
    t0 = time.perf_counter()
    generate_people(out / "ds", count=scenes, seed=0, cfg=cfg, workers=2, show_progress=False, log=lambda _: None)
    two = scenes / (time.perf_counter() - t0)
    shutil.rmtree(out)

    scene_t = maker.timings["scene"]
    anny_t = sum(t.total for t in bodies)
    share = {
        "pose sampling": pose.total,
        "Anny bodies: shape, stand-in, skinning": anny_t,
        "collision checks (MuJoCo)": contacts.total,
        "Anny textures (clothes, hair, skin)": paint.total,
        "placement, other scene set-up": scene_t - pose.total - contacts.total - anny_t - paint.total,
        "rendering (meshes upload, RGB+depth, seg.)": maker.timings["render"],
        "  of which uploading meshes and textures": sum(t.total for t in uploads),
        "labels, background, compositing": maker.timings["labels"],
        "PNG encoding (image, mask, depth)": encode,
    }
    print(f"{cfg.scene.body} bodies: 640x640 scenes, Poisson(9) people, {scenes} scenes")
    print(f"  baseline (model + GL context per scene):   {base:6.2f} scenes/s")
    print(f"  simreal, 1 process (reused model/context): {one:6.2f} scenes/s  ({one / base:.1f}x)")
    if full is not None:
        print(f"    the same with the full mesh:             {full:6.2f} scenes/s")
    print(f"  simreal, --workers 2 (end to end):         {two:6.2f} scenes/s")
    print("  share of the 1-process time:")
    for name, t in share.items():
        print(f"    {name:42s} {100 * t / total:5.1f} %  ({1000 * t / scenes:6.1f} ms/scene)")


if __name__ == "__main__":
    main()
