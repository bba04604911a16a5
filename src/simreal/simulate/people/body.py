"""A human body as MJCF: shape sampling, appearance, and the kinematic tree of one person.

Frame of a person: x forward, y to the person's left, z up; the root body is the pelvis, placed by a free
joint. Joints (all with anatomical limits, in degrees below):

- ball joints at the shoulders and hips (MuJoCo limits a ball joint's total rotation: 170° and 120°; the
  per-axis limits are enforced by the pose sampler);
- three hinges each for the spine (flexion −30…80, lateral −35…35, twist −45…45) and the neck (flexion
  −50…70, lateral −40…40, twist −75…75);
- hinges at the elbows (0…150), knees (0…150), wrists (−70…70) and ankles (−45…40).

Geoms are capsules (neck, abdomen, limbs) and ellipsoids (pelvis, chest, head, hair, hands, feet).

**Shape distribution.** A person is an adult with probability 1 − ``child_share`` (default 0.85), height ~
N(1.70 m, 0.09 m) clipped to [1.45, 2.00], else a child with height ~ U(0.90, 1.45). Segment lengths are
fractions of the height (Winter, *Biomechanics and Motor Control of Human Movement*: ankle 0.039, shank
0.246, thigh 0.245, torso 0.288, neck 0.052, head 0.130); a child's head fraction grows linearly from 0.13
at 1.45 m to 0.20 at 0.90 m, the other segments shrinking in proportion. Each segment length is then
multiplied by N(1, 0.03), widths by a girth factor ~ lognormal(0, 0.12) clipped to [0.8, 1.45], and shoulder / hip
widths by U(0.88, 1.12) each (broad- or narrow-shouldered, broad- or narrow-hipped).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# fractions of body height (adult)
SEGMENTS = {"ankle": 0.039, "shank": 0.246, "thigh": 0.245, "torso": 0.288, "neck": 0.052, "head": 0.130}
ARMS = {"upper_arm": 0.186, "forearm": 0.146, "hand": 0.108}
CHILD_SHARE = 0.15  # of people drawn (both bodies)
SKIN_TONES = np.array([[255, 224, 196], [241, 194, 167], [224, 172, 136], [198, 134, 99], [160, 100, 70],
                       [120, 75, 50], [88, 56, 38]], dtype=float) / 255
HAIR_COLOURS = np.array([[20, 16, 14], [60, 40, 28], [110, 75, 45], [190, 150, 90], [150, 60, 30],
                         [170, 170, 170], [235, 225, 200]], dtype=float) / 255

PATTERNS = ("flat", "checker", "fine_checker", "marks", "gradient")
# grey patterns shared by everyone; a material's colour tints them
TEXTURES = (
    '<texture name="checker" type="cube" builtin="checker" rgb1="1 1 1" rgb2=".55 .55 .55" width="32" height="32"/>'
    '<texture name="fine_checker" type="cube" builtin="checker" rgb1="1 1 1" rgb2=".7 .7 .7" width="128" '
    'height="128"/>'
    '<texture name="marks" type="cube" builtin="flat" rgb1="1 1 1" mark="random" random="0.15" markrgb=".45 .45 .45" '
    'width="64" height="64"/>'
    '<texture name="gradient" type="cube" builtin="gradient" rgb1="1 1 1" rgb2=".5 .5 .5" width="32" height="32"/>')
HINGES = {  # name: (axis in the parent body's frame, range in degrees)
    "spine_flex": ((0, 1, 0), (-30, 80)), "spine_lat": ((1, 0, 0), (-35, 35)), "spine_twist": ((0, 0, 1), (-45, 45)),
    "neck_flex": ((0, 1, 0), (-50, 70)), "neck_lat": ((1, 0, 0), (-40, 40)), "neck_twist": ((0, 0, 1), (-75, 75)),
}
LIMB_HINGES = {"elbow": ((0, -1, 0), (0, 150)), "wrist": ((0, -1, 0), (-70, 70)),
               "knee": ((0, 1, 0), (0, 150)), "ankle": ((0, -1, 0), (-45, 40))}


@dataclass(frozen=True)
class BodyShape:
    """Lengths and radii in metres."""

    height: float
    child: bool
    seg: dict[str, float]  # SEGMENTS and ARMS lengths
    girth: float
    shoulder_half: float  # half the distance between the shoulder joints
    hip_half: float  # half the distance between the hip joints

    def r(self, frac: float) -> float:
        """A radius given as a fraction of height, scaled by girth."""
        return frac * self.height * self.girth


def sample_shape(rng: np.random.Generator, child_share: float = CHILD_SHARE) -> BodyShape:
    adult = rng.random() >= child_share
    if adult:
        h = float(np.clip(rng.normal(1.70, 0.09), 1.45, 2.00))
        head_frac = SEGMENTS["head"]
    else:
        h = float(rng.uniform(0.90, 1.45))
        head_frac = 0.13 + 0.07 * (1.45 - h) / 0.55
    rest = 1.0 - SEGMENTS["head"]
    scale = (1.0 - head_frac) / rest
    seg = {k: (head_frac if k == "head" else v * scale) * h * float(rng.normal(1, 0.03)) for k, v in SEGMENTS.items()}
    seg.update({k: v * scale * h * float(rng.normal(1, 0.03)) for k, v in ARMS.items()})
    girth = float(np.clip(rng.lognormal(0.0, 0.12), 0.8, 1.45))
    return BodyShape(height=h, child=not adult, seg=seg, girth=girth,
                     shoulder_half=0.13 * h * float(rng.uniform(0.88, 1.12)),
                     hip_half=0.052 * h * float(rng.uniform(0.88, 1.12)))


@dataclass(frozen=True)
class Appearance:
    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    top: tuple[float, float, float]
    bottom: tuple[float, float, float]
    shoes: tuple[float, float, float]
    pattern: str  # one of PATTERNS
    long_sleeves: bool
    long_trousers: bool
    hair_long: bool


def _colour(rng: np.random.Generator) -> tuple[float, float, float]:
    """A clothing colour: saturated or muted hue, any brightness."""
    import colorsys

    return tuple(float(c) for c in colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.9), rng.uniform(0.12, 0.95)))


def sample_appearance(rng: np.random.Generator) -> Appearance:
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.92, 1.05)
    hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.85, 1.1)
    return Appearance(
        skin=tuple(float(c) for c in np.clip(skin, 0, 1)), hair=tuple(float(c) for c in np.clip(hair, 0, 1)),
        top=_colour(rng), bottom=_colour(rng), shoes=_colour(rng),
        pattern=str(rng.choice(PATTERNS, p=[0.4, 0.15, 0.15, 0.15, 0.15])),
        long_sleeves=bool(rng.random() < 0.5), long_trousers=bool(rng.random() < 0.7),
        hair_long=bool(rng.random() < 0.35))


def material_of(geom: str, a: Appearance) -> str:
    """The material (of :data:`MATERIALS`) of a capsule body's geom for appearance ``a``: tops on the torso
    and upper arms (and forearms with long sleeves), trousers or shorts from the pelvis down, shoes, hair,
    skin elsewhere."""
    part = geom.removeprefix("left_").removeprefix("right_")
    top = f"top_{a.pattern}"
    return {"abdomen": top, "chest": top, "upper_arm": top, "forearm": top if a.long_sleeves else "skin",
            "pelvis": "bottom", "thigh": "bottom", "shin": "bottom" if a.long_trousers else "skin",
            "foot": "shoes", "hair": "hair"}.get(part, "skin")


def _f(*v: float) -> str:
    return " ".join(f"{x:.4f}" for x in v)


MATERIALS = ("skin", "hair", "bottom", "shoes", *(f"top_{t}" for t in PATTERNS))


def slot_materials(p: str, textured: bool = True) -> str:
    """The materials of person ``p``; their colours are set per scene (:func:`apply_appearance`)."""
    out = []
    for name in MATERIALS:
        pattern = name[4:] if name.startswith("top_") else "flat"
        tex = f' texture="{pattern}"' if textured and pattern != "flat" else ""
        out.append(f'<material name="{p}{name}"{tex} specular="0.2"/>')
    return "".join(out)


def _hinges(p: str, names: list[str], table: dict) -> str:
    out = []
    for n in names:
        axis, (lo, hi) = table[n]
        out.append(f'<joint name="{p}{n}" type="hinge" axis="{_f(*axis)}" range="{lo} {hi}"/>')
    return "".join(out)


def _arm(p: str, side: str, s: BodyShape, a: Appearance, top_z: float) -> str:
    sign = 1 if side == "left" else -1
    ua, fa, hd = s.seg["upper_arm"], s.seg["forearm"], s.seg["hand"]
    fore_mat = "top_flat" if a.long_sleeves else "skin"
    wr = _hinges(f"{p}{side}_", ["wrist"], LIMB_HINGES)
    el = _hinges(f"{p}{side}_", ["elbow"], LIMB_HINGES)
    return (
        f'<body name="{p}{side}_upper_arm" pos="0 {sign * s.shoulder_half:.4f} {top_z:.4f}">'
        f'<joint name="{p}{side}_shoulder" type="ball" range="0 170"/>'
        f'<site name="{p}{side}_shoulder" pos="0 0 0"/>'
        f'<geom name="{p}{side}_upper_arm" type="capsule" fromto="0 0 0 0 0 {-ua:.4f}" size="{s.r(0.024):.4f}" '
        f'material="{p}top_flat"/>'
        f'<body name="{p}{side}_forearm" pos="0 0 {-ua:.4f}">{el}<site name="{p}{side}_elbow" pos="0 0 0"/>'
        f'<geom name="{p}{side}_forearm" type="capsule" fromto="0 0 0 0 0 {-fa:.4f}" size="{s.r(0.019):.4f}" '
        f'material="{p}{fore_mat}"/>'
        f'<body name="{p}{side}_hand" pos="0 0 {-fa:.4f}">{wr}<site name="{p}{side}_wrist" pos="0 0 0"/>'
        f'<geom name="{p}{side}_hand" type="ellipsoid" pos="0 0 {-0.42 * hd:.4f}" '
        f'size="{s.r(0.011):.4f} {s.r(0.024) / s.girth:.4f} {0.45 * hd:.4f}" material="{p}skin"/>'
        "</body></body></body>")


def _leg(p: str, side: str, s: BodyShape, a: Appearance) -> str:
    sign = 1 if side == "left" else -1
    th, sh, an, h = s.seg["thigh"], s.seg["shank"], s.seg["ankle"], s.height
    shin_mat = "bottom" if a.long_trousers else "skin"
    kn = _hinges(f"{p}{side}_", ["knee"], LIMB_HINGES)
    ak = _hinges(f"{p}{side}_", ["ankle"], LIMB_HINGES)
    return (
        f'<body name="{p}{side}_thigh" pos="0 {sign * s.hip_half:.4f} 0">'
        f'<joint name="{p}{side}_hip" type="ball" range="0 120"/><site name="{p}{side}_hip" pos="0 0 0"/>'
        f'<geom name="{p}{side}_thigh" type="capsule" fromto="0 0 {-0.05 * th:.4f} 0 0 {-th:.4f}" '
        f'size="{s.r(0.040):.4f}" material="{p}bottom"/>'
        f'<body name="{p}{side}_shin" pos="0 0 {-th:.4f}">{kn}<site name="{p}{side}_knee" pos="0 0 0"/>'
        f'<geom name="{p}{side}_shin" type="capsule" fromto="0 0 0 0 0 {-sh:.4f}" size="{s.r(0.027):.4f}" '
        f'material="{p}{shin_mat}"/>'
        f'<body name="{p}{side}_foot" pos="0 0 {-sh:.4f}">{ak}<site name="{p}{side}_ankle" pos="0 0 0"/>'
        f'<geom name="{p}{side}_foot" type="ellipsoid" pos="{0.035 * h:.4f} 0 {-0.55 * an:.4f}" '
        f'size="{0.078 * h:.4f} {0.026 * h:.4f} {0.55 * an:.4f}" material="{p}shoes"/>'
        "</body></body></body>")


def _head(p: str, s: BodyShape, a: Appearance) -> str:
    hl, h = s.seg["head"], s.height
    depth, width = 0.41 * hl, 0.33 * hl  # half extents of the skull
    hair_back = 0.55 if a.hair_long else 0.25
    return (
        f'<body name="{p}head" pos="0 0 {s.seg["neck"]:.4f}">'
        f'<site name="{p}upper_neck" pos="0 0 0"/><site name="{p}head_top" pos="0 0 {hl:.4f}"/>'
        f'<site name="{p}nose" pos="{depth * 1.02:.4f} 0 {0.45 * hl:.4f}"/>'
        f'<site name="{p}left_eye" pos="{depth * 0.86:.4f} {0.28 * width:.4f} {0.58 * hl:.4f}"/>'
        f'<site name="{p}right_eye" pos="{depth * 0.86:.4f} {-0.28 * width:.4f} {0.58 * hl:.4f}"/>'
        f'<site name="{p}left_ear" pos="{-0.05 * depth:.4f} {width:.4f} {0.5 * hl:.4f}"/>'
        f'<site name="{p}right_ear" pos="{-0.05 * depth:.4f} {-width:.4f} {0.5 * hl:.4f}"/>'
        f'<geom name="{p}head" type="ellipsoid" pos="0 0 {0.52 * hl:.4f}" size="{depth:.4f} {width:.4f} '
        f'{0.5 * hl:.4f}" material="{p}skin"/>'
        f'<geom name="{p}hair" type="ellipsoid" pos="{-0.12 * depth:.4f} 0 {(0.62 - 0.1 * hair_back) * hl:.4f}" '
        f'size="{0.93 * depth:.4f} {1.04 * width:.4f} {(0.42 + 0.1 * hair_back) * hl:.4f}" material="{p}hair" '
        f'contype="0" conaffinity="0"/>'
        f'<geom name="{p}nose" type="sphere" pos="{depth * 0.93:.4f} 0 {0.45 * hl:.4f}" size="{0.01 * h:.4f}" '
        f'material="{p}skin" contype="0" conaffinity="0"/>'
        "</body>")


def person_body(p: str, s: BodyShape, a: Appearance) -> str:
    """The ``<body>`` tree of one person named with prefix ``p`` (pelvis at the hip-joint height)."""
    seg, h = s.seg, s.height
    torso = seg["torso"]
    lumbar, chest_len = 0.30 * torso, 0.70 * torso
    hip_z = seg["ankle"] + seg["shank"] + seg["thigh"]
    shirt = f"{p}top_flat"
    return (
        f'<body name="{p}pelvis" pos="0 0 {hip_z:.4f}"><freejoint name="{p}root"/>'
        f'<site name="{p}pelvis" pos="0 0 {0.02 * h:.4f}"/>'
        f'<geom name="{p}pelvis" type="ellipsoid" pos="0 0 {0.03 * h:.4f}" '
        f'size="{s.r(0.058):.4f} {max(s.hip_half + s.r(0.03), s.r(0.08)):.4f} {0.055 * h:.4f}" material="{p}bottom"/>'
        f'<body name="{p}abdomen" pos="0 0 {lumbar:.4f}">'
        + _hinges(p, ["spine_flex", "spine_lat", "spine_twist"], HINGES)
        + f'<geom name="{p}abdomen" type="capsule" fromto="0 0 0 0 0 {0.35 * chest_len:.4f}" size="{s.r(0.062):.4f}" '
        f'material="{shirt}"/>'
        f'<body name="{p}chest" pos="0 0 {0.3 * chest_len:.4f}">'
        f'<site name="{p}thorax" pos="0 0 {0.7 * chest_len - 0.01 * h:.4f}"/>'
        f'<geom name="{p}chest" type="ellipsoid" pos="0 0 {0.38 * chest_len:.4f}" '
        f'size="{s.r(0.062):.4f} {0.8 * s.shoulder_half + s.r(0.02):.4f} {0.42 * chest_len:.4f}" material="{shirt}"/>'
        + _arm(p, "left", s, a, 0.7 * chest_len - 0.015 * h) + _arm(p, "right", s, a, 0.7 * chest_len - 0.015 * h)
        + f'<body name="{p}neck" pos="0 0 {0.7 * chest_len:.4f}">'
        + _hinges(p, ["neck_flex", "neck_lat", "neck_twist"], HINGES)
        + f'<geom name="{p}neck" type="capsule" fromto="0 0 {-0.01 * h:.4f} 0 0 {seg["neck"]:.4f}" '
        f'size="{s.r(0.026):.4f}" material="{p}skin" contype="0" conaffinity="0"/>'
        + _head(p, s, a) + "</body></body></body>"
        + _leg(p, "left", s, a) + _leg(p, "right", s, a) + "</body>")
