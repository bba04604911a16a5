"""Unlabeled real eye images from face videos and photos (``simreal import face-video``).

For every ``every``-th frame of each video (and every photo), OpenCV's Haar cascades that ship inside the
``opencv-python`` wheel find faces (``haarcascade_frontalface_default``) and, in the upper half of each
face, eyes (``haarcascade_eye``). A face with exactly two eye detections at a plausible place (side by
side, each 12–45 % of the face's width) gives two crops; anything else is skipped and counted. The crop
is centred on the eye box, ``crop_scale`` × its width wide (the box is about 1.6 × the corner distance
wide, so the default 1.0 is close to the UnityEyes crop's 1.5 × the corner distance), with the output's
aspect (55:35 by default), resized with area averaging and converted to grey. Eyes narrower than
``min_eye_px`` pixels are skipped (upsampling them would invent detail).

Closed eyes are mostly not detected by the eye cascade, so few survive; no eye-openness check is made
beyond that. The records carry no gaze label (the pool is for the refiner and the realism observer):
``source`` (file name), ``frame``, ``side`` (``left``/``right`` in the image), ``eye_box`` and
``crop_box`` (x0, y0, x1, y1 in the frame), ``face_box``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from simreal.data.format import ImageSpec, Provenance
from simreal.data.writer import DatasetWriter
from simreal.utils.errors import InputError, NotFoundError
from simreal.utils.progress import progress_bar

VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mov", ".mkv")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def media_files(src: str | Path) -> list[Path]:
    """The videos and photos of ``src`` (a file or a folder, not recursive), sorted by name."""
    src = Path(src)
    if not src.exists():
        raise NotFoundError(f"{src}: no such file or folder (`make real-data-faces` puts face videos in "
                            "data/real-cache/faces)")
    files = [src] if src.is_file() else sorted(p for p in src.iterdir() if p.is_file())
    media = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES]
    if not media:
        raise InputError(f"{src}: no video ({', '.join(VIDEO_SUFFIXES)}) or photo ({', '.join(IMAGE_SUFFIXES)})")
    return media


def frames(path: Path, every: int) -> Iterator[tuple[int, np.ndarray]]:
    """(frame index, BGR frame) of every ``every``-th frame of a video, or (0, photo)."""
    import cv2

    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(path))
        if image is None:
            raise InputError(f"{path}: not a readable image")
        yield 0, image
        return
    video = cv2.VideoCapture(str(path))
    if not video.isOpened():
        raise InputError(f"{path}: OpenCV cannot open this video")
    try:
        index = 0
        while True:
            ok = video.grab()
            if not ok:
                break
            if index % every == 0:
                ok, image = video.retrieve()
                if ok:
                    yield index, image
            index += 1
    finally:
        video.release()


class EyeFinder:
    """Faces, then two eyes per face, with OpenCV's bundled Haar cascades."""

    def __init__(self) -> None:
        import cv2

        root = Path(cv2.data.haarcascades)
        self.face = cv2.CascadeClassifier(str(root / "haarcascade_frontalface_default.xml"))
        self.eye = cv2.CascadeClassifier(str(root / "haarcascade_eye.xml"))
        if self.face.empty() or self.eye.empty():  # pragma: no cover - the wheel ships them
            raise NotFoundError(f"{root}: OpenCV's Haar cascades are missing")

    def __call__(self, grey: np.ndarray, counts: Counter) -> list[dict[str, Any]]:
        """Eye boxes ``{"side", "eye_box", "face_box"}`` of the faces in ``grey`` (uint8)."""
        import cv2

        faces = self.face.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(60, 60))
        if len(faces) == 0:
            counts["no face"] += 1
            return []
        found = []
        for fx, fy, fw, fh in faces:
            upper = cv2.equalizeHist(grey[fy: fy + fh // 2 + fh // 10, fx: fx + fw])
            eyes = self.eye.detectMultiScale(upper, scaleFactor=1.05, minNeighbors=6,
                                             minSize=(max(8, fw // 8), max(8, fw // 8)))
            eyes = [e for e in eyes if 0.12 * fw <= e[2] <= 0.45 * fw]
            if len(eyes) != 2:
                counts[f"{min(len(eyes), 3)}{'+' if len(eyes) > 2 else ''} eyes in a face"] += 1
                continue
            (ax, ay, aw, ah), (bx, by, bw, bh) = sorted(eyes, key=lambda e: e[0])
            if ax + aw / 2 > fw / 2 or bx + bw / 2 < fw / 2 or abs((ay + ah / 2) - (by + bh / 2)) > 0.5 * max(ah, bh):
                counts["eyes not side by side"] += 1
                continue
            for side, (x, y, w, h) in (("left", (ax, ay, aw, ah)), ("right", (bx, by, bw, bh))):
                found.append({"side": side, "eye_box": [int(fx + x), int(fy + y), int(fx + x + w), int(fy + y + h)],
                              "face_box": [int(fx), int(fy), int(fx + fw), int(fy + fh)]})
        return found


def eye_crop(image: np.ndarray, box: list[int], size: tuple[int, int], scale: float, rgb: bool
             ) -> tuple[np.ndarray, list[int]] | None:
    """The crop of ``image`` (BGR) centred on ``box``, ``scale`` × its width wide with the aspect of ``size``
    (height, width), resized to ``size`` (area averaging); None when it leaves the frame."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w = scale * (x1 - x0)
    h = w * size[0] / size[1]
    crop = [round(cx - w / 2), round(cy - h / 2), round(cx + w / 2), round(cy + h / 2)]
    if crop[0] < 0 or crop[1] < 0 or crop[2] > image.shape[1] or crop[3] > image.shape[0]:
        return None
    patch = Image.fromarray(image[crop[1]: crop[3], crop[0]: crop[2], ::-1])  # BGR → RGB
    patch = patch.resize((size[1], size[0]), Image.Resampling.BOX)
    return np.asarray(patch if rgb else patch.convert("L")), crop


def import_face_video(src: str | Path, out: str | Path, size: tuple[int, int] = (35, 55), every: int = 10,
                      min_eye_px: int = 20, crop_scale: float = 1.0, rgb: bool = False, overwrite: bool = False,
                      show_progress: bool | None = None, log: Callable[[str], object] = print) -> dict[str, Any]:
    """Write the eye crops of the videos/photos in ``src`` into the dataset ``out``; returns the counts."""
    if every < 1 or min_eye_px < 1 or crop_scale <= 0:
        raise InputError("--every and --min-eye-px must be ≥ 1 and --crop-scale > 0")
    media = media_files(src)
    finder = EyeFinder()
    counts: Counter = Counter()
    config = {"source": [p.name for p in media], "every": every, "min_eye_px": min_eye_px, "crop_scale": crop_scale,
              "size": list(size), "rgb": rgb, "detector": "OpenCV Haar cascades (frontalface_default, eye)"}
    writer = DatasetWriter(out, name="face-video-eyes", task="gaze", domain="real",
                           image=ImageSpec("RGB" if rgb else "L", size[0], size[1]), label_schema={},
                           provenance=Provenance(f"simreal import face-video {src}", config, 0,
                                                 extra={"unlabeled": True}),
                           overwrite=overwrite)
    written = 0
    import cv2

    with writer, progress_bar(show_progress) as bar:
        task = bar.add_task("face video → eyes", total=len(media), status="")
        for path in media:
            for index, image in frames(path, every):
                counts["frames"] += 1
                grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
                for eye in finder(grey, counts):
                    if eye["eye_box"][2] - eye["eye_box"][0] < min_eye_px:
                        counts["eye too small"] += 1
                        continue
                    crop = eye_crop(image, eye["eye_box"], size, crop_scale, rgb)
                    if crop is None:
                        counts["crop leaves the frame"] += 1
                        continue
                    if written < writer.done:  # resumed: this crop is already in the dataset
                        written += 1
                        continue
                    writer.add(crop[0], {"source": path.name, "frame": index, **eye, "crop_box": crop[1]})
                    written += 1
                    counts["eyes written"] += 1
                bar.update(task, status=f"{path.name} frame {index}: {written} eyes")
            bar.advance(task)
        if written == 0:
            raise InputError(f"{src}: no eye found in {counts['frames']} frames ({dict(counts)})")
    log("frames and eyes: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return dict(counts)
