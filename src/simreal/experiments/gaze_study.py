"""``simreal experiment gaze``: the design of SimGAN's Table 2 and its ablations, on any gaze data.

Given a labeled synthetic set, an unlabeled "real" set and a labeled test set, it

1. trains refiners: the main one (local adversarial loss + history buffer), one without the buffer, one
   with a global adversarial loss, and one without the noise input (the paper's deterministic R, when the
   refine preset gives R a noise channel, as ``eyes-cpu`` does); on request (``--variant
   gaze-consistency``) one that also keeps a frozen GazeNet's reading of the gaze (:func:`gaze_consistency`);
2. refines the synthetic set with each (the main refiner writes a refined dataset to disk);
3. trains GazeNet on synthetic, synthetic 4×, refined and refined 4× (1× = a fixed random quarter,
   4× = all of it, as in the paper) and on the 1× output of each ablation refiner, for each seed;
4. evaluates every network on the test set (mean/median angular error, % within 7°, cumulative curves);
5. measures label preservation: the pupil centre located in synthetic vs refined images (moment fit of
   the dark pupil blob, see :func:`simreal.evaluate.gaze.locate_pupil`), mean ± std shift in pixels;
6. writes ``report.md``, ``results.json`` and figures (curves, grids synthetic | refined | target).

With no datasets it builds the built-in data: synthetic eyes from the ``clean`` simulator, and a
**simulated** target domain (the ``webcam`` preset) as both the unlabeled pool and the test set
(different seeds). Those numbers are about a simulated domain, not real eyes; the report says so.

Finished stages are kept: rerunning the same command with the same ``--out`` reuses finished datasets,
refiner runs and per-condition results (``results/CONDITION-seedK.json``), so an interrupted study resumes
and ``--seeds`` can be raised later; ``study-config.json`` makes sure a different configuration is not
mixed in.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simreal.data.bank import ImageBank
from simreal.data.reader import SimrealDataset
from simreal.evaluate.gaze import HEADLINE_DEGREES, evaluate_gaze, plot_cumulative, pupil_shift
from simreal.experiments.report import plot_refiner_losses
from simreal.experiments.study import Study, given_datasets
from simreal.refine.apply import refine_bank, refine_dataset
from simreal.refine.config import RefineConfig, preset
from simreal.simulate.write import generate_eyes
from simreal.tasks.gaze import GazeNetConfig
from simreal.tasks.spec import LabelConsistency
from simreal.train.task import GazeTrainConfig, TaskTrainer
from simreal.utils.config import merge, to_dict
from simreal.utils.errors import SimrealError
from simreal.utils.images import save_grid
from simreal.utils.report import format_mean_std, markdown_table, mean_std
from simreal.utils.runs import read_stats
from simreal.utils.seeding import numpy_rng

# Refiner variants of the paper's ablation (section 3.3): overrides of the refine config.
VARIANTS: dict[str, dict[str, Any]] = {
    "local+buffer": {},
    "no-buffer": {"use_buffer": False},
    "global": {"discriminator": {"global_": True}},
    "no-noise": {"refiner": {"noise_channels": 0}},  # the paper's deterministic refiner (if the preset adds noise)
    # beyond the paper: the refiner also keeps a frozen GazeNet's reading of the gaze (gaze_consistency)
    "gaze-consistency": {"loss": {"label_consistency": 10.0}},
}
DEFAULT_VARIANTS = ("local+buffer", "no-buffer", "global", "no-noise")  # the paper's ablation
MAIN_CONDITIONS = ("synthetic", "synthetic 4x", "refined", "refined 4x")


def small_gaze() -> GazeTrainConfig:
    """A half-width GazeNet, 800 steps of batch 64: sized for a 2-core CPU."""
    return GazeTrainConfig(net=GazeNetConfig(widths=(16, 16, 32, 40, 96), hidden=(256,)), steps=800, batch_size=64)


@dataclass(frozen=True)
class GazeStudyConfig:
    """Sizes for the built-in data, the refiner and GazeNet training. The defaults finish in about
    15 minutes on a 2-core CPU; ``paper()`` uses the paper's networks."""

    synthetic_count: int = 8000  # built-in data: 4× = all, 1× = a quarter
    real_count: int = 3000  # built-in unlabeled pool (simulated webcam)
    test_count: int = 1000  # built-in labeled test set (simulated webcam, another seed)
    refine: RefineConfig = field(default_factory=lambda: preset("eyes-cpu"))
    gaze: GazeTrainConfig = field(default_factory=small_gaze)
    variants: tuple[str, ...] = DEFAULT_VARIANTS
    pupil_pairs: int = 100
    data_seed: int = 0

    @staticmethod
    def quick() -> GazeStudyConfig:
        """Smoke-test sizes: every stage runs in seconds, the numbers mean nothing."""
        return GazeStudyConfig(
            synthetic_count=64, real_count=32, test_count=32, pupil_pairs=8,
            refine=merge(preset("eyes-cpu"), {"batch_size": 8, "buffer_size": 16, "pretrain_refiner_steps": 2,
                                              "pretrain_discriminator_steps": 2, "iterations": 3, "grid_every": 3,
                                              "checkpoint_every": 3, "log_every": 1}),
            gaze=merge(small_gaze(), {"steps": 4, "batch_size": 8, "log_every": 2}))

    @staticmethod
    def paper() -> GazeStudyConfig:
        """The paper's refiner (paper-gaze preset) and GazeNet (batch 512, lr 0.001); hours on a CPU."""
        return GazeStudyConfig(refine=preset("paper-gaze"), gaze=GazeTrainConfig())


@dataclass
class GazeData:
    synthetic: Path
    real: Path
    test: Path
    builtin: bool


def _eyes(study: Study, key: str, count: int, seed: int, preset_name: str, device: str) -> Path:
    def same(manifest: dict[str, Any]) -> bool:
        prov = manifest.get("provenance", {})
        cfg = prov.get("config", {})
        return cfg.get("count") == count and cfg.get("preset") == preset_name and prov.get("seed") == seed

    return study.dataset(key, lambda path: generate_eyes(path, count, seed, preset_name, device=device,
                                                         overwrite=True), reuse=same)


def prepare_data(study: Study, cfg: GazeStudyConfig, synthetic: Path | None, real: Path | None,
                 test: Path | None, device: str) -> GazeData:
    if synthetic is not None:  # checked by given_datasets
        return GazeData(Path(synthetic), Path(real), Path(test), builtin=False)
    s = cfg.data_seed
    return GazeData(_eyes(study, "data/synthetic-clean", cfg.synthetic_count, s, "clean", device),
                    _eyes(study, "data/real-pool-webcam", cfg.real_count, s + 1, "webcam", device),
                    _eyes(study, "data/test-webcam", cfg.test_count, s + 2, "webcam", device), builtin=True)


def gaze_consistency(study: Study, gcfg: GazeTrainConfig, synthetic: ImageBank) -> LabelConsistency:
    """The refiner's gaze-keeping term: a GazeNet trained with ``gcfg`` on the labeled ``synthetic`` eyes in
    ``out/runs/gaze-consistency`` (trained there, resumed or reused), frozen; the refiner minimises its gaze
    error on the refined eyes, weighted by ``loss.label_consistency``."""
    run_dir = study.out / "runs" / "gaze-consistency"
    run_dir.mkdir(parents=True, exist_ok=True)
    return LabelConsistency(TaskTrainer(gcfg, [(synthetic, 1.0)], run_dir).train(resume=True), gcfg.NETWORK)


def quarter(n: int, seed: int) -> np.ndarray:
    """The fixed 1× subset: a random quarter of ``n`` indices, sorted."""
    return np.sort(numpy_rng(seed, 4).choice(n, max(n // 4, 1), replace=False))


def _subset_bank(bank: ImageBank, idx: np.ndarray) -> ImageBank:
    return ImageBank.from_arrays(bank.cache[torch.as_tensor(idx)], bank.labels[torch.as_tensor(idx)], bank.mode)


def run_condition(study: Study, name: str, seed: int, bank: ImageBank, test: ImageBank, gcfg: GazeTrainConfig
                  ) -> dict[str, Any]:
    """Train GazeNet on ``bank`` and evaluate on ``test``: the stage ``results/CONDITION-seedK``."""

    def run() -> dict[str, Any]:
        t0 = time.time()
        model = TaskTrainer(dataclasses.replace(gcfg, seed=seed), [(bank, 1.0)], show_progress=False).train()
        metrics, errors = evaluate_gaze(model, test)
        return {**metrics, "errors_deg": np.round(errors, 4).tolist(), "train_count": len(bank), "seed": seed,
                "time_s": round(time.time() - t0, 1)}

    return study.stage(f"results/{name.replace(' ', '_')}-seed{seed}", run)


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("mean_error_deg", "median_error_deg", f"within_{HEADLINE_DEGREES}_deg_pct")
    out: dict[str, Any] = {k: mean_std(r[k] for r in runs) for k in keys}
    out["curve_pct"] = np.mean([r["curve_pct"] for r in runs], axis=0).round(2).tolist()
    out["train_count"] = runs[0]["train_count"]
    return out


def run_study(out: str | Path, synthetic: Path | None = None, real: Path | None = None, test: Path | None = None,
              cfg: GazeStudyConfig = GazeStudyConfig(), seeds: int = 1, device: str = "auto") -> dict[str, Any]:
    unknown = [v for v in cfg.variants if v not in VARIANTS]
    if unknown or "local+buffer" not in cfg.variants:
        raise SimrealError(f"variants must include local+buffer and come from {', '.join(VARIANTS)}; got {unknown}")
    given_datasets(synthetic, real, test, "gaze")
    study = Study(out, to_dict(dataclasses.replace(cfg, variants=())), [synthetic, real, test])  # variants: added later
    out = study.out
    data = prepare_data(study, cfg, synthetic, real, test, device)
    syn_ds, real_ds, test_ds = SimrealDataset(data.synthetic), SimrealDataset(data.real), SimrealDataset(data.test)
    if syn_ds.mode != real_ds.mode:
        raise SimrealError(f"synthetic images are {syn_ds.mode} but real images are {real_ds.mode}")
    size = lambda ds: (ds.manifest["image"]["height"], ds.manifest["image"]["width"])  # noqa: E731
    if size(syn_ds) != size(real_ds):
        raise SimrealError(f"synthetic images are {size(syn_ds)} but real images are {size(real_ds)}; import both "
                           "at one size (e.g. simreal import mpiigaze --size 35x55)")
    syn, real_bank, test_bank = ImageBank(syn_ds, "gaze"), ImageBank(real_ds), ImageBank(test_ds, "gaze")
    one_x = quarter(len(syn), cfg.data_seed)
    rcfg = dataclasses.replace(cfg.refine, device=device, seed=cfg.data_seed)
    gcfg = dataclasses.replace(cfg.gaze, device=device)

    vcfgs = {variant: merge(rcfg, VARIANTS[variant]) for variant in cfg.variants}
    term = gaze_consistency(study, dataclasses.replace(gcfg, seed=cfg.data_seed), syn) \
        if any(v.loss.label_consistency > 0 for v in vcfgs.values()) else None
    refiners = {variant: study.refiner(variant, v, syn, real_bank, term if v.loss.label_consistency > 0 else None)
                for variant, v in vcfgs.items()}
    # training time as logged by the run itself (a reused run takes no time now)
    refine_time = {v: read_stats(Path(p).parent)[-1].get("time_s") for v, p in refiners.items()}
    refined_path = refine_dataset(refiners["local+buffer"], data.synthetic, out / "data" / "refined",
                                  device=device, overwrite=True, reuse_finished=True)
    banks = {"synthetic": _subset_bank(syn, one_x), "synthetic 4x": syn,
             "refined 4x": ImageBank(SimrealDataset(refined_path), "gaze")}
    banks["refined"] = _subset_bank(banks["refined 4x"], one_x)
    for variant in cfg.variants:
        if variant != "local+buffer":
            banks[f"refined ({variant})"] = refine_bank(refiners[variant], banks["synthetic"], device)

    runs = study.each_condition(banks, seeds, "gaze networks",
                                lambda name, seed, bank: run_condition(study, name, seed, bank, test_bank, gcfg))

    # where to look for the pupil: the pupil-centre label when the synthetic data has one, else the centre
    if "pupil_center" in syn_ds.schema:
        guesses = syn_ds.labels("pupil_center")[one_x]
    else:
        guesses = np.tile([syn_ds.manifest["image"]["width"] / 2, syn_ds.manifest["image"]["height"] / 2],
                          (len(one_x), 1))
    shifts = _label_preservation(refiners, banks["synthetic"], guesses, cfg.pupil_pairs, device)
    results = {
        "conditions": {name: summarize(r) for name, r in runs.items()},
        "pupil_shift_px": shifts,
        "seeds": seeds,
        "builtin_data": data.builtin,
        "datasets": {"synthetic": str(data.synthetic), "real": str(data.real), "test": str(data.test),
                     "refined": str(refined_path)},
        "counts": {"synthetic_4x": len(syn), "synthetic_1x": len(one_x), "real": len(real_bank),
                   "test": len(test_bank)},
        "refiners": {v: {"checkpoint": str(p), "train_time_s": refine_time[v]} for v, p in refiners.items()},
        "config": to_dict(cfg),
    }
    return study.finish(results, lambda r: _report(out, r, runs, banks, real_bank, refiners))


def _label_preservation(refiners: dict[str, Path], synthetic: ImageBank, guesses: np.ndarray, pairs: int,
                        device: str) -> dict[str, Any]:
    """Pupil-centre shift synthetic → refined for each refiner, on the first ``pairs`` 1× images."""
    n = min(pairs, len(synthetic))
    subset = ImageBank.from_arrays(synthetic.cache[:n], synthetic.labels[:n], synthetic.mode)
    before = list(subset.cache.numpy())
    return {variant: pupil_shift(before, list(refine_bank(ckpt, subset, device).cache.numpy()), guesses[:n])
            for variant, ckpt in refiners.items()}


def _report(out: Path, r: dict[str, Any], runs: dict[str, list[dict[str, Any]]], banks: dict[str, ImageBank],
            real: ImageBank, refiners: dict[str, Path]) -> str:
    """The figures (written) and the markdown of ``report.md`` (returned)."""
    fig = out / "figures"
    errors = {name: np.concatenate([run["errors_deg"] for run in rs]) for name, rs in runs.items()}
    target = "simulated webcam eyes (NOT real data)" if r["builtin_data"] else "the test set"
    plot_cumulative({k: errors[k] for k in MAIN_CONDITIONS[::-1]}, fig / "cumulative_main.png",
                    title=f"GazeNet on {target}")
    plot_cumulative({k: v for k, v in errors.items() if k.startswith("refined") and "4x" not in k},
                    fig / "cumulative_ablations.png", title="refiner ablations (1× data)")
    plot_refiner_losses(Path(refiners["local+buffer"]).parent, fig / "refiner_losses.png")
    idx = torch.arange(min(12, len(real), len(banks["synthetic"])))
    rows = [banks["synthetic"].images(idx), banks["refined"].images(idx)]
    rows += [banks[k].images(idx) for k in banks if k.startswith("refined (")]
    save_grid([*rows, real.images(idx)], fig / "synthetic_refined_target.png", min_cell=55)
    c, key = r["conditions"], f"within_{HEADLINE_DEGREES}_deg_pct"
    main_rows = [[k, str(c[k]["train_count"]), format_mean_std(c[k][key]), format_mean_std(c[k]["mean_error_deg"], 2),
                  format_mean_std(c[k]["median_error_deg"], 2)] for k in MAIN_CONDITIONS]
    abl = [("local+buffer", "refined")] + [(v, f"refined ({v})") for v in refiners if v != "local+buffer"]
    ps = r["pupil_shift_px"]
    abl_rows = [[v, format_mean_std(c[k][key]), format_mean_std(c[k]["mean_error_deg"], 2),
                 f"{ps[v]['mean_px']:.2f} ± {ps[v]['std_px']:.2f} ({ps[v]['pairs']} pairs)"] for v, k in abl]
    header = ["training data", "images", f"% within {HEADLINE_DEGREES}°", "mean error (°)", "median error (°)"]
    m, n = r["machine"], r["counts"]
    warning = ("\n> **The target domain here is simulated.** The \"real\" pool and the test set are the eye "
               "simulator's `webcam` preset (lower resolution, noise, motion blur, harsh light), not real eyes. "
               "These numbers say what SimGAN does for a known, synthetic domain gap; they are not MPIIGaze results.\n"
               if r["builtin_data"] else "")
    return f"""# SimGAN gaze experiment (Table 2 design)
{warning}
Test set: {n['test']} labeled images of {target}. Unlabeled target pool for the refiner: {n['real']} images.
Synthetic: {n['synthetic_4x']} images (4×); 1× is a fixed random quarter ({n['synthetic_1x']}). GazeNet per
condition, {r['seeds']} seed(s){" (mean ± sample std)" if r['seeds'] > 1 else ""}.

{markdown_table(header, main_rows)}

![cumulative curves](figures/cumulative_main.png)

## Ablations (section 3.3): history buffer, local vs global adversarial loss

GazeNet trained on the 1× set refined by each refiner; pupil shift = distance between the pupil centres
located in a synthetic image and its refined version (the paper's label-preservation check: 1.1 ± 0.8 px).

{markdown_table(["refiner", f"% within {HEADLINE_DEGREES}°", "mean error (°)", "pupil shift (px)"], abl_rows)}

![ablation curves](figures/cumulative_ablations.png)

Rows: synthetic · refined (local+buffer) · {" · ".join(f"refined ({v})" for v in refiners if v != "local+buffer")}
· target pool.

![synthetic, refined and target](figures/synthetic_refined_target.png)

![refiner losses](figures/refiner_losses.png)

## Runtime

This invocation: {r['runtime_s']} s (stages finished by an earlier run on this `--out` are reused and take no
time) on {m['processor']} ({m['cpu_count']} CPUs, {m['torch_threads']} torch threads), {m['platform']}, torch
{m['torch']}, simreal {m['simreal']}. Refiner training as logged by each run: {", ".join(
    f"{v} {t['train_time_s']:.0f} s" for v, t in r['refiners'].items())}; GazeNet training per condition and
seed: {np.mean([run['time_s'] for rs in runs.values() for run in rs]):.0f} s on average.
"""
