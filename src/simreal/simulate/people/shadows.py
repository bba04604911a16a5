"""Soft contact shadows: people darken the ground under and around where they touch it.

Not a light's cast shadow but the ambient occlusion a body makes near the ground: every point of the body
(an Anny body's vertices, a capsule body's geoms' lowest points, and a seat's footprint) within ``REACH_M``
of the ground is
dropped onto it, weighted by (1 − height / ``REACH_M``)², projected into the image, and blurred by
``BLUR_M`` at the person's distance. The result darkens the background only: people, masks and labels
are unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np

from simreal.simulate.people.scene import Scene, lowest_z

REACH_M = 0.3  # body points higher than this above the ground cast nothing
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
    seat = person.seat
    h = np.radians(seat["heading_deg"])
    u, v = np.meshgrid(np.linspace(-1, 1, 7), np.linspace(-1, 1, 7))
    local = np.stack([u.ravel() * seat["half"][0], v.ravel() * seat["half"][1]], axis=1)
    rot = np.array([[np.cos(h), -np.sin(h)], [np.sin(h), np.cos(h)]])
    ground = seat["centre"][2] - seat["half"][2]
    footprint = np.column_stack([seat["centre"][:2] + local @ rot.T, np.full(len(local), ground)])
    return np.concatenate([points, footprint])


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
        pad = int(3 * sigma) + 2
        lo = np.floor(uv[ok].min(0)).astype(int) - pad
        hi = np.ceil(uv[ok].max(0)).astype(int) + pad
        x0, y0, x1, y1 = max(lo[0], 0), max(lo[1], 0), min(hi[0], width), min(hi[1], height)
        if x0 >= x1 or y0 >= y1:
            continue
        tile = np.zeros((hi[1] - lo[1], hi[0] - lo[0]), np.float32)
        px = (uv[ok] - lo).astype(int)
        np.maximum.at(tile, (px[:, 1], px[:, 0]), weight[ok])
        tile = cv2.GaussianBlur(tile, (0, 0), max(sigma, 0.5))
        tile /= max(float(tile.max()), 1e-6)  # the darkest spot is the contact itself
        region = tile[y0 - lo[1]:y1 - lo[1], x0 - lo[0]:x1 - lo[0]]
        out[y0:y1, x0:x1] = np.maximum(out[y0:y1, x0:x1], strength * region)
    return out
