"""``simreal experiment pose``: the model variants of the synthetic-humans paper's Tables 1 and 2.

Given real training data R, synthetic data D_S, mixed data D_M and a labelled test set, it trains the
OpenPose network as

- **M_R**: real only;
- **M_S**: synthetic only;
- **M_R+S**: 50 % real / 50 % D_S per batch, first 4 layers frozen for synthetic samples;
- **M_R+M**: 50 % real / 50 % D_M, likewise;
- **M_R+M+masks**: as M_R+M, with the loss of the synthetic people masked out;
- **M_R+D_Style**, **M_R+D_Style+masks**: the same with D_Style, D_M whose synthetic people took the colours
  of the real people of their image (``simreal stylize``; made from D_M by the study unless given);

evaluates each on the same test set (MPII AP table, PCKh, OKS AP, mAP by visible-joint ratio) and writes
``report.md``, ``results.json`` and figures.

With no datasets it builds a small built-in version. No real keypoint data ships offline, so the "real"
data is **generated**: D_S scenes passed through a simulated camera (blur, sensor noise, a colour cast,
gamma and JPEG compression: :func:`simulated_camera`) stand in for real photographs, for training (R) and
testing; D_S is rendered with another seed, and D_M superimposes synthetic people on R. The report says so.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from simreal.data.derive import derived_writer, parent_ref, sample_mask
from simreal.data.format import ImageSpec, Provenance, command_line
from simreal.data.keypoints import keypoint_set
from simreal.data.reader import SimrealDataset, read_manifest
from simreal.evaluate.keypoints import plot_visibility, table_markdown
from simreal.experiments.study import Study
from simreal.simulate.people.generate import PeopleConfig, generate_people
from simreal.simulate.people.mixed import MixedConfig, generate_mixed
from simreal.simulate.people.scene import SceneConfig
from simreal.stylize.dataset import stylize_dataset
from simreal.stylize.image import StylizeConfig
from simreal.tasks.keypoints.data import CropConfig
from simreal.tasks.keypoints.network import PRESETS
from simreal.tasks.keypoints.predict import evaluate_keypoint_model
from simreal.train.keypoints import KeypointTrainConfig, KeypointTrainer
from simreal.train.registry import load_model
from simreal.train.sources import open_keypoint_sources
from simreal.utils.config import merge, to_dict
from simreal.utils.errors import SimrealError
from simreal.utils.seeding import numpy_rng

VARIANTS: dict[str, dict[str, Any]] = {
    "M_R": {"data": ["real"], "share": [1.0]},
    "M_S": {"data": ["synthetic"], "share": [1.0]},
    "M_R+S": {"data": ["real", "synthetic"], "share": [0.5, 0.5]},
    "M_R+M": {"data": ["real", "mixed"], "share": [0.5, 0.5]},
    "M_R+M+masks": {"data": ["real", "mixed"], "share": [0.5, 0.5], "masked": True},
    "M_R+D_Style": {"data": ["real", "stylized"], "share": [0.5, 0.5]},
    "M_R+D_Style+masks": {"data": ["real", "stylized"], "share": [0.5, 0.5], "masked": True},
}


@dataclass(frozen=True)
class PoseStudyConfig:
    variants: tuple[str, ...] = tuple(VARIANTS)
    # a CPU-sized recipe: small network with batch norm (trains from scratch), 128-px crops, 800 steps
    train: KeypointTrainConfig = field(default_factory=lambda: KeypointTrainConfig(
        net=dataclasses.replace(PRESETS["small"], norm=True),
        crop=CropConfig(size=128, min_keypoints=6, sigma=4.0, paf_width=4.0), steps=800, batch_size=8, lr=1e-3,
        log_every=50, checkpoint_every=400))
    eval_size: int = 320
    # built-in data
    real_train_count: int = 80
    synthetic_count: int = 80
    test_count: int = 40
    mixed_from: int = 40  # real images D_M is made from
    mixed_renders: int = 2
    image_size: int = 320
    # the built-in data's bodies ("real" stand-in, D_S and D_M alike): the capsules its README table was
    # measured with; `--set body=anny` for Anny bodies (the "real" data is generated either way)
    body: str = "capsules"
    # the built-in photos by default, so the tables rerun as published; `--set backgrounds=data/backgrounds`
    # for the photos of places `make backgrounds` fetches (or any folder)
    backgrounds: str = "builtin"
    stylize: StylizeConfig = field(default_factory=StylizeConfig)  # how D_Style is made from D_M
    seed: int = 0


def simulated_camera(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The built-in study's stand-in for a real camera: blur, colour cast, gamma, sensor noise, JPEG."""
    img = Image.fromarray(image).filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.4)))
    x = np.asarray(img).astype(np.float32) / 255
    x = x * rng.uniform(0.85, 1.15, 3) ** 1.0
    x = np.clip(x, 0, 1) ** rng.uniform(0.75, 1.25)
    x = x + rng.normal(0, rng.uniform(0.01, 0.04), x.shape)
    buf = io.BytesIO()
    Image.fromarray((np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)).save(buf, format="JPEG",
                                                                          quality=int(rng.integers(30, 70)))
    return np.asarray(Image.open(buf).convert("RGB"))


def camera_copy(src: Path, out: Path, seed: int) -> Path:
    """``src`` with every image passed through :func:`simulated_camera`; labels and masks kept byte for byte."""
    if (out / "dataset.json").exists():
        return out
    ds = SimrealDataset(src)
    m = ds.manifest
    prov = Provenance(command_line(), {"simulated_camera_of": str(src), "seed": seed}, seed,
                      parents=[parent_ref(src, m)], labels_copied_from=str(src),
                      extra={"note": "generated data standing in for real photographs"})
    with derived_writer(ds, out, name=m["name"] + "-camera", domain="real", provenance=prov,
                        image=ImageSpec("RGB", m["image"]["height"], m["image"]["width"])) as w:
        for i in range(w.done, len(ds)):
            rec = ds.record(i)
            image = np.asarray(Image.open(src / rec["file_name"]).convert("RGB"))
            w.add_raw(simulated_camera(image, numpy_rng(seed, i)), ds.raw_line(i), sample_mask(ds, rec))
    return out


def builtin_data(out: Path, cfg: PoseStudyConfig, log) -> dict[str, Path]:
    scene = SceneConfig(width=cfg.image_size, height=cfg.image_size, body=cfg.body)
    people = PeopleConfig(scene=scene, backgrounds=cfg.backgrounds)
    paths = {}
    for name, count, seed in (("real-train-source", cfg.real_train_count, cfg.seed + 101),
                              ("test-source", cfg.test_count, cfg.seed + 303),
                              ("synthetic", cfg.synthetic_count, cfg.seed + 202)):
        path = out / "data" / name
        if not (path / "dataset.json").exists():
            log(f"generating {name} ({count} scenes)")
            generate_people(path, count, seed, people, log=lambda _: None)
        paths[name] = path
    paths["real"] = camera_copy(paths.pop("real-train-source"), out / "data" / "real", cfg.seed + 1)
    paths["test"] = camera_copy(paths.pop("test-source"), out / "data" / "test", cfg.seed + 3)
    mixed = out / "data" / "mixed"
    if not (mixed / "dataset.json").exists():
        log("generating the mixed dataset")
        mixed_cfg = MixedConfig()
        mixed_cfg = dataclasses.replace(mixed_cfg, renders_per_image=cfg.mixed_renders,
                                        scene=dataclasses.replace(mixed_cfg.scene, body=cfg.body))
        generate_mixed(paths["real"], mixed, cfg.seed + 404, mixed_cfg, limit=cfg.mixed_from)
    paths["mixed"] = mixed
    return paths


def train_variant(name: str, data: dict[str, Path], cfg: PoseStudyConfig, run_dir: Path) -> Path:
    spec = VARIANTS[name]
    tcfg = merge(cfg.train, {"masked_synthetic_loss": bool(spec.get("masked")), "seed": cfg.seed})
    if (run_dir / "summary.json").exists():
        return run_dir
    sources = open_keypoint_sources([data[d] for d in spec["data"]], spec["share"], [], tcfg)
    resume = run_dir.exists() and any(run_dir.glob("ckpt-*.json"))
    run_dir.mkdir(parents=True, exist_ok=True)
    KeypointTrainer(tcfg, sources, run_dir).train(resume=resume)
    return run_dir


def run_pose_study(out: str | Path, cfg: PoseStudyConfig = PoseStudyConfig(), real: Path | None = None,
                   synthetic: Path | None = None, mixed: Path | None = None, test: Path | None = None,
                   log=print, stylized: Path | None = None) -> dict[str, Any]:
    given = {"real": real, "synthetic": synthetic, "mixed": mixed, "test": test}
    builtin = all(v is None for v in given.values())
    if not builtin and any(v is None for v in given.values()):
        raise SimrealError("give all of --real, --synthetic, --mixed and --test, or none (built-in data)")
    if builtin and stylized is not None:
        raise SimrealError("--stylized goes with the other datasets (--real, --synthetic, --mixed, --test)")
    for bad in [v for v in cfg.variants if v not in VARIANTS]:
        raise SimrealError(f"unknown variant {bad!r}; available: {', '.join(VARIANTS)}")
    # finished variants are reused only by the same study; more variants may be added later
    stamp = to_dict(dataclasses.replace(cfg, variants=(), train=dataclasses.replace(cfg.train, device="")))
    study = Study(out, stamp, [*given.values(), stylized])
    out = study.out
    data = builtin_data(out, cfg, log) if builtin else {k: Path(v) for k, v in given.items()}
    if any("stylized" in VARIANTS[v]["data"] for v in cfg.variants):
        data["stylized"] = Path(stylized) if stylized else study.dataset(
            "data/stylized", lambda path: stylize_dataset(data["mixed"], path, cfg.stylize, seed=cfg.seed, log=log))
    for k, v in data.items():
        if read_manifest(v)["task"] != "keypoints":
            raise SimrealError(f"--{k} {v}: not a keypoint dataset")
    results: dict[str, Any] = {}
    for name in cfg.variants:
        log(f"training {name}")
        t = time.time()
        run = train_variant(name, data, cfg, out / "runs" / name)
        train_s = json.loads((run / "summary.json").read_text())["train_time_s"]
        model, tcfg = load_model(run, cfg.train.device, "keypoints")
        metrics = evaluate_keypoint_model(model, keypoint_set(tcfg.keypoint_set), data["test"], cfg.eval_size,
                                          report_dir=out / "eval" / name, name=str(run))
        metrics["train_time_s"] = train_s
        metrics["wall_s"] = round(time.time() - t, 1)
        results[name] = metrics
    summary = {"builtin_data": builtin, "data": {k: str(v) for k, v in data.items()},
               "counts": {k: read_manifest(v)["count"] for k, v in data.items()}, "config": to_dict(cfg),
               "results": results}
    plot_visibility(results, out / "map_by_visible_ratio.png")
    return study.finish(summary, report)


def report(s: dict[str, Any]) -> str:
    """The markdown of ``report.md``."""
    note = ("**The data are generated.** No real keypoint data ships offline: the 'real' training and test "
            "images are D_S scenes passed through a simulated camera (blur, noise, colour cast, gamma, JPEG). "
            "These numbers say how the training recipes behave on this simulated gap, not on MPII."
            if s["builtin_data"] else "Data given by the user (paths in results.json).")
    c = s["counts"]
    rows = {name: m for name, m in s["results"].items()}
    styled = f", D_Style {c['stylized']}" if "stylized" in c else ""
    lines = ["# Pose study (synthetic-humans paper, Tables 1–2)", "", note, "",
             f"Training images: real {c['real']}, D_S {c['synthetic']}, D_M {c['mixed']}{styled}; test images "
             f"{c['test']} "
             f"({sum(m['people'] for m in rows.values()) // max(len(rows), 1)} people). "
             f"Runtime {s['runtime_s'] / 60:.1f} min on {s['machine']['platform']} "
             f"({s['machine']['cpu_count']} CPUs).", "", "MPII multi-person AP (%) on the test set:", "",
             table_markdown(rows), "", "![mAP by visible-joint ratio](map_by_visible_ratio.png)", "",
             "Per-variant reports (predictions next to ground truth): `eval/VARIANT/report.md`.", ""]
    return "\n".join(lines)
