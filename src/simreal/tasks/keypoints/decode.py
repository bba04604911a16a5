"""From confidence maps and PAFs to people, as OpenPose does (Cao et al., CVPR 2017, section 2.4).

1. Peaks: local maxima (3×3) of each confidence map above ``peak_threshold``.
2. Limb candidates: for each limb (a, b) and each pair of peaks, the PAF line integral: the mean over
   ``samples`` points on the segment of the PAF · unit(b − a), plus a distance prior
   ``min(0.5·H / |b − a| − 1, 0)``; a candidate needs more than 80 % of the samples above
   ``paf_threshold`` and a positive score.
3. Greedy bipartite matching per limb: candidates by decreasing score, each peak used at most once.
4. Assembly: connections are merged into people that share a joint; two people that share a joint id
   through different limbs are merged when their joints do not conflict. People with fewer than
   ``min_joints`` joints or a mean score below ``min_score`` are dropped.

Outputs are in the coordinates of the maps given (the caller rescales): per person ``keypoints``
``[[x, y, score], ...]`` (score 0 and x = y = 0 for a joint not found) and ``score``: the mean joint
score times the square root of the share of joints found (so fragments rank below whole people).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter

from simreal.data.keypoints import KeypointSet


@dataclass(frozen=True)
class DecodeConfig:
    peak_threshold: float = 0.1
    paf_threshold: float = 0.05
    samples: int = 10
    min_joints: int = 3
    min_score: float = 0.2


def find_peaks(maps: np.ndarray, threshold: float) -> list[np.ndarray]:
    """Per channel, an array ``(n, 3)`` of peaks ``[x, y, score]`` (decreasing score)."""
    peaks = []
    for m in maps:
        local = (m == maximum_filter(m, size=3, mode="constant")) & (m > threshold)
        ys, xs = np.nonzero(local)
        p = np.stack([xs, ys, m[ys, xs]], axis=1).astype(np.float32) if len(xs) else np.zeros((0, 3), np.float32)
        peaks.append(p[np.argsort(-p[:, 2], kind="stable")])
    return peaks


def limb_candidates(pa: np.ndarray, pb: np.ndarray, paf: np.ndarray, cfg: DecodeConfig,
                    image_height: int) -> list[tuple[int, int, float]]:
    """Scored connections (i, j, score) between peaks ``pa`` and ``pb`` through the PAF ``(2, H, W)``."""
    out = []
    h, w = paf.shape[1:]
    t = np.linspace(0, 1, cfg.samples)
    for i, a in enumerate(pa):
        for j, b in enumerate(pb):
            d = b[:2] - a[:2]
            norm = float(np.hypot(*d))
            if norm < 1e-6:
                continue
            u = d / norm
            xs = np.clip(np.round(a[0] + t * d[0]).astype(int), 0, w - 1)
            ys = np.clip(np.round(a[1] + t * d[1]).astype(int), 0, h - 1)
            dots = paf[0, ys, xs] * u[0] + paf[1, ys, xs] * u[1]
            score = float(dots.mean() + min(0.5 * image_height / norm - 1, 0))
            if (dots > cfg.paf_threshold).sum() > 0.8 * cfg.samples and score > 0:
                out.append((i, j, score))
    return out


def match(candidates: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Greedy bipartite matching: highest score first, each peak at most once."""
    used_a, used_b, chosen = set(), set(), []
    for i, j, s in sorted(candidates, key=lambda c: -c[2]):
        if i not in used_a and j not in used_b:
            chosen.append((i, j, s))
            used_a.add(i)
            used_b.add(j)
    return chosen


def decode(maps: np.ndarray, pafs: np.ndarray, kset: KeypointSet, cfg: DecodeConfig = DecodeConfig()
           ) -> list[dict[str, object]]:
    """People from ``maps`` (K or K + 1 channels, H, W) and ``pafs`` (2L, H, W) at the same resolution."""
    k = len(kset.names)
    peaks = find_peaks(maps[:k], cfg.peak_threshold)
    offsets = np.cumsum([0] + [len(p) for p in peaks])
    all_peaks = np.concatenate(peaks) if offsets[-1] else np.zeros((0, 3), np.float32)
    people: list[np.ndarray] = []  # each: (k + 2,) peak id per joint (−1 none), total score, joint count
    for li, (a, b) in enumerate(kset.limbs):
        conns = match(limb_candidates(peaks[a], peaks[b], pafs[2 * li:2 * li + 2], cfg, maps.shape[1]))
        for i, j, s in conns:
            ga, gb = offsets[a] + i, offsets[b] + j
            found = [n for n, p in enumerate(people) if p[a] == ga or p[b] == gb]
            if len(found) == 1:
                p = people[found[0]]
                for joint, gid in ((a, ga), (b, gb)):
                    if p[joint] == -1:
                        p[joint] = gid
                        p[-1] += 1
                        p[-2] += all_peaks[gid, 2]
                p[-2] += s
            elif len(found) == 2:
                p1, p2 = people[found[0]], people[found[1]]
                if not np.any((p1[:k] >= 0) & (p2[:k] >= 0)):  # disjoint: merge
                    p1[:k] = np.maximum(p1[:k], p2[:k])
                    p1[-2:] += p2[-2:]
                    p1[-2] += s
                    people.pop(found[1])
                else:
                    p1[-2] += s
            else:
                p = np.full(k + 2, -1.0)
                p[a], p[b] = ga, gb
                p[-2] = all_peaks[ga, 2] + all_peaks[gb, 2] + s
                p[-1] = 2
                people.append(p)
    out = []
    for p in people:
        count = p[-1]
        if count < cfg.min_joints or p[-2] / count < cfg.min_score:
            continue
        kps = []
        for j in range(k):
            gid = int(p[j])
            kps.append([float(all_peaks[gid, 0]), float(all_peaks[gid, 1]), float(all_peaks[gid, 2])]
                       if gid >= 0 else [0.0, 0.0, 0.0])
        joint_scores = [kp[2] for kp in kps if kp[2] > 0]
        out.append({"keypoints": kps, "score": float(np.mean(joint_scores)) * min(1.0, count / k) ** 0.5})
    out.sort(key=lambda q: -q["score"])
    return out
