"""Shadows on the ground: soft contact shadows where people touch it, and the key light's cast shadows.

Not a light's cast shadow but the ambient occlusion a body makes near the ground: every point of the body
(an Anny body's vertices, a capsule body's geoms' lowest points, and a seat's footprint) within ``REACH_M``
of the ground is
dropped onto it, weighted by (1 − height / ``REACH_M``)², projected into the image, and blurred by
``BLUR_M`` at the person's distance. The result darkens the background only: people, masks and labels
are unchanged.

Cast shadows (:func:`cast_shadow`): every surface point of a person (an Anny body's vertices, points
around a capsule body's geoms) and of their seat is carried along the key light's direction down to the
ground level under the person, projected into the image, splatted, closed and blurred by ``CAST_BLUR_M``
at the person's distance: a soft silhouette on the ground on the side away from the light, its darkness
``strength`` times the key light's share of all the light.
"""

from __future__ import annotations

import cv2
import mujoco
import numpy as np

from simreal.simulate.people.scene import Scene, lowest_z

REACH_M = 0.3  # body points higher than this above the ground cast nothing
CAST_SPACING_M = 0.02  # the cast points' spacing: each is splatted this wide
CAST_BLUR_M = 0.04  # the cast shadow's softness
BLUR_M = 0.06  # the shadow's softness (Gaussian σ on the ground)
ANNY_STEP = 4  # every ANNY_STEP-th vertex of an Anny body


def body_points(scene: Scene, k: int) -> np.ndarray:
    """(N, 3) world points of person ``k`` (and their seat) that stand for its surface near the ground."""
    person = scene.people[k]
    if person.anny_shape is not None:
        points = person.world[::ANNY_STEP]
    else:
        m, d = scene.model, scene.data
        geoms = np.flatnonzero((scene.geom_person == k) & (m.geom_contype > 0))
        points = d.geom_xpos[geoms].copy()
        points[:, 2] = [lowest_z(m, d, g) for g in geoms]  # under each geom's centre, at its lowest point
    if person.seat is None:
        return points
    u, v = np.meshgrid(np.linspace(-1, 1, 7), np.linspace(-1, 1, 7))
    footprint = np.column_stack([u.ravel(), v.ravel(), -np.ones(u.size)])  # the seat's bottom face
    return np.concatenate([points, _on_seat(person.seat, footprint)])


def _on_seat(seat: dict, unit: np.ndarray) -> np.ndarray:
    """World points of a seat box from coordinates in [-1, 1]³ of its half sizes (x along its heading)."""
    h = np.radians(seat["heading_deg"])
    rot = np.array([[np.cos(h), -np.sin(h), 0], [np.sin(h), np.cos(h), 0], [0, 0, 1]])
    return seat["centre"] + (unit * seat["half"]) @ rot.T


def _splat(out: np.ndarray, uv: np.ndarray, values: np.ndarray, sigma: float, pad: int, strength: float,
           close: int = 0, normalise: bool = False, max_tile: float = np.inf) -> None:
    """Draw image points ``uv`` with ``values`` (each texel keeps its largest) into a tile around them
    (none when it would be larger than ``max_tile`` image sides), close its holes with a disc of radius
    ``close`` px, blur it by ``sigma``, scale its peak to 1 if ``normalise``, and keep, in ``out``, the
    darker of ``out`` and ``strength`` × the tile."""
    height, width = out.shape
    lo = np.floor(uv.min(0)).astype(int) - pad
    hi = np.ceil(uv.max(0)).astype(int) + pad
    x0, y0, x1, y1 = max(lo[0], 0), max(lo[1], 0), min(hi[0], width), min(hi[1], height)
    if x0 >= x1 or y0 >= y1 or (hi - lo).max() > max_tile * max(width, height):
        return
    tile = np.zeros((hi[1] - lo[1], hi[0] - lo[0]), np.float32)
    px = (uv - lo).astype(int)
    np.maximum.at(tile, (px[:, 1], px[:, 0]), values)
    if close:
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * close + 1,) * 2)
        tile = cv2.morphologyEx(tile, cv2.MORPH_CLOSE, disc)
    tile = cv2.GaussianBlur(tile, (0, 0), sigma)
    if normalise:
        tile /= max(float(tile.max()), 1e-6)
    region = tile[y0 - lo[1]:y1 - lo[1], x0 - lo[0]:x1 - lo[0]]
    out[y0:y1, x0:x1] = np.maximum(out[y0:y1, x0:x1], strength * region)


def contact_shadow(scene: Scene, width: int, height: int, strength: float) -> np.ndarray:
    """(height, width) float32 darkness in [0, strength] of the ground under the scene's people."""
    out = np.zeros((height, width), np.float32)
    if strength <= 0:
        return out
    cam = scene.camera
    for person in scene.people:
        points = body_points(scene, person.index)
        ground = points[:, 2].min()
        h = points[:, 2] - ground
        near = h < REACH_M
        weight = ((1 - h[near] / REACH_M) ** 2).astype(np.float32)
        feet = points[near].copy()
        feet[:, 2] = ground
        uv, z = cam.project(feet)
        ok = (z > 0.1) & np.all(np.isfinite(uv), axis=1)
        if not ok.any():
            continue
        sigma = cam.focal_px * BLUR_M / float(np.median(z[ok]))
        _splat(out, uv[ok], weight[ok], max(sigma, 0.5), int(3 * sigma) + 2, strength,
               normalise=True)  # the darkest spot is the contact itself
    return out


def _geom_samples(scene: Scene, k: int) -> np.ndarray:
    """(N, 3) points on the surface of person ``k``'s capsule-body geoms, about ``CAST_SPACING_M`` apart."""
    m, d = scene.model, scene.data
    out = []
    around = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    ring = np.stack([np.cos(around), np.sin(around), np.zeros(12)], axis=1)
    for g in np.flatnonzero((scene.geom_person == k) & (m.geom_contype > 0)):
        rot, size, centre = d.geom_xmat[g].reshape(3, 3), m.geom_size[g], d.geom_xpos[g]
        if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_CAPSULE:
            n = max(2, int(2 * (size[1] + size[0]) / CAST_SPACING_M))
            z = np.linspace(-size[1] - size[0], size[1] + size[0], n)
            r = np.sqrt(np.clip(size[0] ** 2 - np.clip(np.abs(z) - size[1], 0, None) ** 2, 0, None))
            local = (r[:, None, None] * ring[None]).reshape(-1, 3) + np.repeat(z, 12)[:, None] * [0, 0, 1]
        else:  # an ellipsoid (or sphere): a latitude-longitude grid
            lat = np.linspace(-np.pi / 2, np.pi / 2, 7)
            local = np.concatenate([np.cos(a) * ring + [0, 0, np.sin(a)] for a in lat]) * (
                size if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_ELLIPSOID else size[0])
        out.append(centre + local @ rot.T)
    return np.concatenate(out)


def _seat_samples(seat: dict) -> np.ndarray:
    """Points on a seat box's surface (its corners and a grid over its top)."""
    u, v = np.meshgrid(np.linspace(-1, 1, 6), np.linspace(-1, 1, 6))
    top = np.column_stack([u.ravel(), v.ravel(), np.ones(u.size)])
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    return _on_seat(seat, np.concatenate([top, corners]))


def cast_shadow(scene: Scene, width: int, height: int, strength: float) -> np.ndarray:
    """(height, width) float32 darkness of the ground in the key light's shadow of the scene's people."""
    out = np.zeros((height, width), np.float32)
    light = np.asarray(scene.light["dir"], float)
    if strength <= 0 or light[2] >= -0.05:
        return out
    share = scene.light["diffuse"] / (scene.light["diffuse"] + scene.light["fill"] + scene.light["ambient"])
    cam = scene.camera
    for person in scene.people:
        points = person.world if person.anny_shape is not None else _geom_samples(scene, person.index)
        if person.seat is not None:
            points = np.concatenate([points, _seat_samples(person.seat)])
        ground = points[:, 2].min()
        hit = points + ((ground - points[:, 2]) / light[2])[:, None] * light  # along the light to the ground
        uv, z = cam.project(hit)
        ok = (z > 0.1) & np.all(np.isfinite(uv), axis=1)
        if not ok.any():
            continue
        depth = float(np.median(z[ok]))
        dot = max(1, round(cam.focal_px * CAST_SPACING_M / depth))
        sigma = max(0.5, cam.focal_px * CAST_BLUR_M / depth)
        _splat(out, uv[ok], np.ones(int(ok.sum()), np.float32), sigma, dot + int(3 * sigma) + 2, strength * share,
               close=dot, max_tile=4)  # a silhouette, its holes closed
    return out


def ground_shadows(scene: Scene, width: int, height: int, contact: float, cast: float) -> np.ndarray:
    """Darkness of the ground from both shadows (each keeps what the other lets through)."""
    a, b = contact_shadow(scene, width, height, contact), cast_shadow(scene, width, height, cast)
    return 1 - (1 - a) * (1 - b)
