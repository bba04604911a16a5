"""What every study's report shares: one summary of repeated runs, one Markdown table, the machine it ran on."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from simreal.utils.errors import InputError

#: how every report computes "± std" over seeds: the sample standard deviation (ddof = 1), 0 for one run
STD_DDOF = 1


def mean_std(values: Iterable[float]) -> dict[str, Any]:
    """``{"mean", "std", "values"}`` of repeated runs (seeds); ``std`` is the sample standard deviation
    (``ddof = 1``, the one Welch's t-test uses), 0.0 for a single run."""
    v = [float(x) for x in values]
    if not v:
        return {"mean": float("nan"), "std": float("nan"), "values": []}
    return {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=STD_DDOF)) if len(v) > 1 else 0.0, "values": v}


def format_mean_std(s: dict[str, Any], digits: int = 1) -> str:
    """``mean ± std`` of a :func:`mean_std` result (the mean alone for a single run)."""
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}" if len(s["values"]) > 1 else f"{s['mean']:.{digits}f}"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub Markdown table; cells are used as given (format numbers before)."""
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        if len(r) != len(header):
            raise InputError(f"a row has {len(r)} cells for {len(header)} columns: {list(r)}")
        lines.append("| " + " | ".join(r) + " |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """What a measured time depends on: platform, processor, cores, torch threads and versions."""
    import torch

    import simreal

    return {"platform": platform.platform(terse=True), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "simreal": simreal.__version__,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
