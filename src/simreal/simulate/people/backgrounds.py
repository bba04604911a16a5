"""Background photographs: the built-in ones, a user's folder, and the filters the paper applies.

A background is rejected when it is smaller than ``min_size`` (paper: 512×512) or when a person detector
finds someone in it (the paper uses Mask R-CNN; simreal's default is OpenCV's built-in HOG people
detector together with its Haar frontal-face cascade, because HOG alone misses portraits). The detector
is pluggable: any callable ``(rgb uint8 array) -> list of (x, y, w, h) boxes``, given on the command line
as ``module:function``, or ``none``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from simreal.utils.errors import SimrealError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
Detector = Callable[[np.ndarray], list]


def builtin_backgrounds() -> list[Path]:
    """Photographs that ship with scikit-image, scikit-learn and matplotlib (no download)."""
    import matplotlib
    import skimage.data
    import sklearn.datasets

    folders = [Path(skimage.data.__file__).parent, Path(sklearn.datasets.__file__).parent / "images",
               Path(matplotlib.get_data_path()) / "sample_data"]
    return sorted(p for folder in folders for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def opencv_people_detector(image: np.ndarray) -> list:
    """OpenCV's HOG people detector plus its Haar frontal-face cascade; boxes (x, y, w, h)."""
    import cv2

    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    boxes, _ = hog.detectMultiScale(grey, winStride=(8, 8), padding=(8, 8), scale=1.05)
    face = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_alt2.xml")
    faces = face.detectMultiScale(grey, scaleFactor=1.05, minNeighbors=3, minSize=(24, 24))
    return [tuple(int(v) for v in b) for b in list(boxes) + list(faces)]


def load_detector(spec: str) -> Detector | None:
    """``opencv`` (default), ``none``, or ``package.module:function``."""
    if spec == "none":
        return None
    if spec == "opencv":
        return opencv_people_detector
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as e:
        raise SimrealError(f"person detector {spec!r} not found (use opencv, none or module:function): {e}") from e


@dataclass
class Backgrounds:
    """The accepted background images (RGB uint8) and why the others were rejected."""

    images: list[np.ndarray]
    names: list[str]
    rejected: list[dict[str, str]] = field(default_factory=list)

    def sample(self, rng: np.random.Generator, width: int, height: int) -> tuple[np.ndarray, dict[str, object]]:
        """A random crop (60–100 % of the short side, random flip) resized to ``width × height``."""
        i = int(rng.integers(len(self.images)))
        img = self.images[i]
        h, w = img.shape[:2]
        side = int(min(h, w) * rng.uniform(0.6, 1.0))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = Image.fromarray(img[y:y + side, x:x + side]).resize((width, height), Image.BILINEAR)
        out = np.asarray(crop)
        if rng.random() < 0.5:
            out = out[:, ::-1]
        return np.ascontiguousarray(out), {"background": self.names[i], "background_crop": [x, y, side]}


def load_backgrounds(folder: str | Path | None, min_size: int = 512, detector: Detector | None = None,
                     log: Callable[[str], object] | None = None) -> Backgrounds:
    """Read every image in ``folder`` (built-in photos when None) and keep the usable ones."""
    paths = builtin_backgrounds() if folder is None else sorted(
        p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if folder is not None and not Path(folder).is_dir():
        raise SimrealError(f"{folder}: background folder not found")
    images, names, rejected = [], [], []
    for p in paths:
        try:
            img = np.asarray(Image.open(p).convert("RGB"))
        except OSError as e:
            rejected.append({"file": p.name, "reason": f"unreadable: {e}"})
            continue
        h, w = img.shape[:2]
        if h < min_size or w < min_size:
            rejected.append({"file": p.name, "reason": f"too small ({w}×{h} < {min_size}×{min_size})"})
            continue
        boxes = detector(img) if detector is not None else []
        if len(boxes) > 0:
            rejected.append({"file": p.name, "reason": f"contains people ({len(boxes)} detections)"})
            continue
        images.append(img)
        names.append(p.name)
    if log is not None:
        for r in rejected:
            log(f"background rejected: {r['file']}: {r['reason']}")
    if not images:
        raise SimrealError(f"no usable background in {folder or 'the built-in photos'} "
                           f"({len(rejected)} rejected; need ≥ {min_size}×{min_size} without people)")
    return Backgrounds(images, names, rejected)
