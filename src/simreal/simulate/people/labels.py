"""Per-person labels of a rendered scene: 2D keypoints with visibility and occluder, boxes, masks, factors.

Visibility (COCO convention) of a keypoint whose site projects to pixel ``(u, v)`` at camera depth ``z``:

- ``v = 0``: outside the image (or behind the camera);
- ``v = 1``: inside the image but occluded. The geom buffer says which body part is in front at that
  pixel. If it belongs to another person, the keypoint is occluded by them. If it belongs to the same
  person: a point on the face (nose, eyes, ears) is self-occluded when the visible surface is more than
  2 cm nearer than the point; a joint inside the body is never hidden by the two segments that meet at it
  (its own body and its parent: the view ray enters them r / sin t before the joint, at any depth), and is
  hidden by another segment of the same person whose surface is nearer than ``z − tolerance``, the
  tolerance being 2 cm plus the largest radius of the two segments' geoms (the joint is that deep under its
  own skin). ``occluded_by`` records the occluder's person index (the person's own index for
  self-occlusion). A seat in front hides a point when it is more than 2 cm nearer (``occluded_by`` −1);
- ``v = 2``: visible.

Hand keypoints (``hands=True``; Anny bodies, whose hands have fingers): 21 per hand (``HAND_KEYPOINTS``,
left hand then right) with the same visibility rules, each point taken as a joint of the hand segment:
never hidden by its own hand or forearm (the fingers are all one segment), hidden by another segment or
person in front.

Factors per person: ``visible_ratio`` (share of the 17 COCO keypoints with v = 2), ``stature_px`` (the
person's standing height projected at the depth of their pelvis: f·H/z), and ``min_distance_px``: the
smallest image distance between any of this person's 17 projected COCO keypoints and any of another
person's (whatever their visibility; null when the person is alone).
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from scipy.ndimage import find_objects

from simreal.simulate.people.scene import COCO_SITES, MPII_SITES, SEAT, Scene
from simreal.simulate.people.skeleton import HAND_KEYPOINTS, MPII_KEYPOINTS, SITES

FACE = {"nose", "left_eye", "right_eye", "left_ear", "right_ear"}


IS_FACE = np.array([name in FACE for name in SITES])


def site_bodies(model: mujoco.MjModel, k: int) -> np.ndarray:
    """(sites, 2): the body of each site of person ``k`` and its parent, the two segments meeting at a joint."""
    body = np.array([model.site(f"p{k}_{name}").bodyid[0] for name in SITES])
    return np.stack([body, model.body_parentid[body]], axis=1)


def site_tolerances(model: mujoco.MjModel, geom_person: np.ndarray, k: int) -> np.ndarray:
    """Depth tolerance (m) of each site of person ``k`` for the self-occlusion test."""
    geoms = np.flatnonzero((geom_person == k) & (model.geom_contype > 0))
    size = model.geom_size[geoms]
    ellipsoid = model.geom_type[geoms] == mujoco.mjtGeom.mjGEOM_ELLIPSOID
    radius = np.where(ellipsoid, np.maximum(size[:, 0], size[:, 1]), size[:, 0])
    own = site_bodies(model, k)
    match = (model.geom_bodyid[geoms][None, None, :] == own[:, :, None]).any(axis=1)  # (sites, geoms)
    tol = 0.02 + np.where(match, radius[None, :], 0.0).max(axis=1)
    tol[IS_FACE] = 0.02
    return tol


def head_box(scene: Scene, k: int) -> list[float]:
    """[x1, y1, x2, y2]: MPII's head rectangle (from which MPII's head size is 0.6 × its diagonal): the image
    box of the projected corners of person ``k``'s head ellipsoid's box, or of an Anny body's projected head
    (the vertices the head bone moves most, hair regions included)."""
    person = scene.people[k]
    if person.anny_shape is not None:
        uv, _ = scene.camera.project(person.world[scene.bodies.segment_vertices["head"]])
    else:
        g = scene.model.geom(f"p{k}_head").id
        centre, rot, size = scene.data.geom_xpos[g], scene.data.geom_xmat[g].reshape(3, 3), scene.model.geom_size[g]
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float)
        uv, _ = scene.camera.project(centre + (signs * size) @ rot.T)
    return [round(float(v), 2) for v in (*uv.min(axis=0), *uv.max(axis=0))]



def visibility(uv: np.ndarray, z: np.ndarray, k: int, depth: np.ndarray, owner: np.ndarray, front_body: np.ndarray,
               tolerance: np.ndarray, own_bodies: np.ndarray, surface: np.ndarray
               ) -> tuple[np.ndarray, list[int | None]]:
    """COCO visibility and occluder of points ``uv`` (N, 2) at depths ``z`` of person ``k``.

    ``owner`` and ``front_body`` are the person and body index per pixel (−1 for background), ``depth``
    the metric depth image, ``own_bodies`` (N, 2) the segments meeting at each joint and ``surface`` (N,)
    which points lie on the skin (the face); see the module docstring.
    """
    h, w = owner.shape
    vis = np.zeros(len(uv), np.int64)
    occluder: list[int | None] = [None] * len(uv)
    for i, ((u, v), zi) in enumerate(zip(uv, z, strict=True)):
        if zi <= 0 or not (0 <= u < w and 0 <= v < h):
            continue
        px, py = int(u), int(v)
        front = int(owner[py, px])
        if front == SEAT:
            vis[i], occluder[i] = (1, -1) if depth[py, px] < zi - 0.02 else (2, None)
            continue
        if front >= 0 and front != k:
            vis[i], occluder[i] = 1, front
            continue
        through_own_segment = front == k and not surface[i] and front_body[py, px] in own_bodies[i]
        if front == k and not through_own_segment and depth[py, px] < zi - tolerance[i]:
            vis[i], occluder[i] = 1, k
        else:
            vis[i] = 2
    return vis, occluder


def _keypoints(uv: np.ndarray, vis: np.ndarray) -> list[list[float]]:
    return [[round(float(x), 2), round(float(y), 2), int(v)] if v > 0 else [0.0, 0.0, 0]
            for (x, y), v in zip(uv, vis, strict=True)]


def person_records(scene: Scene, depth: np.ndarray, geom: np.ndarray, hands: bool = False
                   ) -> list[dict[str, Any]]:
    """Labels of every person with at least one visible pixel (hidden people are left out); ``geom`` is the
    rendered geom index per pixel (−1: background); ``hands``: hand keypoints too, where the body has them."""
    owner = scene.owners(geom)
    person_id = np.maximum(owner, -1) + 1  # 0: nobody (background or a seat)
    front_body = np.where(geom >= 0, scene.geom_body[np.maximum(geom, 0)], -1)
    cam = scene.camera
    f = cam.focal_px
    projected = []
    for person in scene.people:
        coco, mpii = scene.keypoints(person.index)
        projected.append((person, coco, mpii, *cam.project(coco), *cam.project(mpii)))
    # every person's pixel count and bounding box in one pass over the image
    n = max((p.index for p in scene.people), default=-1) + 1
    areas = np.bincount(person_id.ravel(), minlength=n + 1)[1:]
    boxes = find_objects(person_id, max_label=n)
    records = []
    for person, coco, mpii, uv, z, uv_mpii, z_mpii in projected:
        k = person.index
        if areas[k] == 0:
            continue
        rows, cols = boxes[k]
        tolerance, bodies = site_tolerances(scene.model, scene.geom_person, k), site_bodies(scene.model, k)
        coco_vis, occ = visibility(uv, z, k, depth, owner, front_body, tolerance[COCO_SITES], bodies[COCO_SITES],
                                   IS_FACE[COCO_SITES])
        mpii_vis, occ_mpii = visibility(uv_mpii, z_mpii, k, depth, owner, front_body, tolerance[MPII_SITES],
                                        bodies[MPII_SITES], IS_FACE[MPII_SITES])
        others = [o[3] for o in projected if o[0].index != k]
        min_dist = min((float(np.min(np.linalg.norm(uv[:, None] - other[None], axis=-1))) for other in others),
                       default=None)
        hand = scene.hand_keypoints(k) if hands else None
        if hand is not None:
            wrists = np.repeat([SITES.index("left_wrist"), SITES.index("right_wrist")], len(HAND_KEYPOINTS))
            uv_hand, z_hand = cam.project(hand)
            hand_vis, occ_hand = visibility(uv_hand, z_hand, k, depth, owner, front_body, tolerance[wrists],
                                            bodies[wrists], np.zeros(len(wrists), bool))
        pelvis_z = float(z_mpii[MPII_KEYPOINTS.index("pelvis")])
        body = {} if person.anny_shape is None else {
            "age_years": round(person.anny_shape.morphological_age, 1),
            "gender": round(person.anny_shape.phenotype["gender"], 3), "anny_shape": person.anny_shape.index}
        record = {
            "keypoints": _keypoints(uv, coco_vis),
            "keypoints_mpii": _keypoints(uv_mpii, mpii_vis),
            "occluded_by": occ,
            "occluded_by_mpii": occ_mpii,
            "bbox": [cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start],
            "head_box": head_box(scene, k),
            "area": int(areas[k]),
            "mask_id": k + 1,
            "person": k,
            "synthetic": True,
            "joints_3d": [[round(float(c), 4) for c in p] for p in coco],
            "joints_3d_mpii": [[round(float(c), 4) for c in p] for p in mpii],
            "factors": {
                "visible_ratio": round(float(np.mean(coco_vis == 2)), 4),
                "stature_px": round(f * person.shape.height / max(pelvis_z, 1e-6), 2),
                "min_distance_px": None if min_dist is None else round(min_dist, 2),
                "posture": person.pose["posture"],
                "height_m": round(person.shape.height, 3),
                "child": person.shape.child,
                "heading_deg": round(person.heading_deg, 2),
                "body": "capsules" if person.anny_shape is None else "anny",
                "seat_height_m": None if person.seat is None else round(2 * float(person.seat["half"][2]), 3),
                **body,
            },
        }
        if hand is not None:
            record["keypoints_hands"], record["occluded_by_hands"] = _keypoints(uv_hand, hand_vis), occ_hand
        records.append(record)
    return records
