"""Groups of synthetic samples (or people) by their generative factors, for group-level samplers.

One factor (the paper):

- :func:`linear_bins`: ``n`` equal bins over ``[lo, hi)`` (values outside go to the first / last bin); the
  paper's minimal-distance grouping is ``linear_bins(mD, 10, 0, 640)``.
- :func:`paper_pitch_bins`: the paper's rule for camera pitch, boundaries spaced linearly in
  ``[min(X) + Var(X), max(X) − Var(X))``, implemented as written, on the pitch in **radians** (in degrees
  Var is in deg², ≈ 169 for U[0°, 45°], and the interval is empty). What it does: for U[0°, 45°]
  (Var ≈ 0.051 rad²) the interval is [2.9°, 42.1°); values outside it fall into the first and last bins,
  which therefore hold ~1.6× as many samples as the others (tested). An empty interval is a clear error.
- :func:`quantile_bins`: ``n`` bins with (nearly) equal counts.

Several factors (beyond the paper's one-factor limitation):

- :func:`kmeans_groups`: k-means (k-means++ init, seeded) on standardised factors;
- :func:`product_bins`: the product of per-factor bins, cells smaller than ``min_size`` merged into their
  nearest (in bin coordinates) large-enough cell.

:func:`check_groups` reports group sizes and refuses groups too small to sample from, unless
``merge_small`` merges each into its neighbour in group order.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from simreal.utils.errors import SimrealError


@dataclass(frozen=True)
class Grouping:
    """``labels[i]``: the group of sample i (0 … n_groups − 1); ``names``: a readable name per group."""

    labels: np.ndarray
    names: list[str]

    @property
    def n_groups(self) -> int:
        return len(self.names)

    def sizes(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.n_groups)

    def members(self) -> list[np.ndarray]:
        return [np.flatnonzero(self.labels == g) for g in range(self.n_groups)]

    def report(self) -> list[dict[str, object]]:
        return [{"group": g, "name": n, "size": int(s)} for g, (n, s) in enumerate(zip(self.names, self.sizes(),
                                                                                         strict=True))]


def _bin_names(edges: np.ndarray, unit: str = "") -> list[str]:
    return [f"[{a:.4g}, {b:.4g}){unit}" for a, b in itertools.pairwise(edges)]


def linear_bins(values: np.ndarray, n: int, lo: float, hi: float, unit: str = "") -> Grouping:
    if not hi > lo:
        raise SimrealError(f"linear bins need hi > lo, got [{lo}, {hi})")
    edges = np.linspace(lo, hi, n + 1)
    labels = np.clip(np.searchsorted(edges, np.asarray(values, float), side="right") - 1, 0, n - 1)
    return Grouping(labels.astype(int), _bin_names(edges, unit))


def paper_pitch_bins(pitch_deg: np.ndarray, n: int = 10) -> Grouping:
    """Boundaries linear in ``[min(X) + Var(X), max(X) − Var(X))`` with X the pitch in radians."""
    x = np.deg2rad(np.asarray(pitch_deg, float))
    lo, hi = x.min() + x.var(), x.max() - x.var()
    if not hi > lo:
        raise SimrealError(f"the paper's pitch rule gives an empty interval [{np.rad2deg(lo):.3g}°, "
                           f"{np.rad2deg(hi):.3g}°) for these pitches; use linear or quantile bins")
    g = linear_bins(x, n, lo, hi)
    return Grouping(g.labels, _bin_names(np.rad2deg(np.linspace(lo, hi, n + 1)), "°"))


def quantile_bins(values: np.ndarray, n: int) -> Grouping:
    x = np.asarray(values, float)
    edges = np.quantile(x, np.linspace(0, 1, n + 1))
    labels = np.clip(np.searchsorted(edges[1:-1], x, side="right"), 0, n - 1)
    return Grouping(labels.astype(int), _bin_names(edges))


def kmeans_groups(factors: np.ndarray, n: int, seed: int = 0, iters: int = 100) -> Grouping:
    """k-means on the standardised columns of ``factors`` (samples × factors)."""
    x = np.asarray(factors, float)
    x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, n):  # k-means++
        d = np.min([((x - c) ** 2).sum(axis=1) for c in centres], axis=0)
        centres.append(x[rng.choice(len(x), p=d / d.sum())] if d.sum() > 0 else x[rng.integers(len(x))])
    c = np.array(centres)
    labels = np.zeros(len(x), int)
    for _ in range(iters):
        labels = ((x[:, None] - c[None]) ** 2).sum(axis=2).argmin(axis=1)
        new = np.array([x[labels == k].mean(axis=0) if (labels == k).any() else c[k] for k in range(n)])
        if np.allclose(new, c):
            break
        c = new
    return Grouping(labels, [f"cluster {k}" for k in range(n)])


def product_bins(columns: list[np.ndarray], bins: list[int], min_size: int) -> Grouping:
    """Quantile bins per factor, their product cells, cells below ``min_size`` merged into the nearest kept
    cell (Manhattan distance in bin indices; ties to the larger cell)."""
    per = [quantile_bins(c, b).labels for c, b in zip(columns, bins, strict=True)]
    coords = np.stack(per, axis=1)
    cells, inverse, counts = np.unique(coords, axis=0, return_inverse=True, return_counts=True)
    keep = counts >= min_size
    if not keep.any():
        raise SimrealError(f"no cell has {min_size} samples; use fewer bins")
    kept = np.flatnonzero(keep)
    target = np.array([c if keep[c] else kept[np.lexsort((-counts[kept], np.abs(cells[kept] - cells[c]).sum(1)))[0]]
                       for c in range(len(cells))])
    remap = {c: i for i, c in enumerate(kept)}
    labels = np.array([remap[target[c]] for c in inverse.ravel()])
    names = ["×".join(str(v) for v in cells[c]) for c in kept]
    return Grouping(labels, names)


def check_groups(g: Grouping, min_size: int, merge_small: bool = False) -> Grouping:
    """Refuse groups smaller than ``min_size`` (one line naming them), or merge each into the next group
    (the previous one for the last) when ``merge_small``; empty groups are always dropped."""
    sizes = g.sizes()
    small = [k for k in range(g.n_groups) if sizes[k] < min_size]
    if not small:
        return g
    if not merge_small:
        names = ", ".join(f"{g.names[k]} ({sizes[k]})" for k in small)
        raise SimrealError(f"groups with fewer than {min_size} samples: {names}; use fewer groups or merge_small")
    labels, names = g.labels.copy(), list(g.names)
    order = list(range(g.n_groups))
    while True:
        sizes = np.bincount(labels, minlength=len(names))
        alive = [k for k in order if sizes[k] > 0]
        small = [k for k in alive if sizes[k] < min_size]
        if not small or len(alive) == 1:
            break
        k = small[0]
        pos = alive.index(k)
        into = alive[pos + 1] if pos + 1 < len(alive) else alive[pos - 1]
        labels[labels == k] = into
        names[into] = f"{names[min(k, into)]}+{names[max(k, into)]}"
    alive = [k for k in order if (labels == k).any()]
    remap = {k: i for i, k in enumerate(alive)}
    return Grouping(np.array([remap[v] for v in labels]), [names[k] for k in alive])


def group_values(values: np.ndarray, n: int, rule: str = "linear", lo: float | None = None,
                 hi: float | None = None) -> Grouping:
    """Groups of one factor: one per category for text values; else ``linear`` bins over [lo, hi) (default:
    the values' range), ``quantile`` bins, or ``paper-pitch`` (:func:`paper_pitch_bins`)."""
    v = np.asarray(values)
    if v.dtype.kind in "USO":
        names = sorted({str(x) for x in v})
        return Grouping(np.array([names.index(str(x)) for x in v]), names)
    v = v.astype(float)
    if np.isnan(v).any():
        raise SimrealError(f"{int(np.isnan(v).sum())} samples lack this factor; group by another one")
    if rule == "quantile":
        return quantile_bins(v, n)
    if rule == "paper-pitch":
        return paper_pitch_bins(v, n)
    if rule != "linear":
        raise SimrealError(f"unknown grouping rule {rule!r}: linear, quantile or paper-pitch")
    return linear_bins(v, n, float(v.min()) if lo is None else lo, float(v.max()) + 1e-9 if hi is None else hi)
