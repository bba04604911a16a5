"""The Anny body model: the exported file, the zero pose, posing with the capsule body's joint conventions,
keypoint definitions and the shape bank. Skipped (with the make target to run) where the body file is absent."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simreal.simulate.people import anny
from simreal.simulate.people.body import sample_appearance, sample_shape
from simreal.simulate.people.pose import sample_pose
from simreal.simulate.people.scene import Person, SceneBuilder, SceneConfig
from simreal.simulate.people.skeleton import COCO_KEYPOINTS, HAND_KEYPOINTS, MPII_KEYPOINTS, SITES
from simreal.utils.errors import SimrealError


@pytest.fixture(scope="module")
def model() -> anny.AnnyModel:
    if not anny.available():
        pytest.skip("no Anny body model: run `make body-model`")
    return anny.load()


def _zero_pose() -> dict:
    pose = sample_pose(np.random.default_rng(0), "standing")
    return {k: (v if k == "posture" else tuple(0.0 for _ in v) if isinstance(v, tuple) else 0.0)
            for k, v in pose.items()}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_missing_body_file_names_the_make_target(tmp_path):
    with pytest.raises(SimrealError, match="make body-model"):
        anny.load(tmp_path / "none.npz")


def test_the_file_is_complete(model):
    assert model.template.shape == (13718, 3) and len(model.bones) == 104
    assert model.faces.min() == 0 and model.faces.max() == len(model.template) - 1
    assert np.allclose(model.weights.sum(1), 1, atol=1e-5)
    assert np.allclose(model.coco_regressor.sum(1), 1, atol=1e-5) and model.coco_regressor.shape[0] == 17
    # person frame: the left eye is on +y, the face looks along +x, the head is up
    t = model.template
    assert t[:, 2].max() > 0.8 and t[:, 2].min() < -0.7
    eye_l, eye_r = model.template_heads[model.index["eye.L"]], model.template_heads[model.index["eye.R"]]
    assert eye_l[1] > 0.02 and eye_r[1] < -0.02 and eye_l[0] > model.template_heads[model.index["head"]][0]


def test_zero_pose_hangs_the_limbs_and_keeps_the_feet(model):
    shape = model.shape(5)
    h, i = shape.heads, model.index
    for side in "LR":
        for a, b in (("upperarm01", "lowerarm01"), ("lowerarm01", "wrist"), ("upperleg01", "lowerleg01"),
                     ("lowerleg01", "foot")):
            d = _unit(h[i[f"{b}.{side}"]] - h[i[f"{a}.{side}"]])
            assert np.allclose(d, [0, 0, -1], atol=1e-6), (a, side, d)
        assert np.allclose(shape.canonical[i[f"foot.{side}"], :3, :3], np.eye(3), atol=1e-6)
        assert np.allclose(shape.canonical[i[f"toe1-1.{side}"], :3, :3], np.eye(3), atol=1e-6)
    # the zero pose of simreal's sampler leaves the body in it
    posed = model.pose(shape, _zero_pose())
    assert np.allclose(posed.vertices, shape.zero_vertices)
    assert 1.4 < shape.height < 2.1 or shape.child


def test_posing_is_rigid_per_bone(model):
    shape = model.shape(17)
    rng = np.random.default_rng(1)
    parents = model.parents[1:]
    rest = np.linalg.norm(shape.heads[1:] - shape.heads[parents], axis=1)
    for _ in range(5):
        posed = model.pose(shape, sample_pose(rng))
        lengths = np.linalg.norm(posed.bone_heads[1:] - posed.bone_heads[parents], axis=1)
        assert np.allclose(lengths, rest, atol=1e-9)


def _capsule_sites(pose: dict) -> dict[str, np.ndarray]:
    """Sites of a capsule body posed by MuJoCo (heading 0: world axes = the person's axes)."""
    import mujoco  # after simreal.simulate.people, which chooses MuJoCo's GL backend

    rng = np.random.default_rng(0)
    builder = SceneBuilder(SceneConfig(width=64, height=64, max_people=1))
    person = Person(0, sample_shape(rng), sample_appearance(rng), pose, position=(0.0, 0.0), heading_deg=0.0)
    builder._set_geometry(person)
    builder.poser.set_pose(person)
    mujoco.mj_kinematics(builder.model, builder.data)
    return {s: builder.data.site(f"p0_{s}").xpos.copy() for s in SITES}


@pytest.mark.parametrize("seed", range(6))
def test_limbs_point_where_the_capsule_body_points_them(model, seed):
    """The same pose puts every limb segment of an Anny body and of a MuJoCo capsule body in the same
    direction (spine and neck straight: the capsule body bends them at one joint, Anny over four bones)."""
    pose = sample_pose(np.random.default_rng(seed))
    pose.update({f"{part}_{a}": 0.0 for part in ("spine", "neck") for a in ("flex", "lat", "twist")})
    caps = _capsule_sites(pose)
    posed = model.pose(model.shape(seed), pose)
    mpii = dict(zip(MPII_KEYPOINTS, posed.mpii, strict=True))
    for side in ("left", "right"):
        for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle")):
            mine = _unit(mpii[f"{side}_{b}"] - mpii[f"{side}_{a}"])
            ref = _unit(caps[f"{side}_{b}"] - caps[f"{side}_{a}"])
            assert np.degrees(np.arccos(np.clip(mine @ ref, -1, 1))) < 0.01, (side, a, b, pose["posture"])


def test_joint_conventions(model):
    """Flexion moves a limb forward (+x), abduction away from the midline, spine flexion bends forward."""
    shape = model.shape(0)

    def kp(**changes):
        pose = _zero_pose() | changes
        return dict(zip(MPII_KEYPOINTS, model.pose(shape, pose).mpii, strict=True))

    zero = kp()
    up = kp(left_shoulder=(90.0, 0.0, 0.0))
    assert _unit(up["left_elbow"] - up["left_shoulder"]) @ [1, 0, 0] > 0.999
    side = kp(left_shoulder=(0.0, 90.0, 0.0), right_shoulder=(0.0, 90.0, 0.0))
    assert _unit(side["left_elbow"] - side["left_shoulder"]) @ [0, 1, 0] > 0.999
    assert _unit(side["right_elbow"] - side["right_shoulder"]) @ [0, -1, 0] > 0.999
    bent = kp(left_elbow=90.0, left_knee=90.0)
    assert _unit(bent["left_wrist"] - bent["left_elbow"]) @ [1, 0, 0] > 0.999  # forearm forward
    assert _unit(bent["left_ankle"] - bent["left_knee"]) @ [-1, 0, 0] > 0.999  # shank backward
    bow = kp(spine_flex=60.0)
    assert bow["head_top"][0] - zero["head_top"][0] > 0.2
    lying = kp(root_tilt=(0.0, -90.0))
    assert abs(lying["head_top"][2] - lying["left_ankle"][2]) < 0.1  # horizontal
    assert math.isclose(np.linalg.norm(lying["head_top"] - lying["left_ankle"]),
                        np.linalg.norm(zero["head_top"] - zero["left_ankle"]), rel_tol=1e-9)


def test_keypoints_follow_the_coco_and_mpii_definitions(model):
    shape = model.shape(3)
    posed = model.pose(shape, _zero_pose())
    mpii = dict(zip(MPII_KEYPOINTS, posed.mpii, strict=True))
    coco = dict(zip(COCO_KEYPOINTS, posed.coco, strict=True))
    for d in (mpii, coco):  # the person's left is +y
        for name in d:
            if name.startswith("left_"):
                assert d[name][1] > 0.02 and d[name.replace("left_", "right_")][1] < -0.02, name
    # MPII: head top is the highest point of the body; upper neck above thorax above the shoulders' line
    # (roughly), pelvis midway between the hips; the limbs' joints in order from top to bottom
    assert math.isclose(mpii["head_top"][2], posed.vertices[:, 2].max(), abs_tol=0.01)
    assert mpii["head_top"][2] > mpii["upper_neck"][2] > mpii["thorax"][2] > mpii["pelvis"][2]
    assert np.allclose(mpii["pelvis"], (mpii["left_hip"] + mpii["right_hip"]) / 2)
    for side in ("left", "right"):
        z = [mpii[f"{side}_{j}"][2] for j in ("shoulder", "elbow", "wrist")]
        assert z[0] > z[1] > z[2]
        z = [mpii[f"{side}_{j}"][2] for j in ("hip", "knee", "ankle")]
        assert z[0] > z[1] > z[2]
    # COCO: the face points on the face, the nose in front, the eyes above it, the ears behind the eyes
    assert coco["nose"][0] > coco["left_eye"][0] > coco["left_ear"][0]
    assert coco["left_eye"][2] > coco["nose"][2]
    assert abs(coco["left_ear"][1]) > abs(coco["left_eye"][1])
    # COCO's and MPII's joints agree to a few centimetres where both define one, on bodies across the bank
    for i in range(0, 1200, 60):
        posed = model.pose(model.shape(i), _zero_pose())
        coco = dict(zip(COCO_KEYPOINTS, posed.coco, strict=True))
        mpii = dict(zip(MPII_KEYPOINTS, posed.mpii, strict=True))
        for side in ("left", "right"):
            for joint in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
                assert np.linalg.norm(coco[f"{side}_{joint}"] - mpii[f"{side}_{joint}"]) < 0.05, (i, side, joint)


def test_hand_keypoints_follow_the_21_point_hand(model):
    """Wrist, then each finger base to tip; hands hanging in the zero pose: fingers point down, the thumb and
    index in front of the little finger, each finger's points ever farther from the wrist; the two hands
    mirror each other; lengths of an adult hand; the wrist is MPII's."""
    for i in (3, 400, 899, 1000):  # adults and a child
        shape = model.shape(int(i))
        posed = model.pose(shape, _zero_pose())
        for side, sign, hand in (("left", 1, posed.hands[:21]), ("right", -1, posed.hands[21:])):
            h = dict(zip(HAND_KEYPOINTS, hand, strict=True))
            assert np.allclose(h["wrist"], posed.mpii[MPII_KEYPOINTS.index(f"{side}_wrist")])
            for finger in ("thumb", "index", "middle", "ring", "little"):
                chain = [h[n] for n in HAND_KEYPOINTS if n.startswith(finger)]
                reach = [np.linalg.norm(p - h["wrist"]) for p in chain]
                assert all(np.diff(reach) > 0), (i, side, finger)
                assert chain[-1][2] < chain[0][2]  # the tip below the base: the hand hangs
                assert sign * chain[0][1] > 0.05  # on the person's own side
            assert h["thumb_tip"][0] > h["index_tip"][0] > h["little_tip"][0]  # palm towards the thigh
            length = np.linalg.norm(h["middle_tip"] - h["wrist"])
            assert (0.12 if i < 900 else 0.08) < length < 0.23, (i, length)
        assert np.allclose(posed.hands[:21] * [1, -1, 1], posed.hands[21:], atol=0.01)


def test_the_decimated_model_keeps_the_keypoints_and_the_texture(model):
    lod = model.decimated(0.01)
    assert len(lod.template) < 0.5 * len(model.template) and len(lod.faces) < 0.5 * len(model.faces)
    assert lod.faces.max() < len(lod.template) and set(lod.segments) == set(model.segments)
    # every kept triangle has three distinct corners and its original face's texture coordinates
    assert np.all(np.diff(np.sort(lod.faces, axis=1), axis=1) > 0)
    assert set(map(tuple, lod.face_uv)) <= set(map(tuple, model.face_uv))
    rng = np.random.default_rng(1)
    for i in (0, 450, 950):
        pose = sample_pose(rng)
        full, light = model.pose(model.shape(i), pose), lod.pose(lod.shape(i), pose)
        assert np.allclose(light.mpii, full.mpii) and np.allclose(light.hands, full.hands)
        assert np.abs(light.coco - full.coco).max() < 0.005
        # the kept vertices are vertices of the full body, posed alike
        assert np.isclose(light.vertices[:, 2].min(), full.vertices[:, 2].min(), atol=0.01)
        assert np.isclose(light.vertices[:, 2].max(), full.vertices[:, 2].max(), atol=1e-9)


def test_the_shape_bank_has_adults_and_children(model):
    assert len(model.children) == 300 and len(model.adults) == 900
    rng = np.random.default_rng(0)
    shapes = [model.sample_index(rng, child_share=0.15) for _ in range(2000)]
    share = np.mean([model.morph_age[i] < 18 for i in shapes])
    assert 0.12 < share < 0.18
    heights = {c: [model.shape(int(i)).height for i in (model.children if c else model.adults)[:40]]
               for c in (True, False)}
    assert 1.55 < np.median(heights[False]) < 1.85
    assert np.median(heights[True]) < np.median(heights[False]) - 0.2
