"""Domain stylization: the colour maps, skin regions, real-person masks, and D_Style's guarantees (labels, masks and
depth byte for byte; no pixel outside the synthetic people changes; resumable; clear errors)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from simreal.cli import app
from simreal.stylize import people as people_masks
from simreal.stylize.colour import ColourStats, Gaussian, lab_to_rgb, monge_map, rgb_to_lab, skin, transfer_pixels
from simreal.stylize.dataset import stylize_dataset
from simreal.stylize.image import StylizeConfig, style_stats, stylize_image, work_shape

runner = CliRunner()
SKIN = (224, 172, 140)  # a light skin tone
BLUE = (40, 60, 200)
RED = (200, 30, 40)


def test_monge_map_carries_mean_and_covariance_onto_the_style():
    rng = np.random.default_rng(0)
    c = rng.normal(size=(5000, 3)) @ np.array([[1, 0.5, 0], [0, 1, 0.3], [0, 0, 0.2]]) + [1, 2, 3]
    s = rng.normal(size=(4000, 3)) @ np.array([[0.3, 0, 0], [0.2, 2, 0], [0.1, 0, 1]]) - [2, 0, 1]
    a, b = monge_map(Gaussian.of(c), Gaussian.of(s), eps=0)
    mapped = Gaussian.of(c @ a.T + b)
    np.testing.assert_allclose(mapped.mean, Gaussian.of(s).mean, atol=1e-9)
    np.testing.assert_allclose(mapped.cov, Gaussian.of(s).cov, atol=1e-9)
    np.testing.assert_allclose(a, a.T, atol=1e-9)  # the least-displacement map is symmetric positive definite
    assert np.linalg.eigvalsh(a).min() > 0
    a, b = monge_map(Gaussian.of(c), Gaussian.of(c), eps=0)  # same colours: the identity
    np.testing.assert_allclose(a, np.eye(3), atol=1e-9)
    np.testing.assert_allclose(b, 0, atol=1e-9)


def test_lab_round_trip_and_skin_box():
    rgb = np.random.default_rng(1).uniform(0.05, 1, (100, 3))
    np.testing.assert_allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-9)
    assert skin(np.array([SKIN, (141, 85, 36), BLUE, RED, (40, 160, 60)], np.uint8)).tolist() == [
        True, True, False, False, False]


def _pixels(colours: list[tuple[tuple[int, int, int], int]], seed: int, noise: float = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = [np.clip(rng.normal(c, noise, (n, 3)), 0, 255) for c, n in colours]
    return np.concatenate(out).round().astype(np.uint8)


def test_regions_keep_skin_skin_coloured():
    """Synthetic people in blue clothes with light skin, styled after real people in red with darker skin: per
    region the skin goes to the real skin and the clothes to red; one map for the whole person takes the synthetic
    skin somewhere else (the paper's "unnatural skin colour" is this, where it leaves skin colours)."""
    content = _pixels([(SKIN, 300), (BLUE, 900)], 0)
    style = _pixels([((150, 95, 60), 120), (RED, 1080)], 1)  # the real people show less skin
    stats = ColourStats.of(style, min_pixels=64)
    out = (transfer_pixels(content, stats, min_pixels=64) * 255).round().astype(np.uint8)
    s = skin(content)
    assert s.sum() == 300
    np.testing.assert_allclose(out[s].mean(0), style[:120].mean(0), atol=4)
    np.testing.assert_allclose(out[~s].mean(0), style[120:].mean(0), atol=4)
    whole = (transfer_pixels(content, ColourStats.of(style, 64, use_regions=False), 64, use_regions=False)
             * 255).round().astype(np.uint8)
    off = np.abs(whole[s].mean(0) - style[:120].mean(0)).max()
    assert off > 20, off


def test_a_region_without_real_pixels_takes_the_whole_person_map():
    content = _pixels([(SKIN, 300), (BLUE, 900)], 0)
    style = _pixels([(RED, 800)], 1)  # no skin on the real side
    stats = ColourStats.of(style, min_pixels=64)
    assert stats.regions["skin"] is None
    lab = rgb_to_lab(content / 255)
    a, b = monge_map(Gaussian.of(lab), stats.person)
    s = skin(content)
    expected = np.clip(lab_to_rgb(lab[s] @ a.T + b), 0, 1)
    np.testing.assert_allclose(transfer_pixels(content, stats, 64)[s], expected, atol=1e-12)


def _scene(h: int = 90, w: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An image with a synthetic person (blue and skin, left) and a real one (red and darker skin, right)."""
    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (h, w, 3)).astype(np.uint8)
    syn = np.zeros((h, w), bool)
    syn[20:80, 10:40] = True
    real = np.zeros((h, w), bool)
    real[15:85, 70:100] = True
    image[syn] = _pixels([(SKIN, 600), (BLUE, 1200)], 3)
    image[real] = _pixels([((150, 95, 60), 700), (RED, 1400)], 4)
    return image, syn, real


@pytest.mark.parametrize("work_size", [0, 50])
def test_only_the_synthetic_pixels_change(work_size):
    image, syn, real = _scene()
    cfg = StylizeConfig(work_size=work_size, smooth_radius=5, smooth_subsample=1)
    out = stylize_image(image, syn, style_stats(image, real, cfg), cfg)
    changed = (out != image).any(-1)
    assert changed[syn].mean() > 0.5 and not changed[~syn].any()
    # the synthetic person's clothes went red-ish, its skin stayed skin
    s = skin(image[syn])
    assert out[syn][~s, 0].mean() > 120 > image[syn][~s, 0].mean()
    assert skin(out[syn][s]).mean() > 0.8
    assert np.array_equal(stylize_image(image, syn, style_stats(image, real, cfg),
                                        dataclasses.replace(cfg, strength=0)), image)


def test_work_size_and_too_few_style_pixels():
    assert work_shape(640, 480, 600) == (600, 450) and work_shape(300, 200, 600) == (300, 200)
    assert work_shape(640, 480, 0) == (640, 480)
    image, _, real = _scene()
    few = np.zeros_like(real)
    few[20:25, 75:80] = True
    assert style_stats(image, few, StylizeConfig()) is None


def test_keypoint_masks_follow_visible_limbs_only():
    person = {"keypoints": [[10, 10, 2], [10, 60, 2], [40, 60, 1]], "synthetic": False}
    mask = people_masks.keypoint_people([person], [[1, 2], [2, 3]], (80, 80))
    assert mask[35, 10] and mask[12:58, 10].all()
    assert not mask[60, 30]  # the limb to an occluded keypoint is not drawn
    assert not mask[:, 30:].any()
    width = mask[35].sum()  # 0.06 × (50 / 0.85) ≈ 3.5 px
    assert 3 <= width <= 5


def test_real_people_prefer_the_dataset_masks_then_keypoints_and_a_plug_in_loses_the_synthetic():
    image, syn, real = _scene()
    mask = np.zeros(syn.shape, np.uint8)
    mask[real], mask[syn] = 1, 2
    people = [{"keypoints": [[85, 20, 2], [85, 80, 2]], "mask_id": 1, "synthetic": False},
              {"keypoints": [[25, 25, 2], [25, 75, 2]], "mask_id": 2, "synthetic": True}]
    s, r, where = people_masks.real_people(image, {"people": people}, mask, [[1, 2]], "auto", None)
    assert where == "dataset masks" and np.array_equal(s, syn) and np.array_equal(r, real)
    people[0]["mask_id"] = None  # no mask for the real person: its keypoints
    s, r, where = people_masks.real_people(image, {"people": people}, mask, [[1, 2]], "auto", None)
    assert where == "keypoints" and r[50, 85] and not r[:, :60].any()
    everything = people_masks.real_people(image, {"people": people}, mask, [[1, 2]], "x:y",
                                          lambda img: np.ones(img.shape[:2]))[1]
    assert np.array_equal(everything, ~syn)


def test_grabcut_segments_the_person_in_a_detected_box(monkeypatch):
    import simreal.data.importers.person_crops as crops

    rng = np.random.default_rng(5)
    image = np.clip(rng.normal(128, 10, (200, 160, 3)), 0, 255).astype(np.uint8)  # grey, textured
    body = np.zeros((200, 160), bool)
    body[50:170, 65:95] = True  # a tall figure
    body[30:55, 70:90] = True  # its head
    image[body] = (200, 40, 40)
    monkeypatch.setattr(crops, "hog_people", lambda img, score: [[50, 20, 60, 160]])
    found = people_masks.grabcut_people(image)
    assert found[body].mean() > 0.8 and found[~body].mean() < 0.02


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    from simreal.simulate.people.generate import PeopleConfig, generate_people
    from simreal.simulate.people.mixed import MixedConfig, generate_mixed
    from simreal.simulate.people.scene import SceneConfig

    root = tmp_path_factory.mktemp("stylize")
    scene = SceneConfig(width=160, height=160, people_lambda=3.0, max_people=6, body="capsules")
    real = generate_people(root / "ds", count=2, seed=3, cfg=PeopleConfig(scene=scene, person_detector="none"),
                           show_progress=False, log=lambda _: None)
    cfg = MixedConfig(renders_per_image=2, scene=dataclasses.replace(scene, min_people=2))
    return generate_mixed(real, root / "dm", seed=0, cfg=cfg, show_progress=False, log=lambda _: None)


def _synthetic_pixels(root: Path, rec: dict) -> np.ndarray:
    mask = np.asarray(Image.open(root / rec["file_name"].replace("images/", "masks/")))
    return people_masks.instance_people(mask, rec["people"])[0]


def test_dstyle_copies_labels_masks_and_depth_and_changes_only_synthetic_pixels(mixed, tmp_path):
    out = tmp_path / "style"
    counts = stylize_dataset(mixed, out, show_progress=False, log=lambda _: None)
    assert counts["stylized"] == counts["images"] == 4
    assert (out / "metadata.jsonl").read_bytes() == (mixed / "metadata.jsonl").read_bytes()
    for folder in ("masks", "depth"):
        files = sorted((mixed / folder).rglob("*.png"))
        assert files and all((out / f.relative_to(mixed)).read_bytes() == f.read_bytes() for f in files)
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest["domain"] == "stylized" and manifest["provenance"]["labels_copied_from"]
    assert manifest["provenance"]["real_people_from"] == {"dataset masks": 4}
    changed_somewhere = 0
    for line in (mixed / "metadata.jsonl").read_text().splitlines():
        rec = json.loads(line)
        before = np.asarray(Image.open(mixed / rec["file_name"]))
        after = np.asarray(Image.open(out / rec["file_name"]))
        changed = (before != after).any(-1)
        syn = _synthetic_pixels(mixed, rec)
        assert not changed[~syn].any()
        changed_somewhere += changed[syn].mean() > 0.3
    assert changed_somewhere == 4


def test_dstyle_resumes_to_the_same_bytes(mixed, tmp_path, monkeypatch):
    import simreal.stylize.dataset as sd

    whole = tmp_path / "whole"
    stylize_dataset(mixed, whole, show_progress=False, log=lambda _: None)
    calls = {"n": 0}
    real_fn = sd.stylize_image

    def dies_on_the_third(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_fn(*args)

    monkeypatch.setattr(sd, "stylize_image", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        stylize_dataset(mixed, tmp_path / "resumed", show_progress=False, log=lambda _: None)
    assert not (tmp_path / "resumed" / "dataset.json").exists()
    monkeypatch.setattr(sd, "stylize_image", real_fn)
    stylize_dataset(mixed, tmp_path / "resumed", show_progress=False, log=lambda _: None)
    files = sorted(p.relative_to(whole) for p in whole.rglob("*") if p.is_file() and p.name != "dataset.json")
    assert files and all((whole / f).read_bytes() == (tmp_path / "resumed" / f).read_bytes() for f in files)


def test_style_photos_with_a_plug_in_segmenter(mixed, tmp_path, monkeypatch):
    """D_S (or D_M) styled after a folder of photos: each image draws one; the segmenter finds their people."""
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(_scene()[0]).save(photos / "a.png")
    Image.fromarray(np.zeros((50, 50, 3), np.uint8)).save(photos / "empty.jpg")  # nobody in it: not used
    module = tmp_path / "mod"
    module.mkdir()
    (module / "myseg.py").write_text("import numpy as np\n"
                                     "def people(img):\n"
                                     "    m = np.zeros(img.shape[:2], np.uint8)\n"
                                     "    if img.shape[0] == 90:\n"
                                     "        m[15:85, 70:100] = 1\n"
                                     "    return m\n")
    monkeypatch.syspath_prepend(str(module))
    logs = []
    counts = stylize_dataset(mixed, tmp_path / "out", style_dir=photos, segmenter="myseg:people",
                             show_progress=False, log=logs.append)
    assert counts["stylized"] == 4 and any("1 of 2 photos" in line for line in logs)
    rec = json.loads((mixed / "metadata.jsonl").read_text().splitlines()[0])
    before = np.asarray(Image.open(mixed / rec["file_name"]))
    after = np.asarray(Image.open(tmp_path / "out" / rec["file_name"]))
    syn = _synthetic_pixels(mixed, rec)
    changed = (before != after).any(-1)
    assert not changed[~syn].any() and changed[syn].mean() > 0.3
    sys.modules.pop("myseg", None)


def test_cli_stylize_and_its_errors(mixed, tmp_path):
    out = tmp_path / "cli"
    result = runner.invoke(app, ["stylize", "--mixed", str(mixed), "--out", str(out), "--work-size", "100"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "dataset.json").read_text())["provenance"]["config"]["stylize"]["work_size"] == 100
    for args, message in (
            ([], "give one of --mixed"),
            (["--synthetic", str(mixed)], "give --style"),
            (["--mixed", str(mixed), "--person-segmenter", "nothing"], "--person-segmenter 'nothing'"),
            (["--mixed", str(mixed), "--person-segmenter", "no_such_module:f"], "not found"),
            (["--mixed", str(mixed), "--style", str(tmp_path / "none")], "not a folder of photos"),
            (["--mixed", str(tmp_path)], "dataset.json")):
        bad = tmp_path / "bad"
        result = runner.invoke(app, ["stylize", "--out", str(bad), *args])
        assert result.exit_code == 2 and message in result.output, (args, result.output)
        assert not bad.exists()


def test_wct_gives_the_style_mean_and_covariance():
    from simreal.stylize.photowct import wct

    g = torch.Generator().manual_seed(0)
    content = 100 * torch.randn(6, 4000, generator=g, dtype=torch.float64) + 3  # Σ_c ≫ the identity WCT adds
    style = torch.randn(6, 6, generator=g, dtype=torch.float64) @ torch.randn(6, 3000, generator=g,
                                                                              dtype=torch.float64) * 5 - 2
    out = wct(content, style)
    torch.testing.assert_close(out.mean(1), style.mean(1), rtol=0, atol=1e-9)
    torch.testing.assert_close(torch.cov(out), torch.cov(style), rtol=1e-3, atol=1e-3)


def _photowct_weights(tmp_path: Path) -> tuple[Path, Path]:
    from safetensors.torch import save_file

    from simreal.stylize.photowct import PhotoWCT

    torch.manual_seed(0)
    state = PhotoWCT().state_dict()
    save_file(state, str(tmp_path / "wct.safetensors"))
    torch.save(state, tmp_path / "photo_wct.pth")
    return tmp_path / "wct.safetensors", tmp_path / "photo_wct.pth"


def test_photowct_loads_user_weights_and_refuses_other_files(tmp_path):
    from safetensors.torch import save_file

    from simreal.stylize.photowct import PhotoWCT, load_photowct
    from simreal.utils.errors import CheckpointError

    st, pth = _photowct_weights(tmp_path)
    keys = list(PhotoWCT().state_dict())
    assert keys[:3] == ["e1.conv0.weight", "e1.conv0.bias", "e1.conv1_1.weight"] and "d4.conv4_1.weight" in keys
    a, b = load_photowct(str(st), "cpu"), load_photowct(str(pth), "cpu")
    content, style = torch.rand(1, 3, 37, 45), torch.rand(1, 3, 30, 30)
    labels, style_labels = np.ones((37, 45), np.uint8), np.ones((30, 30), np.uint8)
    torch.testing.assert_close(a(content, style, labels, style_labels), b(content, style, labels, style_labels))
    state = PhotoWCT().state_dict()
    del state["d2.conv2_1.bias"]
    save_file(state, str(tmp_path / "partial.safetensors"))
    (tmp_path / "junk.pth").write_bytes(b"not weights")
    for name, message in (("partial.safetensors", "not PhotoWCT weights (1 missing"), ("junk.pth", "weights-only"),
                          ("absent.pth", "not found")):
        with pytest.raises(CheckpointError, match=message.replace("(", r"\(")):
            load_photowct(str(tmp_path / name), "cpu")


def test_dstyle_with_photowct_changes_only_synthetic_pixels(mixed, tmp_path):
    weights = _photowct_weights(tmp_path)[0]
    cfg = StylizeConfig(method="photowct", vgg_weights=str(weights))
    counts = stylize_dataset(mixed, tmp_path / "wct", cfg, show_progress=False, log=lambda _: None)
    assert counts["stylized"] == 4
    assert (tmp_path / "wct" / "metadata.jsonl").read_bytes() == (mixed / "metadata.jsonl").read_bytes()
    rec = json.loads((mixed / "metadata.jsonl").read_text().splitlines()[1])
    changed = (np.asarray(Image.open(mixed / rec["file_name"])) != np.asarray(
        Image.open(tmp_path / "wct" / rec["file_name"]))).any(-1)
    syn = _synthetic_pixels(mixed, rec)
    assert not changed[~syn].any() and changed[syn].mean() > 0.3
    bad = runner.invoke(app, ["stylize", "--mixed", str(mixed), "--out", str(tmp_path / "bad"), "--method",
                              "photowct"])
    assert bad.exit_code == 2 and "needs --vgg-weights" in bad.output and not (tmp_path / "bad").exists()
    bad = runner.invoke(app, ["stylize", "--mixed", str(mixed), "--out", str(tmp_path / "bad"), "--method",
                              "photowct", "--vgg-weights", str(tmp_path / "none.pth")])
    assert bad.exit_code == 2 and "not found" in bad.output and not (tmp_path / "bad").exists()


def test_pooled_statistics_are_those_of_all_the_pixels():
    rng = np.random.default_rng(7)
    parts = [rng.normal(k, 1 + k, (50 + 30 * k, 3)) for k in range(3)]
    pooled = Gaussian.pooled([Gaussian.of(p) for p in parts])
    whole = Gaussian.of(np.concatenate(parts))
    np.testing.assert_allclose(pooled.mean, whole.mean, atol=1e-12)
    np.testing.assert_allclose(pooled.cov, whole.cov, atol=1e-10)
    assert pooled.n == whole.n


def test_thin_parts_take_the_change_at_full_resolution():
    """A limb one pixel wide is thinner than a pixel at work size; its change must not fade on the way back."""
    image, syn, real = _scene(180, 240)
    line = np.zeros_like(syn)
    line[20:160, 60] = True  # a thin arm, all clothes-blue
    image[line] = BLUE
    content = syn | line
    cfg = StylizeConfig(work_size=120)
    out = stylize_image(image, content, style_stats(image, real, cfg), cfg)
    moved = np.abs(out.astype(int) - image.astype(int)).sum(-1)
    clothes = syn & ~skin(image.reshape(-1, 3)).reshape(syn.shape)
    assert moved[line].mean() > 0.6 * moved[clothes].mean()
