"""The gaze label convention every gaze dataset in simreal uses, and its label schema.

``gaze`` is the unit vector from the eyeball centre along the visual axis in camera coordinates
(OpenCV: x right, y down, z away from the camera), the convention of MPIIGaze's normalized data.
Looking straight into the camera is ``(0, 0, -1)``.

``pitch = asin(-y)`` (positive = looking up) and ``yaw = atan2(-x, -z)`` (positive = looking towards the
camera's −x, the image's left), in radians. ``head_pose`` is (pitch, yaw) of the head's forward
direction (where the face points) in the same convention.
"""

from __future__ import annotations

import numpy as np

from simreal.data.format import LabelField


def pitchyaw_to_vector(pitchyaw: np.ndarray) -> np.ndarray:
    """``(..., 2)`` (pitch, yaw) radians → ``(..., 3)`` unit gaze vectors."""
    py = np.asarray(pitchyaw, dtype=np.float64)
    p, y = py[..., 0], py[..., 1]
    return np.stack([-np.cos(p) * np.sin(y), -np.sin(p), -np.cos(p) * np.cos(y)], axis=-1)


def vector_to_pitchyaw(v: np.ndarray) -> np.ndarray:
    """``(..., 3)`` gaze vectors (any non-zero length) → ``(..., 2)`` (pitch, yaw) radians."""
    v = np.asarray(v, dtype=np.float64)
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    return np.stack([np.arcsin(np.clip(-v[..., 1], -1, 1)), np.arctan2(-v[..., 0], -v[..., 2])], axis=-1)


def rounded(values: np.ndarray, digits: int = 6) -> list:
    """A JSON-ready nested list, rounded (keeps metadata lines short and stable)."""
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


GAZE_FIELDS = {
    "gaze": LabelField("float32", (3,), "unit gaze vector, camera coordinates (x right, y down, z forward); "
                       "(0, 0, -1) looks into the camera"),
    "gaze_pitchyaw": LabelField("float32", (2,), "pitch = asin(-y), yaw = atan2(-x, -z) of the gaze vector",
                                "radians"),
    "head_pose": LabelField("float32", (2,), "pitch and yaw of the head's forward direction, same convention",
                            "radians"),
    "synthetic": LabelField("bool", (), "true for simulator output"),
}

LANDMARK_FIELDS = {
    "interior_margin": LabelField("float32", (16, 2), "interior eyelid margin, from one eye corner along the "
                                  "upper lid and back along the lower lid (UnityEyes order)", "pixels"),
    "iris": LabelField("float32", (32, 2), "iris contour (limbus)", "pixels"),
    "pupil_center": LabelField("float32", (2,), "pupil centre", "pixels"),
    "eye_corners": LabelField("float32", (2, 2), "the two eye corners (interior_margin[0] and [8])", "pixels"),
}


def gaze_schema(landmarks: bool) -> dict[str, LabelField]:
    """The label schema of a gaze dataset, with or without the 2D eye landmarks."""
    return {**GAZE_FIELDS, **(LANDMARK_FIELDS if landmarks else {})}
