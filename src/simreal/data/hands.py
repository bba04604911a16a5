"""Depth hands (SimGAN section 3.2): the Kinect camera, the NYU joint set, the crop recipe and the label schema
that ``simreal generate hands`` and ``simreal import nyu-hands`` share.

**Pixels.** Continuous image coordinates with pixel ``i`` covering ``[i, i + 1)`` (its centre at ``i + 0.5``),
as :class:`~simreal.simulate.people.scene.Camera`. Camera coordinates are OpenCV's: x right, y down, z ahead,
in millimetres: ``u = cx + fx·x/z``, ``v = cy + fy·y/z``.

**The crop** (:func:`hand_crop`, the same for simulated and NYU frames; the paper crops "the pixels from real
images using the synthetic images"): the support of the *synthetic* (noise-free) depth frame gives the centre —
the mean ``(u, v)`` of its pixels and the median of their depths ``z_c`` — back-projected to ``c`` (mm). A cube
of ``cube_mm`` (300, as NYU work does) around ``c`` projects to a box ``fx·cube/z_c`` × ``fy·cube/z_c`` pixels
centred on ``(u, v)``, resampled to ``size`` × ``size`` (224, the paper's) by nearest neighbour (depth is
never averaged across an edge). Depth inside ``[z_c − cube/2, z_c + cube/2]`` is mapped linearly to
``[0, 1]``; pixels with no reading, outside the cube's depth range or outside the sensor frame are 1 (far).
The crop is stored as 16-bit PNG: ``round(65535 · value)``. A joint's crop coordinates are
``(u − x0)·size/w``, its normalised depth the same map as the pixels'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simreal.data.format import LabelField
from simreal.data.keypoints import HAND_KEYPOINTS

# NYU's Kinect (the intrinsics NYU work uses for its depth frames)
KINECT_WIDTH, KINECT_HEIGHT = 640, 480
KINECT_FX, KINECT_FY, KINECT_CX, KINECT_CY = 588.03, 587.07, 320.0, 240.0
CUBE_MM = 300.0
CROP_SIZE = 224
OCCLUSION_MM = 30.0

# The 14 of NYU's 36 joints that NYU work evaluates (Tompson et al. 2014; indices into joint_names). NYU's
# fingers run F1 = little … F4 = index, then the thumb (TH); KNU3 is the distal segment, KNU2 the middle one,
# A a segment's distal end and B its proximal end: KNU3_A is the fingertip, KNU2_B the proximal
# interphalangeal joint (the thumb's: its interphalangeal and metacarpophalangeal joints). PALM_1 and PALM_2
# are on the two sides of the wrist, PALM_3 in the palm (simreal's reading of the joint names and NYU's
# figures; the dataset documents no more).
NYU_JOINT_NAMES = (
    "F1_KNU3_A", "F1_KNU3_B", "F1_KNU2_A", "F1_KNU2_B", "F1_KNU1_A", "F1_KNU1_B",
    "F2_KNU3_A", "F2_KNU3_B", "F2_KNU2_A", "F2_KNU2_B", "F2_KNU1_A", "F2_KNU1_B",
    "F3_KNU3_A", "F3_KNU3_B", "F3_KNU2_A", "F3_KNU2_B", "F3_KNU1_A", "F3_KNU1_B",
    "F4_KNU3_A", "F4_KNU3_B", "F4_KNU2_A", "F4_KNU2_B", "F4_KNU1_A", "F4_KNU1_B",
    "TH_KNU3_A", "TH_KNU3_B", "TH_KNU2_A", "TH_KNU2_B", "TH_KNU1_A", "TH_KNU1_B",
    "PALM_1", "PALM_2", "PALM_3", "PALM_4", "PALM_5", "PALM_6",
)
NYU_EVAL = (0, 3, 6, 9, 12, 15, 18, 21, 24, 25, 27, 30, 31, 32)
NYU_JOINTS = tuple(NYU_JOINT_NAMES[i] for i in NYU_EVAL)
# each NYU joint as simreal names it, and where it comes from among the 21 hand keypoints (PALM_*: see
# simulate.hands.model.nyu_joints)
NYU_AS = ("little_tip", "little_pip", "ring_tip", "ring_pip", "middle_tip", "middle_pip", "index_tip",
          "index_pip", "thumb_tip", "thumb_ip", "thumb_mcp", "wrist_ulnar", "wrist_radial", "palm")
NYU_SKELETON = ((13, 1), (1, 0), (13, 3), (3, 2), (13, 5), (5, 4), (13, 7), (7, 6), (13, 10), (10, 9), (9, 8),
                (13, 11), (13, 12))  # 0-based, the 14 joints: palm to each finger's PIP to its tip; the wrist
HAND21 = tuple(HAND_KEYPOINTS)


@dataclass(frozen=True)
class Crop:
    """A crop of a depth frame: box ``x0, y0, w, h`` (full-frame pixels), the cube centre (mm) and size."""

    x0: float
    y0: float
    w: float
    h: float
    center_mm: tuple[float, float, float]
    cube_mm: float = CUBE_MM
    size: int = CROP_SIZE

    @property
    def near_mm(self) -> float:
        return self.center_mm[2] - self.cube_mm / 2

    def to_crop(self, uvd: np.ndarray) -> np.ndarray:
        """Full-frame ``(u, v, depth mm)`` rows → crop ``(u, v, normalised depth)``."""
        uvd = np.asarray(uvd, dtype=np.float64)
        return np.column_stack([(uvd[:, 0] - self.x0) * self.size / self.w, (uvd[:, 1] - self.y0) * self.size / self.h,
                                (uvd[:, 2] - self.near_mm) / self.cube_mm])

    def to_frame(self, crop_uvd: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`to_crop`."""
        c = np.asarray(crop_uvd, dtype=np.float64)
        return np.column_stack([self.x0 + c[:, 0] * self.w / self.size, self.y0 + c[:, 1] * self.h / self.size,
                                self.near_mm + c[:, 2] * self.cube_mm])

    def to_json(self) -> dict[str, Any]:
        return {"box": [self.x0, self.y0, self.w, self.h], "center_mm": list(self.center_mm), "cube_mm": self.cube_mm,
                "size": self.size}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Crop:
        return cls(*d["box"], center_mm=tuple(d["center_mm"]), cube_mm=d["cube_mm"], size=d["size"])


def project(xyz_mm: np.ndarray, fx: float = KINECT_FX, fy: float = KINECT_FY, cx: float = KINECT_CX,
            cy: float = KINECT_CY) -> np.ndarray:
    """Camera points (mm, OpenCV axes) → ``(u, v, z)`` rows."""
    p = np.asarray(xyz_mm, dtype=np.float64)
    return np.column_stack([cx + fx * p[:, 0] / p[:, 2], cy + fy * p[:, 1] / p[:, 2], p[:, 2]])


def unproject(uvd: np.ndarray, fx: float = KINECT_FX, fy: float = KINECT_FY, cx: float = KINECT_CX,
              cy: float = KINECT_CY) -> np.ndarray:
    """The inverse of :func:`project`."""
    q = np.asarray(uvd, dtype=np.float64)
    return np.column_stack([(q[:, 0] - cx) * q[:, 2] / fx, (q[:, 1] - cy) * q[:, 2] / fy, q[:, 2]])


def hand_crop(synthetic_mm: np.ndarray, origin: tuple[int, int] = (0, 0), cube_mm: float = CUBE_MM,
              size: int = CROP_SIZE, fx: float = KINECT_FX, fy: float = KINECT_FY, cx: float = KINECT_CX,
              cy: float = KINECT_CY) -> Crop | None:
    """The crop of a frame from its synthetic depth (mm, 0 = none): ``synthetic_mm`` may be a window of the
    frame whose top-left pixel is ``origin`` (it must hold the whole support). None if it is empty."""
    ys, xs = np.nonzero(synthetic_mm)
    if len(xs) == 0:
        return None
    u = float(xs.mean()) + 0.5 + origin[0]
    v = float(ys.mean()) + 0.5 + origin[1]
    z = float(np.median(synthetic_mm[ys, xs]))
    w, h = fx * cube_mm / z, fy * cube_mm / z
    center = unproject(np.array([[u, v, z]]), fx, fy, cx, cy)[0]
    # rounded as the record stores it, so that a crop read back from a record is this one
    return Crop(round(u - w / 2, 3), round(v - h / 2, 3), round(w, 3), round(h, 3),
                tuple(round(float(x), 2) for x in center), cube_mm, size)


def crop_depth(depth_mm: np.ndarray, crop: Crop, origin: tuple[int, int] = (0, 0),
               frame: tuple[int, int] = (KINECT_WIDTH, KINECT_HEIGHT)) -> np.ndarray:
    """The normalised crop (size × size float32 in [0, 1]) of ``depth_mm`` (mm, 0 = none; a window of a
    ``frame`` = (width, height) sensor image whose top-left pixel is ``origin``), by nearest neighbour."""
    s = crop.size
    cols = np.floor(crop.x0 + (np.arange(s) + 0.5) * crop.w / s).astype(np.int64)  # frame pixel per crop column
    rows = np.floor(crop.y0 + (np.arange(s) + 0.5) * crop.h / s).astype(np.int64)
    in_frame = ((rows >= 0) & (rows < frame[1]))[:, None] & ((cols >= 0) & (cols < frame[0]))[None, :]
    r, c = rows - origin[1], cols - origin[0]
    inside = ((r >= 0) & (r < depth_mm.shape[0]))[:, None] & ((c >= 0) & (c < depth_mm.shape[1]))[None, :]
    rr, cc = np.clip(r, 0, depth_mm.shape[0] - 1), np.clip(c, 0, depth_mm.shape[1] - 1)
    z = np.where(in_frame & inside, depth_mm[rr[:, None], cc[None, :]], 0).astype(np.float32)
    out = (z - np.float32(crop.near_mm)) / np.float32(crop.cube_mm)
    return np.where((z > 0) & (out >= 0) & (out <= 1), out, np.float32(1.0)).astype(np.float32)


def encode_crop(normalised: np.ndarray) -> np.ndarray:
    """A normalised crop as the 16-bit pixels a dataset stores."""
    return np.round(np.clip(normalised, 0, 1) * 65535).astype(np.uint16)


def decode_crop(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float32) / 65535


def visible_joints(uvd: np.ndarray, synthetic_mm: np.ndarray, origin: tuple[int, int] = (0, 0),
                   tolerance_mm: float = OCCLUSION_MM) -> np.ndarray:
    """Per point ``(u, v, depth mm)``: no surface of the synthetic depth more than ``tolerance_mm`` in front of
    it at its pixel (a joint lies inside its finger, under ~10 mm of skin; a finger in front of it is more)."""
    c = np.floor(uvd[:, 0]).astype(int) - origin[0]
    r = np.floor(uvd[:, 1]).astype(int) - origin[1]
    inside = (r >= 0) & (r < synthetic_mm.shape[0]) & (c >= 0) & (c < synthetic_mm.shape[1])
    surface = np.zeros(len(uvd))
    surface[inside] = synthetic_mm[r[inside], c[inside]]
    return ~((surface > 0) & (surface < uvd[:, 2] - tolerance_mm))


def hand_sample(synthetic_mm: np.ndarray, sensed_mm: np.ndarray, joints_uvd: np.ndarray,
                origin: tuple[int, int] = (0, 0), cube_mm: float = CUBE_MM, size: int = CROP_SIZE
                ) -> tuple[np.ndarray, dict[str, Any]] | None:
    """One crop and its labels, as the simulator and the NYU importer both make them: the crop of
    ``synthetic_mm``'s support applied to ``sensed_mm`` (the same frame or window, mm, 0 = none), and the 14
    joints (full-frame ``u, v, depth mm``) with visibility from the synthetic depth. None when the synthetic
    depth is empty."""
    crop = hand_crop(synthetic_mm, origin, cube_mm, size)
    if crop is None:
        return None
    uvd = np.asarray(joints_uvd, dtype=np.float64).round(3)  # as the record stores them: the labels derive from these
    kp = crop_keypoints(crop, uvd, visible_joints(uvd, synthetic_mm, origin))
    record = {"keypoints": kp.round(3).tolist(), "joints_uvd": uvd.tolist(),
              "joints_xyz": unproject(uvd).round(2).tolist(), "joints_depth": crop.to_crop(uvd)[:, 2].round(5).tolist(),
              "crop": crop.to_json()}
    return encode_crop(crop_depth(sensed_mm, crop, origin)), record


def hand_schema() -> dict[str, LabelField]:
    n, m = len(NYU_JOINTS), len(HAND21)
    return {
        "keypoints": LabelField("float32", (n, 3), "NYU's 14 evaluated joints (NYU_JOINTS order): crop pixels u, v "
                                "and visibility v (2 visible, 1 hidden behind the hand, 0 outside the crop)"),
        "joints_uvd": LabelField("float32", (n, 3), "the 14 joints in the full frame: u, v (pixels), depth (mm)"),
        "joints_xyz": LabelField("float32", (n, 3), "the 14 joints in camera coordinates (x right, y down, z ahead)",
                                 units="mm"),
        "joints_depth": LabelField("float32", (n,), "the 14 joints' depth in the crop's normalised units"),
        "keypoints_21": LabelField("float32", (m, 3), "21 hand keypoints (HAND_KEYPOINTS order): crop u, v, "
                                   "visibility (simulated hands only; zeros for imports)"),
        "crop": LabelField("object", None, "box [x0, y0, w, h] in full-frame pixels, center_mm, cube_mm, size"),
        "camera": LabelField("object", None, "fx, fy, cx, cy, width, height of the depth sensor"),
        "view": LabelField("int64", (), "camera view 1-3 (1 frontal)", range=(1, 3)),
        "frame": LabelField("int64", (), "the pose (simulator) or NYU frame index the views share"),
        "synthetic": LabelField("bool", (), "true for simulator output"),
    }


def hand_keypoint_meta() -> dict[str, Any]:
    """The manifest's keypoint fields of a hand dataset (NYU's 14 joints; the skeleton 1-based, as COCO's)."""
    return {"keypoint_names": list(NYU_JOINTS), "skeleton": [[a + 1, b + 1] for a, b in NYU_SKELETON],
            "flip_pairs": []}


def camera_json(fx: float = KINECT_FX, fy: float = KINECT_FY, cx: float = KINECT_CX, cy: float = KINECT_CY,
                width: int = KINECT_WIDTH, height: int = KINECT_HEIGHT) -> dict[str, Any]:
    return {"fx": fx, "fy": fy, "cx": cx, "cy": cy, "width": width, "height": height}


def crop_keypoints(crop: Crop, uvd: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """``(u, v, visibility)`` in the crop: visibility 2 or 1 from ``visible`` where the point is inside the
    crop (its box and the cube's depth range), else 0."""
    c = crop.to_crop(uvd)
    inside = (c[:, 0] >= 0) & (c[:, 0] < crop.size) & (c[:, 1] >= 0) & (c[:, 1] < crop.size) & \
        (c[:, 2] >= 0) & (c[:, 2] <= 1)
    vis = np.where(inside, np.where(visible, 2, 1), 0)
    return np.column_stack([c[:, :2], vis]).astype(np.float32)
