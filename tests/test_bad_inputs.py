"""Bad inputs a new user or a hostile tester gives: each ends in one line on stderr naming what is wrong
and exit status 2, never a traceback, never silently accepted."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from conftest import write_tiny
from simreal.cli import app
from simreal.data.format import ImageSpec, LabelField, Provenance
from simreal.data.writer import DatasetWriter
from simreal.refine.config import RefineConfig
from simreal.refine.networks import Refiner
from simreal.simulate.write import generate_digits
from simreal.utils.checkpoint import save_checkpoint
from simreal.utils.config import to_dict
from simreal.utils.errors import DatasetError

runner = CliRunner()


def _edit_line(root: Path, line: int, **changes: Any) -> None:
    lines = (root / "metadata.jsonl").read_text().splitlines()
    rec = json.loads(lines[line - 1])
    rec.update(changes)
    lines[line - 1] = json.dumps(rec)
    (root / "metadata.jsonl").write_text("\n".join(lines) + "\n")


def _edit_manifest(root: Path, **changes: Any) -> None:
    m = json.loads((root / "dataset.json").read_text())
    m.update(changes)
    (root / "dataset.json").write_text(json.dumps(m))


@pytest.fixture(scope="module")
def digits_src(tmp_path_factory) -> Path:
    return generate_digits(tmp_path_factory.mktemp("digits") / "syn", 20, show_progress=False)


@pytest.fixture
def w(tmp_path: Path, digits_src: Path) -> dict[str, Path]:
    """A fresh workspace: ``digits`` (a copy of a generated digits dataset, labels 0–9 in its schema), ``tmp``."""
    import shutil

    digits = tmp_path / "digits"
    shutil.copytree(digits_src, digits)
    return {"digits": digits, "tmp": tmp_path}


def _keypoint_dataset(root: Path) -> Path:
    kps = [[10.0 + j, 20.0 + j, 2] for j in range(17)]
    with DatasetWriter(root, name="kp", task="keypoints", domain="real", image=ImageSpec("RGB", 32, 32),
                       label_schema={"people": LabelField("object", None, "persons")},
                       provenance=Provenance("test", {}, 0)) as wr:
        wr.add(np.zeros((32, 32, 3), np.uint8), {"people": [{"keypoints": kps, "bbox": [0, 0, 30, 30]}]})
    return root


def _coco(root: Path, images: list[dict] | None = None, annotations: list[dict] | None = None) -> list[str]:
    """A COCO keypoints file with one 16×12 image and one person; returns the ``import coco`` arguments."""
    (root / "imgs").mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((12, 16, 3), np.uint8)).save(root / "imgs" / "a.png")
    ann = {"id": 1, "image_id": 1, "category_id": 1, "keypoints": [5, 5, 2] * 17, "bbox": [0, 0, 10, 10],
           "area": 100}
    coco = {"images": images if images is not None else [{"id": 1, "file_name": "a.png", "height": 12,
                                                          "width": 16}],
            "annotations": annotations if annotations is not None else [ann],
            "categories": [{"id": 1, "name": "person"}]}
    (root / "c.json").write_text(json.dumps(coco))
    return ["import", "coco", str(root / "c.json"), str(root / "imgs"), "--out", str(root / "out")]


def _ann(**changes: Any) -> dict[str, Any]:
    return {"id": 1, "image_id": 1, "category_id": 1, "keypoints": [5, 5, 2] * 17, "bbox": [0, 0, 10, 10],
            "area": 100, **changes}


def _image(**changes: Any) -> dict[str, Any]:
    return {"id": 1, "file_name": "a.png", "height": 12, "width": 16, **changes}


def _refiner_checkpoint(root: Path, task: str = "digits", size: tuple[int, int] = (8, 8)) -> Path:
    cfg = RefineConfig()
    refiner = Refiner(1, cfg.refiner.width, cfg.refiner.blocks, cfg.refiner.kernel)
    save_checkpoint(root / "ckpt-0000001", {"refiner": refiner}, meta={
        "step": 1, "config": to_dict(cfg), "image_mode": "L", "image_size": list(size), "task": task})
    return root / "ckpt-0000001.json"


def _classifier_checkpoint(root: Path) -> Path:
    save_checkpoint(root / "ckpt-0000001", {"model": torch.nn.Linear(2, 2)}, meta={"step": 1, "task": "digits"})
    return root / "ckpt-0000001.json"


def _yaml(w: dict[str, Path], text: str) -> list[str]:
    (w["tmp"] / "c.yaml").write_text(text)
    return ["train", "--task", "digits", "--data", str(w["digits"]), "--config", str(w["tmp"] / "c.yaml"),
            "--dry-run"]


def _train(w: dict[str, Path], *extra: str) -> list[str]:
    return ["train", "--task", "digits", "--data", str(w["digits"]), "--runs", str(w["tmp"] / "runs"),
            "--device", "cpu", "--set", "steps=1", *extra]


def _symlink_loop(w: dict[str, Path]) -> Path:
    loop = w["tmp"] / "loop"
    os.symlink(loop, loop)
    return loop


def _file(w: dict[str, Path]) -> Path:
    (w["tmp"] / "afile").write_text("x")
    return w["tmp"] / "afile"


def _train_run_resumed_as(w: dict[str, Path], kind: str) -> list[str]:
    run = w["tmp"] / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(to_dict(RefineConfig())))
    (run / "inputs.json").write_text(json.dumps({"synthetic": "s", "real": "r", "consistency_classifier": None}))
    return ["train", "--resume", str(run)] if kind == "train" else ["refine", "train", "--resume", str(run)]


# name: (setup(workspace) -> argv, pattern the one-line message must match)
CASES = {
    # labels: type and range from the schema
    "digit label 12": (lambda w: (_edit_line(w["digits"], 2, label=12), ["info", str(w["digits"])])[1],
                       r"metadata\.jsonl:2: label 'label' must lie in \[0, 9\], got 12"),
    "digit label -1 in train": (lambda w: (_edit_line(w["digits"], 3, label=-1), _train(w))[1],
                                r"metadata\.jsonl:3: label 'label' must lie in \[0, 9\]"),
    "digit label 'three'": (lambda w: (_edit_line(w["digits"], 1, label="three"), _train(w))[1],
                            r"label 'label' must be an integer, got 'three'"),
    "digit label 3.7": (lambda w: (_edit_line(w["digits"], 1, label=3.7), ["info", str(w["digits"])])[1],
                        r"label 'label' must be an integer, got 3\.7"),
    "label true": (lambda w: (_edit_line(w["digits"], 1, label=True), ["info", str(w["digits"])])[1],
                   r"label 'label' must be an integer, got True"),
    # manifests
    "count as a string": (lambda w: (_edit_manifest(w["digits"], count="20"), ["info", str(w["digits"])])[1],
                          r"dataset\.json: manifest 'count' must be a non-negative integer, got '20'"),
    "image as a string": (lambda w: (_edit_manifest(w["digits"], image="L"), ["info", str(w["digits"])])[1],
                          r"manifest 'image' must be an object"),
    "manifest a list": (lambda w: ((w["digits"] / "dataset.json").write_text("[1, 2]"),
                                   ["info", str(w["digits"])])[1], r"manifest must be a JSON object, not list"),
    "task cats": (lambda w: (_edit_manifest(w["digits"], task="cats"), _train(w))[1],
                  r"manifest 'task' must be one of .*got 'cats'"),
    "digits data for gaze": (lambda w: ["train", "--task", "gaze", "--data", str(w["digits"]), "--runs",
                                        str(w["tmp"] / "runs"), "--set", "steps=1"], r"a digits dataset, not gaze"),
    "metadata edited after writing": (
        lambda w: ((w["digits"] / "metadata.jsonl").write_text(
            (w["digits"] / "metadata.jsonl").read_text().replace('"label": 1,', '"label":  1,', 1)),
            ["info", str(w["digits"])])[1], r"metadata\.jsonl: does not match the manifest's metadata_sha256"),
    "unknown domain": (lambda w: [*_coco(w["tmp"]), "--domain", "cats"], r"domain one of .*'cats'"),
    # paths a user can get wrong
    "--out is a file": (lambda w: ["generate", "digits", "--out", str(_file(w)), "--count", "2"],
                        r"afile: a file is here; --out must be a folder"),
    "--out under a file": (lambda w: ["generate", "digits", "--out", str(_file(w) / "sub"), "--count", "2"],
                           r"afile/sub: .*afile is a file, so no folder can be made under it"),
    "--out a symlink loop": (lambda w: ["generate", "digits", "--out", str(_symlink_loop(w)), "--count", "2"],
                             r"loop: a broken symbolic link \(or a link loop\)"),
    "--runs is a file": (lambda w: [*_train(w)[:5], "--runs", str(_file(w)), "--set", "steps=1"],
                         r"afile: --runs must be a folder, this is a file"),
    "dataset.json unreadable": (lambda w: ((w["digits"] / "dataset.json").unlink(),
                                           (w["digits"] / "dataset.json").mkdir(), ["info", str(w["digits"])])[2],
                                r"digits: missing manifest dataset\.json"),
    "metadata.jsonl unreadable": (lambda w: ((w["digits"] / "metadata.jsonl").unlink(),
                                             (w["digits"] / "metadata.jsonl").mkdir(), ["info", str(w["digits"])])[2],
                                  r"digits: missing metadata\.jsonl"),
    # config values, refused by --dry-run already
    "batch_size=0": (lambda w: [*_train(w), "--set", "batch_size=0", "--dry-run"],
                     r"config key 'batch_size' must be at least 1, got 0"),
    "lr=-1": (lambda w: [*_train(w), "--set", "lr=-1", "--dry-run"], r"'lr' must be greater than 0, got -1"),
    "lr=nan": (lambda w: [*_train(w), "--set", "lr=nan", "--dry-run"], r"'lr' must be finite"),
    "steps=-3": (lambda w: [*_train(w), "--set", "steps=-3"], r"'steps' must be at least 1, got -3"),
    "YAML steps: 10.5": (lambda w: _yaml(w, "steps: 10.5\n"), r"'steps' expects an integer, got 10\.5"),
    "YAML steps: true": (lambda w: _yaml(w, "steps: true\n"), r"'steps' expects an integer, got True"),
    "postures not a mapping": (lambda w: ["generate", "people", "--out", str(w["tmp"] / "e"), "--set",
                                          "scene.postures=sitting", "--dry-run"],
                               r"'scene\.postures' expects a mapping such as \{a: 1, b: 2\}, got 'sitting'"),
    "a posture weight not a number": (lambda w: ["generate", "people", "--out", str(w["tmp"] / "e"), "--set",
                                                 "scene.postures={sitting: lots}", "--dry-run"],
                                      r"'scene\.postures\.sitting' expects a number, got 'lots'"),
    "negative share": (lambda w: [*_train(w), "--data", str(w["digits"]), "--share", "-0.5", "--share", "0.5"],
                       r"--share must be positive, got -0\.5"),
    "a trillion eyes": (lambda w: ["generate", "eyes", "--out", str(w["tmp"] / "e"), "--count", "1000000000000",
                                   "--device", "cpu"], r"e/shards/0-of-1: 1,000,000,000,000 samples need about .* GB"),
    # import coco
    "coco image without height": (lambda w: _coco(w["tmp"], images=[_image(height=None)]),
                                  r"c\.json: image 1: 'height' must be a positive integer"),
    "coco invalid RLE": (lambda w: _coco(w["tmp"], annotations=[_ann(segmentation={"size": [12, 16],
                                                                                   "counts": "!!not rle"})]),
                         r"annotation 1: invalid segmentation|annotation 1: segmentation is"),
    "coco visibility not a number": (
        lambda w: _coco(w["tmp"], annotations=[_ann(keypoints=[5, 5, "v"] + [5, 5, 2] * 16)]),
        r"annotation 1: keypoint 0 is \[5, 5, 'v'\]"),
    "coco corrupt image": (lambda w: (_coco(w["tmp"]), (w["tmp"] / "imgs" / "a.png").write_bytes(b"no png"))[0],
                           r"a\.png: corrupt image"),
    "coco file_name leaves the folder": (lambda w: _coco(w["tmp"], images=[_image(file_name="../../../x.png")]),
                                         r"file_name '\.\./\.\./\.\./x\.png' leaves the images folder"),
    "coco absolute file_name": (lambda w: _coco(w["tmp"], images=[_image(file_name="/etc/passwd")]),
                                r"file_name '/etc/passwd' leaves the images folder"),
    "coco duplicate image ids": (lambda w: _coco(w["tmp"], images=[_image(), _image()]), r"image id 1 appears twice"),
    "coco annotation of a missing image": (lambda w: _coco(w["tmp"], annotations=[_ann(image_id=7)]),
                                           r"annotation 1: image_id 7 is not an image of the file"),
    "coco size contradicts the file": (lambda w: _coco(w["tmp"], images=[_image(width=20)]),
                                       r"a\.png: image is 16x12, c\.json says 20x12"),
    # datasets that should never have been written
    "non-numeric keypoint (show)": (
        lambda w: (_keypoint_dataset(w["tmp"] / "kp"),
                   _edit_line(w["tmp"] / "kp", 1, people=[{"keypoints": [["x", 1, 2]] * 17}]),
                   ["show", str(w["tmp"] / "kp"), "--out", str(w["tmp"] / "s.png")])[2],
        r"metadata\.jsonl:1: person 0 'keypoints'\[0\] = \['x', 1, 2\]"),
    "non-numeric keypoint (evaluate)": (
        lambda w: (_keypoint_dataset(w["tmp"] / "kp"),
                   _edit_line(w["tmp"] / "kp", 1, people=[{"keypoints": [[1, 1, 7]] * 17}]),
                   ["info", str(w["tmp"] / "kp")])[2], r"person 0 'keypoints'\[0\] = \[1, 1, 7\]"),
    # checkpoints and runs of another kind
    "digits refiner on eye-sized images": (
        lambda w: ["refine", "apply", "--checkpoint", str(_refiner_checkpoint(w["tmp"])), "--input",
                   str(write_tiny(w["tmp"] / "eyes", size=(35, 55))), "--out", str(w["tmp"] / "r")],
        r"eyes: images are 55x35, the refiner was trained on 8x8"),
    "digits refiner on a gaze dataset": (
        lambda w: ["refine", "apply", "--checkpoint", str(_refiner_checkpoint(w["tmp"], "gaze")), "--input",
                   str(w["digits"]), "--out", str(w["tmp"] / "r")],
        r"a digits dataset, but the refiner was trained on gaze images"),
    "classifier checkpoint in refine apply": (
        lambda w: ["refine", "apply", "--checkpoint", str(_classifier_checkpoint(w["tmp"])), "--input",
                   str(w["digits"]), "--out", str(w["tmp"] / "r")],
        r"not a refiner checkpoint \(it holds model: a digits network from simreal train\)"),
    "refine run resumed by train": (lambda w: _train_run_resumed_as(w, "train"),
                                    r"run: a refiner run \(resume it with simreal refine train --resume\)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_one_line_and_exit_2(w, case):
    setup, pattern = CASES[case]
    argv = setup(w)
    result = runner.invoke(app, argv)
    message = " ".join(result.output.split())
    assert result.exit_code == 2, (result.exit_code, result.output, repr(result.exception))
    assert message.startswith("error:") and result.output.strip().count("\n") == 0, result.output
    assert re.search(pattern, message), message
    assert not (w["tmp"] / "e").exists()  # a refused dataset leaves nothing on disk


def test_writer_refuses_a_record_that_breaks_its_schema(tmp_path):
    wr = DatasetWriter(tmp_path / "d", name="d", task="digits", domain="real", image=ImageSpec("L", 2, 2),
                       label_schema={"label": LabelField("int64", (), "digit", range=(0, 9))},
                       provenance=Provenance("t", {}, 0))
    with pytest.raises(DatasetError, match=r"must lie in \[0, 9\]"):
        wr.add(np.zeros((2, 2), np.uint8), {"label": 10})
    kp = DatasetWriter(tmp_path / "k", name="k", task="keypoints", domain="real", image=ImageSpec("RGB", 2, 2),
                       label_schema={"people": LabelField("object", None, "persons")},
                       provenance=Provenance("t", {}, 0))
    with pytest.raises(DatasetError, match=r"x, y must be finite numbers"):
        kp.add(np.zeros((2, 2, 3), np.uint8), {"people": [{"keypoints": [[float("nan"), 0, 2]]}]})
    assert wr.done == kp.done == 0


def test_import_coco_domain_option_wins_over_the_files_own(tmp_path):
    args = _coco(tmp_path)
    coco = json.loads((tmp_path / "c.json").read_text())
    coco["info"] = {"simreal_manifest": {"domain": "synthetic", "name": "x"}}
    (tmp_path / "c.json").write_text(json.dumps(coco))
    assert runner.invoke(app, [*args, "--domain", "real"]).exit_code == 0
    assert json.loads((tmp_path / "out" / "dataset.json").read_text())["domain"] == "real"
    assert runner.invoke(app, [*args[:-1], str(tmp_path / "out2")]).exit_code == 0
    assert json.loads((tmp_path / "out2" / "dataset.json").read_text())["domain"] == "synthetic"


def test_every_config_default_and_preset_passes_its_own_checks():
    import dataclasses
    import importlib
    import pkgutil

    import simreal
    from simreal.refine.config import PRESETS, preset
    from simreal.utils.config import from_dict

    checked = 0
    for info in pkgutil.walk_packages(simreal.__path__, "simreal."):
        if info.name.endswith(("ray_runner", "turing_web", "__main__")):
            continue
        mod = importlib.import_module(info.name)
        for name, cls in vars(mod).items():
            if (isinstance(cls, type) and dataclasses.is_dataclass(cls) and name.endswith("Config")
                    and cls.__module__ == info.name):
                from_dict(cls, to_dict(cls()))
                checked += 1
    assert checked >= 20
    for name in PRESETS:
        from_dict(RefineConfig, to_dict(preset(name)))
