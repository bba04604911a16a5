"""``simreal experiment hands``: SimGAN's hand-pose experiment (section 3.2: Table 4, Figures 9 and 11).

Given labeled synthetic depth crops (three camera views per hand pose), unlabeled "real" depth crops and a
labeled test set, it

1. trains two refiners of the synthetic crops against the real pool: the paper's local adversarial loss and,
   for Figure 11's ablation, a global one (the discriminator's logits averaged over the image);
2. refines the synthetic set with each (the local refiner writes a refined dataset to disk);
3. trains the stacked hourglass (:mod:`simreal.tasks.hands`) on synthetic, refined, synthetic 3× and refined 3×
   (1× = the frontal view of every pose, 3× = all three views, as the paper's "3x corresponds to training on all
   views"), on the labeled frontal views of the real set ("real data", Table 4's first row) and on the 1× set
   refined by the global refiner, once per seed;
4. evaluates every network on the test set (:mod:`simreal.evaluate.hands`): % of images within d = 0…20 px
   (every joint within d, the headline rule, and the mean joint error within d), mean error in px and mm;
5. measures realism with the machine observer (:func:`simreal.evaluate.realism.observer_test`): synthetic,
   refined and global-refined 1× crops against the real pool (50 % = indistinguishable to it);
6. writes ``report.md``, ``results.json`` and figures: Figure 9's curves (both rules), Figure 11's depth-edge
   comparison (synthetic | global | local | real), the refiner losses and the observer's saliency.

**Built-in data.** With no datasets it makes its own: clean synthetic hands (``simreal generate hands``) and,
as the target domain, the SIMULATED structured-light sensor (``--preset kinect``): an unlabeled pool (3 views),
a labeled training set and a test set (frontal views), each from another seed. Those numbers are about a
simulated sensor, not real Kinect depth; the report says so. NYU imports (``simreal import nyu-hands``) go in
as ``--synthetic`` (``--synthetic --views 3``), ``--real`` (its training frames; their labels train the "real
data" row) and ``--test``.

**Scaled for a CPU** (``cpu``, the default, about 25 minutes on 2 cores): crops of 64 px instead of 224 (the same
300 mm cube, rendered at that size), the hourglass's input 64 px and so 32×32 heatmaps, 32 features, 1,000 steps
of 16; the refiner ``hands-cpu`` (2 ResNet blocks of 3×3 with 32 maps, a noise channel, λ = 1, 300
iterations) instead of ``paper-hand`` (10 blocks of 7×7). Errors are always in pixels of a 224×224 crop.
``paper``: 224-px crops, the ``paper-hand`` refiner and the paper's hourglass; days on a CPU.

Finished stages are kept: rerunning with the same ``--out`` reuses datasets, refiner runs and per-condition
results (``results/CONDITION-seedK.json``), so an interrupted study resumes and ``--seeds`` can be raised later.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simreal.data.bank import ImageBank
from simreal.data.reader import SimrealDataset
from simreal.evaluate.curves import plot_within_curves
from simreal.evaluate.hands import HEADLINE_PX, crop_errors, evaluate_hands
from simreal.evaluate.predict import predict_outputs
from simreal.evaluate.realism import ObserverConfig, observer_test
from simreal.experiments.report import plot_refiner_losses
from simreal.experiments.study import Study, given_datasets
from simreal.refine.apply import refine_bank, refine_dataset
from simreal.refine.config import RefineConfig, preset
from simreal.simulate.hands.generate import HandSimConfig, generate_hands
from simreal.tasks.hands import PAPER, HandNetConfig, predict_joints
from simreal.train.task import HandTrainConfig, TaskTrainer
from simreal.utils.config import merge, to_dict
from simreal.utils.errors import SimrealError
from simreal.utils.images import save_grid
from simreal.utils.report import format_mean_std, markdown_table, mean_std
from simreal.utils.runs import read_stats

# the refiners: the paper's local adversarial loss and Figure 11's global one (overrides of the refine config)
VARIANTS: dict[str, dict[str, Any]] = {"local": {}, "global": {"discriminator": {"global_": True}}}
MAIN_CONDITIONS = ("synthetic", "refined", "synthetic 3x", "refined 3x")
FAR = 65000 / 65535  # a crop pixel at or beyond this is background (far = 1; refiners leave it slightly below)


def _cpu_hands() -> HandTrainConfig:
    # cosine: the network ends at a low rate rather than wherever a constant one leaves it (seed-to-seed std of
    # the synthetic row: 2.0 px constant (2 seeds), 1.3 px cosine (3 seeds); README, Hands)
    return HandTrainConfig(net=HandNetConfig(features=32, input_size=64, heatmap=32), steps=1000,
                           lr_schedule="cosine", log_every=250)


@dataclass(frozen=True)
class HandStudyConfig:
    """Sizes of the built-in data, the refiners, the hourglass and the observer (module docstring)."""

    poses: int = 1000  # built-in synthetic hands: 3 views each (3×: all crops; 1×: the frontal ones)
    real_pool: int = 3000  # built-in unlabeled target crops for the refiners (3 views)
    real_train: int = 1000  # built-in labeled target crops, frontal: the "real data" row
    test: int = 500  # built-in labeled target crops, frontal, held out
    crop: int = 64  # side of the built-in crops (the paper: 224)
    # λ = 5: on 64-px crops λ = 1 (the preset's, chosen on 128-px crops) flattened the hand's shading (46 mm
    # mean absolute depth change, 14 % of its pixels dropped); λ = 5: 11 mm, 3 % (README, Hands)
    refine: RefineConfig = field(default_factory=lambda: merge(preset("hands-cpu"), {"loss": {"reg_weight": 5.0}}))
    hands: HandTrainConfig = field(default_factory=_cpu_hands)
    observer: ObserverConfig = field(default_factory=lambda: ObserverConfig(max_per_class=1000, steps=300))
    variants: tuple[str, ...] = tuple(VARIANTS)
    data_seed: int = 0

    @staticmethod
    def quick() -> HandStudyConfig:
        """Smoke-test sizes: every stage runs in seconds, the numbers mean nothing."""
        return HandStudyConfig(
            poses=12, real_pool=24, real_train=12, test=12, crop=32,
            refine=merge(preset("hands-cpu"), {"batch_size": 4, "buffer_size": 8, "pretrain_refiner_steps": 2,
                                               "pretrain_discriminator_steps": 2, "iterations": 2, "grid_every": 2,
                                               "checkpoint_every": 2, "log_every": 1}),
            hands=merge(_cpu_hands(), {"steps": 3, "batch_size": 4, "log_every": 1}),
            observer=ObserverConfig(max_per_class=12, steps=3))

    @staticmethod
    def paper() -> HandStudyConfig:
        """The paper's sizes: 224-px crops, the ``paper-hand`` refiner, the paper's hourglass; days on a CPU."""
        return HandStudyConfig(poses=20000, real_pool=20000, real_train=20000, test=2000, crop=224,
                               refine=preset("paper-hand"), hands=HandTrainConfig(net=PAPER, steps=20000),
                               observer=ObserverConfig())


@dataclass
class HandData:
    synthetic: Path
    real: Path  # the refiners' pool (labels unused)
    real_train: Path  # its labeled frontal views train the "real data" row (the pool itself for user data)
    test: Path
    builtin: bool
    test_clean: Path | None = None  # built-in only: the test hands rendered clean (what the sensor changed)


def _hands(study: Study, key: str, count: int, seed: int, sim: HandSimConfig) -> Path:
    wanted = {"count": count, "hands": json.loads(json.dumps(to_dict(sim)))}

    def same(manifest: dict[str, Any]) -> bool:
        prov = manifest.get("provenance", {})
        return prov.get("seed") == seed and {k: prov.get("config", {}).get(k) for k in wanted} == wanted

    return study.dataset(key, lambda path: generate_hands(path, count, seed, sim, overwrite=True, log=lambda _: None),
                         reuse=same)


def prepare_data(study: Study, cfg: HandStudyConfig, synthetic: Path | None, real: Path | None, test: Path | None
                 ) -> HandData:
    if synthetic is not None:  # checked by given_datasets
        return HandData(Path(synthetic), Path(real), Path(real), Path(test), builtin=False)
    s = cfg.data_seed
    clean = HandSimConfig(preset="clean", views=3, size=cfg.crop)
    sensor = dataclasses.replace(clean, preset="kinect")
    frontal = dataclasses.replace(sensor, views=1)
    return HandData(_hands(study, "data/synthetic-clean", 3 * cfg.poses, s, clean),
                    _hands(study, "data/real-pool-kinect", cfg.real_pool, s + 1, sensor),
                    _hands(study, "data/real-train-kinect", cfg.real_train, s + 3, frontal),
                    _hands(study, "data/test-kinect", cfg.test, s + 2, frontal), builtin=True,
                    test_clean=_hands(study, "data/test-clean", cfg.test, s + 2, dataclasses.replace(frontal,
                                                                                                     preset="clean")))


def _slug(name: str) -> str:
    """``refined (global)`` → ``refined_global``: a condition's name in file names."""
    return name.replace(" (", "_").replace(")", "").replace(" ", "_")


def _frontal(ds: SimrealDataset) -> np.ndarray:
    """Indices of the frontal views (view 1) of a hand dataset."""
    return np.flatnonzero(ds.labels("view") == 1)


def _bank(ds: SimrealDataset, idx: np.ndarray | None = None) -> ImageBank:
    return ImageBank(ds if idx is None else ds.subset(idx), "keypoints")


def depth_change(synthetic: ImageBank, refined: ImageBank, cube_mm: float, limit: int = 500) -> dict[str, float]:
    """What a refiner does to the depth of the first ``limit`` crops (``synthetic`` → ``refined``, the same
    crops): over the pixels where the synthetic crop shows the hand (nearer than far), the mean and mean absolute
    change of depth in mm (normalised depth × the cube's depth) and the share of them made far ("dropped"); the
    background pixels brought nearer than far ("flying"), as % of the hand's pixels."""
    idx = torch.arange(min(limit, len(synthetic)))
    a, b = ((bank.images(idx).double() + 1) / 2 for bank in (synthetic, refined))
    hand, far_after = a < FAR, b >= FAR
    change = (b - a)[hand] * cube_mm
    return {"mean_mm": float(change.mean()), "mean_abs_mm": float(change.abs().mean()),
            "dropped_pct": float(100 * (hand & far_after).sum() / hand.sum()),
            "flying_pct": float(100 * (~hand & ~far_after).sum() / hand.sum())}


def run_condition(study: Study, name: str, seed: int, bank: ImageBank, test: ImageBank, hcfg: HandTrainConfig
                  ) -> dict[str, Any]:
    """Train the hourglass on ``bank`` and evaluate it on ``test``: the stage ``results/CONDITION-seedK``."""

    def run() -> dict[str, Any]:
        t0 = time.time()
        model = TaskTrainer(dataclasses.replace(hcfg, seed=seed), [(bank, 1.0)], show_progress=False).train()
        pred = predict_outputs(model, test, 64, forward=predict_joints)
        metrics, errors = evaluate_hands(pred, test), crop_errors(pred, test)
        counted = ~np.isnan(errors).all(1)
        return {**metrics, "worst_joint_px": np.round(np.nanmax(errors[counted], 1), 3).tolist(),
                "mean_joint_px": np.round(np.nanmean(errors[counted], 1), 3).tolist(),
                "train_count": len(bank), "seed": seed, "time_s": round(time.time() - t0, 1)}

    return study.stage(f"results/{_slug(name)}-seed{seed}", run)


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = (f"within_{HEADLINE_PX}_px_pct", f"within_{HEADLINE_PX}_px_mean_joint_pct", "mean_joint_error_px",
            "median_joint_error_px", "mean_joint_error_mm")
    out: dict[str, Any] = {k: mean_std(r[k] for r in runs) for k in keys}
    for key in ("curve_pct", "curve_mean_joint_pct"):
        out[key] = np.mean([r[key] for r in runs], axis=0).round(2).tolist()
    out["train_count"] = runs[0]["train_count"]
    return out


def run_study(out: str | Path, synthetic: Path | None = None, real: Path | None = None, test: Path | None = None,
              cfg: HandStudyConfig = HandStudyConfig(), seeds: int = 2, device: str = "auto") -> dict[str, Any]:
    unknown = [v for v in cfg.variants if v not in VARIANTS]
    if unknown or "local" not in cfg.variants:
        raise SimrealError(f"variants must include local and come from {', '.join(VARIANTS)}; got {unknown}")
    given_datasets(synthetic, real, test, "keypoints", task="hand")
    study = Study(out, to_dict(dataclasses.replace(cfg, variants=())), [synthetic, real, test])  # variants: added later
    out = study.out
    data = prepare_data(study, cfg, synthetic, real, test)
    syn_ds, real_ds, test_ds = (SimrealDataset(p) for p in (data.synthetic, data.real, data.test))
    sizes = {name: (ds.manifest["image"]["height"], ds.manifest["image"]["width"])
             for name, ds in (("synthetic", syn_ds), ("real", real_ds), ("test", test_ds))}
    if len(set(sizes.values())) > 1:
        raise SimrealError(f"crop sizes differ ({', '.join(f'{k} {v[0]}x{v[1]}' for k, v in sizes.items())}); "
                           "make all three at one size")
    one_x = _frontal(syn_ds)
    syn_all, real_pool, test_bank = _bank(syn_ds), ImageBank(real_ds), _bank(test_ds)
    rcfg = dataclasses.replace(cfg.refine, device=device, seed=cfg.data_seed)
    hcfg = dataclasses.replace(cfg.hands, device=device)

    refiners = {variant: study.refiner(variant, merge(rcfg, VARIANTS[variant]), ImageBank(syn_ds), real_pool)
                for variant in cfg.variants}
    refine_time = {v: read_stats(Path(p).parent)[-1].get("time_s") for v, p in refiners.items()}
    refined_path = refine_dataset(refiners["local"], data.synthetic, out / "data" / "refined", device=device,
                                  overwrite=True, reuse_finished=True)
    refined_ds = SimrealDataset(refined_path)
    banks = {"synthetic": _bank(syn_ds, one_x), "refined": _bank(refined_ds, one_x)}
    if len(one_x) < len(syn_ds):  # the synthetic set has side views: the 3× rows
        banks.update({"synthetic 3x": syn_all, "refined 3x": _bank(refined_ds)})
    real_train_ds = SimrealDataset(data.real_train)
    if "keypoints" in real_train_ds.schema:
        banks["real"] = _bank(real_train_ds, _frontal(real_train_ds))
    for variant in cfg.variants:
        if variant != "local":
            banks[f"refined ({variant})"] = refine_bank(refiners[variant], banks["synthetic"], device)

    runs = study.each_condition(banks, seeds, "hourglass networks",
                                lambda name, seed, bank: run_condition(study, name, seed, bank, test_bank, hcfg))

    refined_1x = {"refined": banks["refined"], **{k: b for k, b in banks.items() if k.startswith("refined (")}}
    observed = {"synthetic": banks["synthetic"], **refined_1x}
    # the 1× sets are frontal views: so is what they are compared with, or the observer could tell them apart
    # by the viewpoint alone
    real_1x = ImageBank(real_ds.subset(_frontal(real_ds))) if "view" in real_ds.schema else real_pool
    observer = {name: study.stage(f"observer/{_slug(name)}", lambda b=bank, n=name: observer_test(
        real_1x, b, dataclasses.replace(cfg.observer, device=device),
        explain=out / "figures" / f"observer_{_slug(n)}.png"))
        for name, bank in observed.items()}
    cube_mm = next(syn_ds.records())["crop"]["cube_mm"]
    results = {
        "conditions": {name: {**summarize(r), "vs_synthetic_px": mean_std(  # the same seed: a paired difference
            a["mean_joint_error_px"] - b["mean_joint_error_px"] for a, b in zip(r, runs["synthetic"], strict=True))}
            for name, r in runs.items()},
        "observer": observer,
        "depth_change": {name: depth_change(banks["synthetic"], bank, cube_mm) for name, bank in refined_1x.items()},
        # what the refiners should imitate: the same test hands, clean and through the simulated sensor
        "sensor_depth_change": depth_change(ImageBank(SimrealDataset(data.test_clean)), test_bank, cube_mm)
        if data.test_clean is not None else None,
        "seeds": seeds,
        "builtin_data": data.builtin,
        "datasets": {"synthetic": str(data.synthetic), "real": str(data.real), "real_train": str(data.real_train),
                     "test": str(data.test), "refined": str(refined_path)},
        "counts": {"synthetic_3x": len(syn_ds), "synthetic_1x": len(one_x), "real_pool": len(real_pool),
                   "real_pool_1x": len(real_1x),
                   "test": len(test_bank), "crop": sizes["test"][1]},
        "refiners": {v: {"checkpoint": str(p), "train_time_s": refine_time[v]} for v, p in refiners.items()},
        "config": to_dict(cfg),
    }
    return study.finish(results, lambda r: _report(out, r, runs, banks, real_1x, refiners))


def _edge_figure(banks: dict[str, ImageBank], real: ImageBank, path: Path, n: int = 6) -> Path:
    """Figure 11: the same synthetic hands, refined with a global and a local adversarial loss, and real crops
    (other hands); each crop shown whole and, below it, its centre magnified 2× (nearest), where the depth
    edges are."""
    idx = torch.arange(min(n, len(banks["synthetic"]), len(real)))
    names = ["synthetic", *(k for k in banks if k.startswith("refined (")), "refined"]
    rows = [banks[k].images(idx) for k in names] + [real.images(idx)]
    size = rows[0].shape[-1]
    lo, hi = size // 4, size - size // 4
    zoom = [torch.nn.functional.interpolate(r[..., lo:hi, lo:hi], scale_factor=2, mode="nearest") for r in rows]
    return save_grid([*rows, *zoom], path, min_cell=128)


def _report(out: Path, r: dict[str, Any], runs: dict[str, list[dict[str, Any]]], banks: dict[str, ImageBank],
            real: ImageBank, refiners: dict[str, Path]) -> str:
    """The figures (written) and the markdown of ``report.md`` (returned)."""
    fig = out / "figures"
    target = "SIMULATED Kinect depth (NOT real data)" if r["builtin_data"] else "the test set"
    order = [k for k in (*MAIN_CONDITIONS, "real") if k in runs] + [k for k in runs if k.startswith("refined (")]
    for rule, key in (("every joint", "worst_joint_px"), ("mean joint error", "mean_joint_px")):
        errors = {name: np.concatenate([run[key] for run in runs[name]]) for name in order}
        plot_within_curves(errors, fig / f"within_{key.split('_')[0]}.png", 20, HEADLINE_PX,
                           f"Distance from ground truth [pixels, 224×224 crop; {rule}]", f"hourglass on {target}")
    _edge_figure(banks, real, fig / "depth_edges.png")
    plot_refiner_losses(Path(refiners["local"]).parent, fig / "refiner_losses.png")
    c, w, wm = r["conditions"], f"within_{HEADLINE_PX}_px_pct", f"within_{HEADLINE_PX}_px_mean_joint_pct"
    rows = [[k, str(c[k]["train_count"]), *(format_mean_std(c[k][key]) for key in
                                            (w, wm, "mean_joint_error_px", "mean_joint_error_mm", "vs_synthetic_px"))]
            for k in order]
    header = ["training data", "crops", f"% within {HEADLINE_PX} px (every joint)",
              f"% within {HEADLINE_PX} px (mean joint)", "mean joint error (px)", "mean joint error (mm)",
              "minus synthetic's, same seed (px)"]
    obs = [[k, f"{100 * o['accuracy']:.1f} [{100 * o['ci95'][0]:.1f}, {100 * o['ci95'][1]:.1f}]", f"{o['auc']:.3f}",
            str(o["test_per_class"])] for k, o in r["observer"].items()]
    changes = {**r["depth_change"], **({"simulated Kinect (test hands: clean → sensor)": r["sensor_depth_change"]}
                                       if r["sensor_depth_change"] else {})}
    dc = [[k, f"{d['mean_mm']:+.1f}", f"{d['mean_abs_mm']:.1f}", f"{d['dropped_pct']:.1f}", f"{d['flying_pct']:.1f}"]
          for k, d in changes.items()]
    m, n = r["machine"], r["counts"]
    warning = ("\n> **The target domain here is simulated.** The \"real\" pool, the \"real data\" training set and the "
               "test set are the hand simulator's `kinect` preset (a structured-light sensor model), not real Kinect "
               "depth. These numbers say what SimGAN does for a known, simulated sensor gap; they are not NYU "
               "results.\n" if r["builtin_data"] else "")
    refined_rows = " · ".join(k for k in banks if k.startswith("refined ("))
    return f"""# SimGAN hand-pose experiment (section 3.2: Table 4 design, Figures 9 and 11)
{warning}
Test set: {n['test']} labeled {n['crop']}×{n['crop']} crops of {target}. Unlabeled target pool for the refiners:
{n['real_pool']} crops. Synthetic: {n['synthetic_3x']} crops (3× = all views); 1× = the frontal views
({n['synthetic_1x']}). Stacked hourglass per condition, {r['seeds']} seed(s){" (mean ± sample std)" if r['seeds'] > 1
else ""}. Pixels are those of a 224×224 crop (errors on smaller crops scaled by 224 / size). The last column
pairs each network with the synthetic row's network of the same seed (the same initialisation and, for sets of
one size, the same batch order), so the difference carries less noise than either error.

{markdown_table(header, rows)}

Figure 9 (every joint within d, the headline rule):

![within d, every joint](figures/within_worst.png)

The same with the mean joint error (more informative while few images have every joint within a few pixels):

![within d, mean joint](figures/within_mean.png)

## Realism: the machine observer against the target pool

Held-out accuracy of a CNN trained to tell the set from the target pool's frontal views ({n['real_pool_1x']}
crops; 50 % = indistinguishable to it), 95 % interval, ROC AUC.

{markdown_table(["1× crops", "observer accuracy (%)", "AUC", "test crops per class"], obs)}

## What each refiner does to the depth (label preservation)

Over the pixels where a synthetic crop shows the hand: the mean and mean absolute depth change (mm), the share
of them the refiner made background ("dropped", %), and background pixels it brought onto the hand's depth
("flying", as % of the hand's pixels); the first 500 1× crops. With built-in data the last row is what the
simulated sensor itself does to the same hands: the change a refiner should imitate.

{markdown_table(["refiner", "mean change (mm)", "mean abs change (mm)", "dropped (%)", "flying (%)"], dc)}

## Figure 11: local vs global adversarial loss at the depth edges

Rows: synthetic · {refined_rows} · refined (local) · target pool, frontal views (other hands); then the centre
of each, 2×.

![depth edges](figures/depth_edges.png)

![refiner losses](figures/refiner_losses.png)

## Runtime

This invocation: {r['runtime_s']} s (stages finished by an earlier run on this `--out` are reused and take no
time) on {m['processor']} ({m['cpu_count']} CPUs, {m['torch_threads']} torch threads), {m['platform']}, torch
{m['torch']}, simreal {m['simreal']}. Refiner training as logged by each run: {", ".join(
    f"{v} {t['train_time_s']:.0f} s" for v, t in r['refiners'].items())}; hourglass training and evaluation per
condition and seed: {np.mean([run['time_s'] for rs in runs.values() for run in rs]):.0f} s on average.
"""
