"""``simreal experiment real-eyes``: SimGAN's eye refiner against real, unlabeled eyes.

No gaze labels exist for the real eyes (``simreal import face-video``), so the study measures what can be
measured without them:

1. the simulator's own gap: grey-level statistics of synthetic and real eyes (mean, contrast, sharpness,
   noise), before any refinement, and where the real records hold MediaPipe's landmarks, the eyes' shape
   and gaze (openness, iris position: :func:`eye_shape`) against the simulator's labels;
2. realism: the machine observer (:func:`simreal.evaluate.realism.observer_test`, a CNN trained to tell
   them apart, scored on held-out images; 50 % = indistinguishable) for synthetic vs real and refined vs
   real, and as a control one random half of the real eyes vs the other (it must be at chance), with
   ``seeds`` independent splits; where the records name their ``source`` (``import face-video``: the
   video or photo) or ``participant`` (``import mpiigaze``), also the pool's largest source against all
   the others: real eyes of different people and cameras, which the random halves cannot show (both
   halves hold the same mix);
3. label preservation: the pupil centre located in synthetic vs refined images (the paper: 1.1 ± 0.8 px),
   and its mean signed offset;
4. the power spectrum by frequency band, relative to the real eyes' (where a refiner leaves a texture of
   its own, it shows as excess power at high frequencies);
5. the layout: mean and std images of each set (lids, iris, crease and cheek where they lie on average);
6. grids synthetic | refined | real.

The refiner is SimGAN's with a stride-1 first discriminator layer and, beyond the paper, a gaze-keeping term
(a GazeNet trained on the synthetic eyes, frozen; ``refine.loss.label_consistency``, 0 turns it off).

Stages are kept in ``--out`` (``experiments/study.py``): the synthetic eyes, the refiner run and each
observer result are reused by a rerun with the same configuration.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simreal.data.bank import ImageBank
from simreal.data.reader import SimrealDataset
from simreal.evaluate.gaze import pupil_shift
from simreal.evaluate.realism import ObserverConfig, observer_test
from simreal.experiments.gaze_study import gaze_consistency, small_gaze
from simreal.experiments.report import plot_band_ratios, plot_refiner_losses
from simreal.experiments.study import Study
from simreal.refine.apply import refine_bank
from simreal.refine.config import RefineConfig, preset
from simreal.refine.train import SimGANTrainer
from simreal.simulate.write import generate_eyes
from simreal.train.task import GazeTrainConfig
from simreal.utils.config import merge, to_dict
from simreal.utils.errors import InputError
from simreal.utils.images import save_grid, stretch
from simreal.utils.report import markdown_table, mean_std
from simreal.utils.seeding import numpy_rng

# The paper's eye discriminator with its first convolution at stride 1: at this training length the stride-2
# one lets the refiner paint aliased high-frequency texture (README, "SimGAN on real eyes", runs D2 vs E2).
REAL_EYES_DISCRIMINATOR = ("conv:64:3:1", "conv:64:3:2", "maxpool:3:1", "conv:32:3:1", "conv:32:1:1", "conv:2:1:1")


def real_eyes_refine() -> RefineConfig:
    """The study's refiner: `eyes-cpu` with :data:`REAL_EYES_DISCRIMINATOR` and the gaze-keeping term at weight
    10 (a frozen GazeNet's gaze error on the refined eyes; README, runs LC10 against M: the pupil moves half as
    far, 0.95–1.26 px against 2.05–2.70, and the observer spots the refined eyes less often on average)."""
    return merge(preset("eyes-cpu"), {"discriminator": {"layers": REAL_EYES_DISCRIMINATOR},
                                      "loss": {"label_consistency": 10.0}})


@dataclass(frozen=True)
class RealEyesConfig:
    synthetic_count: int = 6000
    # the eye simulator's appearance preset: `calibrated` is the one fitted to the real webcam eyes
    preset: str = "calibrated"
    refine: RefineConfig = field(default_factory=real_eyes_refine)
    observer: ObserverConfig = field(default_factory=lambda: ObserverConfig(max_per_class=1000, steps=400))
    # with refine.loss.label_consistency > 0 (the default): the frozen GazeNet, trained on the synthetic eyes,
    # whose gaze error on the refined eyes the refiner also minimises (the eyes' label is their gaze)
    gaze_net: GazeTrainConfig = field(default_factory=small_gaze)
    seeds: int = 3  # observer splits per comparison
    pupil_pairs: int = 200
    data_seed: int = 0

    @staticmethod
    def quick() -> RealEyesConfig:
        """Smoke-test sizes: every stage runs, the numbers mean nothing."""
        return RealEyesConfig(synthetic_count=64, seeds=2, pupil_pairs=8,
                              observer=ObserverConfig(max_per_class=32, steps=5),
                              gaze_net=merge(small_gaze(), {"steps": 4, "batch_size": 8, "log_every": 2}),
                              refine=merge(real_eyes_refine(), {"batch_size": 8, "buffer_size": 16,
                                                                "pretrain_refiner_steps": 2,
                                                                "pretrain_discriminator_steps": 2, "iterations": 3,
                                                                "grid_every": 3, "checkpoint_every": 3,
                                                                "log_every": 1}))


def image_statistics(bank: ImageBank, limit: int = 2000) -> dict[str, float]:
    """Grey-level statistics (0–255) of up to ``limit`` images: mean, contrast (std within an image),
    sharpness (mean |Laplacian|), noise (1.4826 × median |high-pass residual|, a robust noise σ)."""
    x = bank.images(torch.arange(min(limit, len(bank)))).mean(1).add(1).mul(127.5)  # (N, H, W) grey
    lap = x[:, 1:-1, 1:-1] * 4 - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2] - x[:, 1:-1, 2:]
    residual = x[:, 1:-1, 1:-1] - (x[:, :-2, 1:-1] + x[:, 2:, 1:-1] + x[:, 1:-1, :-2] + x[:, 1:-1, 2:]) / 4
    noise = 1.4826 * residual.abs().flatten(1).median(1).values
    return {"mean": float(x.mean()), "contrast": float(x.flatten(1).std(1).mean()),
            "sharpness": float(lap.abs().mean()), "noise": float(noise.mean())}


def mean_images(bank: ImageBank, limit: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std over up to ``limit`` grey images, each first normalised to zero mean and unit std: where
    eyes' lids, iris, crease and cheek lie on average, and how much each pixel varies, ``(H, W)`` each."""
    x = bank.images(torch.arange(min(limit, len(bank)))).mean(1)
    x = (x - x.mean((1, 2), keepdim=True)) / x.std((1, 2), keepdim=True).clamp(min=1e-6)
    return x.mean(0), x.std(0)


def mean_image_gap(a: ImageBank | tuple[torch.Tensor, torch.Tensor],
                   b: ImageBank | tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
    """RMS difference of the :func:`mean_images` of two sets (in units of an image's own std): the layout gap.
    Either set may be given as its :func:`mean_images` already computed."""
    (ma, sa), (mb, sb) = (x if isinstance(x, tuple) else mean_images(x) for x in (a, b))
    return {"mean_rms": float((ma - mb).pow(2).mean().sqrt()), "std_rms": float((sa - sb).pow(2).mean().sqrt())}


SPECTRUM_BANDS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.71)  # cycles per pixel (0.71: the grid's corner)


def power_spectrum(bank: ImageBank, limit: int = 1000) -> list[float]:
    """Mean radial power spectrum of up to ``limit`` grey images (0–255, mean removed, Hann window), averaged
    over the frequency bands of :data:`SPECTRUM_BANDS`: where in scale two image sets differ."""
    x = bank.images(torch.arange(min(limit, len(bank)))).mean(1).add(1).mul(127.5).double()
    x = x - x.mean((1, 2), keepdim=True)
    h, w = x.shape[1:]
    window = torch.hann_window(h, periodic=False, dtype=x.dtype)[:, None] * \
        torch.hann_window(w, periodic=False, dtype=x.dtype)[None]
    power = torch.fft.fft2(x * window).abs().pow(2).mean(0)
    fy, fx = torch.fft.fftfreq(h, dtype=x.dtype)[:, None], torch.fft.fftfreq(w, dtype=x.dtype)[None]
    radius = torch.sqrt(fy**2 + fx**2)
    return [float(power[(radius >= a) & (radius < b)].mean())
            for a, b in itertools.pairwise(SPECTRUM_BANDS)]


SHAPE_PERCENTILES = (5, 25, 50, 75, 95)


def eye_shape(records: list[dict[str, Any]]) -> dict[str, np.ndarray] | None:
    """Per eye, in units of its corner distance: ``openness``, the lid gap at the middle, and ``iris_x``,
    ``iris_y``, the iris centre from the corners' midpoint along the corner line (towards the crop's right,
    after any mirroring) and across it (downwards). Real eyes: MediaPipe's landmarks, as ``import face-video``
    records them (corners, lid middles, iris); synthetic eyes: the labels (``eye_corners``, the
    ``interior_margin`` in UnityEyes' layout with the lids' middles at 4 and 12, ``pupil_center``). The same
    measures on both sides, so the simulator's eye shapes and gaze can be compared with a real pool's.
    None where a record has neither kind of landmark."""
    rows = []
    for r in records:
        if "landmarks" in r and {"corners", "lids", "iris"} <= set(r["landmarks"]):
            lm = r["landmarks"]
            (c0, c1), (up, lo), iris = (np.asarray(lm[k], float) for k in ("corners", "lids", "iris"))
            mirror = bool(r.get("flipped"))
        elif {"interior_margin", "eye_corners", "pupil_center"} <= set(r):
            m = np.asarray(r["interior_margin"], float)
            (c0, c1), iris = np.asarray(r["eye_corners"], float), np.asarray(r["pupil_center"], float)
            up, lo, mirror = m[len(m) // 4], m[3 * len(m) // 4], False
        else:
            return None
        d = max(float(np.linalg.norm(c1 - c0)), 1e-6)
        t = (c1 - c0) / d * (1 if c1[0] >= c0[0] else -1)  # along the corner line, pointing right
        v = iris - (c0 + c1) / 2
        x, y = float(v @ t) / d, float(v @ np.array([-t[1], t[0]])) / d  # y: across it, pointing down
        rows.append((float(np.linalg.norm(up - lo)) / d, -x if mirror else x, y))
    if not rows:
        return None
    a = np.asarray(rows)
    return {"openness": a[:, 0], "iris_x": a[:, 1], "iris_y": a[:, 2]}


def source_split(sources: list[str | None], min_images: int = 4) -> tuple[str, np.ndarray, np.ndarray] | None:
    """The largest source of a pool (``source`` of each record: one video or photo) and the indices of its
    images and of every other source's, or None where a record names no source, there is one source only,
    or either side has fewer than ``min_images``."""
    if not sources or any(s is None for s in sources):
        return None
    top = Counter(sources).most_common(1)[0][0]
    is_top = np.array([s == top for s in sources])
    mine, others = np.flatnonzero(is_top), np.flatnonzero(~is_top)
    return (str(top), mine, others) if min(len(mine), len(others)) >= min_images else None


def run_real_eyes(out: str | Path, real: str | Path, cfg: RealEyesConfig = RealEyesConfig(),
                  device: str = "auto") -> dict[str, Any]:
    real_ds = SimrealDataset(real)
    image = real_ds.manifest["image"]
    study = Study(out, to_dict(dataclasses.replace(cfg, seeds=0)), [real])
    size = (image["height"], image["width"])
    sim_cfg = {"height": size[0], "width": size[1], "rgb": image["mode"] == "RGB"}

    def make(path: Path) -> None:
        from simreal.simulate.eyes import preset_config

        generate_eyes(path, cfg.synthetic_count, cfg.data_seed, cfg.preset, preset_config(cfg.preset, **sim_cfg),
                      device=device, overwrite=True, log=lambda _: None)

    syn_path = study.dataset("data/synthetic", make)
    syn_ds, real_records = SimrealDataset(syn_path), list(real_ds.records())
    rcfg = dataclasses.replace(cfg.refine, device=device, seed=cfg.data_seed)
    consistency = rcfg.loss.label_consistency > 0
    synthetic, real_bank = ImageBank(syn_ds, "gaze" if consistency else None), ImageBank(real_ds)
    if synthetic.mode != real_bank.mode:
        raise InputError(f"synthetic eyes are {synthetic.mode}, the real ones {real_bank.mode}")
    gaze_term = gaze_consistency(study, dataclasses.replace(cfg.gaze_net, device=device, seed=cfg.data_seed),
                                 synthetic) if consistency else None
    run_dir = study.out / "runs" / "refine"
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = SimGANTrainer(rcfg, synthetic, real_bank, run_dir, gaze_term).train(resume=True)
    refined = refine_bank(checkpoint, synthetic, device)

    observer: dict[str, Any] = {}
    halves = numpy_rng(cfg.data_seed, 7).permutation(len(real_bank))
    pixels = real_bank.cache.numpy() if real_bank.cache is not None else \
        np.stack([real_ds.image_array(i) for i in range(len(real_ds))])
    control = [ImageBank.from_arrays(pixels[h], None, real_bank.mode)
               for h in np.array_split(halves, 2)]  # real vs real: the observer must be at chance
    comparisons = [("synthetic", synthetic, real_bank), ("refined", refined, real_bank),
                   ("real", control[1], control[0])]
    split = source_split([r.get("source", r.get("participant")) for r in real_records])
    sources = None
    if split is not None:  # real vs real across people: how far apart the pool's own sources are
        top, mine, others = split
        sources = {"largest": top, "largest_count": len(mine), "others_count": len(others)}
        comparisons.append(("sources", ImageBank.from_arrays(pixels[others], None, real_bank.mode),
                            ImageBank.from_arrays(pixels[mine], None, real_bank.mode)))
    for name, bank, against in comparisons:
        runs = [study.stage(f"observer/{name}-seed{s}", lambda bank=bank, against=against, s=s: observer_test(
                    against, bank, dataclasses.replace(cfg.observer, seed=s, device=device)))
                for s in range(cfg.seeds)]
        observer[name] = {"accuracy_pct": mean_std([100 * r["accuracy"] for r in runs]),
                          "auc": mean_std([r["auc"] for r in runs]), "runs": runs}
    n = min(cfg.pupil_pairs, len(synthetic))
    guesses = syn_ds.labels("pupil_center")[:n]
    shift = pupil_shift(list(synthetic.cache[:n].numpy()), list(refined.cache[:n].numpy()), guesses)
    stats = {"synthetic": image_statistics(synthetic), "refined": image_statistics(refined),
             "real": image_statistics(real_bank)}
    shapes = {"synthetic": eye_shape(list(syn_ds.records())), "real": eye_shape(real_records)}
    shape_pct = None if any(v is None for v in shapes.values()) else {
        k: {q: np.percentile(a, SHAPE_PERCENTILES).round(3).tolist() for q, a in v.items()} for k, v in shapes.items()}
    spectra = {"synthetic": power_spectrum(synthetic), "refined": power_spectrum(refined),
               "real": power_spectrum(real_bank)}
    means = {k: mean_images(b) for k, b in (("synthetic", synthetic), ("refined", refined), ("real", real_bank))}
    layout = {k: mean_image_gap(means[k], means["real"]) for k in ("synthetic", "refined")}
    fig = study.out / "figures"
    save_grid([torch.stack([stretch(m)[None] for m, _ in means.values()]),
               torch.stack([stretch(sd)[None] for _, sd in means.values()])], fig / "mean_images.png", min_cell=165)
    plot_band_ratios(SPECTRUM_BANDS, spectra, "real", fig / "spectrum.png",
                     "where the images differ from real eyes, by scale")
    idx = torch.arange(min(12, len(real_bank), len(synthetic)))
    spread = torch.linspace(0, len(real_bank) - 1, len(idx)).long()  # real eyes from across the pool's sources
    save_grid([synthetic.images(idx), refined.images(idx), real_bank.images(spread)],
              fig / "synthetic_refined_real.png", min_cell=55)
    plot_refiner_losses(run_dir, fig / "refiner_losses.png")
    results = {"real": str(real), "counts": {"synthetic": len(synthetic), "real": len(real_bank)},
               "observer": observer, "sources": sources, "pupil_shift_px": shift, "statistics": stats,
               "eye_shape_percentiles": shape_pct,
               "spectrum": {"bands_cycles_per_px": list(SPECTRUM_BANDS), "power": spectra}, "layout_gap": layout,
               "checkpoint": str(checkpoint), "config": to_dict(cfg)}
    return study.finish(results, report)


SOURCES_NOTE = """
The last row: the real eyes of every other source (video or photo: other people, other cameras) against the
largest source's. Where it is far above 50 %, the pool's sources are far apart, and the synthetic and refined
rows measure how well the eyes imitate the pool's mix of people as much as how realistic they are.
"""


def eye_shape_section(pct: dict[str, dict[str, list[float]]] | None) -> str:
    if not pct:
        return ""
    names = {"openness": "openness", "iris_x": "iris x (→)", "iris_y": "iris y (↓)"}
    rows = [[f"{names[q]}, {k}", *(f"{v:+.3f}" for v in pct[k][q])] for q in names for k in ("synthetic", "real")]
    return f"""## Eye shape and gaze

By percentile, in units of each eye's corner distance (real eyes: MediaPipe's landmarks; synthetic: the
labels): openness = the lid gap at the middle; iris x, y = the iris centre from the corners' midpoint, along
the corner line (→) and across it (↓). A refiner cannot change the simulator's distribution of these without
changing labels (SimGAN's self-regularisation is there to stop it), so they are the simulator's to match.

{markdown_table(["measure, eyes", *(f"{q}th" for q in SHAPE_PERCENTILES)], rows)}

"""


def report(r: dict[str, Any]) -> str:
    def pm(s: dict[str, Any], k: float = 1.0, digits: int = 1) -> str:
        return f"{k * s['mean']:.{digits}f} ± {k * s['std']:.{digits}f}"

    o, s, ps, m = r["observer"], r["statistics"], r["pupil_shift_px"], r["machine"]
    names = {"synthetic": "synthetic", "refined": "refined", "real": "real (control: one half vs the other)"}
    if r.get("sources"):
        src = r["sources"]
        names["sources"] = (f"real eyes of the other sources ({src['others_count']}) vs the largest, "
                            f"`{src['largest']}` ({src['largest_count']}) only")
    obs = [[names[k], pm(o[k]["accuracy_pct"]), pm(o[k]["auc"], digits=3)] for k in names if k in o]
    stat_rows = [[k, *(f"{v[q]:.1f}" for q in ("mean", "contrast", "sharpness", "noise"))] for k, v in s.items()]
    edges, power = r["spectrum"]["bands_cycles_per_px"], r["spectrum"]["power"]
    layout = "; ".join(f"{k} mean {v['mean_rms']:.3f}, std {v['std_rms']:.3f}" for k, v in r["layout_gap"].items())
    bands = [f"{a:g}–{b:g}" for a, b in itertools.pairwise(edges)]
    spec_rows = [[k, *(f"{v / q:.2f}" for v, q in zip(power[k], power["real"], strict=True))]
                 for k in ("synthetic", "refined")]
    weight = r["config"]["refine"]["loss"]["label_consistency"]
    term = (f" (its loss also weighs, by {weight:g}, a frozen GazeNet's gaze error on them: the GazeNet trained on "
            "the synthetic eyes, `runs/gaze-consistency`)") if weight > 0 else ""
    return f"""# SimGAN on real eyes (no gaze labels)

Real eyes: `{r['real']}` ({r['counts']['real']} crops). Synthetic: {r['counts']['synthetic']} eyes of the built-in
simulator at the same size. Refined: the synthetic eyes after the refiner trained against the real ones{term}.

## Realism: the machine observer (50 % = it cannot tell them from real eyes)

Held-out accuracy and ROC AUC, mean ± sample std over {len(o['synthetic']['runs'])} splits and observers.

{markdown_table(["images vs real eyes", "observer accuracy (%)", "AUC"], obs)}
{SOURCES_NOTE if r.get("sources") else ""}
## Label preservation

Pupil centre located in synthetic and refined versions of {ps['pairs']} images: shift {ps['mean_px']:.2f} ± \
{ps['std_px']:.2f} px (median {ps['median_px']:.2f}; not found in {ps['not_found']}); mean offset \
(refined − synthetic) dx {ps['mean_dx_px']:+.2f}, dy {ps['mean_dy_px']:+.2f} px (y down; noise averages out, so a
systematic offset is the refiner moving the dark blob: darkening or brightening one side of it). The paper: 1.1 ± \
0.8 px.

{eye_shape_section(r.get("eye_shape_percentiles"))}## Grey-level statistics (0–255)

Contrast = std within an image; sharpness = mean |Laplacian|; noise = a robust σ of the high-pass residual.

{markdown_table(["images", "mean", "contrast", "sharpness", "noise"], stat_rows)}

## Layout: mean and std images

Each image normalised to zero mean and unit std, then averaged (top row) and its per-pixel spread taken
(bottom row); columns synthetic · refined · real. RMS difference from the real eyes' (in units of an
image's own std): {layout}.

![mean and std images](figures/mean_images.png)

## Power by spatial frequency, relative to the real eyes (1 = the same)

{markdown_table(["images", *bands], spec_rows)}

![power spectra relative to the real eyes](figures/spectrum.png)

Rows: synthetic · refined · real.

![synthetic, refined and real eyes](figures/synthetic_refined_real.png)

![refiner losses](figures/refiner_losses.png)

This invocation: {r['runtime_s']} s on {m['processor']} ({m['cpu_count']} CPUs), torch {m['torch']}, simreal \
{m['simreal']}.
"""
