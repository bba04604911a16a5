"""UnityEyes output (``N.jpg`` + ``N.json``) as a simreal gaze dataset, with the standard crop.

The crop (as in the common UnityEyes pipelines, e.g. GazeML): a box centred on the bounding box of the
interior eyelid margin, 1.5 × the eye-corner distance wide, with the output's aspect (55:35 by default),
resized and converted to grey. Landmarks are mapped into the crop; the gaze vector is a direction and
is unchanged by the crop.

Conventions read from the JSON (documented here because UnityEyes itself does not):

- 2D points are strings ``"(x, y, z)"`` in pixels with y measured from the image *bottom*;
- ``eye_details.look_vec`` is ``"(x, y, z, 0)"`` in Unity's camera space (x right, y up, z forward), so
  the simreal gaze (y down) is ``(x, -y, z)``, normalised;
- ``head_pose`` is ``"(pitch, yaw, roll)"`` Unity Euler angles in degrees, where yaw 180° faces the
  camera; its forward direction ``(sin yaw cos pitch, -sin pitch, cos yaw cos pitch)`` in Unity space
  gives the simreal ``head_pose`` (pitch, yaw) = ``(-pitch, yaw - 180°)``, wrapped to (−180°, 180°].
  (Derived from Unity's conventions; no real UnityEyes file was available offline to confirm the signs.)
- UnityEyes has no pupil-centre field: ``pupil_center`` is the mean of the iris contour; the eye corners
  are ``interior_margin_2d[0]`` and ``[8]``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from simreal.data.format import ImageSpec, Provenance, command_line
from simreal.data.gaze import LANDMARK_FIELDS, gaze_schema, rounded, vector_to_pitchyaw
from simreal.data.writer import DatasetWriter
from simreal.utils.errors import DatasetError, InputError
from simreal.utils.progress import progress_bar

CROP_SCALE = 1.5  # crop width / eye-corner distance
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def parse_vector(value: Any, where: Path, key: str) -> np.ndarray:
    """``"(1.0, 2.0, 3.0)"`` or ``[1.0, 2.0, 3.0]`` → float array."""
    if isinstance(value, str):
        numbers = _NUMBER.findall(value)
    elif isinstance(value, list | tuple):
        numbers = value
    else:
        raise DatasetError(f"'{key}' is not a vector: {value!r}", where)
    try:
        return np.array([float(x) for x in numbers], dtype=np.float64)
    except (TypeError, ValueError):
        raise DatasetError(f"'{key}' is not a numeric vector: {value!r}", where) from None


def _wrap_deg(a: float) -> float:
    return (a + 180.0) % 360.0 - 180.0 if (a + 180.0) % 360.0 != 0 else 180.0


def unity_head_pose(euler_deg: np.ndarray) -> np.ndarray:
    """UnityEyes ``head_pose`` (pitch, yaw, roll) degrees → simreal (pitch, yaw) radians."""
    return np.radians([_wrap_deg(-euler_deg[0]), _wrap_deg(euler_deg[1] - 180.0)])


def head_pose_to_unity(pitchyaw: list[float]) -> tuple[float, float, float]:
    """Inverse of :func:`unity_head_pose` (roll 0), as UnityEyes writes it (degrees in [0, 360))."""
    p, y = (math.degrees(a) for a in pitchyaw)
    return (-p) % 360.0, (y + 180.0) % 360.0, 0.0


def unity_gaze(look_vec: np.ndarray) -> np.ndarray:
    g = np.array([look_vec[0], -look_vec[1], look_vec[2]], dtype=np.float64)
    n = np.linalg.norm(g)
    if not np.isfinite(n) or n == 0:
        raise InputError("zero look_vec")
    return g / n


def _points(data: dict[str, Any], key: str, height: int, where: Path) -> np.ndarray:
    if key not in data or not isinstance(data[key], list) or not data[key]:
        raise DatasetError(f"missing or empty '{key}'", where)
    pts = np.stack([parse_vector(p, where, key)[:2] for p in data[key]])
    pts[:, 1] = height - pts[:, 1]
    return pts


def read_sample(json_path: Path) -> tuple[Image.Image, dict[str, Any]]:
    """The image and the parsed fields of one UnityEyes sample (points in y-down pixels)."""
    jpg = json_path.with_suffix(".jpg")
    if not jpg.is_file():
        raise DatasetError("image missing for this JSON", jpg)
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"not valid JSON ({exc})", json_path) from None
    try:
        image = Image.open(jpg)
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetError(f"cannot read image ({exc})", jpg) from None
    h = image.height
    details = data.get("eye_details")
    if not isinstance(details, dict) or "look_vec" not in details:
        raise DatasetError("missing 'eye_details.look_vec'", json_path)
    try:
        gaze = unity_gaze(parse_vector(details["look_vec"], json_path, "look_vec"))
    except (ValueError, IndexError):
        raise DatasetError(f"bad look_vec {details['look_vec']!r}", json_path) from None
    margin, iris = _points(data, "interior_margin_2d", h, json_path), _points(data, "iris_2d", h, json_path)
    for name, pts in (("interior_margin", margin), ("iris", iris)):
        want = LANDMARK_FIELDS[name].shape[0]
        if len(pts) != want:
            raise DatasetError(f"expected {want} points in '{name}_2d', found {len(pts)}", json_path)
    pose = parse_vector(data.get("head_pose", "(0, 180, 0)"), json_path, "head_pose")
    if len(pose) < 2:
        raise DatasetError(f"bad head_pose {data.get('head_pose')!r}", json_path)
    factors = {k: float(parse_vector(details[k], json_path, k)[0]) for k in ("pupil_size", "iris_size")
               if k in details}
    return image, {"gaze": gaze, "interior_margin": margin, "iris": iris, "head_pose": unity_head_pose(pose),
                   "factors": factors}


def crop_sample(image: Image.Image, fields: dict[str, Any], height: int, width: int, rgb: bool
                ) -> tuple[np.ndarray, dict[str, Any]]:
    """The standard crop around the interior margin, resized to ``height × width``."""
    margin = fields["interior_margin"]
    centre = (margin.min(0) + margin.max(0)) / 2
    corners = margin[[0, len(margin) // 2]]
    crop_w = CROP_SCALE * max(abs(corners[1, 0] - corners[0, 0]), 1.0)
    crop_h = crop_w * height / width
    x0, y0 = centre[0] - crop_w / 2, centre[1] - crop_h / 2
    box = (x0, y0, x0 + crop_w, y0 + crop_h)
    out = image.convert("RGB" if rgb else "L").transform((width, height), Image.Transform.EXTENT, box,
                                                          resample=Image.Resampling.BILINEAR)
    to_crop = lambda p: (p - [x0, y0]) * (width / crop_w)  # noqa: E731
    m, iris = to_crop(margin), to_crop(fields["iris"])
    return np.asarray(out), {
        "gaze": rounded(fields["gaze"]),
        "gaze_pitchyaw": rounded(vector_to_pitchyaw(fields["gaze"])),
        "head_pose": rounded(fields["head_pose"]),
        "interior_margin": rounded(m, 3), "iris": rounded(iris, 3), "pupil_center": rounded(iris.mean(0), 3),
        "eye_corners": rounded(m[[0, len(m) // 2]], 3),
        "synthetic": True,
    }


def list_samples(root: Path) -> list[Path]:
    """The ``N.json`` files of a UnityEyes folder in numeric order."""
    if not root.is_dir():
        raise DatasetError("UnityEyes folder not found", root)
    found = sorted((p for p in root.glob("*.json") if p.stem.isdigit()), key=lambda p: int(p.stem))
    if not found:
        raise DatasetError("no UnityEyes samples (N.jpg + N.json) here", root)
    return found


def import_unityeyes(src: str | Path, out: str | Path, height: int = 35, width: int = 55, rgb: bool = False,
                     limit: int = 0, overwrite: bool = False, show_progress: bool | None = None) -> Path:
    """Crop every UnityEyes sample in ``src`` into the simreal dataset ``out``; returns ``out``."""
    src = Path(src)
    files = list_samples(src)[: limit or None]
    config = {"source": str(src.resolve()), "count": len(files), "height": height, "width": width, "rgb": rgb,
              "crop_scale": CROP_SCALE}
    writer = DatasetWriter(out, name=f"unityeyes-{src.name}", task="gaze", domain="synthetic",
                           image=ImageSpec("RGB" if rgb else "L", height, width), label_schema=gaze_schema(True),
                           provenance=Provenance(command_line(), config), overwrite=overwrite)
    with writer, progress_bar(show_progress) as bar:
        task = bar.add_task("import UnityEyes", total=len(files), completed=writer.done, status="")
        for path in files[writer.done:]:
            image, fields = read_sample(path)
            crop, record = crop_sample(image, fields, height, width, rgb)
            writer.add(crop, {**record, "source_file": path.stem, "factors": fields["factors"]})
            bar.advance(task)
    return Path(out)
