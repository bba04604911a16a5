"""MPIIGaze's normalized eye images as a real simreal gaze dataset.

Reads ``Data/Normalized/pXX/dayYY.mat`` (MATLAB structs ``data.{left,right}.{image,gaze,pose}``: 36×60
grey images, 3D gaze vectors and head-pose rotation vectors in the normalized camera, plus
``filenames``). MPIIGaze's gaze convention is simreal's (:mod:`simreal.data.gaze`); the head pose
(pitch, yaw) is that of the rotation's −z axis, as in Zhang et al.'s code.

Options:

- ``flip_left``: mirror left-eye images so every eye looks like a right eye; the gaze becomes
  ``(-x, y, z)`` and the head rotation vector ``(rx, -ry, -rz)`` (a mirror about the y–z plane).
- ``evaluation_subset``: keep only the samples listed in ``Evaluation Subset/sample list for eye
  image/pXX.txt`` (lines ``dayYY/NNNN.jpg left|right``), the standard 1,500 + 1,500 per participant.
- ``size``: resize the images (e.g. to 35×55, the GazeNet and refiner size of the SimGAN paper).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from scipy.io import loadmat
from scipy.spatial.transform import Rotation

from simreal.data.format import ImageSpec, Provenance, command_line
from simreal.data.gaze import gaze_schema, rounded, vector_to_pitchyaw
from simreal.data.writer import DatasetWriter
from simreal.utils.errors import DatasetError
from simreal.utils.progress import progress_bar

SIDES = ("left", "right")
_DAY_FILE = re.compile(r"^p(\d+)$")
SUBSET_FOLDER = Path("Evaluation Subset") / "sample list for eye image"


def find_day_files(root: Path) -> list[Path]:
    """Every ``pXX/dayYY.mat`` under ``root`` (the MPIIGaze folder or its ``Data/Normalized``), sorted."""
    if not root.is_dir():
        raise DatasetError("MPIIGaze folder not found", root)
    files = sorted(p for p in root.rglob("day*.mat") if _DAY_FILE.match(p.parent.name))
    if not files:
        raise DatasetError("no normalized MPIIGaze files (pXX/dayYY.mat) here", root)
    return files


def head_pose_pitchyaw(rvec: np.ndarray) -> np.ndarray:
    """Head rotation vector(s) ``(N, 3)`` → (pitch, yaw) ``(N, 2)`` of the face's forward direction."""
    z = Rotation.from_rotvec(np.asarray(rvec, dtype=np.float64).reshape(-1, 3)).as_matrix()[:, :, 2]
    return vector_to_pitchyaw(-z)


def _field(struct: Any, name: str, path: Path) -> np.ndarray:
    try:
        return np.asarray(getattr(struct, name))
    except AttributeError:
        raise DatasetError(f"no field '{name}' in the MATLAB struct", path) from None


def read_day(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """``{side: {"image": (N, H, W) uint8, "gaze": (N, 3), "pose": (N, 3), "filenames": (N,)}}``."""
    try:
        mat = loadmat(str(path), squeeze_me=True, struct_as_record=False)
    except Exception as exc:  # scipy raises several types for corrupt files
        raise DatasetError(f"cannot read MATLAB file ({exc})", path) from None
    if "data" not in mat:
        raise DatasetError("no 'data' struct (not a normalized MPIIGaze file)", path)
    names = np.atleast_1d(mat.get("filenames", np.array([], dtype=object))).astype(str)
    out = {}
    for side in SIDES:
        struct = getattr(mat["data"], side, None)
        if struct is None:
            raise DatasetError(f"no 'data.{side}' struct", path)
        image = _field(struct, "image", path)
        image = image[None] if image.ndim == 2 else image
        gaze, pose = _field(struct, "gaze", path).reshape(-1, 3), _field(struct, "pose", path).reshape(-1, 3)
        n = len(image)
        if image.ndim != 3 or len(gaze) != n or len(pose) != n:
            raise DatasetError(f"data.{side}: {n} images but {len(gaze)} gaze and {len(pose)} pose rows", path)
        if not (np.isfinite(gaze).all() and np.isfinite(pose).all()):
            raise DatasetError(f"data.{side}: NaN or infinite gaze/pose", path)
        files = names if len(names) == n else np.array([f"{i + 1:04d}.jpg" for i in range(n)])
        out[side] = {"image": image.astype(np.uint8), "gaze": gaze, "pose": pose, "filenames": files}
    return out


def read_subset(root: Path, participant: str) -> set[tuple[str, str, str]]:
    """``{(day, file, side)}`` of the evaluation list of one participant."""
    lists = [p for p in root.rglob(f"{participant}.txt") if p.parent.name == SUBSET_FOLDER.name]
    if not lists:
        raise DatasetError(f"no evaluation subset list for {participant} (expected '{SUBSET_FOLDER}/"
                           f"{participant}.txt')", root)
    keep = set()
    for n, line in enumerate(lists[0].read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or "/" not in parts[0] or parts[1] not in SIDES:
            raise DatasetError(f"expected 'dayNN/NNNN.jpg left|right', got {line!r}", lists[0], n)
        day, name = parts[0].split("/")[-2:]
        keep.add((day, name, parts[1]))
    return keep


def mirror(image: np.ndarray, gaze: np.ndarray, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A left eye as a right eye: mirrored image, gaze (−x, y, z), rotation vector (rx, −ry, −rz)."""
    return image[:, ::-1], gaze * [-1, 1, 1], pose * [1, -1, -1]


def import_mpiigaze(src: str | Path, out: str | Path, flip_left: bool = True, evaluation_subset: bool = False,
                    size: tuple[int, int] | None = None, overwrite: bool = False,
                    show_progress: bool | None = None) -> Path:
    """Write MPIIGaze (all samples, or the evaluation subset) as the real gaze dataset ``out``."""
    src = Path(src)
    files = find_day_files(src)
    first = read_day(files[0])["right"]["image"]
    height, width = size or first.shape[1:]
    config = {"source": str(src.resolve()), "flip_left": flip_left, "evaluation_subset": evaluation_subset,
              "size": [height, width], "files": len(files)}
    writer = DatasetWriter(out, name="mpiigaze" + ("-evaluation" if evaluation_subset else ""), task="gaze",
                           domain="real", image=ImageSpec("L", height, width), label_schema=gaze_schema(False),
                           provenance=Provenance(command_line(), config), overwrite=overwrite)
    written = 0
    with writer, progress_bar(show_progress) as bar:
        task = bar.add_task("import MPIIGaze", total=len(files), status="")
        subsets: dict[str, set] = {}
        for path in files:
            participant, day = path.parent.name, path.stem
            if evaluation_subset and participant not in subsets:
                subsets[participant] = read_subset(src, participant)
            for side, d in read_day(path).items():
                for i in range(len(d["image"])):
                    name = Path(str(d["filenames"][i]).replace("\\", "/")).name
                    if evaluation_subset and (day, name, side) not in subsets[participant]:
                        continue
                    if written < writer.done:  # resuming: these are on disk already
                        written += 1
                        continue
                    image, gaze, pose = d["image"][i], d["gaze"][i], d["pose"][i]
                    flipped = flip_left and side == "left"
                    if flipped:
                        image, gaze, pose = mirror(image, gaze, pose)
                    if (height, width) != image.shape:
                        image = np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize(
                            (width, height), Image.Resampling.BILINEAR))
                    g = gaze / np.linalg.norm(gaze)
                    writer.add(np.ascontiguousarray(image), {
                        "gaze": rounded(g), "gaze_pitchyaw": rounded(vector_to_pitchyaw(g)),
                        "head_pose": rounded(head_pose_pitchyaw(pose)[0]), "synthetic": False,
                        "participant": participant, "day": day, "source_file": name, "side": side,
                        "flipped": flipped,
                        "factors": {"participant": int(participant[1:]), "day": int(day[3:] or 0),
                                    "right_eye": side == "right"}})
                    written += 1
            bar.advance(task)
        if writer.done == 0:
            raise DatasetError("no samples matched the evaluation subset lists", src)
    return Path(out)
