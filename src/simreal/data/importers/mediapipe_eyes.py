"""Eye landmarks from MediaPipe's face mesh, run in MediaPipe's own environment (``make mediapipe``).

This file is a stand-alone script: it imports only numpy, OpenCV and ``mediapipe`` (0.10.14, whose wheel
carries the face-landmark model), never simreal, because MediaPipe pins protobuf < 5 while simreal's
environment has protobuf 7 (TensorBoard, Ray). ``simreal import face-video --landmarks mediapipe`` runs it
as ``PYTHON mediapipe_eyes.py EVERY FILE...`` and reads one JSON line per frame from its standard output:

    {"file": "franck.mp4", "frame": 40, "eyes": [{"corners": [[x, y], [x, y]], "lids": [[x, y], [x, y]],
                                                    "iris": [x, y]}, ...]}

one entry per eye (two per face, in no particular order), in frame pixels: the two eye corners, the
mid-upper and mid-lower eyelid points, and the iris centre. Frames are read exactly as
:func:`simreal.data.importers.face_video.frames` reads them (``grab`` every frame, ``retrieve`` every
``EVERY``-th), so frame numbers agree.
"""

from __future__ import annotations

import json
import sys

# MediaPipe face mesh indices (refine_landmarks=True): per eye the two corners, the eyelid midpoints and
# the iris centre
EYES = ({"corners": (33, 133), "lids": (159, 145), "iris": 468},
        {"corners": (362, 263), "lids": (386, 374), "iris": 473})
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def frames(path: str, every: int):
    import cv2

    if path.lower().endswith(IMAGE_SUFFIXES):
        image = cv2.imread(path)
        if image is not None:
            yield 0, image
        return
    video = cv2.VideoCapture(path)
    index = 0
    while video.grab():
        if index % every == 0:
            ok, image = video.retrieve()
            if ok:
                yield index, image
        index += 1
    video.release()


def main(argv: list[str]) -> None:
    """Print the eye landmarks of every ``argv[0]``-th frame of the files ``argv[1:]``; a failure raises (the
    importer reports the last line of this process's stderr)."""
    import cv2
    import mediapipe as mp

    every, files = int(argv[0]), argv[1:]
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=4, refine_landmarks=True,
                                         min_detection_confidence=0.5) as mesh:
        for path in files:
            for index, image in frames(path, every):
                h, w = image.shape[:2]
                result = mesh.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
                eyes = []
                for face in result.multi_face_landmarks or []:
                    p = [(lm.x * w, lm.y * h) for lm in face.landmark]
                    for eye in EYES:
                        eyes.append({"corners": [p[i] for i in eye["corners"]], "lids": [p[i] for i in eye["lids"]],
                                     "iris": p[eye["iris"]]})
                print(json.dumps({"file": path, "frame": index, "eyes": eyes}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
