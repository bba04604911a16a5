"""Plausible human poses: a posture class, then per-joint angles drawn around its template.

A pose is a dict of angles in degrees: hinges by name (``spine_flex``, ``left_knee`` ...), ball joints as
``(flexion, abduction, twist)`` (``left_shoulder`` ...), and ``root_tilt`` (roll, pitch of the whole body,
non-zero for lying people). Every angle is clipped to the joint's anatomical range; self-penetration is
rejected later with MuJoCo's collision detection (:mod:`simreal.simulate.people.scene`).

Conventions (for limbs hanging along −z in the zero pose): flexion moves a limb forward (+x), abduction
moves it away from the body's midline, twist turns it about its own axis.
"""

from __future__ import annotations

import math

import numpy as np

from simreal.simulate.people.body import HINGES, LIMB_HINGES

POSTURES = {"standing": 0.24, "walking": 0.2, "running": 0.05, "arms_raised": 0.1, "sitting": 0.1,
            "crouching": 0.1, "bending": 0.1, "kneeling": 0.05, "lying": 0.06}
UPRIGHT = ("standing", "walking", "running", "arms_raised")  # postures with the legs under the hips
# per-axis limits of the ball joints: flexion, abduction, twist
BALL_LIMITS = {"shoulder": ((-60, 180), (-30, 170), (-80, 80)), "hip": ((-30, 125), (-25, 50), (-40, 40))}
ARM_GESTURES = {"hanging": 0.35, "forward": 0.15, "raised": 0.1, "on_hips": 0.1, "folded": 0.1, "waving": 0.1,
                "reaching_side": 0.1}


def pick(rng: np.random.Generator, table: dict[str, float]) -> str:
    """A name of ``table`` drawn with probability proportional to its value."""
    names = list(table)
    p = np.array([table[n] for n in names])
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _arm(rng: np.random.Generator, gesture: str) -> dict[str, float]:
    """(flex, abd, twist) of the shoulder, elbow and wrist for one arm gesture."""
    u = rng.uniform
    if gesture == "hanging":
        return {"flex": u(-15, 20), "abd": u(3, 20), "twist": u(-20, 20), "elbow": u(0, 30), "wrist": u(-20, 20)}
    if gesture == "forward":
        return {"flex": u(50, 110), "abd": u(0, 30), "twist": u(-30, 30), "elbow": u(0, 70), "wrist": u(-30, 30)}
    if gesture == "raised":
        return {"flex": u(140, 178), "abd": u(0, 30), "twist": u(-30, 30), "elbow": u(0, 40), "wrist": u(-20, 20)}
    if gesture == "on_hips":
        return {"flex": u(-20, 0), "abd": u(35, 55), "twist": u(40, 70), "elbow": u(90, 120), "wrist": u(-20, 20)}
    if gesture == "folded":
        return {"flex": u(20, 45), "abd": u(10, 25), "twist": u(50, 80), "elbow": u(100, 135), "wrist": u(-10, 30)}
    if gesture == "waving":
        return {"flex": u(0, 40), "abd": u(70, 110), "twist": u(-80, -40), "elbow": u(60, 120), "wrist": u(-30, 30)}
    return {"flex": u(-10, 40), "abd": u(60, 100), "twist": u(-30, 30), "elbow": u(0, 30), "wrist": u(-30, 30)}


def _legs(rng: np.random.Generator, posture: str) -> tuple[dict[str, float], dict[str, float]]:
    u = rng.uniform

    def leg(flex: float, knee: float, abd: float = 0.0, ankle: float = 0.0) -> dict[str, float]:
        return {"flex": flex + rng.normal(0, 4), "abd": abd + u(-4, 6), "twist": u(-12, 12),
                "knee": max(0.0, knee + rng.normal(0, 5)), "ankle": ankle + rng.normal(0, 5)}

    if posture in ("walking", "running"):
        a = u(15, 30) if posture == "walking" else u(30, 60)
        knee_swing = u(10, 40) if posture == "walking" else u(60, 110)
        return leg(a, knee_swing, ankle=5), leg(-a * 0.6, u(0, 15), ankle=-10)
    if posture == "sitting":  # on a seat (the scene puts one under the buttocks), or on the ground
        way = pick(rng, {"seat": 0.5, "legs_forward": 0.3, "knees_up": 0.2})
        if way == "seat":  # thighs level, shanks down, feet on the ground
            return tuple(leg(u(80, 100), u(70, 105), abd=u(0, 15), ankle=u(-10, 10)) for _ in range(2))
        if way == "legs_forward":
            return tuple(leg(u(92, 105), u(0, 10), abd=u(0, 20)) for _ in range(2))
        return tuple(leg(u(100, 120), u(100, 130), abd=u(5, 25), ankle=u(10, 25)) for _ in range(2))
    if posture == "crouching":
        f, k = u(95, 120), u(115, 145)
        return leg(f, k, abd=u(5, 25), ankle=u(15, 35)), leg(f + u(-10, 10), k, abd=u(5, 25), ankle=u(15, 35))
    if posture == "kneeling":
        return leg(u(-10, 10), u(85, 100), ankle=-30), leg(u(70, 95), u(80, 100), ankle=u(0, 20))
    if posture == "bending":
        f = u(25, 60)
        return leg(f, u(0, 25)), leg(f, u(0, 25))
    if posture == "lying":
        return leg(u(-5, 40), u(0, 60), abd=u(0, 25)), leg(u(-5, 40), u(0, 60), abd=u(0, 25))
    return leg(u(-5, 8), u(0, 10), abd=u(0, 8)), leg(u(-5, 8), u(0, 10), abd=u(0, 8))


def sample_pose(rng: np.random.Generator, posture: str | None = None,
                postures: dict[str, float] | None = None) -> dict[str, object]:
    """Angles (degrees) of every joint, for ``posture`` or one drawn from ``postures`` (default
    :data:`POSTURES`: name → relative probability)."""
    posture = posture or pick(rng, postures or POSTURES)
    u = rng.uniform
    pose: dict[str, object] = {"posture": posture}
    spine_flex = {"bending": u(40, 80), "crouching": u(10, 40), "sitting": u(-10, 25), "running": u(5, 20)}
    pose["spine_flex"] = spine_flex.get(posture, u(-8, 12))
    pose["spine_lat"], pose["spine_twist"] = rng.normal(0, 6), rng.normal(0, 12)
    pose["neck_flex"] = u(-25, 35) - (0.5 * pose["spine_flex"] if posture == "bending" else 0)
    pose["neck_lat"], pose["neck_twist"] = rng.normal(0, 8), rng.normal(0, 25)
    gestures = ("raised", pick(rng, {"raised": 0.5, "hanging": 0.2, "waving": 0.3})) if posture == "arms_raised" \
        else (pick(rng, ARM_GESTURES), pick(rng, ARM_GESTURES))
    if posture in ("walking", "running") and rng.random() < 0.7:
        swing = u(15, 35) if posture == "walking" else u(35, 70)
        gestures = ("swing", "swing")
    for side, g in zip(("left", "right"), gestures if rng.random() < 0.5 else gestures[::-1], strict=True):
        arm = _arm(rng, g) if g != "swing" else {"flex": 0.0, "abd": u(5, 15), "twist": 0.0,
                                                  "elbow": u(10, 40) if posture == "walking" else u(70, 100),
                                                  "wrist": 0.0}
        pose[f"{side}_shoulder"] = (arm["flex"], arm["abd"], arm["twist"])
        pose[f"{side}_elbow"], pose[f"{side}_wrist"] = arm["elbow"], arm["wrist"]
    left, right = _legs(rng, posture)
    if rng.random() < 0.5:
        left, right = right, left
    for side, leg in (("left", left), ("right", right)):
        pose[f"{side}_hip"] = (leg["flex"], leg["abd"], leg["twist"])
        pose[f"{side}_knee"], pose[f"{side}_ankle"] = leg["knee"], leg["ankle"]
    if gestures == ("swing", "swing"):  # gait: each arm swings opposite to the leg on its side
        forward = "left" if left["flex"] < right["flex"] else "right"
        for side in ("left", "right"):
            _, abd, twist = pose[f"{side}_shoulder"]
            pose[f"{side}_shoulder"] = (swing if side == forward else -swing, abd, twist)
    if posture == "lying":  # on the back, the front or a side
        roll = float(rng.choice([0.0, 180.0, 90.0, -90.0]))
        pose["root_tilt"] = (roll + rng.normal(0, 8), -90.0 + rng.normal(0, 5))
    elif posture == "kneeling":
        pose["root_tilt"] = (0.0, rng.normal(0, 5))
    else:
        pose["root_tilt"] = (rng.normal(0, 2), rng.normal(0, 2))
    return clip_pose(pose)


def clip_pose(pose: dict[str, object]) -> dict[str, object]:
    out = dict(pose)
    for name, (_, (lo, hi)) in HINGES.items():
        out[name] = float(np.clip(pose[name], lo, hi))
    for side in ("left", "right"):
        for joint, (_, (lo, hi)) in LIMB_HINGES.items():
            out[f"{side}_{joint}"] = float(np.clip(pose[f"{side}_{joint}"], lo, hi))
        for joint, limits in BALL_LIMITS.items():
            out[f"{side}_{joint}"] = tuple(float(np.clip(v, lo, hi)) for v, (lo, hi) in
                                           zip(pose[f"{side}_{joint}"], limits, strict=True))
    return out


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])


def axis_quat(axis: tuple[float, float, float], deg: float) -> np.ndarray:
    h = math.radians(deg) / 2
    return np.array([math.cos(h), *(math.sin(h) * np.asarray(axis, dtype=float))])


def ball_quat(flex: float, abd: float, twist: float, side: str) -> np.ndarray:
    """Quaternion (w, x, y, z) of a shoulder or hip for the angles of :func:`sample_pose`."""
    abd_axis = (1.0, 0.0, 0.0) if side == "left" else (-1.0, 0.0, 0.0)
    twist_axis = (0.0, 0.0, 1.0) if side == "left" else (0.0, 0.0, -1.0)
    return quat_mul(quat_mul(axis_quat((0.0, -1.0, 0.0), flex), axis_quat(abd_axis, abd)),
                    axis_quat(twist_axis, twist))
