"""Frames of a video as an unlabeled real image dataset (``simreal import video``): targets for a refiner or
a realism observer, and backgrounds. Task ``images`` (no labels); each record keeps ``source`` and ``frame``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simreal.data.format import ImageSpec, Provenance
from simreal.data.importers.face_video import VIDEO_SUFFIXES, frames
from simreal.data.writer import DatasetWriter
from simreal.utils.errors import InputError, NotFoundError
from simreal.utils.progress import progress_bar


def import_video(src: str | Path, out: str | Path, every: int = 10, overwrite: bool = False,
                 show_progress: bool | None = None) -> Path:
    """Write every ``every``-th frame of the video ``src`` (RGB, full size) into the dataset ``out``."""
    import cv2

    src = Path(src)
    if not src.is_file():
        raise NotFoundError(f"{src}: no such video (`make real-data-people` fetches OpenCV's vtest.avi)")
    if src.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(f"{src}: not a video file ({', '.join(VIDEO_SUFFIXES)})")
    if every < 1:
        raise InputError(f"--every must be ≥ 1, got {every}")
    video = cv2.VideoCapture(str(src))
    count, width, height = (int(video.get(p)) for p in (cv2.CAP_PROP_FRAME_COUNT, cv2.CAP_PROP_FRAME_WIDTH,
                                                       cv2.CAP_PROP_FRAME_HEIGHT))
    video.release()
    if width <= 0 or height <= 0:
        raise InputError(f"{src}: OpenCV cannot open this video")
    config = {"source": src.name, "every": every, "frames_in_video": count}
    writer = DatasetWriter(out, name=f"frames-{src.stem}", task="images", domain="real",
                           image=ImageSpec("RGB", height, width), label_schema={},
                           provenance=Provenance(f"simreal import video {src} --every {every}", config, 0,
                                                 extra={"unlabeled": True}),
                           overwrite=overwrite, expected_count=max(1, -(-count // every)))
    with writer, progress_bar(show_progress) as bar:
        task = bar.add_task(f"frames of {src.name}", total=-(-count // every) if count > 0 else None,
                            completed=writer.done, status="")
        for k, (index, image) in enumerate(frames(src, every)):
            if k < writer.done:
                continue
            writer.add(np.ascontiguousarray(image[:, :, ::-1]), {"source": src.name, "frame": index})
            bar.advance(task)
    return Path(out)
