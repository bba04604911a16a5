"""``simreal experiment refine-digits``: which refiner settings make refined digits help on real digits.

For each variant (a set of overrides of the ``digits`` preset) the study trains a refiner, refines the
synthetic set and trains classifiers on refined-only and on 20 real + refined (50/50), next to the
same conditions with unrefined synthetic data. ``study.json`` holds every accuracy; ``study.md`` the
table. Variants that do not help are reported too.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from simreal.data.bank import ImageBank
from simreal.data.reader import SimrealDataset
from simreal.experiments.digits_demo import (
    DemoConfig,
    DigitsData,
    prepare_data,
    run_conditions,
    summarize,
    train_refiner,
)
from simreal.experiments.study import Study
from simreal.simulate.digits import DigitSimConfig
from simreal.simulate.write import generate_digits
from simreal.train.task import ClassifierTrainConfig
from simreal.utils.config import merge
from simreal.utils.errors import ConfigError
from simreal.utils.report import markdown_table

# name -> (overrides of the digits preset, what it tests)
VARIANTS: dict[str, tuple[dict[str, Any], str]] = {
    "naive-paper": ({"loss": {"reg_weight": 0.5, "label_consistency": 0.0}, "optim": {"name": "sgd", "lr": 0.001},
                     "refiner": {"width": 64, "blocks": 4}},
                    "the paper's recipe: identity ψ, λ=0.5, SGD 0.001, 64-wide 4-block refiner, no label term"),
    "no-consistency": ({"loss": {"label_consistency": 0.0}}, "digits preset without the label-consistency term"),
    "default": ({}, "the digits preset: λ=0.1, identity ψ, label consistency 1.0, Adam 2e-4"),
    "reg-0.01": ({"loss": {"reg_weight": 0.01}}, "nearly free refiner, labels kept only by the classifier"),
    "reg-1.0": ({"loss": {"reg_weight": 1.0}}, "strong self-regularization"),
    "psi-blur": ({"loss": {"psi": "blur", "psi_scale": 1.0, "reg_weight": 0.5}},
                 "ψ = Gaussian blur σ=1 px: keep coarse shape, free the texture"),
    "psi-downsample": ({"loss": {"psi": "downsample", "psi_scale": 2, "reg_weight": 0.5}},
                       "ψ = 2×2 average pooling"),
    "local-D": ({"discriminator": {"layers": ("conv:64:3:1", "conv:64:3:1", "conv:32:1:1", "conv:2:1:1")}},
                "D with a 5×5 receptive field: judges stroke texture, not digit shape"),
    "small-R": ({"refiner": {"blocks": 1}}, "refiner receptive field 7×7 instead of 11×11"),
    "no-buffer": ({"use_buffer": False}, "D trained on current refined images only"),
    "global-D": ({"discriminator": {"global_": True}}, "one whole-image decision instead of patches"),
    "long": ({"iterations": 3000}, "3× more adversarial iterations"),
    "soft-sensor": ({}, "the digits preset on a simulator with a different sensor (blur, gamma, 256 levels)"),
    "soft-sensor-no-consistency": ({"loss": {"label_consistency": 0.0}}, "the same without the label term"),
    "box-simulator": ({}, "the digits preset on a simulator that box-normalises the width like the UCI scanner"),
}
# Variants that change the simulator too (compared against their own unrefined synthetic data).
SIMULATOR: dict[str, dict[str, Any]] = {"soft-sensor": {"sensor": "soft"},
                                        "soft-sensor-no-consistency": {"sensor": "soft"},
                                        "box-simulator": {"keep_aspect": False}}


def run_study(out: str | Path, variants: list[str] | None = None, seeds: int = 2, budget: int = 20,
              cfg: DemoConfig = DemoConfig(), device: str = "auto") -> dict[str, Any]:
    names = variants or list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ConfigError(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    study = Study(out)  # recomputes every stage on each run: nothing to claim
    out = study.out
    data = prepare_data(out, cfg)
    appearance = {"synthetic": pixel_statistics(data.synthetic), "real_pool": pixel_statistics(data.real_pool)}
    ccfg = dataclasses.replace(cfg.classifier, device=device)
    banks: dict[str, ImageBank] = {"synthetic": data.synthetic, "real-train": ImageBank(data.real_train, "label")}
    base = summarize(run_conditions(["synthetic", f"real-{budget}+synthetic", f"real-{budget}"], banks, data,
                                    ccfg, seeds, "baselines"))
    results: dict[str, Any] = {"baselines": base, "variants": {}, "seeds": seeds, "budget": budget,
                               "appearance": appearance}
    sims: dict[str, tuple[DigitsData, dict[str, Any]]] = {}
    for name in names:
        overrides, _ = VARIANTS[name]
        vdata, unrefined = data, base
        if name in SIMULATOR:
            key = json.dumps(SIMULATOR[name], sort_keys=True)
            if key not in sims:
                sims[key] = _simulator_variant(out, data, SIMULATOR[name], cfg, ccfg, banks, seeds, budget)
            vdata, unrefined = sims[key]
        rcfg = dataclasses.replace(merge(cfg.refine, overrides), device=device, seed=cfg.data_seed)
        ref_path, run_dir, seconds = train_refiner(out, vdata, rcfg, ccfg, name)
        vbanks = {**banks, "synthetic": vdata.synthetic, "refined": ImageBank(SimrealDataset(ref_path), "label")}
        results["appearance"][f"refined ({name})"] = pixel_statistics(vbanks["refined"])
        acc = summarize(run_conditions(["refined", f"real-{budget}+refined"], vbanks, vdata, ccfg, seeds, name))
        results["variants"][name] = {"accuracy": acc, "unrefined": unrefined, "simulator": SIMULATOR.get(name, {}),
                                     "refine_time_s": round(seconds, 1), "run_dir": str(run_dir)}
        _finish(study, results)  # partial results survive an interrupted study
    return _finish(study, results)


def pixel_statistics(bank: ImageBank) -> dict[str, float]:
    """Grey-level statistics of 8×8 UCI-style digits (17 levels): how alike two domains look.
    ``grey_values`` is the median number of distinct grey values in one image (at most 17 for a UCI scan; a
    refiner that does not learn the sensor's quantisation produces more)."""
    images = bank.images(torch.arange(len(bank))).squeeze(1)
    levels = torch.round(images.add(1).mul(8)).long()  # 0..16
    ordered = images.flatten(1).sort(1).values
    distinct = 1 + (ordered[:, 1:] != ordered[:, :-1]).sum(1)
    return {"empty_cells": float((levels == 0).float().mean()), "saturated_cells": float((levels == 16).float().mean()),
            "mean_level": float(levels.float().mean()),
            "ink_in_first_column": float((levels[:, :, 0] > 0).any(1).float().mean()),
            "grey_values": float(distinct.float().median())}


def _simulator_variant(out: Path, data: DigitsData, sim: dict[str, Any], cfg: DemoConfig,
                       ccfg: ClassifierTrainConfig, banks: dict[str, ImageBank], seeds: int, budget: int
                       ) -> tuple[DigitsData, dict[str, Any]]:
    """Synthetic data from a modified simulator and its unrefined baselines."""
    tag = "-".join(f"{k}-{v}" for k, v in sorted(sim.items()))
    path = generate_digits(out / "data" / f"digits-synthetic-{tag}", cfg.synthetic_count, cfg.data_seed,
                           cfg=DigitSimConfig(**sim), overwrite=True)
    vdata = dataclasses.replace(data, synthetic_path=path, synthetic=ImageBank(SimrealDataset(path), "label"))
    vbanks = {**banks, "synthetic": vdata.synthetic}
    unrefined = summarize(run_conditions(["synthetic", f"real-{budget}+synthetic"], vbanks, vdata, ccfg, seeds, tag))
    return vdata, unrefined


_COUNTS = ("mean_level", "grey_values")  # statistics that are not fractions


def _finish(study: Study, results: dict[str, Any]) -> dict[str, Any]:
    return study.finish(results, _report, results_name="study.json", report_name="study.md")


def _report(r: dict[str, Any]) -> str:
    """The markdown of ``study.md``."""
    b, n = r["baselines"], r["budget"]

    def fmt(a: dict[str, Any]) -> str:
        return f"{100 * a['mean']:.1f} ± {100 * a['std']:.1f}"

    rows = []
    for name, v in r["variants"].items():
        u, a = v["unrefined"], v["accuracy"]
        rows.append([name, VARIANTS[name][1], fmt(u["synthetic"]), fmt(a["refined"]), fmt(u[f"real-{n}+synthetic"]),
                     fmt(a[f"real-{n}+refined"]), str(v["refine_time_s"])])
    look = " · ".join(f"{k}: " + ", ".join(f"{s} {v:.2f}" if s in _COUNTS else f"{s} {100 * v:.0f} %"
                                         for s, v in st.items()) for k, st in r["appearance"].items())
    return (f"# Refiner study on UCI digits\n\nAccuracy (%) on the real test split, mean ± sample std over "
            f"{r['seeds']} classifier seeds. real-{n} alone: {fmt(b[f'real-{n}'])}.\n\nPixels: {look}\n\n"
            + markdown_table(["variant", "what it tests", "synthetic only", "refined only", f"{n} real + synthetic",
                              f"{n} real + refined", "refiner s"], rows)
            + f"\n\nTotal {r['runtime_s']} s.\n")
