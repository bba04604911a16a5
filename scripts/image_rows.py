"""One row of evenly spaced images per dataset, for side-by-side figures (person crops, eye crops...).

    .venv/bin/python scripts/image_rows.py DATASET [DATASET...] --out FIGURE.png [--n 16] [--height 128]

Each row holds ``--n`` images taken at even steps through the dataset's records (the same ones every
run), scaled to ``--height`` pixels.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from simreal.data.reader import SimrealDataset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--height", type=int, default=128)
    args = ap.parse_args()
    rows = []
    for root in args.datasets:
        ds = SimrealDataset(root)
        picks = np.linspace(0, len(ds) - 1, args.n).round().astype(int)
        tiles = []
        for i in picks:
            img = Image.fromarray(ds.image_array(int(i))).convert("RGB")
            tiles.append(img.resize((round(img.width * args.height / img.height), args.height), Image.BILINEAR))
        row = Image.new("RGB", (sum(t.width for t in tiles), args.height))
        x = 0
        for t in tiles:
            row.paste(t, (x, 0))
            x += t.width
        rows.append(row)
    out = Image.new("RGB", (max(r.width for r in rows), args.height * len(rows)))
    for k, r in enumerate(rows):
        out.paste(r, (0, k * args.height))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out.save(args.out)
    print(f"wrote {args.out}: {len(rows)} rows of {args.n}")


if __name__ == "__main__":
    main()
