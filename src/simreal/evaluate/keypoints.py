"""Multi-person keypoint metrics: MPII multi-person AP (as the official evalMPII toolkit), PCKh, COCO OKS AP.

**MPII AP** (``evalMPII``: ``assignGTmulti.m``, ``getRPC.m``, ``VOCap.m``, ``evaluateAP.m``), per image (or
per annotated group of people, when the record lists ``groups``; predictions then count only in the group
whose region contains their centre; the official toolkit takes predictions per group instead):

- head size of a ground-truth person = 0.6 × the diagonal of its head box (``head_box`` [x1, y1, x2, y2];
  without one, 0.6·√2 × the head-top–upper-neck distance, i.e. a square head box of that side);
- a predicted joint (score > 0; the official code takes any joint present in the prediction) matches an
  annotated ground-truth joint (v > 0) within 0.5 head sizes;
- PCK(prediction, person) = matched / annotated joints of the person over the **14 evaluated joints**
  (:data:`MPII_EVAL_JOINTS`: pelvis and thorax count neither as matched nor as annotated);
- every prediction keeps only its best person (first on ties); then each person takes the prediction with
  the highest remaining PCK (first on ties; none if it is 0);
- each predicted joint contributes (score, matched its assigned person?) to its joint's list, unassigned
  predictions all "false";
- positives: the annotated joints of the people of every image (group) **that has at least one
  prediction** (``assignGTmulti`` sets "annotated" only inside its loop over predictions, so people of an
  image without predictions are never counted as misses; ``count_unpredicted=True`` counts them);
- per joint: scores sorted descending (stable), precision/recall over the ranking, VOC all-point AP × 100;
  a joint with no positives has AP NaN if it has predictions (recall 0/0) and 0 if it has none, and mAP is
  the plain mean of the 14 joints, so NaN then (``skip_unannotated=True`` leaves such joints out of the
  table and the mean instead).

The table (paper's Table 1): Head = mean(head top, upper neck), Shoulder, Elbow, Wrist, Hip, Knee,
Ankle (mean of left and right), and mAP = mean AP of these 14 joints. Pelvis and thorax APs are reported in
``ap_per_joint`` as extras (simreal's, with the same assignment); they enter neither table nor mAP.

**PCKh@0.5** (single person): each ground-truth person against its assigned prediction; AUC = mean PCKh over
thresholds 0, 0.05, …, 0.5. **COCO OKS AP/AR** via pycocotools, COCO's sigmas for COCO-17; for MPII-16 the
COCO sigma of the same joint, hips' for the pelvis, shoulders' for thorax and upper neck, ears' for the head
top (see :data:`MPII_SIGMAS`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from simreal.data.keypoints import KeypointSet
from simreal.data.reader import SimrealDataset
from simreal.data.show import draw_people
from simreal.utils.errors import DatasetError
from simreal.utils.fileio import atomic_write_bytes, atomic_write_json
from simreal.utils.progress import progress_bar
from simreal.utils.report import markdown_table

COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10
MPII_SIGMAS = np.array([.89, .87, 1.07, 1.07, .87, .89, 1.07, .79, .79, .35, .62, .72, .79, .79, .72, .62]) / 10
MPII_TABLE = {"Head": (8, 9), "Shoulder": (12, 13), "Elbow": (11, 14), "Wrist": (10, 15), "Hip": (2, 3),
              "Knee": (1, 4), "Ankle": (0, 5)}
#: ``assignGTmulti``'s ``jidxMap``: the 14 joints that are matched and scored (no pelvis 6, no thorax 7)
MPII_EVAL_JOINTS = (0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 8, 9)
THRESHOLD = 0.5


@dataclass
class Person:
    keypoints: np.ndarray  # (K, 3): ground truth [x, y, v] or prediction [x, y, score]
    head_size: float = 0.0
    score: float = 0.0


def head_size(person: dict[str, Any], kps: np.ndarray, head_top: int | None = 9, upper_neck: int | None = 8
              ) -> float:
    """0.6 × the head box diagonal (MPII's SC_BIAS), or the documented fallback from head top/upper neck."""
    box = person.get("head_box")
    if box:
        return 0.6 * float(np.hypot(box[2] - box[0], box[3] - box[1]))
    if head_top is not None and upper_neck is not None and kps[head_top, 2] > 0 and kps[upper_neck, 2] > 0:
        return 0.6 * np.sqrt(2) * float(np.hypot(*(kps[head_top, :2] - kps[upper_neck, :2])))
    return 0.0


def eval_joints(k: int) -> list[int]:
    """The joints that are matched and scored: MPII's 14 for the 16-joint MPII set, all of them otherwise."""
    return list(MPII_EVAL_JOINTS) if k == 16 else list(range(k))


def assign(preds: list[Person], gts: list[Person], threshold: float = THRESHOLD
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``assignGTmulti`` for one image/group: returns per prediction and joint ``scores`` (P, K), ``labels``
    (P, K, bool), ``has_pred`` (P, K), and for each ground-truth person its prediction index (−1: none).
    PCK counts the :func:`eval_joints` only; labels are given for every joint."""
    k = gts[0].keypoints.shape[0] if gts else (preds[0].keypoints.shape[0] if preds else 0)
    p, g = len(preds), len(gts)
    pk = np.array([q.keypoints for q in preds]).reshape(p, k, 3)
    gk = np.array([q.keypoints for q in gts]).reshape(g, k, 3)
    has_pred, has_gt = pk[:, :, 2] > 0, gk[:, :, 2] > 0
    heads = np.array([q.head_size for q in gts], dtype=float)
    dist = np.full((p, g, k), np.inf)
    if p and g:
        d = np.linalg.norm(pk[:, None, :, :2] - gk[None, :, :, :2], axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = d / heads[None, :, None]
        both = has_pred[:, None, :] & has_gt[None, :, :]
        dist[both] = d[both]
    match = dist <= threshold
    joints = eval_joints(k)
    n_gt = has_gt[:, joints].sum(axis=1)
    # a person with no annotated joint has PCK 0/0 officially; MATLAB's max skips the NaN, which gives the
    # same assignment as 0 here
    pck = np.where(n_gt[None, :] > 0, match[:, :, joints].sum(axis=2) / np.maximum(n_gt[None, :], 1), 0.0)
    if p and g:
        best = pck.argmax(axis=1)
        keep = np.zeros_like(pck)
        keep[np.arange(p), best] = pck[np.arange(p), best]
        pck = keep
        val, pred_to_gt = pck.max(axis=0), pck.argmax(axis=0)
        pred_to_gt[val == 0] = -1
    else:
        pred_to_gt = np.full(g, -1)
    labels = np.zeros((p, k), bool)
    for j, i in enumerate(pred_to_gt):
        if i >= 0:
            labels[i] = match[i, j]
    return pk[:, :, 2], labels, has_pred, pred_to_gt


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """``VOCap.m``: all-point interpolated average precision."""
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    idx = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mpre[idx]))


def joint_ap(scores: np.ndarray, labels: np.ndarray, positives: int) -> float:
    """``getRPC`` + ``VOCap`` × 100 for one joint. With no positives, as the official code computes it: NaN
    when the joint has predictions (recall 0/0), 0 when it has none."""
    if positives == 0:
        return float("nan") if len(scores) else 0.0
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(labels[order])
    precision = tp / np.arange(1, len(order) + 1)
    recall = tp / positives
    return 100 * voc_ap(recall, precision)


def _in_box(p: Person, box: tuple[float, float, float, float]) -> bool:
    kps = p.keypoints[p.keypoints[:, 2] > 0]
    if len(kps) == 0:
        return False
    x, y = kps[:, 0].mean(), kps[:, 1].mean()
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def _group_box(gts: list[Person]) -> tuple[float, float, float, float]:
    pts = np.concatenate([g.keypoints[g.keypoints[:, 2] > 0, :2] for g in gts] or [np.zeros((0, 2))])
    margin = max([g.head_size for g in gts] + [1.0])
    if len(pts) == 0:
        return (0.0, 0.0, 0.0, 0.0)
    return (pts[:, 0].min() - margin, pts[:, 1].min() - margin, pts[:, 0].max() + margin, pts[:, 1].max() + margin)


def mpii_ap(images: list[tuple[list[Person], list[Person], list[list[int]] | None]],
            threshold: float = THRESHOLD, keep: list[list[bool]] | None = None, count_unpredicted: bool = False,
            skip_unannotated: bool = False) -> dict[str, Any]:
    """MPII multi-person AP over ``images`` = [(predictions, ground truth, groups or None), ...].

    The defaults reproduce the official evaluation (module docstring). ``count_unpredicted``: people of
    an image (group) without any prediction count as misses (the official code leaves them out).
    ``skip_unannotated``: a joint with no annotated instance is left out of the table and the mean (the
    official mean is then NaN). ``keep`` (optional, per image and ground-truth person) restricts the
    evaluation to some people: the others and the predictions assigned to them are left out (used for mAP
    by visible-joint ratio; an image still counts as predicted when its predictions went to people left out).
    """
    k = next((len(g.keypoints) for _, gts, _ in images for g in gts), 16)
    scores: list[list[np.ndarray]] = [[] for _ in range(k)]
    labels: list[list[np.ndarray]] = [[] for _ in range(k)]
    positives = np.zeros(k, int)
    for n, (preds, gts, groups) in enumerate(images):
        for members in (groups or [list(range(len(gts)))]):
            group_gts = [gts[i] for i in members]
            group_preds = preds if not groups else [p for p in preds if _in_box(p, _group_box(group_gts))]
            s, lab, has, pred_to_gt = assign(group_preds, group_gts, threshold)
            drop = np.zeros(len(group_preds), bool)
            for local, i in enumerate(members):
                if keep is not None and not keep[n][i]:
                    if pred_to_gt[local] >= 0:
                        drop[pred_to_gt[local]] = True
                    continue
                if group_preds or count_unpredicted:
                    positives += group_gts[local].keypoints[:, 2] > 0
            for j in range(k):
                sel = has[:, j] & ~drop
                scores[j].append(s[sel, j])
                labels[j].append(lab[sel, j])
    ap = np.array([joint_ap(np.concatenate(scores[j]) if scores[j] else np.zeros(0),
                            np.concatenate(labels[j]) if labels[j] else np.zeros(0, bool), int(positives[j]))
                   for j in range(k)])
    if skip_unannotated:
        ap[positives == 0] = np.nan
    mean = _nanmean if skip_unannotated else np.mean
    table = {name: float(mean(ap[list(idx)])) for name, idx in MPII_TABLE.items()} if k == 16 else {}
    return {"ap_per_joint": [round(float(a), 4) for a in ap], "table": {n: round(v, 4) for n, v in table.items()},
            "mAP": round(float(mean(ap[eval_joints(k)])), 4), "positives": positives.tolist()}


def _nanmean(x: np.ndarray) -> float:
    x = x[~np.isnan(x)]
    return float(x.mean()) if len(x) else float("nan")


def pckh(images: list[tuple[list[Person], list[Person], list[list[int]] | None]],
         thresholds: np.ndarray = np.linspace(0, 0.5, 11)) -> dict[str, float]:
    """Single-person PCKh@0.5 (%) and its AUC (%), each person against its assigned prediction."""
    hits = np.zeros(len(thresholds))
    total = 0
    for preds, gts, _ in images:
        _, _, _, pred_to_gt = assign(preds, gts)
        for g, i in zip(gts, pred_to_gt, strict=True):
            ann = g.keypoints[:, 2] > 0
            total += int(ann.sum())
            if i < 0 or g.head_size <= 0:
                continue
            p = preds[i].keypoints
            ok = ann & (p[:, 2] > 0)
            d = np.linalg.norm(p[:, :2] - g.keypoints[:, :2], axis=1) / g.head_size
            hits += np.array([(ok & (d <= t)).sum() for t in thresholds])
    curve = 100 * hits / max(total, 1)
    return {"PCKh@0.5": round(float(curve[-1]), 4), "AUC": round(float(curve.mean()), 4)}


def oks_ap(images: list[tuple[list[Person], list[Person], list[list[int]] | None]], areas: list[list[float]],
           sigmas: np.ndarray) -> dict[str, float]:
    """COCO keypoint AP/AR (pycocotools) with the given per-joint ``sigmas``; ``areas``: per ground-truth person."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "person"}]}
    dt = []
    for n, (preds, gts, _) in enumerate(images):
        gt["images"].append({"id": n + 1})
        for g, area in zip(gts, areas[n], strict=True):
            kps = g.keypoints
            lab = kps[kps[:, 2] > 0]
            if len(lab) == 0:
                continue
            x0, y0 = lab[:, :2].min(axis=0)
            x1, y1 = lab[:, :2].max(axis=0)
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": n + 1, "category_id": 1,
                                      "keypoints": kps.ravel().tolist(), "num_keypoints": len(lab),
                                      "area": float(area), "bbox": [float(x0), float(y0), float(x1 - x0),
                                                                    float(y1 - y0)], "iscrowd": 0})
        for p in preds:
            dt.append({"image_id": n + 1, "category_id": 1, "keypoints": p.keypoints.ravel().tolist(),
                       "score": float(p.score)})
    if not gt["annotations"] or not dt:
        return {"AP": 0.0, "AP50": 0.0, "AP75": 0.0, "AR": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        res = coco.loadRes(dt)
        ev = COCOeval(coco, res, "keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=float)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    s = ev.stats
    return {"AP": round(100 * float(s[0]), 4), "AP50": round(100 * float(s[1]), 4),
            "AP75": round(100 * float(s[2]), 4), "AR": round(100 * float(s[5]), 4)}


def ap_by_visibility(images: list[tuple[list[Person], list[Person], list[list[int]] | None]],
                     ratios: list[list[float]], bins: int = 5, **options: bool) -> list[dict[str, float]]:
    """MPII mAP of the people whose visible-joint ratio falls in each of ``bins`` linear bins of [0, 1]
    (the paper's Figure 6). Other people, and predictions assigned to them, are left out of each bin.
    ``options`` go to :func:`mpii_ap` (``count_unpredicted``, ``skip_unannotated``)."""
    edges = np.linspace(0, 1, bins + 1)
    out = []
    for b in range(bins):
        lo, hi = edges[b], edges[b + 1]
        keep = [[(lo <= r < hi) or (b == bins - 1 and r == 1.0) for r in rs] for rs in ratios]
        n = int(sum(sum(k) for k in keep))
        m = mpii_ap(images, keep=keep, **options)["mAP"] if n else float("nan")
        out.append({"low": round(float(lo), 3), "high": round(float(hi), 3), "people": n, "mAP": m})
    return out


# -- a dataset, predictions and a report ---------------------------------------------------------------
def ground_truth(rec: dict[str, Any], kset: KeypointSet
                 ) -> tuple[list[Person], list[float], list[float], list[list[int]] | None]:
    """Ground-truth people of a record (those with at least one annotated joint), their areas, visible-joint
    ratios, and the record's ``groups`` re-indexed into that list (people left out leave their groups; a
    group left empty is dropped)."""
    people, areas, ratios = [], [], []
    index: dict[int, int] = {}
    for n, p in enumerate(rec.get("people", [])):
        kps = p.get(kset.field)
        if kps is None:
            continue
        arr = np.asarray(kps, dtype=float).reshape(-1, 3)
        if not (arr[:, 2] > 0).any():
            continue
        hs = head_size(p, arr, *((9, 8) if kset.name == "mpii" else (None, None)))
        index[n] = len(people)
        people.append(Person(arr, hs))
        box = p.get("bbox") or [0, 0, 0, 0]
        areas.append(float(p.get("area") or box[2] * box[3]))
        ratios.append(float((p.get("factors") or {}).get("visible_ratio", np.mean(arr[:, 2] == 2))))
    groups = rec.get("groups")
    if groups is not None:
        n_people = len(rec.get("people", []))
        bad = [i for g in groups for i in g if not 0 <= i < n_people]
        if bad:
            raise DatasetError(f"{rec.get('file_name')}: group index {bad[0]} is not one of its "
                               f"{n_people} people")
        groups = [m for m in ([index[i] for i in g if i in index] for g in groups) if m]
    return people, areas, ratios, groups


def keypoint_metrics(images: list[tuple[list[Person], list[Person], Any]], areas: list[list[float]],
                     ratios: list[list[float]], kset: KeypointSet, count_unpredicted: bool = False,
                     skip_unannotated: bool = False) -> dict[str, Any]:
    """All keypoint metrics; the two options go to :func:`~simreal.evaluate.keypoints.mpii_ap` (both off:
    the official MPII numbers)."""
    metrics: dict[str, Any] = {"keypoint_set": kset.name, "images": len(images),
                               "people": int(sum(len(g) for _, g, _ in images))}
    has_heads = all(g.head_size > 0 for _, gts, _ in images for g in gts)
    if kset.name == "mpii" and has_heads:
        options = {"count_unpredicted": count_unpredicted, "skip_unannotated": skip_unannotated}
        metrics["mpii"] = mpii_ap(images, **options)
        metrics["mpii_options"] = options
        metrics["pckh"] = pckh(images)
        metrics["map_by_visible_ratio"] = ap_by_visibility(images, ratios, **options)
    metrics["oks"] = oks_ap(images, areas, MPII_SIGMAS if kset.name == "mpii" else COCO_SIGMAS)
    return metrics


def evaluate_keypoint_predictions(predict: Callable[[np.ndarray], list[dict[str, Any]]], kset: KeypointSet,
                                  data: str | Path, size: int = 368, limit: int = 0,
                                  report_dir: str | Path | None = None, show_progress: bool | None = None,
                                  name: str = "(in memory)", **mpii_options: bool) -> dict[str, Any]:
    """Metrics (and optionally a report) of a people detector on a keypoint dataset.

    ``predict(image)`` takes an ``(H, W, 3)`` uint8 RGB image and returns people as dicts with ``keypoints``
    ``[x, y, score] × K`` in ``kset``'s order and ``score``; ``size`` is the input size it uses (recorded);
    ``mpii_options`` (``count_unpredicted``, ``skip_unannotated``) go to :func:`keypoint_metrics`.
    """
    ds = SimrealDataset(data)
    if ds.manifest["task"] != "keypoints":
        raise DatasetError(f"a keypoint dataset is needed (task is {ds.manifest['task']!r})", data)
    n = min(len(ds), limit) if limit else len(ds)
    images, areas, ratios, predictions = [], [], [], []
    with progress_bar(show_progress) as bar:
        task = bar.add_task("evaluate keypoints", total=n, status="")
        for i in range(n):
            rec = ds.record(i)
            preds = predict(np.asarray(Image.open(Path(data) / rec["file_name"]).convert("RGB")))
            gts, a, r, groups = ground_truth(rec, kset)
            images.append(([Person(np.asarray(p["keypoints"], float), score=p["score"]) for p in preds], gts,
                           groups))
            areas.append(a)
            ratios.append(r)
            predictions.append({"file_name": rec["file_name"], "people": preds})
            bar.advance(task)
    metrics = keypoint_metrics(images, areas, ratios, kset, **mpii_options)
    metrics.update(checkpoint=name, data=str(data), input_size=size)
    if report_dir is not None:
        write_report(Path(report_dir), metrics, predictions, Path(data), ds, kset)
    return metrics


def table_markdown(rows: dict[str, dict[str, Any]]) -> str:
    """The paper's Table 1 layout: one row per model."""
    cols = ["Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle"]
    body = []
    for name, m in rows.items():
        t = m.get("mpii", {}).get("table", {})
        cells = [f"{t[c]:.1f}" if c in t else "–" for c in cols]
        mp = f"{m['mpii']['mAP']:.1f}" if "mpii" in m else "–"
        pk = f"{m['pckh']['PCKh@0.5']:.1f}" if "pckh" in m else "–"
        body.append([name, *cells, mp, pk, f"{m['oks']['AP']:.1f}"])
    return markdown_table(["model", *cols, "mAP", "PCKh@0.5", "OKS AP"], body)


def plot_visibility(rows: dict[str, dict[str, Any]], path: Path) -> None:
    """mAP by visible-joint ratio (the paper's Figure 6), one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, m in rows.items():
        bins = m.get("map_by_visible_ratio")
        if bins:
            x = [(b["low"] + b["high"]) / 2 for b in bins]
            ax.plot(x, [b["mAP"] for b in bins], marker="o", label=name)
    ax.set_xlabel("ratio of visible joints")
    ax.set_ylabel("mAP (%)")
    ax.set_xlim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(out: Path, metrics: dict[str, Any], predictions: list[dict[str, Any]], data: Path,
                 ds: SimrealDataset, kset: KeypointSet, examples: int = 4) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "metrics.json", metrics)
    atomic_write_bytes(out / "predictions.jsonl", "".join(json.dumps(p) + "\n" for p in predictions).encode())
    plot_visibility({"model": metrics}, out / "map_by_visible_ratio.png")
    tiles = []
    for pred in predictions[:examples]:
        rec = ds.record(predictions.index(pred))
        image = Image.open(data / rec["file_name"]).convert("RGB")
        gt = [{"keypoints": p[kset.field]} for p in rec.get("people", []) if p.get(kset.field)]
        tiles.append(np.concatenate([np.asarray(draw_people(image, pred["people"], kset.limbs)),
                                     np.asarray(draw_people(image, gt, kset.limbs))], axis=1))
    if tiles:
        Image.fromarray(np.concatenate(tiles, axis=0)).save(out / "predictions_vs_truth.png")
    md = [f"# Keypoint evaluation of {metrics['checkpoint']}", "", f"Data: {data} ({metrics['images']} images, "
          f"{metrics['people']} people); input size {metrics['input_size']}.", "", table_markdown({"model": metrics}),
          "", "![mAP by visible-joint ratio](map_by_visible_ratio.png)", "",
          "Predictions (left) vs ground truth (right):", "", "![predictions](predictions_vs_truth.png)", ""]
    (out / "report.md").write_text("\n".join(md))
