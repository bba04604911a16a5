"""The visual Turing test: scoring against the paper's numbers, the study's protocol, the web page, the report."""

from __future__ import annotations

import io
import json
import re
import sqlite3

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from simreal.cli import app
from simreal.data.reader import SimrealDataset
from simreal.evaluate.turing import score_answers
from simreal.experiments.turing import TuringConfig, TuringStudy, display_png, write_report
from simreal.experiments.turing_web import create_app
from simreal.simulate.write import generate_digits
from simreal.utils.errors import SimrealError

CFG = TuringConfig(per_class=5, examples=3, scale=2, seed=0)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("turing")
    return (generate_digits(root / "real", 12, 1, show_progress=False),
            generate_digits(root / "syn", 12, 2, show_progress=False))


def test_score_reproduces_the_papers_tests():
    pooled = score_answers(["real"] * 517 + ["synthetic"] * 483, ["real"] * 1000)
    assert pooled["correct"] == 517 and round(pooled["p_value"], 3) == 0.148  # paper: p = 0.148
    raw = score_answers(["real"] * 162 + ["synthetic"] * 38, ["real"] * 200)
    assert raw["p_value"] < 1e-8  # paper: p ≤ 1e-8
    r = score_answers(["real", "real", "synthetic", "synthetic", "synthetic"],
                      ["real", "synthetic", "synthetic", "real", "synthetic"], ["a", "a", "a", "b", "b"])
    assert r["confusion"] == {"real": {"real": 1, "synthetic": 1}, "synthetic": {"real": 1, "synthetic": 2}}
    assert r["accuracy"] == 0.6 and r["subjects"]["a"]["correct"] == 2 and r["subjects"]["b"]["trials"] == 2
    assert r["ci95"][0] < 0.6 < r["ci95"][1] < 1  # a two-sided interval, not the one-sided test's
    assert [round(v, 3) for v in pooled["ci95"]] == [0.486, 0.548]  # Clopper–Pearson for 517 / 1,000
    with pytest.raises(ValueError, match="'real' or 'synthetic'"):
        score_answers(["real"], ["fake"])


def _truth(db, token):
    with sqlite3.connect(db) as con:
        return [t for (t,) in con.execute("SELECT truth FROM trials t JOIN subjects s ON s.id = t.subject "
                                          "WHERE s.token = ? ORDER BY k", (token,))]


def test_web_study_end_to_end(datasets, tmp_path):
    real, syn = datasets
    db = tmp_path / "t.sqlite"
    study = TuringStudy(db, real, syn, CFG)
    client = create_app(study).test_client()
    assert b"Real or synthetic?" in client.get("/").data
    assert client.post("/start", data={"name": "  "}).status_code == 400
    r = client.post("/start", data={"name": "ann"})
    token = r.headers["Location"].rsplit("/", 1)[1]
    page = client.get(f"/s/{token}").data.decode()
    urls = re.findall(r'src="([^"]+)"', page)
    trial = [u for u in urls if "/trial/" in u]
    assert trial == [f"/s/{token}/trial/0.png"]  # the URL does not give the class away
    assert len([u for u in urls if "/example/" in u]) == 2 * CFG.examples
    img = Image.open(io.BytesIO(client.get(trial[0]).data))
    assert img.size == (16, 16)  # 8×8 digits shown 2×
    truth = _truth(db, token)
    assert sorted(truth) == ["real"] * 5 + ["synthetic"] * 5
    for k, t in enumerate(truth):
        assert client.post(f"/s/{token}/answer", data={"k": k, "answer": t, "ms": 900}).status_code == 302
    client.post(f"/s/{token}/answer", data={"k": 0, "answer": "real"})  # a stale resubmission is ignored
    assert "10 images; 10 of them correctly (100 %)" in client.get(f"/s/{token}").data.decode()
    assert client.get("/s/not-a-token").status_code == 404

    token2 = client.post("/start", data={"name": "bob"}).headers["Location"].rsplit("/", 1)[1]
    evil = client.post("/start", data={"name": "<script>x</script>"}).headers["Location"].rsplit("/", 1)[1]
    assert "&lt;script&gt;x" in client.get(f"/s/{evil}").data.decode()  # names are escaped
    for k in range(10):
        client.post(f"/s/{token2}/answer", data={"k": k, "answer": "real"})
    # examples are never trials, for either subject
    with sqlite3.connect(db) as con:
        used = {(t, i) for t, i in con.execute("SELECT truth, idx FROM trials")}
    assert not used & {(c, int(i)) for c in ("real", "synthetic") for i in study.examples[c]}

    r = CliRunner().invoke(app, ["turing", "report", "--db", str(db), "--out", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert (res["trials"], res["correct"]) == (20, 15)
    assert res["confusion"] == {"real": {"real": 10, "synthetic": 0}, "synthetic": {"real": 5, "synthetic": 5}}
    assert res["subjects"]["bob (#2)"]["accuracy"] == 0.5 and res["median_ms"] == 900  # subject 3 answered none
    assert (tmp_path / "rep" / "subjects.png").exists()
    assert len((tmp_path / "rep" / "answers.csv").read_text().splitlines()) == 21
    assert "| ground truth synthetic | 5 | 5 |" in (tmp_path / "rep" / "report.md").read_text()


def test_study_is_reproducible_and_guarded(datasets, tmp_path):
    real, syn = datasets
    a, b = TuringStudy(tmp_path / "a.sqlite", real, syn, CFG), TuringStudy(tmp_path / "b.sqlite", real, syn, CFG)
    assert _truth(a.db, a.new_subject("x")) == _truth(b.db, b.new_subject("y"))
    TuringStudy(a.db)  # reopened with its stored settings
    with pytest.raises(SimrealError, match="other datasets or settings"):
        TuringStudy(a.db, real, syn, TuringConfig(per_class=4, examples=3))
    with pytest.raises(SimrealError, match="needs 13"):
        TuringStudy(tmp_path / "c.sqlite", real, syn, TuringConfig(per_class=10, examples=3))
    assert not (tmp_path / "c.sqlite").exists()  # nothing left behind by a failed creation
    (tmp_path / "junk.sqlite").write_text("not a database, just text" * 10)
    with pytest.raises(SimrealError, match="not a study database"):
        TuringStudy(tmp_path / "junk.sqlite", real, syn, CFG)
    with pytest.raises(SimrealError, match="not the next one"):
        a.answer(a.new_subject("z"), 3, "real")
    r = CliRunner().invoke(app, ["turing", "report", "--db", str(b.db)])
    assert r.exit_code == 2 and "no answers yet" in r.output


def test_study_refuses_images_that_differ_in_size(datasets, tmp_path):
    from simreal.simulate.write import generate_eyes

    eyes = generate_eyes(tmp_path / "eyes", 12, 0, "clean", device="cpu", compile_=False, show_progress=False)
    with pytest.raises(SimrealError, match="could tell them apart"):
        TuringStudy(tmp_path / "d.sqlite", datasets[0], eyes, CFG)


def test_depth_images_are_stretched_for_display():
    depth = np.zeros((4, 4), np.uint16)
    depth[1:3, 1:3] = [[1000, 1500], [2000, 2000]]
    img = np.asarray(Image.open(io.BytesIO(display_png(depth, 1))))
    assert img.dtype == np.uint8 and img[1, 1] == 255 and img[2, 2] == 0 and img[0, 0] == 0


def test_machine_observer_separates_what_differs_and_not_what_does_not(datasets, tmp_path):
    from simreal.data.bank import ImageBank
    from simreal.evaluate.realism import ObserverConfig, observer_test

    real = generate_digits(tmp_path / "r", 160, 5, show_progress=False)
    bank = ImageBank(SimrealDataset(real))
    inverted = ImageBank.from_arrays(255 - bank.cache.numpy(), None, "L")  # an obvious domain gap
    cfg = ObserverConfig(steps=80, device="cpu")
    easy = observer_test(bank, inverted, cfg)
    assert easy["accuracy"] >= 0.95 and easy["p_value"] < 1e-10 and easy["test_per_class"] == 80
    assert observer_test(bank, inverted, cfg) == easy  # deterministic under its seed
    halves = ImageBank.from_arrays(bank.cache.numpy()[:80], None, "L"), ImageBank.from_arrays(
        bank.cache.numpy()[80:], None, "L")
    same = observer_test(*halves, cfg)  # two halves of one dataset: nothing to find
    assert 0.3 < same["accuracy"] < 0.7 and same["p_value"] > 0.01
    with pytest.raises(ValueError, match="tell them apart by that alone"):
        observer_test(bank, ImageBank.from_arrays(np.zeros((10, 8, 9), np.uint8), None, "L"), cfg)

    r = CliRunner().invoke(app, ["turing", "observer", "--real", str(real), "--synthetic", str(datasets[1]),
                                 "--steps", "5", "--seeds", "2", "--device", "cpu", "--out", str(tmp_path / "o.json")])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "o.json").read_text())["results"][str(datasets[1])]
    assert len(res["runs"]) == 2 and res["runs"][0]["test_per_class"] == 6


def test_saliency_map_is_where_the_logit_looks_and_explain_writes_its_figure(datasets, tmp_path):
    import torch

    from simreal.data.bank import ImageBank
    from simreal.evaluate.realism import ObserverConfig, observer_test, saliency_map

    class Corner(torch.nn.Module):  # a logit that reads the top-left 3×3 pixels only, twice as hard in channel 0
        def forward(self, x):
            return 2 * x[:, 0, :3, :3].sum((1, 2)) + x[:, 1, :3, :3].sum((1, 2))

    sal = saliency_map(Corner(), torch.randn(5, 2, 8, 10), chunk=2)
    expected = torch.zeros(1, 1, 8, 10)
    expected[..., :3, :3] = 1.5  # |∂/∂x| averaged over the two channels
    assert torch.equal(sal, expected)

    real = ImageBank(SimrealDataset(generate_digits(tmp_path / "r", 40, 5, show_progress=False)))
    marked = real.cache.numpy().copy()
    marked[:, :2, :2] = 255  # the tell: a bright corner
    png = tmp_path / "explain" / "marked.png"
    observer_test(real, ImageBank.from_arrays(marked, None, "L"), ObserverConfig(steps=20, device="cpu"), explain=png)
    grid = Image.open(png)
    assert grid.width > grid.height > 0  # three rows of eight cells
    r = CliRunner().invoke(app, ["turing", "observer", "--real", str(datasets[0]), "--synthetic", str(datasets[1]),
                                 "--steps", "3", "--device", "cpu", "--explain", str(tmp_path / "why")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "why" / f"{datasets[1].name}.png").stat().st_size > 500


def test_simultaneous_submissions_of_one_trial_land_once(datasets, tmp_path):
    """8 threads answer trial 0 of the same subject at once: exactly one answer is stored."""
    import threading

    real, syn = datasets
    study = TuringStudy(tmp_path / "t.sqlite", real, syn, CFG)
    token = study.new_subject("racer")
    landed, barrier = [], threading.Barrier(8)

    def submit(answer):
        barrier.wait()
        try:
            study.answer(token, 0, answer, 100)
            landed.append(answer)
        except SimrealError:
            pass

    threads = [threading.Thread(target=submit, args=("real" if i % 2 else "synthetic",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(landed) == 1 and [r["answer"] for r in study.answers(token)] == landed
    assert study.status(token)["next"] == 1


def test_hostile_submissions_and_names(datasets, tmp_path):
    real, syn = datasets
    study = TuringStudy(tmp_path / "t.sqlite", real, syn, CFG)
    client = create_app(study).test_client()
    name = "=HYPERLINK(\"x\") $\\frac{a$ <b>|"
    token = client.post("/start", data={"name": name}).headers["Location"].rsplit("/", 1)[-1]
    for form in ({"k": "0", "answer": "real", "ms": str(10 ** 30)}, {"k": "9" * 20, "answer": "real", "ms": "5"},
                 {"k": "0", "answer": "real", "ms": "-5"}):
        assert client.post(f"/s/{token}/answer", data=form).status_code == 302  # refused, never a 500
    assert study.answers(token) == []
    assert client.post("/start", data={"name": "x" * 20000}).status_code == 413  # request too large
    for k in range(2 * CFG.per_class):
        study.answer(token, k, "real", 1000)
    half = study.new_subject("half")
    study.answer(half, 0, "synthetic", 900)
    res = write_report(study, tmp_path / "rep")
    assert res["subjects"][f"{name} (#1)"]["complete"] and not res["subjects"]["half (#2)"]["complete"]
    assert res["complete"]["trials"] == 2 * CFG.per_class and res["trials"] == 2 * CFG.per_class + 1
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "\\$\\\\frac\\{a\\$" in report and "&lt;b&gt;" in report and "<b>" not in report
    csv_text = (tmp_path / "rep" / "answers.csv").read_text()
    import csv

    cells = [row["subject"] for row in csv.DictReader(io.StringIO(csv_text))]
    assert cells[0] == "'" + name and cells[-1] == "half"  # shown as text by a spreadsheet, not run
    from simreal.experiments.turing import csv_cell

    assert csv_cell("=1+1") == "'=1+1" and csv_cell("@SUM(A1)") == "'@SUM(A1)" and csv_cell("ok") == "ok"
    small = TuringStudy(tmp_path / "s.sqlite", real, syn, TuringConfig(per_class=5, examples=3, max_subjects=1))
    small.new_subject("one")
    with pytest.raises(SimrealError, match="full"):
        small.new_subject("two")


def test_default_scale_and_wording_come_from_the_data(datasets, tmp_path):
    real, syn = datasets
    study = TuringStudy(tmp_path / "t.sqlite", real, syn, TuringConfig(per_class=5, examples=3))
    assert study.cfg.scale == 25  # 8×8 digits shown at 200 px
    page = create_app(study).test_client().get("/").data.decode()
    assert "images of handwritten digits" in page and "photograph" not in page


def test_grey_level_tell_is_found_and_removed_by_match_levels(datasets, tmp_path, monkeypatch):
    """Real UCI-style digits have few grey levels (multiples of 16 here); smooth synthetic ones have many."""
    from simreal.data.format import ImageSpec, LabelField, Provenance
    from simreal.data.writer import DatasetWriter

    rng = np.random.default_rng(0)
    coarse, syn = tmp_path / "coarse", tmp_path / "smooth"
    for root, step in ((coarse, 16), (syn, 1)):  # ≤ 16 grey levels vs ~60 (as UCI vs refined digits)
        with DatasetWriter(root, name=root.name, task="digits", domain="real", image=ImageSpec("L", 8, 8),
                           label_schema={"label": LabelField("int64", (), "digit", range=(0, 9))},
                           provenance=Provenance("t", {}, step)) as w:
            for i in range(12):
                w.add((rng.integers(0, 256, (8, 8)) // step * step).astype(np.uint8), {"label": i % 10})
    study = TuringStudy(tmp_path / "t.sqlite", coarse, syn, TuringConfig(per_class=5, examples=3))
    assert any(t.startswith("grey levels") for t in study.tells())
    matched = TuringStudy(tmp_path / "m.sqlite", coarse, syn, TuringConfig(per_class=5, examples=3,
                                                                           match_levels=True))
    assert not any(t.startswith("grey levels") for t in matched.tells())
    shown = np.asarray(Image.open(io.BytesIO(matched.example_image("synthetic", 0))))
    assert set(np.unique(shown)) <= set(matched.levels.tolist())
    import flask

    monkeypatch.setattr(flask.Flask, "run", lambda *a, **k: None)  # print the warnings, serve nothing
    r = CliRunner().invoke(app, ["turing", "serve", "--db", str(tmp_path / "c.sqlite"), "--real", str(coarse),
                                 "--synthetic", str(syn), "--per-class", "5", "--examples", "3"])
    assert "warning: this alone separates" in r.output and "grey levels" in r.output
