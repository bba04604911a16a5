"""The NYU hand pose dataset (Tompson et al. 2014) as a simreal hand dataset.

Reads NYU's own layout, a split folder (``train/`` or ``test/``, or the dataset root holding them):

- ``joint_data.mat``: ``joint_uvd`` and ``joint_xyz``, each (cameras, frames, 36, 3), and ``joint_names``
  (36 names; checked against :data:`~simreal.data.hands.NYU_JOINT_NAMES`);
- ``depth_K_NNNNNNN.png`` (camera K = 1…3, frame N from 1): 640×480 RGB PNGs holding depth in millimetres as
  ``(G << 8) | B``; ``synthdepth_K_NNNNNNN.png`` the same for the rendered hand model.

Each frame and view becomes one crop made as the simulator makes its crops
(:func:`~simreal.data.hands.hand_sample`): the crop from the *synthetic* image's support (the paper's
pre-processing), applied to the real depth (or to the synthetic one with ``synthetic``), NYU's 14 evaluated
joints from ``joint_uvd`` (NYU's pixel coordinates kept as they are), ``joints_xyz`` recomputed from them in
simreal's camera axes (NYU's ``joint_xyz`` has y up), visibility from the synthetic depth. ``keypoints_21``
is zeros (NYU labels no such set).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from scipy.io import loadmat

from simreal.data.format import ImageSpec, Provenance, command_line
from simreal.data.hands import (
    CROP_SIZE,
    CUBE_MM,
    KINECT_HEIGHT,
    KINECT_WIDTH,
    NYU_EVAL,
    NYU_JOINT_NAMES,
    camera_json,
    hand_keypoint_meta,
    hand_sample,
    hand_schema,
)
from simreal.data.writer import DatasetWriter
from simreal.utils.errors import DatasetError, InputError
from simreal.utils.progress import progress_bar

SPLITS = ("train", "test")


def split_folder(root: Path, split: str) -> Path:
    """The folder holding ``joint_data.mat``: ``root`` itself, or its ``split`` subfolder."""
    if split not in SPLITS:
        raise InputError(f"--split must be train or test, got {split!r}")
    if not root.is_dir():
        raise DatasetError("NYU hand pose folder not found", root)
    for folder in (root, root / split):
        if (folder / "joint_data.mat").is_file():
            return folder
    raise DatasetError(f"no joint_data.mat here or in {split}/", root)


def read_joints(folder: Path) -> np.ndarray:
    """``joint_uvd`` (cameras, frames, 36, 3), validated."""
    path = folder / "joint_data.mat"
    try:
        mat = loadmat(path)
    except Exception as exc:
        raise DatasetError(f"not a MATLAB file: {exc}", path) from None
    for key in ("joint_uvd", "joint_names"):
        if key not in mat:
            raise DatasetError(f"no '{key}' in joint_data.mat", path)
    uvd = np.asarray(mat["joint_uvd"], dtype=np.float64)
    if uvd.ndim != 4 or uvd.shape[0] not in (1, 2, 3) or uvd.shape[2:] != (36, 3):
        raise DatasetError(f"joint_uvd must be (cameras, frames, 36, 3), got {uvd.shape}", path)
    names = [str(np.asarray(n).ravel()[0]) for n in np.asarray(mat["joint_names"], dtype=object).ravel()]
    if tuple(names) != NYU_JOINT_NAMES:
        raise DatasetError(f"joint_names are not NYU's 36 (got {len(names)}: {', '.join(names[:3])}, ...)", path)
    if not np.isfinite(uvd).all():
        raise DatasetError("joint_uvd holds NaN or infinite values", path)
    return uvd


def read_depth(path: Path) -> np.ndarray:
    """A NYU depth PNG → (480, 640) float32 millimetres (0 = no reading)."""
    if not path.is_file():
        raise DatasetError("missing depth image", path)
    try:
        with Image.open(path) as img:
            mode, arr = img.mode, np.asarray(img)
    except Exception as exc:
        raise DatasetError(f"unreadable image: {exc}", path) from None
    if mode != "RGB" or arr.shape != (KINECT_HEIGHT, KINECT_WIDTH, 3):
        raise DatasetError(f"expected a {KINECT_WIDTH}x{KINECT_HEIGHT} RGB PNG with depth in G and B, got {mode} "
                           f"{arr.shape[1::-1]}", path)
    return ((arr[..., 1].astype(np.uint32) << 8) | arr[..., 2]).astype(np.float32)


def write_depth(path: Path, depth_mm: np.ndarray) -> None:
    """Depth (mm) as NYU stores it, for tests and exports: R = 0, G = high byte, B = low byte."""
    d = np.clip(np.round(depth_mm), 0, 65535).astype(np.uint16)
    rgb = np.stack([np.zeros_like(d, np.uint8), (d >> 8).astype(np.uint8), (d & 255).astype(np.uint8)], axis=-1)
    Image.fromarray(rgb).save(path)


def import_nyu_hands(root: str | Path, out: str | Path, views: int = 1, split: str = "train",
                     synthetic: bool = False, every: int = 1, limit: int = 0, cube_mm: float = CUBE_MM,
                     size: int = CROP_SIZE, overwrite: bool = False, show_progress: bool | None = None) -> Path:
    """Write NYU frames (every ``every``-th, at most ``limit`` frames if > 0) × ``views`` cameras as crops."""
    if views not in (1, 3):
        raise InputError(f"--views must be 1 or 3, got {views}")
    if every < 1 or limit < 0:
        raise InputError("--every must be >= 1 and --limit >= 0")
    folder = split_folder(Path(root), split)
    uvd = read_joints(folder)
    if uvd.shape[0] < views:
        raise DatasetError(f"joint_uvd has {uvd.shape[0]} camera(s), --views {views} asked", folder / "joint_data.mat")
    frames = list(range(0, uvd.shape[1], every))
    frames = frames[:limit] if limit else frames
    config = {"views": views, "split": split, "synthetic": synthetic, "every": every, "limit": limit,
              "cube_mm": cube_mm, "size": size, "source": str(folder)}
    writer = DatasetWriter(out, name=f"nyu-hands-{split}{'-synthetic' if synthetic else ''}", task="hand",
                           domain="synthetic" if synthetic else "real", image=ImageSpec("I;16", size, size),
                           label_schema=hand_schema(), provenance=Provenance(command_line(), config),
                           **hand_keypoint_meta(), overwrite=overwrite, expected_count=len(frames) * views)
    rows = [(f, k) for f in frames for k in range(views)]
    with writer, progress_bar(show_progress) as bar:
        task = bar.add_task("import nyu-hands", total=len(rows), completed=writer.done, status="")
        for f, k in rows[writer.done:]:
            name = f"{k + 1}_{f + 1:07d}.png"
            synth = read_depth(folder / f"synthdepth_{name}")
            sensed = synth if synthetic else read_depth(folder / f"depth_{name}")
            sample = hand_sample(synth, sensed, uvd[k, f, list(NYU_EVAL)], cube_mm=cube_mm, size=size)
            if sample is None:
                raise DatasetError("the synthetic depth is empty: no hand to crop", folder / f"synthdepth_{name}")
            image, labels = sample
            writer.add(image, {**labels, "keypoints_21": np.zeros((21, 3)).tolist(), "camera": camera_json(),
                               "view": k + 1, "frame": f, "synthetic": synthetic, "source": name})
            bar.advance(task)
    return Path(out)
