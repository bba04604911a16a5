"""The visual Turing test (SimGAN, section 3.1) as a small web study: people label images as real or synthetic.

Protocol, as in the paper: every subject sees ``per_class`` real and ``per_class`` synthetic (refined, or raw)
images in a random order, one at a time, and answers "real" or "synthetic", while ``examples`` labelled
examples of each kind stay on screen (the paper: "constantly shown 20 examples of real and refined images";
simreal reads that as 10 of each by default). Example images are never used as trials. A subject's images
and order come from (seed, subject number), so a study is reproducible; the URL of a trial image names only
the subject's secret token and the trial number, never the class.

Everything lives in one SQLite file: the study's settings and datasets (a second ``serve`` on the same file
must use the same ones), the subjects, and every trial with its answer and response time. Scoring is
:func:`simreal.evaluate.turing.score_answers`.
"""

from __future__ import annotations

import io
import json
import secrets
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from simreal.data.reader import SimrealDataset, manifest_hash, read_manifest
from simreal.evaluate.turing import CLASSES, score_answers
from simreal.utils.config import to_dict
from simreal.utils.errors import SimrealError
from simreal.utils.seeding import numpy_rng

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subjects (id INTEGER PRIMARY KEY, token TEXT UNIQUE NOT NULL, name TEXT NOT NULL,
                                     started REAL NOT NULL);
CREATE TABLE IF NOT EXISTS trials (subject INTEGER NOT NULL REFERENCES subjects(id), k INTEGER NOT NULL,
                                   truth TEXT NOT NULL, idx INTEGER NOT NULL, answer TEXT, ms INTEGER,
                                   answered REAL, PRIMARY KEY (subject, k));
"""


@dataclass(frozen=True)
class TuringConfig:
    per_class: int = 50  # trials per subject of each kind (paper: 50 real + 50 refined)
    examples: int = 10  # labelled examples of each kind on screen (paper: 20 in all)
    scale: int = 4  # images are shown enlarged by this integer factor (nearest neighbour: no smoothing)
    seed: int = 0


def display_png(arr: np.ndarray, scale: int) -> bytes:
    """PNG of an image as stored (uint8 L/RGB, or 16-bit depth stretched to 8 bits), enlarged ``scale``×."""
    if arr.dtype != np.uint8:
        a = arr.astype(np.float64)
        valid = a > 0
        lo, hi = (a[valid].min(), a[valid].max()) if valid.any() else (0.0, 1.0)
        arr = np.where(valid, 255 * (1 - (a - lo) / max(hi - lo, 1e-9)), 0).astype(np.uint8)  # near = bright
    img = Image.fromarray(arr)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


class TuringStudy:
    """One study in one SQLite file. ``real``/``synthetic``/``cfg`` are needed to create it; reopening it
    with other ones is refused."""

    def __init__(self, db: str | Path, real: str | Path | None = None, synthetic: str | Path | None = None,
                 cfg: TuringConfig | None = None):
        self.db = Path(db)
        self._lock = threading.Lock()  # datasets keep one file handle; image reads are serialised
        given = None
        if real is not None or synthetic is not None:
            if real is None or synthetic is None:
                raise SimrealError("give both --real and --synthetic")
            for path in (real, synthetic):
                read_manifest(path)  # a clear error for a folder that is not a dataset
            given = {"config": to_dict(cfg or TuringConfig()),
                     "datasets": {c: {"path": str(Path(p).resolve()), "hash": manifest_hash(p)}
                                  for c, p in zip(CLASSES, (real, synthetic), strict=True)}}
        elif not self.db.exists():
            raise SimrealError(f"{self.db}: no study here yet; give --real and --synthetic to create one")
        created = not self.db.exists()
        try:
            with closing(self._connect()) as con, con:
                con.executescript(SCHEMA)
                stored = {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM meta")}
                if not stored and given is None:
                    raise SimrealError(f"{self.db}: no study here yet; give --real and --synthetic to create one")
                if stored and given is not None and json.loads(json.dumps(given)) != stored:
                    raise SimrealError(f"{self.db} holds a study with other datasets or settings; use another --db")
                self._open(stored or given)  # checks the datasets before a new study is recorded
                if not stored:
                    con.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in given.items()])
        except sqlite3.DatabaseError as exc:
            raise SimrealError(f"{self.db}: not a study database ({exc})") from None
        except BaseException:
            if created:  # leave nothing behind when a new study could not be made
                self.db.unlink(missing_ok=True)
            raise

    def _open(self, meta: dict[str, Any]) -> None:
        self.meta = meta
        self.cfg = TuringConfig(**meta["config"])
        for c in CLASSES:
            d = meta["datasets"][c]
            if not (Path(d["path"]) / "dataset.json").is_file() or manifest_hash(d["path"]) != d["hash"]:
                raise SimrealError(f"the {c} dataset {d['path']} is missing or has changed since the study began")
        self.datasets = {c: SimrealDataset(meta["datasets"][c]["path"]) for c in CLASSES}
        self._check_datasets()
        self.examples, self.pools = {}, {}
        for stream, c in enumerate(CLASSES):
            order = numpy_rng(self.cfg.seed, stream).permutation(len(self.datasets[c]))
            self.examples[c], self.pools[c] = order[: self.cfg.examples], order[self.cfg.examples:]

    def _connect(self) -> sqlite3.Connection:
        self.db.parent.mkdir(parents=True, exist_ok=True)
        return sqlite3.connect(self.db, timeout=30)

    def _check_datasets(self) -> None:
        real, syn = self.datasets["real"], self.datasets["synthetic"]
        shapes = {c: (d.mode, d.manifest["image"].get("height"), d.manifest["image"].get("width"))
                  for c, d in self.datasets.items()}
        if shapes["real"] != shapes["synthetic"]:
            raise SimrealError(f"real images are {shapes['real']} but synthetic ones {shapes['synthetic']} "
                               "(mode, height, width): a subject could tell them apart by that alone")
        need = self.cfg.per_class + self.cfg.examples
        for c, d in (("real", real), ("synthetic", syn)):
            if len(d) < need:
                raise SimrealError(f"the {c} dataset has {len(d)} images; a subject needs {need} "
                                   f"({self.cfg.per_class} trials + {self.cfg.examples} examples)")

    # -- subjects and trials -----------------------------------------------------------------------------
    def new_subject(self, name: str) -> str:
        """Registers a subject and draws their trials; returns their secret token."""
        name = name.strip()
        if not name or len(name) > 100:
            raise SimrealError("a subject name has 1 to 100 characters")
        token = secrets.token_urlsafe(16)
        with closing(self._connect()) as con, con:
            sid = con.execute("INSERT INTO subjects (token, name, started) VALUES (?, ?, ?)",
                              (token, name, time.time())).lastrowid
            rng = numpy_rng(self.cfg.seed, 100, sid)
            trials = [(c, int(i)) for c in CLASSES
                      for i in rng.choice(self.pools[c], self.cfg.per_class, replace=False)]
            order = rng.permutation(len(trials))
            con.executemany("INSERT INTO trials (subject, k, truth, idx) VALUES (?, ?, ?, ?)",
                            [(sid, k, *trials[j]) for k, j in enumerate(order)])
        return token

    def _subject(self, con: sqlite3.Connection, token: str) -> tuple[int, str]:
        row = con.execute("SELECT id, name FROM subjects WHERE token = ?", (token,)).fetchone()
        if row is None:
            raise KeyError(token)
        return row

    def status(self, token: str) -> dict[str, Any]:
        """The subject's name, how many trials they answered of how many, and the next trial (None when done)."""
        with closing(self._connect()) as con:
            sid, name = self._subject(con, token)
            total, done = con.execute("SELECT COUNT(*), COUNT(answer) FROM trials WHERE subject = ?",
                                      (sid,)).fetchone()
            nxt = con.execute("SELECT MIN(k) FROM trials WHERE subject = ? AND answer IS NULL", (sid,)).fetchone()[0]
        return {"name": name, "answered": done, "total": total, "next": nxt}

    def answer(self, token: str, k: int, answer: str, ms: int | None = None) -> None:
        """Records the answer to trial ``k``; each trial is answered once, in order."""
        if answer not in CLASSES:
            raise SimrealError(f"an answer is 'real' or 'synthetic', not {answer!r}")
        with closing(self._connect()) as con, con:
            sid, _ = self._subject(con, token)
            nxt = con.execute("SELECT MIN(k) FROM trials WHERE subject = ? AND answer IS NULL", (sid,)).fetchone()[0]
            if nxt != k:
                raise SimrealError(f"trial {k} is not the next one to answer")
            con.execute("UPDATE trials SET answer = ?, ms = ?, answered = ? WHERE subject = ? AND k = ?",
                        (answer, ms, time.time(), sid, k))

    def trial_image(self, token: str, k: int) -> bytes:
        with closing(self._connect()) as con:
            sid, _ = self._subject(con, token)
            row = con.execute("SELECT truth, idx FROM trials WHERE subject = ? AND k = ?", (sid, k)).fetchone()
        if row is None:
            raise KeyError(k)
        return self._png(*row)

    def example_image(self, cls: str, i: int) -> bytes:
        if cls not in CLASSES or not 0 <= i < len(self.examples[cls]):
            raise KeyError((cls, i))
        return self._png(cls, int(self.examples[cls][i]))

    def _png(self, cls: str, idx: int) -> bytes:
        with self._lock:
            arr = self.datasets[cls].image_array(idx)
        return display_png(arr, self.cfg.scale)

    # -- results ---------------------------------------------------------------------------------------------
    def answers(self, token: str | None = None) -> list[dict[str, Any]]:
        """Every answered trial (of one subject with ``token``), in order."""
        where, args = ("AND s.token = ?", (token,)) if token is not None else ("", ())
        with closing(self._connect()) as con:
            rows = con.execute("SELECT s.name, s.id, t.k, t.truth, t.idx, t.answer, t.ms FROM trials t "
                               f"JOIN subjects s ON s.id = t.subject WHERE t.answer IS NOT NULL {where} "
                               "ORDER BY s.id, t.k", args).fetchall()
        keys = ("subject", "subject_id", "trial", "truth", "index", "answer", "ms")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def subject_score(self, token: str) -> dict[str, Any]:
        rows = self.answers(token)
        return score_answers([r["truth"] for r in rows], [r["answer"] for r in rows])

    def score(self) -> dict[str, Any]:
        """Pooled and per-subject scores of every answered trial (subjects as "name (#id)")."""
        rows = self.answers()
        res = score_answers([r["truth"] for r in rows], [r["answer"] for r in rows],
                            [f"{r['subject']} (#{r['subject_id']})" for r in rows])
        ms = [r["ms"] for r in rows if r["ms"] is not None]
        res["median_ms"] = float(np.median(ms)) if ms else None
        res["study"] = self.meta
        return res


def write_report(study: TuringStudy, out: str | Path) -> dict[str, Any]:
    """``results.json`` (pooled and per-subject scores, confusion matrix, the study's settings),
    ``answers.csv`` (every answered trial), ``subjects.png`` (accuracy per subject with 95 % intervals) and
    ``report.md`` in ``out``."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simreal.experiments.report import markdown_table
    from simreal.utils.fileio import atomic_write, atomic_write_json

    out = Path(out)
    res = study.score()
    if not res["trials"]:
        raise SimrealError(f"{study.db}: no answers yet")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "results.json", res)
    rows = study.answers()

    def write_csv(path: Path) -> None:
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)

    atomic_write(out / "answers.csv", write_csv)
    subjects = res["subjects"]
    fig, ax = plt.subplots(figsize=(max(5.5, 0.6 * len(subjects) + 2), 3.4))
    names = list(subjects)
    acc = [100 * subjects[s]["accuracy"] for s in names]
    err = [[a - 100 * subjects[s]["ci95"][0] for a, s in zip(acc, names, strict=True)],
           [100 * subjects[s]["ci95"][1] - a for a, s in zip(acc, names, strict=True)]]
    ax.bar(range(len(names)), acc, yerr=err, capsize=3, color="#4c72b0")
    ax.axhline(50, color="k", ls="--", lw=1, label="chance")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel("correct (%)")
    ax.set_title(f"visual Turing test: {100 * res['accuracy']:.1f} % pooled, p = {res['p_value']:.3g}", fontsize=10)
    ax.legend(loc="lower right")
    fig.tight_layout()
    atomic_write(out / "subjects.png", lambda p: fig.savefig(p, format="png", dpi=120))
    plt.close(fig)

    c = res["confusion"]
    verdict = ("better than chance (p < 0.05): people can tell the synthetic images from real ones"
               if res["p_value"] < 0.05 else
               "not better than chance (p ≥ 0.05): people could not reliably tell the synthetic images from real ones")
    per = [[s, str(v["trials"]), f"{100 * v['accuracy']:.1f}", f"{v['p_value']:.3g}"] for s, v in subjects.items()]
    ds = res["study"]["datasets"]
    text = "\n".join([
        "# Visual Turing test", "",
        f"Real: `{ds['real']['path']}`; synthetic: `{ds['synthetic']['path']}`. {len(subjects)} subject(s), "
        f"{res['trials']} answered trials ({study.cfg.per_class} real + {study.cfg.per_class} synthetic per "
        f"subject, {study.cfg.examples} labelled examples of each on screen).", "",
        f"**{res['correct']} of {res['trials']} correct ({100 * res['accuracy']:.1f} %, 95 % CI "
        f"{100 * res['ci95'][0]:.1f}–{100 * res['ci95'][1]:.1f} %), one-sided binomial p = {res['p_value']:.3g}**: "
        f"{verdict}. (SimGAN paper: 517 of 1,000, p = 0.148, for refined eyes; 162 of 200 for raw synthetic.)",
        "", "Confusion matrix (the paper's Table 1):", "",
        markdown_table(["", "selected as real", "selected as synthetic"],
                       [["ground truth real", str(c["real"]["real"]), str(c["real"]["synthetic"])],
                        ["ground truth synthetic", str(c["synthetic"]["real"]), str(c["synthetic"]["synthetic"])]]),
        "", markdown_table(["subject", "trials", "correct (%)", "p"], per), "",
        f"Median response time: {res['median_ms'] / 1000:.1f} s." if res["median_ms"] is not None else "", "",
        "![accuracy per subject](subjects.png)", ""])
    atomic_write(out / "report.md", lambda p: p.write_text(text, encoding="utf-8"))
    return res
