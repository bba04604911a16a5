"""``simreal generate hands``: depth crops of posed Anny hands seen by a Kinect-like camera rig.

Frame ``k`` (one hand pose, ``views`` camera views) depends only on ``(seed, k)``: a body shape from the bank,
a pose (:mod:`simreal.simulate.hands.pose`), an orientation and the rig — the frontal camera and two side
cameras ``side_view_deg`` to its left and right, each ``distance_m`` from the palm, raised or lowered by
``elevation_deg``, looking at the palm with a little aim jitter. Row ``i`` of a dataset is view ``i % views``
of frame ``i // views``, so any split into shards writes the same bytes (:mod:`simreal.simulate.shards`).

Each view renders metric depth of the hand and forearm with MuJoCo in the Kinect's intrinsics — only the
window of the 640×480 sensor image that the mesh covers (the full frame with ``full_frame``; the same pixels
either way) — optionally passes it through the sensor model (``preset = "kinect"``,
:mod:`simreal.simulate.hands.sensor`), and crops it with :func:`simreal.data.hands.hand_crop` from the clean
render's support, with the joints' visibility as :func:`simreal.data.hands.visible_joints` decides.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from simreal.data.format import ImageSpec, Provenance, command_line
from simreal.data.hands import (
    KINECT_CX,
    KINECT_CY,
    KINECT_FX,
    KINECT_FY,
    KINECT_HEIGHT,
    KINECT_WIDTH,
    Crop,
    camera_json,
    crop_keypoints,
    hand_keypoint_meta,
    hand_sample,
    hand_schema,
    project,
    visible_joints,
)
from simreal.data.writer import DatasetWriter
from simreal.simulate.hands.model import HandModel, PosedHand
from simreal.simulate.hands.pose import hand_rotation, sample_hand_pose, sample_orientation
from simreal.simulate.hands.sensor import KinectConfig, kinect_depth
from simreal.simulate.people import anny
from simreal.simulate.render import SceneRenderer
from simreal.simulate.shards import Row
from simreal.simulate.workers import generate_sharded
from simreal.utils.errors import ConfigError
from simreal.utils.seeding import numpy_rng

PRESETS = ("clean", "kinect")
DEPTH_MAX_MM = 65535


@dataclass(frozen=True)
class HandSimConfig:
    preset: str = "clean"  # clean: the renderer's depth; kinect: through the simulated sensor
    views: int = 3  # 1: the frontal camera only; 3: also the two side cameras
    cube_mm: float = 300.0
    size: int = 224
    distance_m: tuple[float, float] = (0.4, 1.0)
    side_view_deg: tuple[float, float] = (45.0, 75.0)
    elevation_deg: tuple[float, float] = (-10.0, 25.0)
    aim_jitter_m: float = 0.03
    child_share: float = 0.1
    forearm_m: float = 0.12
    full_frame: bool = False  # also write the 640×480 depth (mm) under depth/
    kinect: KinectConfig = field(default_factory=KinectConfig)

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ConfigError(f"hands preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        if self.views not in (1, 3):
            raise ConfigError(f"views must be 1 or 3, got {self.views}")
        if not 0 < self.distance_m[0] <= self.distance_m[1]:
            raise ConfigError(f"distance_m must be an increasing positive range, got {self.distance_m}")
        if self.size < 16 or self.cube_mm <= 0:
            raise ConfigError(f"size must be at least 16 px and cube_mm positive, got {self.size} and {self.cube_mm}")


@dataclass
class Frame:
    """One hand pose in the world and its cameras (rows: right, down, forward; positions in m)."""

    posed: PosedHand
    factors: dict[str, Any]
    cameras: list[tuple[np.ndarray, np.ndarray]]  # (rotation, position) per view


class HandRenderer:
    """A MuJoCo model holding the hand mesh (world coordinates, rewritten once per pose) and one camera that
    each view moves; renders depth windows of the sensor image in the Kinect's intrinsics."""

    def __init__(self, hand: HandModel, width: int = KINECT_WIDTH, height: int = KINECT_HEIGHT):
        spec = mujoco.MjSpec()
        spec.stat.extent = 1.0
        spec.visual.map.znear, spec.visual.map.zfar = 0.02, 20.0
        spec.add_mesh(name="hand", uservert=hand.template.ravel().tolist(), userface=hand.faces.ravel().tolist())
        spec.worldbody.add_geom(name="hand", type=mujoco.mjtGeom.mjGEOM_MESH, meshname="hand", contype=0,
                                conaffinity=0, mass=0)
        cam = spec.worldbody.add_camera(name="cam", pos=[0, 0, 0])
        cam.sensor_size, cam.resolution = [width, height], [width, height]
        cam.focal_pixel, cam.principal_pixel = [KINECT_FX, KINECT_FY], [0, 0]
        self.model = spec.compile()
        self.mesh, geom = self.model.mesh("hand").id, self.model.geom("hand").id
        if self.model.mesh_vertnum[self.mesh] != len(hand.template):
            raise RuntimeError("MuJoCo changed the hand mesh's vertices")
        self.model.geom_pos[geom], self.model.geom_quat[geom] = 0.0, (1.0, 0.0, 0.0, 0.0)
        self.data = mujoco.MjData(self.model)
        mujoco.mj_forward(self.model, self.data)
        self._changed: list[int] = []
        self.renderer = SceneRenderer(self.model, width, height)

    def upload(self, vertices_m: np.ndarray) -> None:
        """The mesh's world vertices (m) for the views that follow."""
        m = self.model
        a, n = m.mesh_vertadr[self.mesh], m.mesh_vertnum[self.mesh]
        m.mesh_vert[a:a + n] = vertices_m
        self._changed = [self.mesh]

    def depth(self, rotation: np.ndarray, position: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
        """Depth (m, inf = empty) of the sensor-image window ``(x0, y0, w, h)`` seen by a camera at ``position``
        with ``rotation`` (rows: right, down, forward)."""
        m, d = self.model, self.data
        d.cam_xpos[0] = position
        d.cam_xmat[0] = np.stack([rotation[0], -rotation[1], -rotation[2]], axis=1).ravel()  # MuJoCo: y up, −z ahead
        x0, y0, w, h = window
        m.cam_sensorsize[0] = (w, h)
        m.cam_intrinsic[0] = (KINECT_FX, KINECT_FY, w / 2 - (KINECT_CX - x0), h / 2 - (KINECT_CY - y0))
        depth = self.renderer.render_depth(d, w, h, meshes=self._changed)
        self._changed = []
        return depth

    def close(self) -> None:
        self.renderer.close()


def look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Camera rotation (rows: right, down, forward) looking from ``position`` at ``target``, upright (z up)."""
    forward = (target - position) / np.linalg.norm(target - position)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    return np.stack([right, np.cross(forward, right), forward])


class HandMaker:
    """Everything one process needs to render hand crops."""

    def __init__(self, cfg: HandSimConfig, body_path: str | None = None):
        self.cfg = cfg
        self.hand = HandModel(anny.load(body_path), forearm_m=cfg.forearm_m)
        self.renderer = HandRenderer(self.hand)
        self._frame: tuple[int, Frame] | None = None

    def frame(self, seed: int, k: int) -> Frame:
        if self._frame is not None and self._frame[0] == k:
            return self._frame[1]
        cfg, rng = self.cfg, numpy_rng(seed, k)
        shape = self.hand.sample_shape(rng, cfg.child_share)
        pose, orientation = sample_hand_pose(rng), sample_orientation(rng)
        posed = self.hand.pose(shape, pose)
        rot = hand_rotation(shape, orientation)
        palm = posed.nyu[-1]
        posed = PosedHand(*((p - palm) @ rot.T for p in (posed.vertices, posed.keypoints21, posed.nyu)))
        side = rng.uniform(*cfg.side_view_deg)
        cameras = []
        for azimuth in (0.0, -side, side)[:cfg.views]:
            dist, elev = rng.uniform(*cfg.distance_m), math.radians(rng.uniform(*cfg.elevation_deg))
            az = math.radians(azimuth)
            position = dist * np.array([math.sin(az) * math.cos(elev), -math.cos(az) * math.cos(elev), math.sin(elev)])
            aim = rng.normal(0, cfg.aim_jitter_m, 3)
            cameras.append((look_at(position, aim), position))
        factors = {"pose_class": pose["class"], "curl": np.round(pose["curl"], 3).tolist(),
                   "opposition_deg": round(pose["opposition"], 2), "wrist_flex_deg": round(pose["wrist_flex"], 2),
                   "wrist_dev_deg": round(pose["wrist_dev"], 2), **{k: round(v, 2) for k, v in orientation.items()},
                   "side_view_deg": round(float(side), 2), "shape_index": shape.index, "age": round(shape.age, 1),
                   "child": shape.child, "hand_length_mm": round(shape.length_m * 1000, 1)}
        frame = Frame(posed, factors, cameras)
        self.renderer.upload(posed.vertices)
        self._frame = (k, frame)
        return frame

    def make(self, seed: int, index: int) -> Row:
        """Crop (16-bit normalised depth), no mask, the full frame's depth (mm) if asked, and the record."""
        cfg = self.cfg
        k, view = divmod(index, cfg.views)
        frame = self.frame(seed, k)
        rot, pos = frame.cameras[view]
        verts = (frame.posed.vertices - pos) @ rot.T
        joints = (frame.posed.nyu - pos) @ rot.T * 1000  # mm
        kp21 = (frame.posed.keypoints21 - pos) @ rot.T * 1000
        window = _window(verts, cfg.full_frame)
        clean = self.renderer.depth(rot, pos, window) if window[2] > 0 and window[3] > 0 else np.full((1, 1), np.inf)
        origin = window[:2]
        clean_mm = np.where(np.isfinite(clean), np.round(clean * 1000), 0).astype(np.float32)  # whole mm
        depth_mm = clean_mm
        if cfg.preset == "kinect":
            depth_mm = kinect_depth(clean, origin, KINECT_FX, KINECT_FY, KINECT_CX, KINECT_CY,
                                    numpy_rng(seed, k, view + 1), cfg.kinect)
        sample = hand_sample(clean_mm, depth_mm, project(joints), origin, cfg.cube_mm, cfg.size)
        if sample is None:
            raise ConfigError(f"frame {k} view {view + 1}: the hand is outside the sensor image; narrow distance_m")
        image, labels = sample
        crop = Crop.from_json(labels["crop"])
        uvd21 = project(kp21)
        kp = np.array(labels["keypoints"])
        record = {**labels, "keypoints_21": crop_keypoints(crop, uvd21, visible_joints(uvd21, clean_mm, origin))
                  .round(3).tolist(), "camera": camera_json(), "view": view + 1, "frame": k, "synthetic": True,
                  "factors": {**frame.factors, "view": view + 1, "distance_m": round(float(np.linalg.norm(pos)), 4),
                              "visible_joints": int((kp[:, 2] == 2).sum())}}
        full = None
        if cfg.full_frame:
            full = np.clip(np.round(depth_mm), 0, DEPTH_MAX_MM).astype(np.uint16)
        return image, None, full, record

    def close(self) -> None:
        self.renderer.close()


def _window(verts_m: np.ndarray, full: bool, margin: int = 8) -> tuple[int, int, int, int]:
    """The sensor-image window the mesh covers (plus ``margin`` pixels), or the whole image."""
    if full:
        return 0, 0, KINECT_WIDTH, KINECT_HEIGHT
    uv = project(verts_m)[:, :2]
    x0, y0 = np.floor(uv.min(axis=0)).astype(int) - margin
    x1, y1 = np.ceil(uv.max(axis=0)).astype(int) + margin
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, KINECT_WIDTH), min(y1, KINECT_HEIGHT)
    return int(x0), int(y0), int(max(x1 - x0, 0)), int(max(y1 - y0, 0))


@dataclass(frozen=True)
class HandJob:
    """Depth hands as a :class:`~simreal.simulate.shards.ShardJob`: row ``i`` is view ``i % views`` of frame
    ``i // views``."""

    count: int
    seed: int
    cfg: HandSimConfig
    body_path: str | None = None
    label: str = "generate hands"

    def start(self, root: Path, rows: range, log: Callable[[str], object]
              ) -> tuple[DatasetWriter, Callable[[int], Row], Callable[[], None]]:
        cfg = self.cfg
        note = ("clean synthetic depth" if cfg.preset == "clean" else
                "a SIMULATED Kinect-like sensor (the hand study's stand-in for real depth), not real data")
        provenance = Provenance(command_line(), {"count": self.count, "hands": dataclasses.asdict(cfg)}, self.seed,
                                extra={"shard": [rows.start, rows.stop], "appearance": note})
        writer = DatasetWriter(root, name=f"hands-{cfg.preset}", task="hand", domain="synthetic",
                               image=ImageSpec("I;16", cfg.size, cfg.size), label_schema=hand_schema(),
                               provenance=provenance, **hand_keypoint_meta(), first_index=rows.start,
                               expected_count=len(rows))
        maker = HandMaker(cfg, self.body_path)
        return writer, lambda i: maker.make(self.seed, i), maker.close


def generate_hands(out: str | Path, count: int = 3000, seed: int = 0, cfg: HandSimConfig = HandSimConfig(),
                   workers: int = 1, shard: tuple[int, int] | None = None, ray_address: str | None = None,
                   overwrite: bool = False, show_progress: bool | None = None, body_path: str | None = None,
                   log: Callable[[str], object] = print) -> Path | None:
    """Render ``count`` depth crops (``count / views`` hand poses) into ``out``; returns ``out`` once merged."""
    anny.load(body_path)  # a one-line error naming `make body-model` before any worker starts
    return generate_sharded(out, HandJob(count, seed, cfg, body_path), workers, shard, ray_address, overwrite,
                            show_progress, log)
