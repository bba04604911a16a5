"""Numbered run directories (``RUNS/00007-name/``) with a resolved config and a stats log."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from simreal.utils.errors import SimrealError
from simreal.utils.fileio import atomic_write_json

_RUN_RE = re.compile(r"^(\d{5})-")


def next_run_dir(runs: str | Path, name: str) -> Path:
    """Create and return ``runs/NNNNN-name`` with NNNNN one more than the largest existing id."""
    runs = Path(runs)
    if runs.exists() and not runs.is_dir():
        raise SimrealError(f"{runs}: --runs must be a folder, this is a file")
    runs.mkdir(parents=True, exist_ok=True)
    ids = [int(m.group(1)) for p in runs.iterdir() if (m := _RUN_RE.match(p.name))]
    run_id = max(ids, default=-1) + 1
    while True:
        path = runs / f"{run_id:05d}-{name}"
        try:
            path.mkdir()
            return path
        except FileExistsError:  # another process took this id
            run_id += 1


class StatsLogger:
    """Appends one JSON line per logging tick to ``stats.jsonl`` and mirrors scalars to TensorBoard.

    TensorBoard is optional: if the ``tensorboard`` package is missing, only the JSONL is written.
    """

    def __init__(self, run_dir: str | Path, tensorboard: bool = True, resume_step: int | None = None):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / "stats.jsonl"
        if resume_step is not None:
            self._truncate_after(resume_step)
        self._writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(str(self.run_dir / "tensorboard"))
            except ImportError:  # pragma: no cover - tensorboard is a declared dependency
                self._writer = None
        self._t0 = time.time()

    def _truncate_after(self, step: int) -> None:
        """On resume, drop lines logged after the checkpoint so the log has no duplicate steps."""
        if not self.path.exists():
            return
        keep = [ln for ln in self.path.read_text().splitlines() if ln and json.loads(ln).get("step", 0) <= step]
        self.path.write_text("".join(k + "\n" for k in keep))

    def log(self, step: int, **scalars: float) -> None:
        row: dict[str, Any] = {"step": int(step), "time_s": round(time.time() - self._t0, 3)}
        row.update({k: float(v) for k, v in scalars.items()})
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        if self._writer is not None:
            for key, value in scalars.items():
                self._writer.add_scalar(key, float(value), step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def write_config(run_dir: str | Path, config: dict[str, Any]) -> Path:
    return atomic_write_json(Path(run_dir) / "config.json", config)


def read_stats(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if path.is_dir():
        path = path / "stats.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def claim_study_dir(out: str | Path, config: dict[str, Any], inputs: list[str | Path | None] = ()) -> None:
    """Lets a study reuse the finished stages in ``out`` only when they were made with the same ``config``
    and ``inputs`` (recorded in ``out/study-config.json``); a folder made for another study is refused.

    Leave out of ``config`` what only selects which conditions run (seeds, variants, samplers), so that a
    rerun with more of them reuses the finished ones."""
    from simreal.utils.errors import SimrealError

    out = Path(out)
    stamp = out / "study-config.json"
    current = json.loads(json.dumps({"config": config, "inputs": [str(Path(p).resolve()) if p else None
                                                                  for p in inputs]}))
    if stamp.exists() and json.loads(stamp.read_text()) != current:
        raise SimrealError(f"{out} holds a study with another configuration or other datasets; "
                           "use another --out (or delete it)")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(stamp, current)
