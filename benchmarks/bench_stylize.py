"""Images/s of domain stylization on 640×640 D_M images with Poisson(4) synthetic people (in memory, no PNG I/O):

- baseline: the straightforward unmasked transfer, the paper's "naive application on the whole image": one
  colour map from the whole D_M image to its whole real source image, then kornia's exact guided filter
  (default arguments) over the whole image;
- the same unmasked transfer with simreal's fast guided filter (subsampled 4×, separable box sums);
- simreal's masked transfer (``simreal stylize`` defaults: the real people's colours per region, the
  synthetic people recoloured at 600 px and put back at full resolution inside their masks).

The data: a D_S of 640×640 capsule scenes (the "real" images) and D_M on them, rendered first (or ``--mixed``
your own D_M).

    python benchmarks/bench_stylize.py [--images 8] [--repeat 3] [--mixed D_M]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from simreal.data.derive import sample_mask
from simreal.data.reader import SimrealDataset, read_manifest
from simreal.stylize.colour import ColourStats
from simreal.stylize.image import StylizeConfig, style_stats, stylize_image
from simreal.stylize.people import real_people


def builtin_mixed(root: Path, images: int) -> Path:
    from simreal.simulate.people.generate import PeopleConfig, generate_people
    from simreal.simulate.people.mixed import MixedConfig, generate_mixed
    from simreal.simulate.people.scene import SceneConfig

    scene = SceneConfig(width=640, height=640, body="capsules")
    real = generate_people(root / "ds", count=images, seed=1, cfg=PeopleConfig(scene=scene), log=lambda _: None)
    cfg = MixedConfig(renders_per_image=1, scene=dataclasses.replace(MixedConfig().scene, body="capsules"))
    return generate_mixed(real, root / "dm", seed=2, cfg=cfg, log=lambda _: None)


def load(mixed: Path, n: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(D_M image, its real source image, synthetic mask, real-person mask) of the first ``n`` images."""
    ds = SimrealDataset(mixed)
    parent = Path(read_manifest(mixed)["provenance"]["parents"][0]["path"])
    skeleton = ds.manifest.get("skeleton") or []
    out = []
    for i in range(min(n, len(ds))):
        rec = ds.record(i)
        image = np.asarray(Image.open(mixed / rec["file_name"]).convert("RGB"))
        source = np.asarray(Image.open(parent / rec["source"]["file_name"]).convert("RGB"))
        syn, real, _ = real_people(image, rec, sample_mask(ds, rec), skeleton, "auto", None)
        out.append((image, source, syn, real))
    return out


def unmasked(image: np.ndarray, source: np.ndarray, cfg: StylizeConfig) -> np.ndarray:
    everything = np.ones(image.shape[:2], bool)
    style = ColourStats.of(source.reshape(-1, 3), cfg.min_pixels, use_regions=False)
    return stylize_image(image, everything, style, cfg)


def masked(image: np.ndarray, syn: np.ndarray, real: np.ndarray, cfg: StylizeConfig) -> np.ndarray:
    return stylize_image(image, syn, style_stats(image, real, cfg), cfg)


def rate(fn, data, repeat: int) -> float:
    fn(*data[0])  # warm-up
    t = time.perf_counter()
    for _ in range(repeat):
        for item in data:
            fn(*item)
    return repeat * len(data) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mixed", type=Path, help="a D_M dataset (default: render one)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mixed = args.mixed or builtin_mixed(Path(tmp), args.images)
        data = load(mixed, args.images)
        ds = SimrealDataset(mixed)
        syn_people = [sum(1 for p in ds.record(i)["people"] if p.get("synthetic")) for i in range(len(data))]
    h, w = data[0][0].shape[:2]
    share = np.mean([s.mean() for _, _, s, _ in data])
    print(f"stylize, {len(data)} images {w}x{h}, synthetic people on {100 * share:.1f} % of the pixels"
          + f" ({np.mean(syn_people):.1f} per image)"
          + f", {torch.get_num_threads()} threads")
    default = StylizeConfig()
    exact = dataclasses.replace(default, regions=False, work_size=0, smooth_subsample=1)
    fast = dataclasses.replace(default, regions=False, work_size=0)
    rows = {
        "baseline: unmasked whole image, exact guided filter": rate(
            lambda im, src, s, r: unmasked(im, src, exact), data, max(1, args.repeat // 3)),
        "unmasked whole image, fast guided filter": rate(lambda im, src, s, r: unmasked(im, src, fast), data,
                                                          args.repeat),
        "simreal: masked, per region, 600 px (default)": rate(lambda im, src, s, r: masked(im, s, r, default), data,
                                                              args.repeat),
    }
    base = next(iter(rows.values()))
    for name, r in rows.items():
        print(f"{name:<52} {r:7.2f} images/s  ({r / base:.1f}x)")


if __name__ == "__main__":
    main()
