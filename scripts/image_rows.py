"""One row of evenly spaced images per dataset, for side-by-side figures (person crops, eye crops...).

    .venv/bin/python scripts/image_rows.py DATASET [DATASET...] --out FIGURE.jpg [--n 16] [--cols C] [--width W]

Each dataset gives ``--n`` images taken at even steps through its records (the same ones every run), in
one row or wrapped into rows of ``--cols``; the datasets' images must have one size (person crops: 128×64).
``--width`` scales the figure down to that many pixels across. The format follows ``--out``'s extension.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from simreal.data.reader import SimrealDataset
from simreal.utils.images import grid_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--cols", type=int, default=None)
    ap.add_argument("--width", type=int, default=None)
    args = ap.parse_args()
    rows = []
    for root in args.datasets:
        ds = SimrealDataset(root)
        picks = np.linspace(0, len(ds) - 1, args.n).round().astype(int)
        images = torch.stack([ds[int(i)]["image"] for i in picks])
        rows += list(images.split(args.cols or args.n))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure = grid_image(rows, min_cell=128).convert("RGB")
    if args.width and figure.width > args.width:
        figure = figure.resize((args.width, round(figure.height * args.width / figure.width)), Image.LANCZOS)
    figure.save(args.out, quality=85)
    print(f"wrote {args.out}: {len(rows)} rows of {args.cols or args.n}")


if __name__ == "__main__":
    main()
