"""Depth crops/s of `simreal generate hands` (224×224 crops of a 640×480 Kinect-like frame) with files written.

Compares, in the same run:

- baseline: the straightforward way, per crop: upload the posed mesh, render the whole 640×480 frame (colour,
  depth and geom ids, as the people renderer does), crop it, encode the PNG and write it;
- simreal, one process, clean and kinect presets: the mesh uploaded once per pose (3 views move the camera),
  only the window of the sensor image the hand covers rendered, depth only (`generate_hands`, end to end:
  start-up, labels, metadata and the dataset's files);
- simreal, ``--workers 2`` (end to end, including the processes' start-up and the final merge).

Run: ``python benchmarks/bench_hands.py [--crops 1500]`` (needs ``make body-model``).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import simreal.simulate  # noqa: F401  (sets MUJOCO_GL before mujoco is imported)
from simreal.data.hands import KINECT_FX, KINECT_FY, crop_depth, encode_crop, hand_crop
from simreal.data.writer import encode_png
from simreal.simulate.hands.generate import HandMaker, HandSimConfig, generate_hands


def baseline(n: int, out: Path) -> float:
    """Crops/s of the straightforward loop (module docstring)."""
    maker = HandMaker(HandSimConfig())
    r = maker.renderer
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for i in range(n):
        k, view = divmod(i, 3)
        frame = maker.frame(0, k)
        rot, pos = frame.cameras[view]
        r.upload(frame.posed.vertices)
        r.data.cam_xpos[0] = pos
        r.data.cam_xmat[0] = np.stack([rot[0], -rot[1], -rot[2]], axis=1).ravel()
        r.model.cam_sensorsize[0] = (640, 480)
        r.model.cam_intrinsic[0] = (KINECT_FX, KINECT_FY, 0.0, 0.0)
        _, depth, _ = r.renderer.render(r.data, 640, 480, meshes=[r.mesh])
        mm = np.where(np.isfinite(depth), np.round(depth * 1000), 0).astype(np.float32)
        crop = hand_crop(mm)
        (out / f"{i}.png").write_bytes(encode_png(encode_crop(crop_depth(mm, crop)), "I;16"))
    dt = time.perf_counter() - t0
    maker.close()
    return n / dt


def end_to_end(n: int, out: Path, preset: str, workers: int) -> float:
    t0 = time.perf_counter()
    generate_hands(out, n, seed=0, cfg=HandSimConfig(preset=preset), workers=workers, show_progress=False,
                   log=lambda _: None)
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--crops", type=int, default=1500)
    args = ap.parse_args()
    n = args.crops
    tmp = Path(tempfile.mkdtemp(prefix="bench-hands-"))
    try:
        rows = [("baseline: full frame, 2 passes, mesh uploaded per crop", baseline(n, tmp / "base"))]
        for preset in ("clean", "kinect"):
            for workers in (1, 2):
                rate = end_to_end(n, tmp / f"{preset}{workers}", preset, workers)
                rows.append((f"simreal {preset}, {workers} process{'es' if workers > 1 else ''} (end to end)", rate))
        print(f"{n} crops of 224×224 (16-bit PNG)")
        for name, rate in rows:
            print(f"  {name:<62} {rate:7.1f} crops/s   ×{rate / rows[0][1]:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
