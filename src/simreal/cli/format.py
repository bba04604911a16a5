"""Rich rendering of command results (kept out of the command modules so that file stays a thin parser)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def print_info(console: Console, s: dict[str, Any]) -> None:
    img = s["image"]
    size = f"{img['width']}×{img['height']}" if img.get("height") else "variable size"
    console.print(f"[bold]{s['name']}[/]  {s['path']}")
    console.print(f"  {s['count']} samples · task {s['task']} · domain {s['domain']} · {img['mode']} {size}"
                  f" · seed {s['seed']}")
    labels = Table(title="labels", show_edge=False)
    for col in ("field", "dtype", "shape", "units", "description"):
        labels.add_column(col)
    for name, spec in s["labels"].items():
        shape = "variable" if spec["shape"] is None else str(tuple(spec["shape"]))
        labels.add_row(name, spec["dtype"], shape, spec.get("units") or "", escape(spec["description"]))
    console.print(labels)
    if s["factors"]:
        factors = Table(title="factors", show_edge=False)
        factors.add_column("factor")
        factors.add_column("range / values")
        for name, f in s["factors"].items():
            if "min" in f:
                factors.add_row(name, f"{f['min']:.4g} … {f['max']:.4g}")
            else:
                vals = list(f["values"].items())
                text = ", ".join(f"{k} ({v})" for k, v in vals[:6]) + (f", … {len(vals) - 6} more" if len(vals) > 6
                                                                         else "")
                factors.add_row(name, text)
        console.print(factors)
    console.print("[bold]provenance[/]")
    for depth, node in enumerate(s["provenance"]):
        arrow = "  " + "  " * depth + ("└─ " if depth else "")
        if node.get("missing"):
            console.print(f"{arrow}{node['name']} ({node['path']}, not found here)")
            continue
        extra = f" · checkpoint {node['checkpoint']['path']}" if node.get("checkpoint") else ""
        console.print(f"{arrow}{node['name']} [{node['domain']}] ← {node['command']}{extra}", highlight=False)


def print_accuracy_table(console: Console, accuracy: dict[str, dict[str, Any]], title: str) -> None:
    table = Table(title=title, show_edge=False)
    table.add_column("condition")
    table.add_column("accuracy (%)", justify="right")
    for name, a in accuracy.items():
        table.add_row(name, f"{100 * a['mean']:.1f} ± {100 * a['std']:.1f}")
    console.print(table)


def print_gaze_table(console: Console, results: dict[str, Any]) -> None:
    """The gaze experiment's conditions: % within 7°, mean and median angular error."""
    target = "SIMULATED webcam eyes" if results["builtin_data"] else "the test set"
    table = Table(title=f"GazeNet on {results['counts']['test']} images of {target}, {results['seeds']} seed(s)")
    for col in ("training data", "images", "% within 7°", "mean error (°)", "median error (°)"):
        table.add_column(col, justify="left" if col == "training data" else "right")
    for name, c in results["conditions"].items():
        table.add_row(name, str(c["train_count"]), f"{c['within_7_deg_pct']['mean']:.1f}",
                      f"{c['mean_error_deg']['mean']:.2f}", f"{c['median_error_deg']['mean']:.2f}")
    console.print(table)
    shifts = ", ".join(f"{v} {s['mean_px']:.2f} ± {s['std_px']:.2f} px" for v, s in results["pupil_shift_px"].items())
    console.print(f"pupil shift synthetic → refined: {shifts}")


def print_hand_table(console: Console, results: dict[str, Any]) -> None:
    """The hand experiment's conditions: % within 5 px (every joint, mean joint), mean joint error; the observer."""
    target = "SIMULATED Kinect depth" if results["builtin_data"] else "the test set"
    table = Table(title=f"stacked hourglass on {results['counts']['test']} crops of {target}, "
                        f"{results['seeds']} seed(s); pixels of a 224×224 crop")
    for col in ("training data", "crops", "% within 5 px", "% within 5 px (mean joint)", "mean error (px)",
                "mean error (mm)"):
        table.add_column(col, justify="left" if col == "training data" else "right")
    for name, c in results["conditions"].items():
        table.add_row(name, str(c["train_count"]), f"{c['within_5_px_pct']['mean']:.1f}",
                      f"{c['within_5_px_mean_joint_pct']['mean']:.1f}", f"{c['mean_joint_error_px']['mean']:.1f}",
                      f"{c['mean_joint_error_mm']['mean']:.1f}")
    console.print(table)
    seen = ", ".join(f"{k} {100 * o['accuracy']:.1f} %" for k, o in results["observer"].items())
    console.print(f"machine observer vs the target pool (50 % = indistinguishable): {seen}")
    moved = ", ".join(f"{k} {d['mean_abs_mm']:.1f} mm" for k, d in results["depth_change"].items())
    console.print(f"mean absolute depth change on the hand, synthetic → refined: {moved}")
