"""The README's depth-hand figure: the same crops from two `simreal generate hands` datasets made with the same
seed (clean and kinect), one column per crop; a third row shows the clean crop with NYU's 14 joints.

    simreal generate hands --out /tmp/hands-clean --count 8 --seed 7
    simreal generate hands --out /tmp/hands-kinect --count 8 --seed 7 --preset kinect
    python scripts/hand_figure.py /tmp/hands-clean /tmp/hands-kinect docs/hands/clean_kinect.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from simreal.data.hands import NYU_SKELETON


def grey(path: Path) -> Image.Image:
    return Image.fromarray((np.asarray(Image.open(path)).astype(np.uint32) >> 8).astype(np.uint8)).convert("RGB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clean", type=Path)
    ap.add_argument("kinect", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--count", type=int, default=8)
    args = ap.parse_args()
    rows = [[json.loads(line) for line in (d / "metadata.jsonl").read_text().splitlines()][:args.count]
            for d in (args.clean, args.kinect)]
    size = rows[0][0]["crop"]["size"]
    canvas = Image.new("RGB", (size * args.count, size * 3), (255, 255, 255))
    for i, (c, k) in enumerate(zip(*rows, strict=True)):
        if c["frame"] != k["frame"] or c["view"] != k["view"]:
            raise SystemExit("the two datasets hold other frames: generate them with the same seed and views")
        clean, kinect = grey(args.clean / c["file_name"]), grey(args.kinect / k["file_name"])
        labelled = clean.copy()
        draw = ImageDraw.Draw(labelled)
        kp = c["keypoints"]
        for a, b in NYU_SKELETON:
            if kp[a][2] > 0 and kp[b][2] > 0:
                draw.line([tuple(kp[a][:2]), tuple(kp[b][:2])], fill=(0, 160, 0), width=1)
        for u, v, vis in kp:
            if vis > 0:
                colour = (220, 0, 0) if vis == 2 else (0, 90, 255)
                draw.ellipse([u - 2.5, v - 2.5, u + 2.5, v + 2.5], fill=colour)
        for row, img in enumerate((clean, kinect, labelled)):
            canvas.paste(img, (i * size, row * size))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
