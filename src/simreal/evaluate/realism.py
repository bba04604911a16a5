"""A machine observer for the visual Turing test: a classifier two-sample test (C2ST) of realism.

The question the visual Turing test asks of people, asked of a small CNN instead: can it tell real images
from synthetic ones it has not seen? ``n`` images of each kind (without replacement, seeded) are split in
half; the observer is trained on one half and scored on the other. Held-out accuracy 50 % means the two
sets are indistinguishable *to this observer*; 100 % means they are trivially separable. The one-sided
binomial test says whether the accuracy is above chance (Lopez-Paz & Oquab, "Revisiting classifier
two-sample tests", ICLR 2017). Unlike SimGAN's discriminator, the observer never trained against the
refiner, so it cannot have been fooled by it during training.

It is a strong, cheap, repeatable observer, not a person: people miss statistics a CNN sees (noise spectra,
quantisation) and see semantics it misses. Report both when you can.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simreal.data.bank import ImageBank
from simreal.evaluate.turing import chance_test
from simreal.utils.errors import InputError, SimrealError
from simreal.utils.report import mean_std
from simreal.utils.seeding import numpy_rng, pick_device, seeded_init, torch_generator


@dataclass(frozen=True)
class ObserverConfig:
    max_per_class: int = 2000  # images of each kind (fewer if a dataset is smaller)
    max_side: int = 128  # larger images are shrunk (area averaging) to at most this side
    steps: int = 600
    batch_size: int = 64
    lr: float = 1e-3
    width: int = 32
    seed: int = 0
    device: str = "auto"
    channels_last: bool = True  # 1.26× faster training on a 2-core CPU (benchmarks/bench_observer.py)


class Observer(nn.Module):
    """Three strided 3×3 conv layers, global average pooling, one logit (synthetic vs real)."""

    def __init__(self, channels: int, width: int = 32):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(channels, w, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1), nn.LeakyReLU(0.2))
        self.head = nn.Linear(2 * w, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3))).squeeze(1)


def _load(bank: ImageBank, idx: np.ndarray, max_side: int) -> torch.Tensor:
    chunks = []
    for part in np.array_split(idx, max(1, len(idx) // 256)):
        x = bank.images(torch.as_tensor(part, dtype=torch.long))
        h, w = x.shape[-2:]
        if max(h, w) > max_side:
            s = max_side / max(h, w)
            x = F.interpolate(x, size=(max(1, round(h * s)), max(1, round(w * s))), mode="area")
        chunks.append(x)
    return torch.cat(chunks)


def observer_test(real: ImageBank, synthetic: ImageBank, cfg: ObserverConfig = ObserverConfig(),
                  on_step: Callable[[], None] | None = None, explain: str | Path | None = None) -> dict[str, Any]:
    """Trains an :class:`Observer` on half of ``n`` real and ``n`` synthetic images and scores it on the other
    half: held-out accuracy, 95 % interval, one-sided binomial p (above chance?), ROC AUC, and sizes.

    ``explain``: also write a PNG of what it looks at (:func:`explain_observer`)."""
    from sklearn.metrics import roc_auc_score

    n = min(len(real), len(synthetic), cfg.max_per_class)
    if n < 4:
        raise InputError(f"need at least 4 images of each kind, got {n}")
    rng = numpy_rng(cfg.seed, 0)
    ri, si = rng.choice(len(real), n, replace=False), rng.choice(len(synthetic), n, replace=False)
    n_test = n // 2
    xr, xs = _load(real, ri, cfg.max_side), _load(synthetic, si, cfg.max_side)
    if xr.shape[1:] != xs.shape[1:]:
        raise InputError(f"real images are {tuple(xr.shape[1:])} but synthetic ones {tuple(xs.shape[1:])} "
                         "(channels, height, width); the observer would tell them apart by that alone")
    dev = pick_device(cfg.device)
    x_train = torch.cat([xr[n_test:], xs[n_test:]]).to(dev)
    y_train = torch.cat([torch.zeros(n - n_test), torch.ones(n - n_test)]).to(dev)
    x_test = torch.cat([xr[:n_test], xs[:n_test]]).to(dev)
    y_test = np.r_[np.zeros(n_test), np.ones(n_test)]
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    with seeded_init(cfg.seed):
        model = Observer(x_train.shape[1], cfg.width).to(dev, memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch_generator(cfg.seed, 1)
    model.train()
    for _ in range(cfg.steps):
        b = torch.randint(len(x_train), (min(cfg.batch_size, len(x_train)),), generator=gen).to(dev)
        loss = F.binary_cross_entropy_with_logits(model(x_train[b].contiguous(memory_format=fmt)), y_train[b])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if on_step is not None:
            on_step()
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(x_test[i:i + 256].contiguous(memory_format=fmt))
                            for i in range(0, len(x_test), 256)]).cpu().numpy()
    correct = int(((logits > 0) == (y_test == 1)).sum())
    if explain is not None:
        explain_observer(model, x_test.contiguous(memory_format=fmt), logits, n_test, explain)
    res = chance_test(correct, len(y_test))
    res.update({"auc": float(roc_auc_score(y_test, logits)), "train_per_class": n - n_test,
                "test_per_class": n_test, "final_train_loss": float(loss.item())})
    return res


def saliency_map(model: nn.Module, x: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """Mean over images and channels of |∂ model(x) / ∂ x|, ``(1, 1, H, W)``: where the logit is sensitive."""
    grads = []
    for i in range(0, len(x), chunk):
        xi = x[i:i + chunk].detach().clone().requires_grad_(True)
        model(xi).sum().backward()
        grads.append(xi.grad.abs().mean(1, keepdim=True))
    return torch.cat(grads).mean(0, keepdim=True)


def explain_observer(model: Observer, x_test: torch.Tensor, logits: np.ndarray, n_real: int, path: str | Path,
                     show: int = 8) -> Path:
    """What a trained observer looks at, as one PNG of three rows: the held-out synthetic images' mean and its
    saliency (mean |∂ logit / ∂ pixel| over the synthetic test images, then over the real ones), each
    stretched to [-1, 1]; the ``show`` synthetic images it found most real; the ``show`` real images it found
    most synthetic. ``x_test`` holds ``n_real`` real images, then the synthetic ones, with their ``logits``
    (> 0: synthetic)."""
    from simreal.utils.images import save_grid, stretch

    real, syn = x_test[:n_real], x_test[n_real:]
    channels = x_test.shape[1]
    maps = [stretch(syn.mean(0, keepdim=True)),
            *(stretch(saliency_map(model, x)).expand(-1, channels, -1, -1) for x in (syn, real))]
    most_real = syn[np.argsort(logits[n_real:])[:show].copy()]  # lowest logits: "real"
    most_synthetic = real[np.argsort(-logits[:n_real])[:show].copy()]
    return save_grid([torch.cat(maps).detach().cpu(), most_real.detach().cpu(), most_synthetic.detach().cpu()],
                     path, min_cell=110)


def observer_study(real: str | Path, synthetic: list[str | Path], cfg: ObserverConfig = ObserverConfig(),
                   seeds: int = 1, show_progress: bool | None = None, explain: str | Path | None = None
                   ) -> dict[str, dict[str, Any]]:
    """:func:`observer_test` of every ``synthetic`` dataset against ``real``, with ``seeds`` independent
    splits and observers each: ``{path: {accuracy_pct_mean, accuracy_pct_std, runs}}``. With ``explain`` (a
    folder), each dataset's first observer also writes ``explain/<dataset folder name>.png`` (the parent
    folder's name in front where two datasets share a name)."""
    from simreal.data.reader import SimrealDataset
    from simreal.utils.progress import progress_bar

    real_bank = ImageBank(SimrealDataset(real))
    results: dict[str, dict[str, Any]] = {}
    names: dict[str, str] = {}  # the folder's name, with its parent's where two share a name
    for path in synthetic:
        name = Path(path).name
        names[str(path)] = name if name not in names.values() else f"{Path(path).resolve().parent.name}-{name}"
    with progress_bar(show_progress) as bar:
        task = bar.add_task("observers", total=len(synthetic) * seeds * cfg.steps, status="")
        for path in synthetic:
            bank = ImageBank(SimrealDataset(path))
            runs = []
            for seed in range(seeds):
                bar.update(task, status=f"{Path(path).name} seed {seed}")
                try:
                    png = Path(explain) / f"{names[str(path)]}.png" if explain is not None and seed == 0 else None
                    runs.append(observer_test(real_bank, bank, dataclasses.replace(cfg, seed=cfg.seed + seed),
                                              on_step=lambda: bar.advance(task), explain=png))
                except ValueError as exc:
                    raise SimrealError(f"{path}: {exc}") from None
            acc = mean_std(100 * r["accuracy"] for r in runs)
            results[str(path)] = {"accuracy_pct_mean": acc["mean"], "accuracy_pct_std": acc["std"], "runs": runs}
    return results
