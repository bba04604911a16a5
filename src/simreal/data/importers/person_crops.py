"""Person crops of a dataset (``simreal import person-crops``): the images a realism observer compares when
the question is "do these people look real?", not "does this scene look real?".

- From a keypoint dataset (D_S, D_M, imported COCO): each person's ``bbox`` (the visible region).
- From unlabeled frames (task ``images``, e.g. ``simreal import video``): OpenCV's HOG people detector
  (``HOGDescriptor_getDefaultPeopleDetector``, in the ``opencv-python-headless`` wheel); detections with an
  SVM score under ``min_score`` are dropped.

Each box is widened or heightened about its centre to the output's aspect (1:2 by default, 128×64),
grown by ``margin`` on every side, and cut from the image (black where it leaves the frame), then resized
with area averaging. People under ``min_height`` pixels are skipped. Records keep ``source_index`` (the
image), ``box`` (x, y, w, h of the detection or label) and ``crop_box``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from simreal.data.format import ImageSpec, Provenance
from simreal.data.reader import SimrealDataset
from simreal.data.writer import DatasetWriter
from simreal.utils.errors import InputError
from simreal.utils.progress import progress_bar


@lru_cache(maxsize=1)
def _hog():
    """OpenCV's HOG descriptor with its default people SVM, built once per process."""
    import cv2

    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    return hog


def hog_people(image: np.ndarray, min_score: float) -> list[list[int]]:
    """Boxes (x, y, w, h) of OpenCV's HOG people detector on an RGB image, SVM score ≥ ``min_score``."""
    import cv2

    boxes, scores = _hog().detectMultiScale(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), winStride=(8, 8),
                                         padding=(8, 8), scale=1.05)
    return [[int(v) for v in b] for b, s in zip(boxes, np.ravel(scores), strict=True) if s >= min_score]


def crop_person(image: np.ndarray, box: list[float], size: tuple[int, int], margin: float
                ) -> tuple[np.ndarray, list[int]]:
    """``box`` (x, y, w, h) grown to the aspect of ``size`` (height, width) and by ``margin``, cut out
    (zero outside the image) and resized."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    aspect = size[1] / size[0]  # width / height
    h = max(h, w / aspect) * (1 + 2 * margin)
    w = h * aspect
    x0, y0 = round(cx - w / 2), round(cy - h / 2)
    x1, y1 = x0 + max(1, round(w)), y0 + max(1, round(h))
    canvas = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, image.shape[1]), min(y1, image.shape[0])
    if sx1 > sx0 and sy1 > sy0:
        canvas[sy0 - y0: sy1 - y0, sx0 - x0: sx1 - x0] = image[sy0:sy1, sx0:sx1]
    crop = Image.fromarray(canvas).resize((size[1], size[0]), Image.Resampling.BOX)
    return np.asarray(crop), [x0, y0, x1 - x0, y1 - y0]


def import_person_crops(src: str | Path, out: str | Path, size: tuple[int, int] = (128, 64), min_height: int = 64,
                        margin: float = 0.1, min_score: float = 0.5, limit: int | None = None,
                        overwrite: bool = False, show_progress: bool | None = None) -> dict[str, int]:
    """Write the person crops of the dataset ``src`` into ``out``; returns the counts."""
    ds = SimrealDataset(src)
    task = ds.manifest["task"]
    if task not in ("keypoints", "images"):
        raise InputError(f"{src}: person crops come from a keypoint dataset (labelled boxes) or unlabeled frames "
                         f"(task images), not task {task!r}")
    n = len(ds) if limit is None else min(limit, len(ds))
    source = "labelled boxes" if task == "keypoints" else f"OpenCV HOG people detector, score ≥ {min_score}"
    config = {"source": str(Path(src).resolve()), "boxes": source, "size": list(size), "min_height": min_height,
              "margin": margin, "images": n}
    counts = {"images": 0, "people": 0, "too small": 0, "written": 0}
    writer = DatasetWriter(out, name=f"{ds.manifest['name']}-person-crops", task="images",
                           domain=ds.manifest["domain"], image=ImageSpec("RGB", size[0], size[1]), label_schema={},
                           provenance=Provenance(f"simreal import person-crops {src}", config, 0,
                                                 extra={"unlabeled": True}), overwrite=overwrite)
    with writer, progress_bar(show_progress) as bar:
        task_id = bar.add_task("person crops", total=n, status="")
        for i in range(n):
            rec = ds.record(i)
            image = np.asarray(Image.fromarray(ds.image_array(i, rec)).convert("RGB"))
            boxes = ([p["bbox"] for p in rec.get("people", []) if p.get("bbox")] if task == "keypoints"
                     else hog_people(image, min_score))
            counts["images"] += 1
            for box in boxes:
                counts["people"] += 1
                if box[3] < min_height:
                    counts["too small"] += 1
                    continue
                crop, crop_box = crop_person(image, box, size, margin)
                if counts["written"] >= writer.done:  # else: written before an interruption
                    writer.add(crop, {"source_index": i, "box": [round(float(v), 1) for v in box],
                                      "crop_box": crop_box})
                counts["written"] += 1
            bar.update(task_id, advance=1, status=f"{counts['written']} people")
        if counts["written"] == 0:
            raise InputError(f"{src}: no person of at least {min_height} px in {n} images ({counts})")
    return counts
