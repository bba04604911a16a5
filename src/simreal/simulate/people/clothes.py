"""Clothes, hair, skin and eyes of an Anny body, painted into its UV texture.

Anny has UVs (MakeHuman's atlas) but no clothing or hair geometry and no albedo. Each person gets a
``TEXTURE``×``TEXTURE`` texture painted from what every texel is on the body: the atlas is rasterised
once (:class:`Atlas`) into, per texel, its point on the template body in the rest pose (person frame:
x forward, y left, z up), its segment, and its position along the arm (shoulder joint 0 → wrist 1) or the
leg (hip joint 0 → ankle 1). Garment edges are level sets of those coordinates, blended over a few
millimetres, so seams are smooth wherever the triangles run; patterns are functions of the 3D point, so
stripes and checks continue across the atlas's cuts. Texels no triangle covers take their nearest
covered neighbour's values (texture filtering then never mixes in the background).

A person wears (:func:`sample_clothes`; colours from :func:`garment_colour`'s prior): a top (sleeveless,
short, three-quarter or long sleeves; its hem between the waist and the hips), trousers, three-quarter
trousers or shorts, or a skirt (a mesh of its own, :mod:`simreal.simulate.people.meshes`, whose fabric is
painted into texels the atlas leaves free; with a top of the same fabric: a dress; more likely the more
female Anny's gender value), shoes, hair (short or long, a hairline above the forehead), each garment
flat, striped, checked, mottled or cut from a real photo, with a faint fabric grain; skin in the person's
tone with mottling; eyes with sclera, iris and pupil.
"""

from __future__ import annotations

import colorsys
import dataclasses
from dataclasses import dataclass

import numpy as np

from simreal.simulate.people.anny import AnnyModel
from simreal.simulate.people.body import Appearance
from simreal.simulate.people.pose import pick
from simreal.utils.errors import SimrealError

TEXTURE = 128  # texels a side: ~7 mm a texel on the torso, about a pixel for a person 300 px tall
NOISE_SCALES = (0.01, 0.03, 0.08)  # wavelengths (m) of the body noise fields
NOISE_WAVES = 12
EDGE_M = 0.006  # garment edges blend over this distance
SKIRT_PATCH = (slice(0, 16), slice(112, 128))  # texels (rows from the atlas's top, columns) no triangle uses:
# the skirt's fabric, painted as if on a cylinder around the hips (u: around, v: down)
SKIRT_SHARE = 0.4  # probability of a skirt or dress at Anny's gender 1 (female), falling to 0 at 0 (male)
TOP_PATTERNS = {"flat": 0.35, "stripes": 0.2, "checks": 0.1, "mottled": 0.15, "photo": 0.2}
BOTTOM_PATTERNS = {"flat": 0.5, "mottled": 0.3, "photo": 0.2}


@dataclass(frozen=True)
class Clothes:
    top: tuple[float, float, float]  # colours
    bottom: tuple[float, float, float]
    shoes: tuple[float, float, float]
    sleeve: float  # the top's sleeves end here along the arm (0: sleeveless, 1: at the wrist)
    hem: float  # the top's lower edge, metres above the hip joints
    waist: float  # the trousers' upper edge, metres above the hip joints
    leg: float  # the trousers end here along the leg (0.35: shorts … 1: at the ankle)
    hairline: float  # 0 (high forehead) … 1 (low)
    top_pattern: str
    bottom_pattern: str
    second: tuple[float, float, float]  # the pattern's second colour
    period: float  # of stripes and checks, metres
    phase: float
    photo: int  # which photo patterned garments are cut from (modulo the number of photos)
    photo_offset: tuple[float, float]
    skirt: float = 0.0  # a skirt's hem along the leg (hip joint 0 … ankle 1); 0: no skirt


def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def garment_colour(rng: np.random.Generator, kind: str) -> tuple[float, float, float]:
    """A hand-set prior of what people wear (not fitted to data): half neutrals (black, grey, white, navy,
    brown or beige), denim for many trousers, dark or white shoes, the rest any hue at moderate saturation
    (the capsule bodies' colours are uniform in hue, saturation and value: garish)."""
    u = rng.uniform
    if kind == "shoes":
        return _hsv(0.08, u(0, 0.3), u(0.05, 0.3)) if rng.random() < 0.75 else _hsv(0.1, u(0, 0.1), u(0.75, 0.95))
    if kind == "bottom" and rng.random() < 0.4:
        return _hsv(u(0.58, 0.63), u(0.3, 0.6), u(0.2, 0.55))  # denim
    if rng.random() < 0.5:
        return [_hsv(0, u(0, 0.1), u(0.05, 0.22)), _hsv(0, u(0, 0.08), u(0.3, 0.7)), _hsv(0.1, u(0, 0.1), u(0.8, 0.95)),
                _hsv(u(0.6, 0.66), u(0.4, 0.7), u(0.12, 0.32)), _hsv(u(0.05, 0.1), u(0.25, 0.55), u(0.25, 0.75))][
            int(rng.integers(5))]
    return _hsv(u(0, 1), u(0.25, 0.75), u(0.2, 0.8))


def sample_clothes(rng: np.random.Generator, a: Appearance, gender: float = 0.0, upright: bool = True) -> Clothes:
    """Garment colours, cuts and patterns (sleeve and trouser lengths follow the appearance's long-or-short
    choices; skin and hair colours are the appearance's); for people who stand upright (a skirt is a tube
    hanging from the waist: it cannot drape over the lap of a sitting person), a skirt with probability
    ``SKIRT_SHARE × gender`` (Anny's gender value: 0 male … 1 female), 40 % of them dresses."""
    top, bottom, shoes = (garment_colour(rng, kind) for kind in ("top", "bottom", "shoes"))
    sleeve = float(rng.choice([0.0, rng.uniform(0.15, 0.35), rng.uniform(0.6, 0.75), 1.0] if a.long_sleeves
                              else [0.0, rng.uniform(0.15, 0.35)]))
    leg = float(rng.uniform(0.88, 1.0) if a.long_trousers else rng.uniform(0.3, 0.5))
    h, _, v = colorsys.rgb_to_hsv(*top)
    second = colorsys.hsv_to_rgb((h + rng.uniform(0.3, 0.7)) % 1.0 if rng.random() < 0.5 else h,
                                 rng.uniform(0, 0.6), float(np.clip(v + rng.choice([-1, 1]) * rng.uniform(0.3, 0.6),
                                                                    0.05, 0.98)))
    c = Clothes(top=top, bottom=bottom, shoes=shoes, sleeve=sleeve, hem=float(rng.uniform(-0.06, 0.08)),
                waist=float(rng.uniform(0.05, 0.12)), leg=leg, hairline=float(rng.uniform(0, 1)),
                top_pattern=pick(rng, TOP_PATTERNS), bottom_pattern=pick(rng, BOTTOM_PATTERNS),
                second=tuple(float(c) for c in second), period=float(rng.uniform(0.02, 0.08)),
                phase=float(rng.uniform(0, 2 * np.pi)), photo=int(rng.integers(1 << 30)),
                photo_offset=(float(rng.uniform()), float(rng.uniform())))
    if not upright or rng.random() >= SKIRT_SHARE * gender:
        return c
    skirt = {"skirt": float(rng.uniform(0.3, 0.85)), "leg": 0.02}  # bare legs under it
    if rng.random() < 0.4:  # a dress: one fabric from the neckline to the hem
        skirt |= {"top": bottom, "top_pattern": c.bottom_pattern, "hem": -0.06}
    return dataclasses.replace(c, **skirt)


class Atlas:
    """What every texel of the UV atlas is on the body (see the module docstring)."""

    def __init__(self, body: AnnyModel, size: int = TEXTURE):
        import cv2
        from scipy.ndimage import distance_transform_edt

        self.size = size
        faces = body.faces
        tri = body.uv[body.face_uv] * size  # (F, 3, 2) texel units, v up
        tri[..., 1] = size - tri[..., 1]
        owner = np.zeros((size, size), np.int32)
        for f, pts in enumerate(np.round(tri * 16).astype(np.int32)):  # 4 fractional bits
            cv2.fillConvexPoly(owner, pts, f + 1, shift=4)
        covered = owner > 0
        if covered[SKIRT_PATCH].any():
            raise SimrealError("this body file's UV atlas uses the texels simreal keeps for skirts")
        # nearest covered texel for the others
        _, (iy, ix) = distance_transform_edt(~covered, return_indices=True)
        owner = owner[iy, ix] - 1
        # barycentric coordinates of each texel centre in its triangle
        ys, xs = np.mgrid[0:size, 0:size] + 0.5
        t = tri[owner]  # (S, S, 3, 2)
        d1, d2 = t[..., 1, :] - t[..., 0, :], t[..., 2, :] - t[..., 0, :]
        dp = np.stack([xs, ys], -1) - t[..., 0, :]
        det = d1[..., 0] * d2[..., 1] - d1[..., 1] * d2[..., 0]
        det = np.where(np.abs(det) < 1e-12, 1e-12, det)
        b1 = np.clip((dp[..., 0] * d2[..., 1] - dp[..., 1] * d2[..., 0]) / det, 0, 1)
        b2 = np.clip((d1[..., 0] * dp[..., 1] - d1[..., 1] * dp[..., 0]) / det, 0, 1 - b1)
        corners = body.template[faces[owner]]  # (S, S, 3, 3)
        self.point = (corners[..., 0, :] * (1 - b1 - b2)[..., None] + corners[..., 1, :] * b1[..., None]
                      + corners[..., 2, :] * b2[..., None])
        names = np.empty(len(faces), dtype=object)
        for name, ids in body.segments.items():
            names[ids] = name
        self.segment = names[owner].astype(str)
        first = faces[owner][..., 0]
        self.bone = np.asarray(body.bones)[body.dominant_bone[first]]
        heads, i = body.template_heads, body.index
        part = np.char.replace(np.char.replace(self.segment, "left_", ""), "right_", "")  # sides merged
        self.along = np.full((size, size), -1.0)  # along the arm (upper arm, forearm, hand) or leg
        for side, s in (("left", "L"), ("right", "R")):
            for parts, a, b in ((("upper_arm", "forearm", "hand"), "upperarm01", "wrist"),
                                (("thigh", "shin", "foot"), "upperleg01", "foot")):
                sel = np.isin(self.segment, [f"{side}_{p}" for p in parts])
                start, axis = heads[i[f"{a}.{s}"]], heads[i[f"{b}.{s}"]] - heads[i[f"{a}.{s}"]]
                self.along[sel] = (self.point[sel] - start) @ axis / (axis @ axis)
        self.hip_z = float(heads[i["upperleg01.L"]][2])
        self.eyes = {s: heads[i[f"eye.{s}"]] for s in "LR"}
        self.eye_z = float((self.eyes["L"][2] + self.eyes["R"][2]) / 2)
        self.neck_z = float(heads[i["neck01"]][2])
        head = part == "head"
        self.top_z = float(body.template[:, 2].max())
        self.head_x = float(self.point[head, 0].mean())
        self.front_x = float(body.template[body.segment_vertices["head"], 0].max())
        rows, cols = SKIRT_PATCH  # the skirt's texels stand for points of a cylinder around the hips
        n_v, n_u = rows.stop - rows.start, cols.stop - cols.start
        v, u = (np.mgrid[0:n_v, 0:n_u] + 0.5) / np.array([n_v, n_u])[:, None, None]
        self.point[rows, cols] = np.stack([0.17 * np.cos(2 * np.pi * u), 0.17 * np.sin(2 * np.pi * u),
                                           self.hip_z + 0.1 - 0.6 * v], axis=-1)
        self.mask = {"torso": np.isin(part, ("pelvis", "abdomen", "chest")), "legs": np.isin(part, ("thigh", "shin")),
                     "arms": np.isin(part, ("upper_arm", "forearm")), "chest": part == "chest", "feet": part == "foot",
                     "head": head, "head_back": np.isin(part, ("head", "neck")) & (
                         self.point[..., 0] < self.head_x - 0.02)}
        self.eye_texels = {}
        for s in "LR":
            sel = np.flatnonzero(self.bone.ravel() == f"eye.{s}")
            v = self.point.reshape(-1, 3)[sel] - self.eyes[s]
            self.eye_texels[s] = (sel, np.arccos(np.clip(v[:, 0] / (np.linalg.norm(v, axis=1) + 1e-9), -1, 1)))
        # smooth noise over the body: plane waves of a few wavelengths, combined per person
        rng = np.random.default_rng(0)
        self.waves = {}
        for scale in NOISE_SCALES:
            k = rng.normal(size=(NOISE_WAVES, 3))
            k *= (2 * np.pi / (scale * np.linalg.norm(k, axis=1) * rng.uniform(0.7, 1.4, NOISE_WAVES)))[:, None]
            phase = rng.uniform(0, 2 * np.pi, NOISE_WAVES)
            self.waves[scale] = np.sin(self.point @ k.T + phase).astype(np.float32)  # (S, S, waves)

    # -- painting ----------------------------------------------------------------------------------------
    def paint(self, a: Appearance, c: Clothes, photos: list[np.ndarray], seed: int) -> np.ndarray:
        """The person's texture, (size, size, 3) uint8, row 0 at the atlas's top (v = 1)."""
        rng = np.random.default_rng(seed)
        m, along, z = self.mask, self.along, self.point[..., 2]
        grain = self._noise(rng, 0.01)
        img = np.asarray(a.skin, np.float32)[None, None] * (1 + 0.05 * self._noise(rng, 0.03))[..., None]
        # trousers: the pelvis, and down each leg to `leg`; their upper edge at `waist`
        d_leg = np.where(m["legs"], (c.leg - along) * 0.8, -1.0)  # ~metres along a leg
        d_bottom = np.where(m["torso"], self.hip_z + c.waist - z, d_leg)
        bottom = self._fabric(c.bottom, c.bottom_pattern, c, photos, grain, rng)
        img = _over(img, bottom, _edge(d_bottom))
        # the top: the torso above the hem and below the neckline, and down each arm to `sleeve`
        d_top = np.where(m["torso"], z - (self.hip_z + c.hem), np.where(m["arms"], (c.sleeve - along) * 0.55, -1.0))
        d_top = np.where(m["chest"] & (z > self.neck_z - 0.03), np.minimum(d_top, self.neck_z - 0.02 - z), d_top)
        img = _over(img, self._fabric(c.top, c.top_pattern, c, photos, grain, rng), _edge(d_top))
        # shoes: the feet, up to just above the ankle
        shoes = np.asarray(c.shoes, np.float32)[None, None] * (1 + 0.08 * grain)[..., None]
        img = _over(img, shoes, _edge(np.where(m["feet"], 0.02 + (along - 1.0) * 0.8, -1.0)))
        # hair: above a hairline rising from the eyes' height at the back to the forehead at the front; long
        # hair also down the back of the neck
        front = np.clip((self.point[..., 0] - self.head_x) / (self.front_x - self.head_x), 0, 1)
        line = self.eye_z + (0.35 + 0.15 * (1 - c.hairline)) * (self.top_z - self.eye_z) * front ** 2
        d_hair = np.where(m["head"], z - line, -1.0)
        if a.hair_long:
            d_hair = np.where(m["head_back"], np.maximum(d_hair, z - (self.neck_z - 0.05)), d_hair)
        hair = np.asarray(a.hair, np.float32)[None, None] * (1 + 0.15 * self._noise(rng, 0.01))[..., None]
        img = _over(img, hair, _edge(d_hair))
        img = self._eyes(img, rng)
        if c.skirt > 0:
            img[SKIRT_PATCH] = bottom[SKIRT_PATCH]
        return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)

    def _fabric(self, colour: tuple[float, float, float], pattern: str, c: Clothes, photos: list[np.ndarray],
                grain: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        p = self.point
        base = np.broadcast_to(np.asarray(colour, np.float32), p.shape)
        second = np.asarray(c.second, np.float32)
        if pattern == "stripes":
            w = _smooth(np.sin(2 * np.pi * p[..., 2] / c.period + c.phase) / 0.15)
            base = base * (1 - w[..., None]) + second * w[..., None]
        elif pattern == "checks":
            s = np.sin(2 * np.pi * p[..., 2] / c.period + c.phase) * np.sin(
                2 * np.pi * (p[..., 1] + p[..., 0]) / c.period)
            w = 0.5 * _smooth(s / 0.1)
            base = base * (1 - w[..., None]) + second * w[..., None]
        elif pattern == "mottled":
            base = base * (1 + 0.25 * self._noise(rng, 0.08))[..., None]
        elif pattern == "photo" and photos:
            photo = photos[c.photo % len(photos)]
            h, w = photo.shape[:2]
            scale = min(h, w) / 1.2  # pixels per metre: a 1.2 m square of the photo
            u = ((p[..., 1] + 0.6 + c.photo_offset[0] * 2) * scale).astype(int) % w
            v = ((1.0 - p[..., 2] + c.photo_offset[1] * 2) * scale).astype(int) % h
            base = 0.5 * photo[v, u] / 255.0 + 0.5 * base
        return base * (1 + 0.06 * grain)[..., None]

    def _eyes(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        iris = np.asarray([0.25, 0.17, 0.1]) * rng.uniform(0.5, 1.6)
        flat = img.reshape(-1, 3)
        for sel, angle in self.eye_texels.values():
            colour = np.where((angle < 0.45)[:, None], iris, [0.85, 0.83, 0.8])
            flat[sel] = np.where((angle < 0.2)[:, None], [0.03, 0.03, 0.03], colour)
        return img

    def _noise(self, rng: np.random.Generator, scale: float) -> np.ndarray:
        """Smooth noise of about unit amplitude over the body, wavelength ~``scale`` (one of NOISE_SCALES)."""
        w = rng.normal(size=NOISE_WAVES).astype(np.float32)
        return self.waves[scale] @ (w / np.sqrt(NOISE_WAVES / 2))


def _smooth(s: np.ndarray) -> np.ndarray:
    """0 → 1 across s = 0 (s in units of the blend width)."""
    return np.clip(0.5 + 0.5 * s, 0, 1)


def _edge(d: np.ndarray) -> np.ndarray:
    """Coverage of a garment from a signed distance (metres, > 0 inside), blended over ``EDGE_M``."""
    return np.clip(0.5 + d / EDGE_M, 0, 1)


def _over(img: np.ndarray, layer: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return img * (1 - alpha[..., None]) + layer * alpha[..., None]
