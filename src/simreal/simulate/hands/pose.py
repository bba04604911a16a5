"""Hand poses: a prior over grips and gestures with anatomical limits and coupled joints, and the hand's
orientation in front of the cameras.

A pose class (open, relaxed, fist, point, pinch, grasp, two, three, ok) gives each finger a *curl* range
(0 straight … 1 fully bent), a spread range and the thumb's opposition; each finger's joints then follow
its curl with the coupling of real fingers (the distal joint bends about two thirds as far as the proximal
interphalangeal one) plus independent jitter, and every angle is clipped to its anatomical range:

================  ===========  ===========  ===========
joint             flexion (°)  at curl 1    jitter σ (°)
================  ===========  ===========  ===========
finger MCP        −20 … 90     80           6
finger PIP        0 … 110      100          6
finger DIP        −5 … 80      ⅔ PIP        5
thumb CMC         −15 … 40     30           5
thumb MCP         −10 … 60     50           5
thumb IP          −15 … 80     70           6
================  ===========  ===========  ===========

Spread (MCP abduction about the palm normal) fans the fingers out from the middle one: index +12°, ring
−8°, little −18° (thumb +10°) at spread 1. The wrist flexes −50 … 60° and deviates −15 … 25°.

The orientation (:func:`sample_orientation`): the forearm points from the person towards the frontal camera
(azimuth ±60° about the line of sight, elevation −10 … 80°), rolled about its own axis by −120 … 150°
(0: the palm faces the frontal camera as far as the forearm's direction allows).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simreal.simulate.hands.model import HandShape
from simreal.simulate.people.anny import _arc, _axis_angle

# class: (weight, curl ranges thumb..little, spread range, opposition range (deg))
POSE_CLASSES: dict[str, tuple[float, tuple[tuple[float, float], ...], tuple[float, float], tuple[float, float]]] = {
    "open": (0.2, ((0.0, 0.15),) * 5, (0.4, 1.0), (0.0, 20.0)),
    "relaxed": (0.2, ((0.1, 0.35), (0.1, 0.35), (0.15, 0.4), (0.2, 0.5), (0.25, 0.55)), (0.0, 0.5), (10.0, 35.0)),
    "fist": (0.15, ((0.6, 0.9), (0.85, 1.0), (0.85, 1.0), (0.85, 1.0), (0.85, 1.0)), (0.0, 0.2), (30.0, 60.0)),
    "point": (0.1, ((0.5, 0.9), (0.0, 0.15), (0.8, 1.0), (0.8, 1.0), (0.8, 1.0)), (0.0, 0.3), (30.0, 60.0)),
    "pinch": (0.1, ((0.3, 0.55), (0.4, 0.6), (0.0, 0.6), (0.0, 0.6), (0.0, 0.6)), (0.0, 0.4), (50.0, 75.0)),
    "grasp": (0.1, ((0.3, 0.6), (0.45, 0.7), (0.45, 0.7), (0.45, 0.7), (0.45, 0.7)), (0.0, 0.3), (45.0, 70.0)),
    "two": (0.05, ((0.5, 0.9), (0.0, 0.1), (0.0, 0.1), (0.85, 1.0), (0.85, 1.0)), (0.6, 1.0), (30.0, 60.0)),
    "three": (0.05, ((0.5, 0.9), (0.0, 0.1), (0.0, 0.1), (0.0, 0.1), (0.85, 1.0)), (0.4, 1.0), (30.0, 60.0)),
    "ok": (0.05, ((0.35, 0.6), (0.45, 0.65), (0.0, 0.15), (0.0, 0.2), (0.0, 0.25)), (0.3, 0.8), (50.0, 75.0)),
}
FINGER_AT_ONE = np.array([[30.0, 50.0, 70.0]] + [[80.0, 100.0, 0.0]] * 4)  # DIP: ⅔ PIP instead
LIMITS = np.array([[[-15, 40], [-10, 60], [-15, 80]]] + [[[-20, 90], [0, 110], [-5, 80]]] * 4, float)
JITTER = np.array([[5.0, 5.0, 6.0]] + [[6.0, 6.0, 5.0]] * 4)
SPREAD_AT_ONE = np.array([10.0, 12.0, 0.0, -8.0, -18.0])


def sample_hand_pose(rng: np.random.Generator) -> dict[str, Any]:
    names = list(POSE_CLASSES)
    weights = np.array([POSE_CLASSES[n][0] for n in names])
    name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    _, curls, spread_range, opposition = POSE_CLASSES[name]
    curl = np.array([rng.uniform(*c) for c in curls])
    flex = curl[:, None] * FINGER_AT_ONE
    flex[1:, 2] = flex[1:, 1] * 2 / 3
    flex = np.clip(flex + rng.normal(0, 1, flex.shape) * JITTER, LIMITS[..., 0], LIMITS[..., 1])
    spread = rng.uniform(*spread_range) * SPREAD_AT_ONE + rng.normal(0, 2.0, 5)
    return {"class": name, "curl": curl, "flex": flex, "spread": spread,
            "opposition": float(rng.uniform(*opposition)), "wrist_flex": float(rng.uniform(-50, 60)),
            "wrist_dev": float(rng.uniform(-15, 25))}


def sample_orientation(rng: np.random.Generator) -> dict[str, float]:
    return {"azimuth_deg": float(rng.uniform(-60, 60)), "elevation_deg": float(rng.uniform(-10, 80)),
            "roll_deg": float(rng.uniform(-120, 150))}


def hand_rotation(shape: HandShape, orientation: dict[str, float]) -> np.ndarray:
    """The rotation from the hand's rest frame to the world (z up; the frontal camera looks along +y), for an
    orientation of :func:`sample_orientation`; the forearm's axis is the hand's long axis ``f``."""
    az, el = math.radians(orientation["azimuth_deg"]), math.radians(orientation["elevation_deg"])
    forward = np.array([math.sin(az) * math.cos(el), -math.cos(az) * math.cos(el), math.sin(el)])
    align = _arc(shape.axes["f"], forward)
    n = align @ shape.axes["n"]
    facing = np.array([0.0, -1.0, 0.0])  # towards the frontal camera
    facing -= (facing @ forward) * forward
    if np.linalg.norm(facing) < 1e-6:
        facing = np.array([0.0, 0.0, 1.0]) - forward[2] * forward
    facing /= np.linalg.norm(facing)
    base = math.atan2(float(np.cross(n, facing) @ forward), float(n @ facing))  # roll that turns n to facing
    return _axis_angle(forward, math.degrees(base) + orientation["roll_deg"]) @ align
