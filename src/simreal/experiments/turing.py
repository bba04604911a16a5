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

import dataclasses
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
from simreal.utils.errors import NotFoundError, SimrealError
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
    scale: int = 0  # images are shown enlarged by this integer factor (nearest neighbour); 0: shorter side ≥ 200 px
    seed: int = 0
    match_levels: bool = False  # show synthetic images quantised to the grey levels of the real ones
    max_subjects: int = 1000  # refuse new subjects beyond this (an open page cannot fill the disk)


MIN_DISPLAY_PX = 200
MAX_MS = 24 * 3600 * 1000  # a response time beyond a day is not a response time
#: What the images show, for the page's instructions, by dataset task.
SUBJECTS = {"digits": "images of handwritten digits", "gaze": "images of eyes", "keypoints": "images of people",
            "hand": "depth images of hands"}


def auto_scale(height: int | None, width: int | None) -> int:
    """The integer enlargement that shows an image's shorter side at ≥ 200 px (1 for large or variable sizes)."""
    if not height or not width:
        return 1
    return max(1, -(-MIN_DISPLAY_PX // min(height, width)))


def quantise_to(arr: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Every pixel of ``arr`` replaced by the nearest of the sorted grey ``levels``."""
    idx = np.clip(np.searchsorted(levels, arr), 1, len(levels) - 1)
    lower, upper = levels[idx - 1], levels[idx]
    return np.where(np.abs(arr.astype(int) - lower) <= np.abs(upper.astype(int) - arr), lower, upper).astype(arr.dtype)


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
            cfg = cfg or TuringConfig()
            if cfg.scale == 0:
                image = read_manifest(real)["image"]
                cfg = dataclasses.replace(cfg, scale=auto_scale(image.get("height"), image.get("width")))
            given = {"config": to_dict(cfg),
                     "datasets": {c: {"path": str(Path(p).resolve()), "hash": manifest_hash(p)}
                                  for c, p in zip(CLASSES, (real, synthetic), strict=True)}}
        elif not self.db.exists():
            raise SimrealError(f"{self.db}: no study here yet; give --real and --synthetic to create one")
        created = not self.db.exists()
        try:
            with closing(self._connect()) as con, con:
                con.executescript(SCHEMA)
                stored = {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM meta")}
                if stored:  # a study made before a setting existed has that setting's default
                    stored["config"] = to_dict(TuringConfig(**stored["config"]))
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
        self._levels: np.ndarray | None = None
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
        if not name or len(name) > 100 or not name.isprintable():
            raise SimrealError("a subject name has 1 to 100 printable characters")
        token = secrets.token_urlsafe(16)
        with closing(self._connect()) as con, con:
            if con.execute("SELECT COUNT(*) FROM subjects").fetchone()[0] >= self.cfg.max_subjects:
                raise SimrealError(f"this study is full ({self.cfg.max_subjects} subjects)")
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
            raise NotFoundError(token)
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
        if not 0 <= k < 2 * self.cfg.per_class:
            raise SimrealError(f"there is no trial {k}")
        if ms is not None and not 0 <= ms <= MAX_MS:
            raise SimrealError(f"a response time is 0 to {MAX_MS} ms, not {ms}")
        with closing(self._connect()) as con, con:
            sid, _ = self._subject(con, token)
            # "is k the next unanswered trial" and the write in one statement: simultaneous submissions of the
            # same trial cannot both land
            cur = con.execute("UPDATE trials SET answer = ?, ms = ?, answered = ? WHERE subject = ? AND k = ? "
                              "AND answer IS NULL AND k = (SELECT MIN(k) FROM trials WHERE subject = ? AND "
                              "answer IS NULL)", (answer, ms, time.time(), sid, k, sid))
            if cur.rowcount != 1:
                raise SimrealError(f"trial {k} is not the next one to answer")

    def trial_image(self, token: str, k: int) -> bytes:
        with closing(self._connect()) as con:
            sid, _ = self._subject(con, token)
            row = con.execute("SELECT truth, idx FROM trials WHERE subject = ? AND k = ?", (sid, k)).fetchone()
        if row is None:
            raise NotFoundError(k)
        return self._png(*row)

    def example_image(self, cls: str, i: int) -> bytes:
        if cls not in CLASSES or not 0 <= i < len(self.examples[cls]):
            raise NotFoundError((cls, i))
        return self._png(cls, int(self.examples[cls][i]))

    @property
    def levels(self) -> np.ndarray:
        """The grey values that occur in the real images (read once, when first needed)."""
        if self._levels is None:
            real = self.datasets["real"]
            with self._lock:
                self._levels = np.unique(np.concatenate([np.unique(real.image_array(i)) for i in range(len(real))]))
        return self._levels

    def _png(self, cls: str, idx: int) -> bytes:
        with self._lock:
            arr = self.datasets[cls].image_array(idx)
        if cls == "synthetic" and self.cfg.match_levels:
            arr = quantise_to(arr, self.levels)
        return display_png(arr, self.cfg.scale)

    def description(self) -> str:
        """What the images show, for the instructions ("images of handwritten digits")."""
        return SUBJECTS.get(self.datasets["real"].manifest["task"], "images")

    def tells(self) -> list[str]:
        """Simple statistics that alone separate the real from the synthetic images as shown (number of grey
        levels, PNG size, mean brightness): a subject could answer from them without judging realism."""
        stats: dict[str, dict[str, list[float]]] = {c: {"grey levels": [], "file size": [], "mean brightness": []}
                                                    for c in CLASSES}
        for c in CLASSES:
            ds = self.datasets[c]
            for i in self.pools[c][:200]:
                with self._lock:
                    arr = ds.image_array(int(i))
                if c == "synthetic" and self.cfg.match_levels:
                    arr = quantise_to(arr, self.levels)
                stats[c]["grey levels"].append(len(np.unique(arr)))
                stats[c]["file size"].append(len(display_png(arr, 1)))
                stats[c]["mean brightness"].append(float(arr.mean()))
        found = []
        for name in stats["real"]:
            r, s_ = np.array(stats["real"][name]), np.array(stats["synthetic"][name])
            if r.max() < s_.min() or s_.max() < r.min():
                found.append(f"{name}: real {r.min():g}–{r.max():g}, synthetic {s_.min():g}–{s_.max():g}")
        return found

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
        """Pooled and per-subject scores of every answered trial (subjects as "name (#id)"), and the same over
        the subjects who answered all their trials (``complete``); each subject says whether it is complete."""
        rows = self.answers()
        res = score_answers([r["truth"] for r in rows], [r["answer"] for r in rows],
                            [f"{r['subject']} (#{r['subject_id']})" for r in rows])
        per_subject = 2 * self.cfg.per_class
        counts: dict[str, int] = {}
        for r in rows:
            key = f"{r['subject']} (#{r['subject_id']})"
            counts[key] = counts.get(key, 0) + 1
        for key, v in res["subjects"].items():
            v["complete"] = counts[key] == per_subject
        full = [r for r in rows if counts[f"{r['subject']} (#{r['subject_id']})"] == per_subject]
        res["complete"] = score_answers([r["truth"] for r in full], [r["answer"] for r in full]) if full else None
        if res["complete"] is not None:
            res["complete"].pop("subjects", None)
            res["complete"]["n_subjects"] = sum(v["complete"] for v in res["subjects"].values())
        ms = [r["ms"] for r in rows if r["ms"] is not None]
        res["median_ms"] = float(np.median(ms)) if ms else None
        res["study"] = self.meta
        return res


def plain_text(name: str) -> str:
    """``name`` as matplotlib shows it literally (no mathtext: ``$`` escaped)."""
    return name.replace("$", r"\$")


def markdown_text(name: str) -> str:
    """``name`` as literal text in Markdown (and the HTML it may become)."""
    out = "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|$~" else ch for ch in name)
    return out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text, never runs as a formula (OWASP: a leading ' on = + - @ tab CR)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_report(study: TuringStudy, out: str | Path) -> dict[str, Any]:
    """``results.json`` (pooled and per-subject scores, confusion matrix, the study's settings),
    ``answers.csv`` (every answered trial), ``subjects.png`` (accuracy per subject with 95 % intervals) and
    ``report.md`` in ``out``. Subject names are written as plain text everywhere."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simreal.utils.fileio import atomic_write, atomic_write_json
    from simreal.utils.report import markdown_table

    out = Path(out)
    res = study.score()
    if not res["trials"]:
        raise SimrealError(f"{study.db}: no answers yet")
    rows = study.answers()

    def write_csv(path: Path) -> None:
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows({k: csv_cell(v) for k, v in r.items()} for r in rows)

    subjects = res["subjects"]
    fig, ax = plt.subplots(figsize=(max(5.5, 0.6 * len(subjects) + 2), 3.4))
    names = list(subjects)
    acc = [100 * subjects[s]["accuracy"] for s in names]
    err = [[a - 100 * subjects[s]["ci95"][0] for a, s in zip(acc, names, strict=True)],
           [100 * subjects[s]["ci95"][1] - a for a, s in zip(acc, names, strict=True)]]
    ax.bar(range(len(names)), acc, yerr=err, capsize=3, color="#4c72b0")
    ax.axhline(50, color="k", ls="--", lw=1, label="chance")
    ax.set_xticks(range(len(names)), [plain_text(n) for n in names], rotation=30, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel("correct (%)")
    ax.set_title(f"visual Turing test: {100 * res['accuracy']:.1f} % pooled, p = {res['p_value']:.3g}", fontsize=10)
    ax.legend(loc="lower right")
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=120)  # rendered before any file is written: a failure leaves none
    plt.close(fig)

    c = res["confusion"]
    verdict = ("better than chance (p < 0.05): people can tell the synthetic images from real ones"
               if res["p_value"] < 0.05 else
               "not better than chance (p ≥ 0.05): people could not reliably tell the synthetic images from real ones")
    per = [[markdown_text(s), str(v["trials"]), "yes" if v["complete"] else "no", f"{100 * v['accuracy']:.1f}",
            f"{v['p_value']:.3g}"] for s, v in subjects.items()]
    full = res["complete"]
    complete_line = (f"Subjects who answered all their trials ({full['n_subjects']}): {full['correct']} of "
                     f"{full['trials']} correct ({100 * full['accuracy']:.1f} %), p = {full['p_value']:.3g}."
                     if full else "No subject has answered all their trials yet.")
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
        "", complete_line, "",
        markdown_table(["subject", "trials", "complete", "correct (%)", "p"], per), "",
        f"Median response time: {res['median_ms'] / 1000:.1f} s." if res["median_ms"] is not None else "", "",
        "![accuracy per subject](subjects.png)", ""])
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "results.json", res)
    atomic_write(out / "answers.csv", write_csv)
    atomic_write(out / "subjects.png", lambda p: p.write_bytes(png.getvalue()))
    atomic_write(out / "report.md", lambda p: p.write_text(text, encoding="utf-8"))
    return res
