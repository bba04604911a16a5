"""One row of evenly spaced images per dataset, for side-by-side figures (person crops, eye crops...).

    .venv/bin/python scripts/image_rows.py DATASET [DATASET...] --out FIGURE.jpg [--n 16]

Each row holds ``--n`` images taken at even steps through the dataset's records (the same ones every
run); the datasets' images must have one size (person crops: 128×64). The format follows ``--out``'s
extension.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from simreal.data.reader import SimrealDataset
from simreal.utils.images import grid_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=16)
    args = ap.parse_args()
    rows = []
    for root in args.datasets:
        ds = SimrealDataset(root)
        picks = np.linspace(0, len(ds) - 1, args.n).round().astype(int)
        rows.append(torch.stack([ds[int(i)]["image"] for i in picks]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    grid_image(rows, min_cell=128).convert("RGB").save(args.out, quality=85)
    print(f"wrote {args.out}: {len(rows)} rows of {args.n}")


if __name__ == "__main__":
    main()
