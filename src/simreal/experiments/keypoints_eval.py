"""``simreal evaluate --task keypoints``: predict people on a dataset, then MPII AP, PCKh, OKS AP, mAP by
visible-joint ratio, and a report (table, plot, predictions next to ground truth)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from simreal.data.reader import SimrealDataset
from simreal.data.show import draw_people
from simreal.evaluate.keypoints import (
    COCO_SIGMAS,
    MPII_SIGMAS,
    Person,
    ap_by_visibility,
    head_size,
    mpii_ap,
    oks_ap,
    pckh,
)
from simreal.tasks.keypoints.predict import predict_people
from simreal.tasks.keypoints.targets import KeypointSet
from simreal.train.keypoints import load_keypoint_model
from simreal.utils.errors import DatasetError
from simreal.utils.fileio import atomic_write_bytes, atomic_write_json
from simreal.utils.progress import progress_bar


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


def evaluate_keypoints(checkpoint: str | Path, data: str | Path, device: str = "auto", size: int = 368,
                       limit: int = 0, report_dir: str | Path | None = None, show_progress: bool | None = None,
                       **mpii_options: bool) -> dict[str, Any]:
    model, cfg = load_keypoint_model(checkpoint, device)
    from simreal.tasks.keypoints.targets import keypoint_set

    return evaluate_keypoint_model(model, keypoint_set(cfg.keypoint_set), data, size, limit, report_dir,
                                   show_progress, name=str(checkpoint), **mpii_options)


def evaluate_keypoint_model(model: Any, kset: KeypointSet, data: str | Path, size: int = 368, limit: int = 0,
                            report_dir: str | Path | None = None, show_progress: bool | None = None,
                            name: str = "(in memory)", **mpii_options: bool) -> dict[str, Any]:
    """Metrics (and optionally a report) of an OpenPose model on a keypoint dataset; ``mpii_options``
    (``count_unpredicted``, ``skip_unannotated``) go to :func:`keypoint_metrics`."""
    model.eval()
    ds = SimrealDataset(data)
    if ds.manifest["task"] != "keypoints":
        raise DatasetError(f"a keypoint dataset is needed (task is {ds.manifest['task']!r})", data)
    n = min(len(ds), limit) if limit else len(ds)
    images, areas, ratios, predictions = [], [], [], []
    with progress_bar(show_progress) as bar:
        task = bar.add_task("evaluate keypoints", total=n, status="")
        for i in range(n):
            rec = ds.record(i)
            image = np.asarray(Image.open(Path(data) / rec["file_name"]).convert("RGB"))
            preds = predict_people(model, image, kset, size)
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
    lines = ["| model | " + " | ".join(cols) + " | mAP | PCKh@0.5 | OKS AP |", "|---" * (len(cols) + 4) + "|"]
    for name, m in rows.items():
        t = m.get("mpii", {}).get("table", {})
        cells = [f"{t[c]:.1f}" if c in t else "–" for c in cols]
        mp = f"{m['mpii']['mAP']:.1f}" if "mpii" in m else "–"
        pk = f"{m['pckh']['PCKh@0.5']:.1f}" if "pckh" in m else "–"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {mp} | {pk} | {m['oks']['AP']:.1f} |")
    return "\n".join(lines)


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
