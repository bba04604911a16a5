"""A scene of several people on a ground plane, seen by one pinhole camera; MuJoCo for placement checks.

World frame: z up, ground at z = 0, the camera at ``(0, 0, height)`` looking along +x, pitched down by
``pitch`` degrees. People are placed one after another at random ground positions whose pelvis projects
into the image and at random headings; a person whose geoms penetrate another person's (a MuJoCo contact
with negative distance) is re-placed, at most ``place_tries`` times, and a pose that penetrates itself
(beyond ``self_penetration_m``) is re-drawn, at most ``pose_tries`` times. If a person cannot be placed the
scene is rejected and the caller draws a new one.

Sitting people whose buttocks end up above the ground (their feet on it) sit on a seat: a box under the
buttocks and the backs of the thighs, its top where they touch it, stopping short of the lower legs, as
wide as the hips and a bit (a stool, a crate, a low wall, a bench end), in a wood, stone, metal or plastic
colour. A seat is rendered and hides what is behind it, but its pixels belong to no person (masks 0,
``occluded_by`` −1); another person may not penetrate it. A sitting pose that leaves no room for one is
re-drawn. Sitting on the ground needs no seat.

Bodies (``SceneConfig.body``): ``anny`` renders realistic Anny meshes (:mod:`simreal.simulate.people.anny`,
:mod:`simreal.simulate.people.meshes`), each standing on a hidden capsule body fitted to it that MuJoCo uses
for placement and self-penetration; ``capsules`` renders the capsule bodies themselves (faster, and no body
file needed); ``auto`` is ``anny`` where ``make body-model`` has run, else ``capsules``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mujoco
import numpy as np

from simreal.simulate.people import anny
from simreal.simulate.people.body import (
    CHILD_SHARE,
    MATERIALS,
    TEXTURES,
    Appearance,
    BodyShape,
    material_of,
    person_body,
    sample_appearance,
    sample_shape,
    slot_materials,
)
from simreal.simulate.people.clothes import Atlas, Clothes, sample_clothes
from simreal.simulate.people.meshes import HIDDEN_GROUP, MeshSlots, skirt_rings
from simreal.simulate.people.pose import UPRIGHT, axis_quat, ball_quat, quat_mul, sample_pose
from simreal.simulate.people.skeleton import COCO_KEYPOINTS, MPII_KEYPOINTS, SITES
from simreal.utils.errors import ConfigError

Range = tuple[float, float]
PARK_X = -60.0  # unplaced people wait behind the camera, out of view
GEOMETRY = ("geom_size", "geom_pos", "geom_quat", "geom_rbound", "geom_aabb")  # a body's geoms, per slot
SEAT = -2  # geom_person of a seat: nobody's pixels, but it hides what is behind it
MIN_SEAT_M = 0.06  # buttocks lower than this above the ground sit on the ground
SEAT_COLOURS = ((0.45, 0.31, 0.19), (0.62, 0.48, 0.32), (0.55, 0.55, 0.52), (0.42, 0.42, 0.4),  # woods, stone
                (0.16, 0.17, 0.19), (0.85, 0.85, 0.82), (0.2, 0.35, 0.25), (0.25, 0.32, 0.5))  # metal, plastic, paint


@dataclass(frozen=True)
class SceneConfig:
    """Ranges are sampled uniformly; angles in degrees, lengths in metres."""

    width: int = 640
    height: int = 640
    people_lambda: float = 9.0  # number of people ~ Poisson(people_lambda), then clipped
    min_people: int = 1  # the authors' code: Poisson(10) with at least 2
    max_people: int = 25
    camera_pitch_deg: Range = (0.0, 45.0)  # uniform in angle (the paper)
    photo_pitch_deg: Range = (-15.0, 45.0)  # where a background photo's horizon sets the pitch (< 0: looking up)
    camera_distance_m: Range = (3.5, 10.0)  # along the optical axis, to the point the camera looks at
    look_at_height_m: Range = (0.4, 1.2)  # height of that point above the ground
    crowd_radius_m: Range = (1.5, 5.0)  # people stand in a disc of this radius around the looked-at point
    fovy_deg: Range = (35.0, 65.0)  # vertical field of view: the focal length range
    place_tries: int = 30
    pose_tries: int = 10
    self_penetration_m: float = 0.015
    light_intensity: Range = (0.35, 0.9)
    ambient: Range = (0.2, 0.5)
    postures: dict[str, float] | None = None  # None: pose.POSTURES
    body: str = "auto"  # anny | capsules | auto (anny where `make body-model` has run)
    child_share: float = CHILD_SHARE  # probability that a person is a child (capsules: 0.9-1.45 m; Anny: 3-17 years)
    contact_shadow: float = 0.45  # darkness of the soft shadow where people touch the ground (0: none)
    cast_shadow: float = 0.8  # darkness of the key light's shadow on the ground, times its share of the light
    hand_keypoints: bool = False  # label 21 keypoints per hand too (Anny bodies; capsules have no fingers)
    mesh_cell_m: float = 0.01  # Anny meshes rendered decimated on a grid this fine (0: the full mesh)


BODIES = ("anny", "capsules", "auto")
COCO_SITES = [SITES.index(n) for n in COCO_KEYPOINTS]
MPII_SITES = [SITES.index(n) for n in MPII_KEYPOINTS]


def resolved_body(cfg: SceneConfig) -> SceneConfig:
    """``cfg`` with ``auto`` resolved (anny when the body file exists, else capsules): the body a dataset
    records is the one it gets."""
    if cfg.body not in BODIES:
        raise ConfigError(f"unknown body {cfg.body!r}; choose one of {', '.join(BODIES)}")
    if cfg.body != "auto":
        return cfg
    return dataclasses.replace(cfg, body="anny" if anny.available() else "capsules")


def with_body(cfg: SceneConfig, log: Callable[[str], object]) -> SceneConfig:
    """:func:`resolved_body`, checked before any work starts: an explicit ``anny`` without the body file is
    an error naming ``make body-model``, and ``auto`` says when it falls back to capsules."""
    out = resolved_body(cfg)
    if out.body == "anny":
        anny.load()
    elif cfg.body == "auto":
        log(f"capsule bodies: no Anny body model at {anny.model_path()} (`make body-model` makes it)")
    if not 0.0 <= cfg.child_share <= 1.0:
        raise ConfigError(f"child_share must be in [0, 1], got {cfg.child_share}")
    return out


@dataclass
class Camera:
    """Pinhole camera: world point X → camera coordinates ``R (X − position)`` (x right, y down, z ahead)."""

    position: np.ndarray
    rotation: np.ndarray  # rows: right, down, forward
    fovy_deg: float
    width: int
    height: int

    @property
    def focal_px(self) -> float:
        return self.height / 2 / math.tan(math.radians(self.fovy_deg) / 2)

    @property
    def intrinsics(self) -> np.ndarray:
        f = self.focal_px
        return np.array([[f, 0, self.width / 2], [0, f, self.height / 2], [0, 0, 1]])

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=float) - self.position) @ self.rotation.T

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates ``(N, 2)`` (pixel centres at +0.5) and camera depth ``(N,)``."""
        c = self.to_camera(points)
        z = c[:, 2]
        safe = np.where(z > 1e-6, z, 1e-6)
        uv = c[:, :2] / safe[:, None] * self.focal_px + np.array([self.width / 2, self.height / 2])
        return uv, z

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position.round(5).tolist(), "rotation": self.rotation.round(6).tolist(),
                "intrinsics": self.intrinsics.round(4).tolist(), "fovy_deg": round(self.fovy_deg, 4),
                "width": self.width, "height": self.height}


def make_camera(pitch_deg: float, distance_m: float, look_at_height_m: float, fovy_deg: float, width: int,
                height: int) -> Camera:
    """A camera at the ground origin's vertical, looking along +x and down by ``pitch_deg`` at a point
    ``distance_m`` away and ``look_at_height_m`` above the ground; looking up (negative pitch), the camera
    itself is at ``look_at_height_m``."""
    p = math.radians(pitch_deg)
    forward = np.array([math.cos(p), 0.0, -math.sin(p)])
    right = np.array([0.0, -1.0, 0.0])
    down = np.cross(forward, right)
    position = np.array([0.0, 0.0, look_at_height_m + distance_m * math.sin(max(p, 0.0))])
    return Camera(position, np.stack([right, down, forward]), fovy_deg, width, height)


@dataclass
class Person:
    index: int
    shape: BodyShape
    appearance: Appearance
    pose: dict[str, Any]
    position: tuple[float, float] = (PARK_X, 0.0)
    heading_deg: float = 0.0
    anny_shape: anny.AnnyShape | None = None  # the rendered body; ``shape`` is then its hidden capsule stand-in
    posed: anny.PosedBody | None = None  # posed without root tilt, relative to the hip joints' midpoint
    world: np.ndarray | None = None  # the posed mesh's vertices in the world, once placed
    clothes: Clothes | None = None  # an Anny body's clothes (a capsule body's are its appearance)
    texture_seed: int = 0
    seat: dict[str, Any] | None = None  # the box a sitting person sits on: centre, half sizes (m), heading


@dataclass
class Scene:
    camera: Camera
    people: list[Person]
    model: mujoco.MjModel
    data: mujoco.MjData
    light: dict[str, Any]
    geom_person: np.ndarray  # person index per geom (−1: none; SEAT: a seat)
    geom_body: np.ndarray  # the body segment each geom belongs to (an Anny mesh part: its capsule stand-in's)
    factors: dict[str, Any] = field(default_factory=dict)
    meshes: list[int] = field(default_factory=list)  # meshes rewritten for this scene: upload before rendering
    textures: list[int] = field(default_factory=list)  # textures rewritten for this scene: upload them too
    bodies: anny.AnnyModel | None = None  # the model of the Anny people's meshes (``Person.world``)

    def owners(self, geom: np.ndarray) -> np.ndarray:
        """The person in front at each pixel of a rendered geom-index image: their index, −1 for the
        background, SEAT where a seat is in front."""
        return np.where(geom >= 0, self.geom_person[np.maximum(geom, 0)], -1)

    def sites(self, k: int) -> np.ndarray:
        """World positions ``(len(SITES), 3)`` of person ``k``'s keypoint sites (on the capsule body)."""
        return np.stack([self.data.site(f"p{k}_{s}").xpos for s in SITES])

    def keypoints(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """World positions of person ``k``'s COCO-17 and MPII-16 keypoints: the capsule body's sites, or the
        Anny body's regressed and bone keypoints."""
        person = self.people[k]
        if person.anny_shape is None:
            sites = self.sites(k)
            return sites[COCO_SITES], sites[MPII_SITES]
        to_world = _pelvis_frame(self.data, k)
        return to_world(person.posed.coco), to_world(person.posed.mpii)

    def hand_keypoints(self, k: int) -> np.ndarray | None:
        """World positions (42, 3) of person ``k``'s hand keypoints (left hand, then right; HAND_KEYPOINTS
        order); None for a capsule body, which has no fingers."""
        person = self.people[k]
        return None if person.anny_shape is None else _pelvis_frame(self.data, k)(person.posed.hands)


def _pelvis_frame(data: mujoco.MjData, k: int) -> Callable[[np.ndarray], np.ndarray]:
    """Person frame (origin between the hip joints) → world, from person ``k``'s posed capsule pelvis."""
    body = data.body(f"p{k}_pelvis")
    rot, pos = body.xmat.reshape(3, 3).copy(), body.xpos.copy()
    return lambda points: points @ rot.T + pos


class Poser:
    """Writes a person's pose, position and heading into ``qpos`` and grounds them."""

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData, n_people: int):
        self.model, self.data = model, data
        names = [model.geom(i).name for i in range(model.ngeom)]
        self.geom_person = np.array([int(n[1:n.index("_")]) if n.startswith("p") else SEAT if n.startswith("seat")
                                     else -1 for n in names])
        # whose a geom is in placement checks: a seat is its sitter's
        self.geom_owner = np.array([int(n[4:]) if n.startswith("seat") else k for n, k in zip(names, self.geom_person,
                                                                                                strict=True)])
        self.person_geoms = [np.flatnonzero(self.geom_person == k) for k in range(n_people)]

    def _qadr(self, name: str) -> int:
        return int(self.model.joint(name).qposadr[0])

    def root_adr(self, k: int) -> int:
        return self._qadr(f"p{k}_root")

    def set_pose(self, person: Person) -> None:
        p, q = f"p{person.index}_", self.data.qpos
        pose = person.pose
        for name in ("spine_flex", "spine_lat", "spine_twist", "neck_flex", "neck_lat", "neck_twist"):
            q[self._qadr(p + name)] = math.radians(pose[name])
        for side in ("left", "right"):
            for joint in ("elbow", "wrist", "knee", "ankle"):
                q[self._qadr(f"{p}{side}_{joint}")] = math.radians(pose[f"{side}_{joint}"])
            for joint in ("shoulder", "hip"):
                a = self._qadr(f"{p}{side}_{joint}")
                q[a:a + 4] = ball_quat(*pose[f"{side}_{joint}"], side)
        roll, pitch = pose["root_tilt"]
        root = quat_mul(axis_quat((0, 0, 1), person.heading_deg),
                        quat_mul(axis_quat((0, 1, 0), pitch), axis_quat((1, 0, 0), roll)))
        a = self._qadr(p + "root")
        q[a:a + 3] = (person.position[0], person.position[1], person.shape.seg["ankle"] + person.shape.seg["shank"]
                      + person.shape.seg["thigh"])
        q[a + 3:a + 7] = root

    def ground(self, person: Person, ground_z: float = 0.0) -> None:
        """Shift the person vertically so that their lowest point touches z = ``ground_z``."""
        mujoco.mj_kinematics(self.model, self.data)
        lowest = min(lowest_z(self.model, self.data, g) for g in self.person_geoms[person.index]
                     if self.model.geom_contype[g])
        self.data.qpos[self._qadr(f"p{person.index}_root") + 2] += ground_z - lowest

    def contacts(self, k: int, self_tolerance_m: float) -> tuple[bool, bool]:
        """(self-penetration deeper than the tolerance, any penetration of another person) of person ``k``."""
        mujoco.mj_forward(self.model, self.data)
        n = self.data.ncon
        if n == 0:
            return False, False
        geoms, dist = self.data.contact.geom[:n], self.data.contact.dist[:n]
        a, b = self.geom_owner[geoms[:, 0]], self.geom_owner[geoms[:, 1]]
        seat = (self.geom_person[geoms[:, 0]] == SEAT) | (self.geom_person[geoms[:, 1]] == SEAT)
        mine = (a == k) | (b == k)
        self_pen = bool(np.any(mine & (a == b) & ~seat & (dist < -self_tolerance_m)))  # one's own seat: fine
        other = bool(np.any(mine & (a != b) & (dist < 0)))
        return self_pen, other


def lowest_z(m: mujoco.MjModel, d: mujoco.MjData, g: int) -> float:
    """World height of the lowest point of geom ``g`` (a capsule, sphere or ellipsoid)."""
    size, z, rz = m.geom_size[g], d.geom_xpos[g][2], d.geom_xmat[g].reshape(3, 3)[2]
    t = m.geom_type[g]
    if t == mujoco.mjtGeom.mjGEOM_CAPSULE:
        return z - abs(rz[2]) * size[1] - size[0]
    if t == mujoco.mjtGeom.mjGEOM_SPHERE:
        return z - size[0]
    return z - float(np.sqrt(np.sum((rz * size) ** 2)))  # ellipsoid


def _ground_position(rng: np.random.Generator, camera: Camera, centre: np.ndarray, radius: float,
                     stature: float) -> tuple[float, float]:
    """A point of the disc around ``centre`` where a person's mid-body projects into the image
    (rejection sampling; the last draw if none does)."""
    x = y = 0.0
    w, h = camera.width, camera.height
    for _ in range(64):
        r, a = radius * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        x, y = float(centre[0] + r * math.cos(a)), float(centre[1] + r * math.sin(a))
        (u, v), z = (c[0] for c in camera.project(np.array([[x, y, 0.55 * stature]])))
        if z > 1.0 and -0.05 * w < u < 1.05 * w and -0.05 * h < v < 1.05 * h:
            break
    return x, y


def _direction(azimuth: float, elevation: float) -> list[float]:
    """The direction light travels in, from a source at ``azimuth`` and ``elevation`` (radians)."""
    return [-math.cos(elevation) * math.cos(azimuth), -math.cos(elevation) * math.sin(azimuth), -math.sin(elevation)]


def sample_light(cfg: SceneConfig, rng: np.random.Generator) -> dict[str, Any]:
    """A key light from a random azimuth, 20–80° above the horizon, slightly warm; a fill light from the
    other side (120–240° around), 10–50° up, 15–40 % of the key's intensity, slightly cool; ambient light."""
    azimuth, elevation = rng.uniform(0, 2 * math.pi), rng.uniform(math.radians(20), math.radians(80))
    key = float(rng.uniform(*cfg.light_intensity))
    fill_azimuth = azimuth + rng.uniform(math.radians(120), math.radians(240))
    fill_elevation = rng.uniform(math.radians(10), math.radians(50))
    return {"dir": _direction(azimuth, elevation), "diffuse": key, "ambient": float(rng.uniform(*cfg.ambient)),
            "fill_dir": _direction(fill_azimuth, fill_elevation), "fill": key * float(rng.uniform(0.15, 0.4))}


def _slot_xml(k: int, shape: BodyShape, appearance: Appearance, textured: bool) -> tuple[str, str]:
    p = f"p{k}_"
    return slot_materials(p, textured), person_body(p, shape, appearance)


def _seat_park(k: int) -> tuple[float, float, float]:
    """Where person slot ``k``'s seat waits when unused: behind the camera, beside the parked people."""
    return PARK_X - 4.0 * k, 40.0, 0.0


def _seat_xml(k: int) -> str:
    """Person slot ``k``'s seat: a box on a mocap body, moved and resized per scene, parked when unused."""
    return (f'<body name="seat{k}" mocap="true" pos="{" ".join(map(str, _seat_park(k)))}">'
            f'<geom name="seat{k}" type="box" size="0.2 0.2 0.2" rgba="0.5 0.5 0.5 1"/></body>')


def _excludes(k: int) -> str:
    """Soft-tissue neighbours that touch in normal poses (belly and thighs when sitting or crouching)."""
    return "".join(f'<exclude body1="p{k}_abdomen" body2="p{k}_{side}_thigh"/>' for side in ("left", "right"))


class SceneBuilder:
    """Draws scenes into one MuJoCo model compiled once with ``max_people`` person slots.

    Per scene, each used slot gets the geometry of a freshly sampled body (compiled alone, ~1 ms, and
    copied into the slot's geoms, bodies and sites), its colours (material colours and pattern), pose and
    place; unused slots wait behind the camera. Reusing the model lets a renderer keep its GL context.
    """

    def __init__(self, cfg: SceneConfig, photos: list[np.ndarray] | tuple = ()):
        """``photos``: RGB images that garments with a photo print are cut from (Anny bodies)."""
        self.cfg = cfg = resolved_body(cfg)
        self.bodies = anny.load(cell=cfg.mesh_cell_m) if cfg.body == "anny" else None
        self.atlas = Atlas(anny.load()) if self.bodies is not None else None  # textures from the full mesh
        self.photos = list(photos)
        rng = np.random.default_rng(0)
        n = cfg.max_people
        slots = [_slot_xml(k, sample_shape(rng), sample_appearance(rng), True) for k in range(n)]
        xml = (
            '<mujoco model="people"><compiler angle="degree"/><option><flag gravity="disable"/></option>'
            '<statistic extent="20" center="0 0 1"/>'
            f'<visual><global offwidth="{cfg.width}" offheight="{cfg.height}"/>'
            '<quality shadowsize="0" offsamples="0"/><map znear="0.002" zfar="10"/></visual>'
            f'<asset>{TEXTURES}{"".join(a for a, _ in slots)}</asset><worldbody>'
            '<light name="sun" directional="true" castshadow="false" dir="0 0 -1"/>'
            '<light name="fill" directional="true" castshadow="false" dir="0 0 -1" specular="0 0 0"/>'
            '<camera name="cam" pos="0 0 2" xyaxes="0 -1 0 0 0 1" fovy="45"/>'
            f'{"".join(b for _, b in slots)}{"".join(_seat_xml(k) for k in range(n))}</worldbody>'
            f'<contact>{"".join(_excludes(k) for k in range(n))}</contact>'
            '</mujoco>')
        spec = mujoco.MjSpec.from_string(xml)
        self.meshes = MeshSlots(self.bodies, n) if self.bodies is not None else None
        if self.meshes is not None:  # the capsule bodies only stand in for the meshes in MuJoCo's checks
            for g in spec.geoms:
                if not g.name.startswith("seat"):
                    g.group = HIDDEN_GROUP
            self.meshes.add_to(spec)
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        self.poser = Poser(self.model, self.data, n)
        m = self.model
        self.geom_body = m.geom_bodyid.copy()
        if self.meshes is not None:
            self.meshes.bind(m)
            for k in range(n):
                for g, b in self.meshes.segment_bodies(k).items():
                    self.geom_body[g] = b
        self.seats = [(m.geom(f"seat{k}").id, int(m.body(f"seat{k}").mocapid[0])) for k in range(n)]
        self._geometry: dict[tuple[int, bool], dict[str, np.ndarray]] = {}  # stand-ins of Anny bank shapes
        self._ids = []
        for k in range(n):
            pre = f"p{k}_"
            ids = {kind: np.array([i for i in range(count) if getattr(m, kind)(i).name.startswith(pre)])
                   for kind, count in (("body", m.nbody), ("geom", m.ngeom), ("site", m.nsite))}
            ids["geom"] = np.array([i for i in ids["geom"] if not m.geom(i).name.startswith(pre + "mesh_")])  # capsules
            ids["material"] = {name: m.material(pre + name).id for name in MATERIALS}
            # the capsule geoms that are drawn, each with the segment whose clothes it wears (an Anny body's
            # clothes are its texture)
            ids["dress"] = {i: m.geom(i).name[len(pre):] for i in ids["geom"] if m.geom_group[i] != HIDDEN_GROUP}
            self._ids.append(ids)

    # -- one person --------------------------------------------------------------------------------
    def _set_geometry(self, person: Person) -> None:
        """Copy the person's body geometry into its slot: compiled alone (~1 ms), or for an Anny body's
        stand-in, remembered per bank shape (and hair length, which sizes the hair geom)."""
        key = None if person.anny_shape is None else (person.anny_shape.index, person.appearance.hair_long)
        arrays = self._geometry.get(key) if key is not None else None
        if arrays is None:
            mats, body = _slot_xml(0, person.shape, person.appearance, False)
            one = mujoco.MjModel.from_xml_string(f'<mujoco><compiler angle="degree"/><asset>{mats}</asset>'
                                                 f"<worldbody>{body}</worldbody></mujoco>")
            arrays = {"body_pos": one.body_pos[1:], "body_quat": one.body_quat[1:], "site_pos": one.site_pos,
                      "site_quat": one.site_quat, **{name: getattr(one, name) for name in GEOMETRY}}
            if key is not None:
                self._geometry[key] = arrays
        m, ids = self.model, self._ids[person.index]
        for name, value in arrays.items():
            getattr(m, name)[ids[name.partition("_")[0]]] = value

    def _set_appearance(self, person: Person) -> None:
        m, ids, a = self.model, self._ids[person.index], person.appearance
        mat = ids["material"]
        for name, colour in (("skin", a.skin), ("hair", a.hair), ("bottom", a.bottom), ("shoes", a.shoes),
                             (f"top_{a.pattern}", a.top)):
            m.mat_rgba[mat[name]] = (*colour, 1.0)
        for g, segment in ids["dress"].items():
            m.geom_matid[g] = mat[material_of(segment, a)]

    def _set_camera(self, camera: Camera, light: dict[str, Any]) -> None:
        m = self.model
        right, down, forward = camera.rotation
        mat = np.stack([right, -down, -forward], axis=1)  # MuJoCo camera frame: x right, y up, z backwards
        quat = np.empty(4)
        mujoco.mju_mat2Quat(quat, mat.ravel())
        m.cam_pos[0], m.cam_quat[0], m.cam_fovy[0] = camera.position, quat, camera.fovy_deg
        m.light_dir[0], m.light_dir[1] = light["dir"], light["fill_dir"]
        m.light_diffuse[0] = light["diffuse"] * np.array([1.0, 0.97, 0.92])  # warm key
        m.light_diffuse[1] = light["fill"] * np.array([0.9, 0.95, 1.0])  # cool fill
        m.vis.headlight.ambient[:] = light["ambient"]
        m.vis.headlight.diffuse[:] = 0.25

    # -- one scene ----------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, pitch_deg: float | None = None, fovy_deg: float | None = None
               ) -> tuple[Scene | None, dict[str, int]]:
        """Draw a scene (the camera's pitch and field of view as given, e.g. to match a background photo's
        horizon, else drawn); None (with the statistics of the failed attempt) when a person could not be
        placed."""
        cfg = self.cfg
        n = int(np.clip(rng.poisson(cfg.people_lambda), cfg.min_people, cfg.max_people))
        pitch = float(rng.uniform(*cfg.camera_pitch_deg)) if pitch_deg is None else pitch_deg
        distance = float(rng.uniform(*cfg.camera_distance_m))
        look_at = float(rng.uniform(*cfg.look_at_height_m))
        fovy = float(rng.uniform(*cfg.fovy_deg)) if fovy_deg is None else fovy_deg
        camera = make_camera(pitch, distance, look_at, fovy, cfg.width, cfg.height)
        centre = np.array([distance * math.cos(math.radians(pitch)), 0.0])  # below the looked-at point
        radius = float(rng.uniform(*cfg.crowd_radius_m))
        light = sample_light(cfg, rng)
        scene, stats = self.populate(rng, camera, light, n, lambda p: (
            *_ground_position(rng, camera, centre, radius, p.shape.height), 0.0))
        if scene is not None:
            scene.factors = {"camera_pitch_deg": round(pitch, 4),
                             "camera_height_m": round(float(camera.position[2]), 4),
                             "fovy_deg": round(camera.fovy_deg, 4), "crowd_radius_m": round(radius, 4),
                             "n_people": n, **stats}
        return scene, stats

    def populate(self, rng: np.random.Generator, camera: Camera, light: dict[str, Any], n: int,
                 where: Callable[[Person], tuple[float, ...]]) -> tuple[Scene | None, dict[str, int]]:
        """Place ``n`` new people, each at ``where(person)`` = (x, y, ground height) facing a random way, or
        (x, y, ground height, heading in degrees); re-placed on contact."""
        self._set_camera(camera, light)
        people = [self._person(k, rng) for k in range(n)]
        for k in range(self.cfg.max_people):  # everyone waits behind the camera
            self.data.qpos[self.poser.root_adr(k):self.poser.root_adr(k) + 3] = (PARK_X - 4.0 * k, 0.0, 1.0)
            if self.meshes is not None:
                self.meshes.park(k)
            self._park_seat(k)
        stats = {"replaced": 0, "reposed": 0}
        for person in people:
            self._set_geometry(person)
            self._set_appearance(person)
            if not self._place(person, where, rng, stats, n):
                return None, stats
        mujoco.mj_forward(self.model, self.data)
        scene = Scene(camera, people, self.model, self.data, light, self.poser.geom_person, self.geom_body, {},
                      bodies=self.bodies)
        for person in people:
            if person.anny_shape is not None:
                to_world = _pelvis_frame(self.data, person.index)
                person.world = to_world(person.posed.vertices)
                scene.meshes += self.meshes.write(person.index, person.world)
                scene.meshes += self.meshes.write_skirt(person.index, None if person.clothes.skirt <= 0 else to_world(
                    self._skirt(person)))
                texture = self.atlas.paint(person.appearance, person.clothes, self.photos, person.texture_seed)
                scene.textures.append(self.meshes.paint(person.index, texture))
        if scene.meshes:
            mujoco.mj_kinematics(self.model, self.data)  # the mesh geoms moved from their parking place
        return scene, stats

    def _person(self, k: int, rng: np.random.Generator) -> Person:
        if self.bodies is None:
            return Person(k, sample_shape(rng, self.cfg.child_share), sample_appearance(rng),
                          sample_pose(rng, postures=self.cfg.postures))
        body = self.bodies.sample_shape(rng, self.cfg.child_share)
        appearance = sample_appearance(rng)
        pose = sample_pose(rng, postures=self.cfg.postures)
        clothes = sample_clothes(rng, appearance, body.phenotype["gender"], pose["posture"] in UPRIGHT)
        return Person(k, self.bodies.proxy_shape(body), appearance, pose, anny_shape=body, clothes=clothes,
                      texture_seed=int(rng.integers(1 << 31)))

    def _skirt(self, person: Person) -> np.ndarray:
        """The person's skirt in the pelvis frame: around the pelvis, abdomen, thighs and shins from the waist
        to the hem (a share of the leg's length below the hip joints)."""
        sv = self.bodies.segment_vertices
        near = person.posed.vertices[np.concatenate([sv[s] for s in (
            "pelvis", "abdomen", "left_thigh", "right_thigh", "left_shin", "right_shin")])]
        leg = person.shape.seg["thigh"] + person.shape.seg["shank"]
        return skirt_rings(near, person.clothes.waist, -person.clothes.skirt * leg)

    def _pose_mesh(self, person: Person) -> None:
        """Pose the Anny body as the capsule body is (the root's tilt comes from MuJoCo's free joint)."""
        posed = self.bodies.pose(person.anny_shape, {**person.pose, "root_tilt": (0.0, 0.0)})
        i = self.bodies.index
        hips = (person.anny_shape.heads[i["upperleg01.L"]] + person.anny_shape.heads[i["upperleg01.R"]]) / 2
        person.posed = anny.PosedBody(posed.vertices - hips, posed.bone_heads - hips, posed.mpii - hips,
                                      posed.coco - hips, posed.hands - hips)

    def _surface(self, person: Person, segments: tuple[str, ...]) -> np.ndarray:
        """(N, 3) world points on ``segments`` of a placed person: an Anny body's vertices, or, of each
        capsule body geom, points around its axis (capsule) or its six extreme points (ellipsoid)."""
        k = person.index
        if person.anny_shape is not None:
            sv = self.bodies.segment_vertices
            return _pelvis_frame(self.data, k)(person.posed.vertices[np.concatenate([sv[s] for s in segments])])
        m, d, out = self.model, self.data, []
        for name in segments:
            g = m.geom(f"p{k}_{name}").id
            rot, size, centre = d.geom_xmat[g].reshape(3, 3), m.geom_size[g], d.geom_xpos[g]
            if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_CAPSULE:
                axis = centre + np.linspace(-size[1], size[1], 9)[:, None] * rot[:, 2]
                out.append((axis[:, None] + size[0] * np.concatenate([np.eye(3), -np.eye(3)])[None]).reshape(-1, 3))
            else:
                out.append(centre + np.concatenate([rot * size, -rot * size], axis=1).T)
        return np.concatenate(out)

    def _park_seat(self, k: int) -> None:
        self.data.mocap_pos[self.seats[k][1]] = _seat_park(k)

    def _seat(self, person: Person, ground_z: float, rng: np.random.Generator) -> bool:
        """Give a grounded sitting person whose buttocks are off the ground a seat (see the module docstring);
        False when the lower legs leave no room for one."""
        k = person.index
        person.seat = None
        self._park_seat(k)
        if person.pose["posture"] != "sitting":
            return True
        mujoco.mj_kinematics(self.model, self.data)
        h = math.radians(person.heading_deg)
        forward = np.array([math.cos(h), math.sin(h)])
        hips = self.data.body(f"p{k}_pelvis").xpos[:2]
        thigh = person.shape.seg["thigh"]
        sit = self._surface(person, ("pelvis", "left_thigh", "right_thigh"))
        legs = self._surface(person, ("left_shin", "right_shin", "left_foot", "right_foot"))
        x, lx = (sit[:, :2] - hips) @ forward, (legs[:, :2] - hips) @ forward
        back, front = float(rng.uniform(0.12, 0.25)), 0.45 * thigh
        while True:  # the top touches the lowest point above the box, which stops short of the legs below it
            under = (x > -back) & (x < front)
            height = float(sit[under, 2].min()) - ground_z if under.any() else 0.0
            if height < MIN_SEAT_M:
                return True  # on the ground
            below = legs[:, 2] < ground_z + height
            if np.any(below & (lx <= -back)):
                return False  # a foot tucked back under the seat
            shorter = float(lx[below].min()) - 0.02 if below.any() else np.inf
            if shorter >= front:
                break
            if shorter < 0.05:
                return False
            front = shorter
        half = np.array([(front + back) / 2, person.shape.hip_half + float(rng.uniform(0.1, 0.25)), height / 2])
        centre = np.array([*(hips + (front - back) / 2 * forward), ground_z + height / 2])
        g, mocap = self.seats[k]
        m = self.model
        m.geom_size[g], m.geom_rbound[g], m.geom_aabb[g] = half, float(np.linalg.norm(half)), (0, 0, 0, *half)
        m.geom_rgba[g] = (*SEAT_COLOURS[int(rng.integers(len(SEAT_COLOURS)))], 1.0)
        self.data.mocap_pos[mocap], self.data.mocap_quat[mocap] = centre, axis_quat((0, 0, 1), person.heading_deg)
        person.seat = {"centre": centre, "half": half, "heading_deg": person.heading_deg}
        return True

    def _ground(self, person: Person, ground_z: float) -> None:
        if person.anny_shape is None:
            self.poser.ground(person, ground_z)
            return
        mujoco.mj_kinematics(self.model, self.data)
        pelvis = self.data.body(f"p{person.index}_pelvis")
        lowest = float((person.posed.vertices @ pelvis.xmat[6:9]).min() + pelvis.xpos[2])  # world z only
        self.data.qpos[self.poser.root_adr(person.index) + 2] += ground_z - lowest

    def _place(self, person: Person, where: Callable[[Person], tuple[float, ...]],
               rng: np.random.Generator, stats: dict[str, int], n: int) -> bool:
        cfg = self.cfg
        for _ in range(cfg.place_tries):
            x, y, ground_z, *heading = where(person)
            person.position = (x, y)
            person.heading_deg = float(heading[0]) if heading else float(rng.uniform(-180, 180))
            self.poser.set_pose(person)
            if person.anny_shape is not None and person.posed is None:
                self._pose_mesh(person)
            self._ground(person, ground_z)
            seated = self._seat(person, ground_z, rng)
            self_pen, other = self.poser.contacts(person.index, cfg.self_penetration_m)
            if self_pen or not seated:
                if stats["reposed"] >= cfg.pose_tries * n:
                    return False
                stats["reposed"] += 1
                person.pose = sample_pose(rng, person.pose["posture"], postures=cfg.postures)
                person.posed = None
            elif other:
                stats["replaced"] += 1
            else:
                return True
        return False
