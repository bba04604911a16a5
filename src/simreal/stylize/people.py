"""Where the people are: the synthetic people a D_M or D_S image shows (its instance mask) and the real people
whose style they take.

Real-person pixels, in order of preference (``segmenter``):

- ``auto``: the dataset's own segmentation (instance masks kept by ``generate mixed`` and ``import coco``
  from COCO polygons and RLE), else the keypoints;
- ``keypoints``: masks drawn from the labelled keypoints — each limb of the manifest's skeleton whose two
  ends are labelled *visible* (v = 2) as a line ``limb_width`` × the person's stature thick (stature =
  the labelled keypoints' vertical extent / 0.85, as D_M sizes its people). Thin on purpose: the style needs
  pixels that surely are the person, not all of them, and a line along a visible limb lies on it;
- ``grabcut``: OpenCV's HOG people detector (score ≥ 0.5), then OpenCV's GrabCut inside each box (3
  iterations, the box as "probably person", outside it "background"), eroded by 1 px; for photos with no
  annotations (``simreal stylize --style DIR``);
- ``package.module:function``: your segmenter, called with the RGB image (H, W, 3 uint8) and returning an
  (H, W) array, non-zero on people (an instance mask is fine).

In a D_M image the synthetic people are taken out of whatever a segmenter returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from simreal.utils.errors import SimrealError
from simreal.utils.plugins import load_function

Segmenter = Callable[[np.ndarray], np.ndarray]
SEGMENTERS = ("auto", "keypoints", "grabcut")
LIMB_WIDTH = 0.06  # × stature


def instance_people(mask: np.ndarray, people: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(synthetic, real) pixels of an instance mask, by each person's ``mask_id`` and ``synthetic`` flag."""
    ids = {True: [], False: []}
    for p in people:
        if p.get("mask_id"):
            ids[bool(p.get("synthetic", False))].append(int(p["mask_id"]))
    return np.isin(mask, ids[True]), np.isin(mask, ids[False])


def keypoint_people(people: list[dict[str, Any]], skeleton: list[list[int]], shape: tuple[int, int],
                    limb_width: float = LIMB_WIDTH) -> np.ndarray:
    """Pixels on the visible limbs of ``people`` (``skeleton`` 1-based, as in the manifest)."""
    import cv2

    canvas = np.zeros(shape, np.uint8)
    for p in people:
        kps = np.asarray(p["keypoints"], np.float64).reshape(-1, 3)
        labelled = kps[kps[:, 2] > 0]
        if len(labelled) < 2:
            continue
        thick = max(2, round(limb_width * np.ptp(labelled[:, 1]) / 0.85))
        for a, b in skeleton:
            pa, pb = kps[a - 1], kps[b - 1]
            if pa[2] == 2 and pb[2] == 2:
                cv2.line(canvas, (round(pa[0]), round(pa[1])), (round(pb[0]), round(pb[1])), 1, thick)
    return canvas.astype(bool)


def grabcut_people(image: np.ndarray, min_score: float = 0.5, iterations: int = 3) -> np.ndarray:
    """Pixels of the people OpenCV's HOG detector finds in ``image``, segmented by GrabCut in their boxes."""
    import cv2

    from simreal.data.importers.person_crops import hog_people

    h, w = image.shape[:2]
    out = np.zeros((h, w), bool)
    bgr = np.ascontiguousarray(image[..., ::-1])
    for x, y, bw, bh in hog_people(image, min_score):
        x0, y0 = max(0, x - bw // 4), max(0, y - bh // 8)  # some background around the box for GrabCut's model
        x1, y1 = min(w, x + bw + bw // 4), min(h, y + bh + bh // 8)
        rect = (x - x0, y - y0, min(bw, x1 - x), min(bh, y1 - y))
        if rect[2] < 8 or rect[3] < 8:
            continue
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
        cv2.grabCut(bgr[y0:y1, x0:x1], mask, rect, bgd, fgd, iterations, cv2.GC_INIT_WITH_RECT)
        person = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
        out[y0:y1, x0:x1] |= cv2.erode(person, np.ones((3, 3), np.uint8)).astype(bool)
    return out


def load_segmenter(spec: str) -> Segmenter | None:
    """A ``module:function`` segmenter, ``grabcut``, or None for ``auto`` and ``keypoints`` (which need labels)."""
    if spec in ("auto", "keypoints"):
        return None
    if spec == "grabcut":
        return grabcut_people
    return load_function(spec, "person segmenter", ", ".join(SEGMENTERS))


def segmented(segmenter: Segmenter, image: np.ndarray) -> np.ndarray:
    """``segmenter(image)`` as a boolean mask, checked."""
    out = np.asarray(segmenter(image))
    if out.shape != image.shape[:2]:
        raise SimrealError(f"the person segmenter returned shape {out.shape} for an image of {image.shape[:2]}")
    return out != 0


def real_people(image: np.ndarray, record: dict[str, Any], mask: np.ndarray | None, skeleton: list[list[int]],
                segmenter_spec: str, segmenter: Segmenter | None) -> tuple[np.ndarray, np.ndarray, str]:
    """(synthetic pixels, real-person pixels, where the real ones came from) of a D_M or D_S image."""
    people = record.get("people", [])
    shape = image.shape[:2]
    synthetic, real = instance_people(mask, people) if mask is not None else (np.zeros(shape, bool),) * 2
    if segmenter is not None:
        return synthetic, segmented(segmenter, image) & ~synthetic, segmenter_spec
    if segmenter_spec == "auto" and real.any():
        return synthetic, real, "dataset masks"
    truth = [p for p in people if not p.get("synthetic", False)]
    return synthetic, keypoint_people(truth, skeleton, shape) & ~synthetic, "keypoints"
