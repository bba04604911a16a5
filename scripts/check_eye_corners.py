"""How far MediaPipe's eye corners are from hand-placed ones (docs/real-eyes/hand_corners.json).

    make real-data-faces real-data-feat mediapipe
    .venv/bin/python scripts/check_eye_corners.py [--cache data/real-cache]

Each listed frame is saved as a PNG and given to the MediaPipe worker (static-image mode, as `simreal
import face-video` runs it); the eye on the listed side is matched to the hand-placed corners. For
comparison, the crop centre of both detectors (MediaPipe: the corners' midpoint; OpenCV's Haar
cascades: the eye box's centre) is compared with the midpoint of the hand-placed corners.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import cv2

from simreal.data.importers.face_video import MEDIAPIPE_WORKER, HaarEyes, frames, mediapipe_python, sorted_pairs

HAND = Path(__file__).resolve().parents[1] / "docs" / "real-eyes" / "hand_corners.json"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="data/real-cache", help="the real-data cache (make real-data)")
    args = ap.parse_args()
    python = mediapipe_python()
    if python is None:
        sys.exit("error: MediaPipe is not set up: `make mediapipe`")
    eyes = json.loads(HAND.read_text())["eyes"]
    haar, haar_found = HaarEyes(), []
    with tempfile.TemporaryDirectory() as tmp:
        pngs = []
        for k, eye in enumerate(eyes):
            path = Path(args.cache) / eye["source"]
            if not path.is_file():
                sys.exit(f"error: {path} is missing: `make real-data-faces real-data-feat`")
            image = next(im for i, im in frames(path, 1) if i == eye["frame"])
            pngs.append(str(Path(tmp) / f"{k}.png"))
            cv2.imwrite(pngs[-1], image)
            haar_found.append({e["side"]: e for e in haar(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), Counter())})
        lines = subprocess.run([python, str(MEDIAPIPE_WORKER), "1", *pngs], capture_output=True, text=True,
                               check=True).stdout.splitlines()
    errors, relative, centre = [], [], {"MediaPipe": [], "Haar": []}
    print(f"{'source':34} {'frame':>5} side   corner errors (px)  distance   crop centre error (px): MediaPipe  Haar")
    for eye, line, by_haar in zip(eyes, lines, haar_found, strict=True):
        found = dict(sorted_pairs(json.loads(line)["eyes"])).get(eye["side"])
        if found is None:
            print(f"{eye['source']:34} {eye['frame']:5} {eye['side']:6} not found")
            continue
        hand = eye["corners"]
        distance = math.dist(*hand)
        e = [math.dist(a, b) for a, b in zip(sorted(found["corners"]), hand, strict=True)]
        errors += e
        relative += [x / distance for x in e]
        mid = [(hand[0][0] + hand[1][0]) / 2, (hand[0][1] + hand[1][1]) / 2]
        centre["MediaPipe"].append(math.dist(mid, [(found["corners"][0][0] + found["corners"][1][0]) / 2,
                                                   (found["corners"][0][1] + found["corners"][1][1]) / 2]) / distance)
        h = by_haar.get(eye["side"])
        haar_error = math.dist(mid, h["center"]) if h else float("nan")
        if h:
            centre["Haar"].append(haar_error / distance)
        print(f"{eye['source']:34} {eye['frame']:5} {eye['side']:6} {e[0]:5.1f} {e[1]:5.1f}   {distance:8.1f}   "
              f"{centre['MediaPipe'][-1] * distance:35.1f} {haar_error:5.1f}")
    print(f"{len(errors)} corners: mean {statistics.mean(errors):.2f} px, median {statistics.median(errors):.2f}, "
          f"max {max(errors):.2f}; mean {100 * statistics.mean(relative):.1f} % of the corner distance, "
          f"max {100 * max(relative):.1f} %")
    for name, c in centre.items():
        stats = f", error mean {100 * statistics.mean(c):.1f} %, max {100 * max(c):.1f} %" if c else ""
        print(f"crop centre, {name}: found {len(c)} of {len(eyes)}{stats} of the corner distance")
    return 0


if __name__ == "__main__":
    sys.exit(main())
