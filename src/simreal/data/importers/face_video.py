"""Unlabeled real eye images from face videos and photos (``simreal import face-video``).

For every ``every``-th frame of each video (neighbouring frames are near duplicates) and every photo, one
of two detectors finds the eyes:

- **MediaPipe's face mesh** (:class:`MediaPipeEyes`, the default where ``make mediapipe`` has built its
  environment): eye corners, eyelid midpoints and iris centres. The crop is the UnityEyes importer's:
  centred on the corners' midpoint, 1.5 × the corner distance wide. An eye whose eyelid gap is under
  ``min_openness`` × its corner distance is closed and skipped.
- **OpenCV's Haar cascades** (:class:`HaarEyes`, inside the opencv-python wheel): a face, then exactly two
  eye boxes side by side in its upper half. No landmarks: the crop is centred on the eye box and as wide
  as it (the box is about 1.6 × the corner distance, close to the UnityEyes crop); closed eyes are mostly
  not detected, and there is no other openness check.

``crop_scale`` scales either crop; the output's aspect is 55:35 by default, resized with area averaging
(bilinear interpolation where the crop is smaller than the output), grey unless ``rgb``. Eyes smaller
than ``min_eye_px`` (corner distance, or box width for Haar) are skipped (enlarging them would invent
detail). Eyes on the image's right (the person's left eyes) are mirrored into right eyes (``flip``), as
the MPIIGaze importer does. Every skip is counted and logged.

The records carry no gaze label (the pool is for the refiner and the realism observer): ``source`` (file
name), ``frame``, ``side`` (``left``/``right`` in the image), ``flipped``, ``crop_box`` (x0, y0, x1, y1 in
the frame), and the detector's evidence: ``landmarks`` (frame px: ``corners``, ``lids``, ``iris``) and
``openness`` for MediaPipe, ``eye_box`` and ``face_box`` for Haar.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
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


def media_files(src: str | Path | Sequence[str | Path]) -> list[Path]:
    """The videos and photos of ``src`` (a file or a folder, not recursive, or several), sorted by name."""
    if not isinstance(src, (str, Path)):
        return [p for one in src for p in media_files(one)]
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


class HaarEyes:
    """Faces, then two eyes per face, with OpenCV's bundled Haar cascades (no landmarks: the crop is centred
    on the eye box, as wide as it, about the UnityEyes crop; no closed-eye check)."""

    name = "OpenCV Haar cascades (frontalface_default, eye)"

    def __init__(self) -> None:
        import cv2

        root = Path(cv2.data.haarcascades)
        self.face = cv2.CascadeClassifier(str(root / "haarcascade_frontalface_default.xml"))
        self.eye = cv2.CascadeClassifier(str(root / "haarcascade_eye.xml"))
        if self.face.empty() or self.eye.empty():  # pragma: no cover - the wheel ships them
            raise NotFoundError(f"{root}: OpenCV's Haar cascades are missing")

    def __enter__(self) -> HaarEyes:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def scan(self, path: Path, every: int, counts: Counter) -> Iterator[tuple[int, np.ndarray, list[dict[str, Any]]]]:
        """(frame index, BGR frame, its eyes) for every ``every``-th frame of ``path``."""
        import cv2

        for index, image in frames(path, every):
            yield index, image, self(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), counts)

    def __call__(self, grey: np.ndarray, counts: Counter) -> list[dict[str, Any]]:
        """The eyes of the faces in ``grey`` (uint8): ``side``, ``center``, ``crop_width``, ``size`` (px) and
        the record ``fields`` (``eye_box``, ``face_box``)."""
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
                box = [int(fx + x), int(fy + y), int(fx + x + w), int(fy + y + h)]
                found.append({"side": side, "center": ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2),
                              "crop_width": float(w), "size": float(w),
                              "fields": {"eye_box": box, "face_box": [int(fx), int(fy), int(fx + fw), int(fy + fh)]}})
        return found


MEDIAPIPE_WORKER = Path(__file__).with_name("mediapipe_eyes.py")


def mediapipe_python(python: str | Path | None = None) -> str | None:
    """The Python that can run MediaPipe: ``python`` if given, else ``$SIMREAL_MEDIAPIPE_PYTHON``, else
    ``.venv-mediapipe/bin/python`` (what ``make mediapipe`` builds), else this interpreter if it has
    ``mediapipe``; None when there is none."""
    import importlib.util
    import os
    import sys

    if python:
        if not Path(python).is_file():
            raise NotFoundError(f"{python}: no such Python (`make mediapipe` builds .venv-mediapipe/bin/python)")
        return str(python)
    for candidate in (os.environ.get("SIMREAL_MEDIAPIPE_PYTHON"), ".venv-mediapipe/bin/python"):
        if candidate and Path(candidate).is_file():
            return candidate
    return sys.executable if importlib.util.find_spec("mediapipe") else None


class MediaPipeEyes:
    """Eye corners, eyelids and irises from MediaPipe's face mesh, computed by ``mediapipe_eyes.py`` in
    MediaPipe's own Python (one process for all the media, read line by line in step with :func:`frames`).
    The crop is the UnityEyes one: centred on the corners' midpoint, 1.5 × the corner distance wide; an eye
    whose eyelid gap is under ``min_openness`` × the corner distance counts as closed."""

    name = "MediaPipe face mesh 0.10.14 (refine_landmarks: eye corners, eyelids, iris)"

    def __init__(self, python: str, media: list[Path], every: int, min_openness: float = 0.15) -> None:
        self.python, self.media, self.every, self.min_openness = python, media, every, min_openness
        self.process: Any = None

    def __enter__(self) -> MediaPipeEyes:
        import subprocess
        import tempfile

        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen([self.python, str(MEDIAPIPE_WORKER), str(self.every),
                                         *map(str, self.media)], stdout=subprocess.PIPE, stderr=self.stderr,
                                        text=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.stderr.close()

    def _line(self, path: Path, index: int) -> dict[str, Any]:
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            self.stderr.seek(0)
            last = (self.stderr.read().decode(errors="replace").strip().splitlines() or ["no output"])[-1]
            raise InputError(f"the MediaPipe worker ({self.python}) stopped at {path.name} frame {index}: {last}")
        got = json.loads(line)
        if Path(got["file"]).name != path.name or got["frame"] != index:  # pragma: no cover - decoders disagree
            raise InputError(f"the MediaPipe worker read {got['file']} frame {got['frame']}, simreal "
                             f"{path.name} frame {index}: different OpenCV builds decode differently")
        return got

    def scan(self, path: Path, every: int, counts: Counter) -> Iterator[tuple[int, np.ndarray, list[dict[str, Any]]]]:
        for index, image in frames(path, every):
            eyes = self._line(path, index)["eyes"]
            if not eyes:
                counts["no face"] += 1
            found = []
            for eye in map(self._eye, sorted_pairs(eyes)):
                if eye.pop("closed"):
                    counts["eye closed"] += 1
                else:
                    found.append(eye)
            yield index, image, found

    def _eye(self, side_eye: tuple[str, dict[str, Any]]) -> dict[str, Any]:
        side, e = side_eye
        (ax, ay), (bx, by) = e["corners"]
        distance = float(np.hypot(bx - ax, by - ay))
        gap = float(np.hypot(*np.subtract(e["lids"][0], e["lids"][1])))
        return {"side": side, "center": ((ax + bx) / 2, (ay + by) / 2), "crop_width": 1.5 * distance,
                "size": distance, "closed": gap < self.min_openness * max(distance, 1e-6),
                "fields": {"landmarks": {k: np.round(e[k], 2).tolist() for k in ("corners", "lids", "iris")},
                           "openness": round(gap / max(distance, 1e-6), 3)}}


def sorted_pairs(eyes: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The worker's eyes (two per face) as (side in the image, eye): the left one of each pair first."""
    out = []
    for a, b in zip(eyes[::2], eyes[1::2], strict=True):
        a, b = sorted((a, b), key=lambda e: e["corners"][0][0] + e["corners"][1][0])
        out += [("left", a), ("right", b)]
    return out


def eye_crop(image: np.ndarray, center: tuple[float, float], width: float, size: tuple[int, int], rgb: bool,
             flip: bool = False) -> tuple[np.ndarray, list[int]] | None:
    """The crop of ``image`` (BGR) centred on ``center``, ``width`` px wide with the aspect of ``size``
    (height, width), resized to ``size`` (area averaging; bilinear where it enlarges) and mirrored
    left–right if ``flip``; None when it leaves the frame."""
    cx, cy = center
    h = width * size[0] / size[1]
    crop = [round(cx - width / 2), round(cy - h / 2), round(cx + width / 2), round(cy + h / 2)]
    if crop[0] < 0 or crop[1] < 0 or crop[2] > image.shape[1] or crop[3] > image.shape[0]:
        return None
    patch = Image.fromarray(image[crop[1]: crop[3], crop[0]: crop[2], ::-1])  # BGR → RGB
    # area averaging when shrinking; bilinear when enlarging (BOX would replicate pixels into blocks, a
    # texture the realism observer picks up at once, and the eye simulator's low-resolution sensor is
    # bilinear too)
    upsample = crop[2] - crop[0] < size[1]
    patch = patch.resize((size[1], size[0]), Image.Resampling.BILINEAR if upsample else Image.Resampling.BOX)
    if flip:
        patch = patch.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return np.asarray(patch if rgb else patch.convert("L")), crop


def spread(n: int, cap: int | None) -> list[int]:
    """Indices of at most ``cap`` of ``n`` items in order, evenly spread over them (all where ``cap`` is None
    or ≥ ``n``): a long video's eyes thinned over its whole length, not its first minutes."""
    if cap is None or n <= cap:
        return list(range(n))
    return [int(i) for i in np.linspace(0, n - 1, cap).round()]


def import_face_video(src: str | Path | Sequence[str | Path], out: str | Path, size: tuple[int, int] = (35, 55),
                      every: int = 10, min_eye_px: int = 20, crop_scale: float = 1.0, rgb: bool = False,
                      landmarks: str = "auto", flip: bool = True, min_openness: float = 0.15,
                      max_per_source: int | None = None, python: str | Path | None = None,
                      overwrite: bool = False, show_progress: bool | None = None,
                      log: Callable[[str], object] = print) -> dict[str, Any]:
    """Write the eye crops of the videos/photos in ``src`` (a file, a folder or a list of them) into the
    dataset ``out``; returns the counts.

    ``landmarks``: ``mediapipe`` (:class:`MediaPipeEyes`, needs ``make mediapipe``), ``haar``
    (:class:`HaarEyes`), or ``auto`` (MediaPipe where it is set up). ``flip`` mirrors the eyes on the
    image's right (the person's left eyes) so that every crop looks like a right eye, as the MPIIGaze
    importer does. ``max_per_source`` keeps at most that many eyes of each video or photo, evenly spread over
    its frames, so that one long video does not make the pool one person's."""
    if every < 1 or min_eye_px < 1 or crop_scale <= 0:
        raise InputError("--every and --min-eye-px must be ≥ 1 and --crop-scale > 0")
    if max_per_source is not None and max_per_source < 1:
        raise InputError("--max-per-source must be ≥ 1")
    if landmarks not in ("auto", "mediapipe", "haar"):
        raise InputError(f"--landmarks must be auto, mediapipe or haar, not {landmarks!r}")
    media = media_files(src)
    sources = " ".join(map(str, src)) if isinstance(src, (list, tuple)) else str(src)
    mp_python = mediapipe_python(python) if landmarks != "haar" else None
    if landmarks == "mediapipe" and mp_python is None:
        raise NotFoundError("MediaPipe is not set up: `make mediapipe` builds .venv-mediapipe (or pass --python)")
    if landmarks == "auto" and mp_python is None:
        log("MediaPipe is not set up (`make mediapipe`): using OpenCV's Haar cascades")
    finder = MediaPipeEyes(mp_python, media, every, min_openness) if mp_python else HaarEyes()
    counts: Counter = Counter()
    config = {"source": [p.name for p in media], "every": every, "min_eye_px": min_eye_px, "crop_scale": crop_scale,
              "size": list(size), "rgb": rgb, "detector": finder.name, "flip": flip,
              "min_openness": min_openness if mp_python else None, "max_per_source": max_per_source}
    writer = DatasetWriter(out, name="face-video-eyes", task="gaze", domain="real",
                           image=ImageSpec("RGB" if rgb else "L", size[0], size[1]), label_schema={},
                           provenance=Provenance(f"simreal import face-video {sources}", config, 0,
                                                 extra={"unlabeled": True}),
                           overwrite=overwrite)

    def source_eyes(path: Path, on_frame: Callable[[str], object]) -> Iterator[tuple[np.ndarray, dict[str, Any]]]:
        """The crops and records of one video or photo, in frame order."""
        for index, image, eyes in finder.scan(path, every, counts):
            counts["frames"] += 1
            on_frame(f"{path.name} frame {index}")
            for eye in eyes:
                if eye["size"] < min_eye_px:
                    counts["eye too small"] += 1
                    continue
                flipped = flip and eye["side"] == "right"
                crop = eye_crop(image, eye["center"], crop_scale * eye["crop_width"], size, rgb, flipped)
                if crop is None:
                    counts["crop leaves the frame"] += 1
                    continue
                yield crop[0], {"source": path.name, "frame": index, "side": eye["side"], "flipped": flipped,
                                **eye["fields"], "crop_box": crop[1]}

    def capped(found: list[tuple[np.ndarray, dict[str, Any]]]) -> list[tuple[np.ndarray, dict[str, Any]]]:
        keep = spread(len(found), max_per_source)
        if len(keep) < len(found):
            counts["over the per-source cap"] += len(found) - len(keep)
        return [found[i] for i in keep]

    written = 0
    with writer, finder, progress_bar(show_progress) as bar:
        task = bar.add_task("face video → eyes", total=len(media), status="")

        def status(where: str) -> None:
            bar.update(task, status=f"{where}: {counts['eyes written']} eyes written")

        for path in media:
            found = source_eyes(path, status)
            # written as found; with a cap, a source's crops are held until its last frame, then thinned
            for crop, record in found if max_per_source is None else capped(list(found)):
                if written < writer.done:  # resumed: this crop is already in the dataset
                    written += 1
                    continue
                writer.add(crop, record)
                written += 1
                counts["eyes written"] += 1
            bar.advance(task)
        if written == 0:
            raise InputError(f"{sources}: no eye found in {counts['frames']} frames ({dict(counts)})")
    log(f"{finder.name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return dict(counts)
