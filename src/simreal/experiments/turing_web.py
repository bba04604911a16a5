"""The web page of the visual Turing test (:mod:`simreal.experiments.turing`), a Flask app.

``create_app(study)`` serves: ``/`` (instructions and a name), ``/s/<token>`` (the subject's next trial, with
the labelled examples beside it; keys R and S answer), trial images at ``/s/<token>/trial/<k>.png`` and
example images at ``/example/<class>/<i>.png``. ``simreal turing serve`` runs it with Flask's threaded
server, enough for a lab study on a local network; behind a production WSGI server use
``create_app(TuringStudy(db))``.
"""

from __future__ import annotations

from typing import Any

from simreal.experiments.turing import TuringStudy
from simreal.utils.errors import NotFoundError, SimrealError

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
.wrap { display: flex; gap: 3em; align-items: flex-start; }
.trial img { image-rendering: pixelated; border: 1px solid #999; }
.examples img { image-rendering: pixelated; margin: 2px; border: 1px solid #ccc; }
.examples h3 { margin: .6em 0 .2em; }
button { font-size: 1.3em; padding: .4em 1.4em; margin: .6em .6em 0 0; cursor: pointer; }
.muted { color: #777; }
"""

INTRO = """<!doctype html><html><head><meta charset="utf-8"><title>Real or synthetic?</title>
<style>{{ style }}</style></head><body>
<h1>Real or synthetic?</h1>
<p>You will see {{ total }} {{ what }}, one at a time. Some are real, some were made by a computer.
For each, choose <b>Real</b> or <b>Synthetic</b> (keys R and S). Labelled examples of both stay on screen.
There is no time limit; each image is answered once.</p>
{% if error %}<p style="color: #b00">{{ error }}</p>{% endif %}
<form method="post" action="{{ url_for('start') }}">
  <label>Your name or an id: <input name="name" maxlength="100" required autofocus></label>
  <button type="submit">Start</button>
</form></body></html>"""

TRIAL = """<!doctype html><html><head><meta charset="utf-8"><title>Real or synthetic? {{ k + 1 }}/{{ total }}
</title><style>{{ style }}</style></head><body>
<div class="wrap">
 <div class="trial">
  <p class="muted">{{ name }} · image {{ answered + 1 }} of {{ total }}</p>
  <img src="{{ url_for('trial_image', token=token, k=k) }}" alt="image to label">
  <form method="post" action="{{ url_for('answer', token=token) }}" id="f">
   <input type="hidden" name="k" value="{{ k }}"><input type="hidden" name="ms" id="ms" value="">
   <button name="answer" value="real" id="r">Real (R)</button>
   <button name="answer" value="synthetic" id="s">Synthetic (S)</button>
  </form>
 </div>
 <div class="examples">
  {% for cls, n in examples %}<h3>{{ cls|capitalize }} examples</h3>
  {% for i in range(n) %}<img src="{{ url_for('example_image', cls=cls, i=i) }}" alt="{{ cls }} example">{% endfor %}
  {% endfor %}
 </div>
</div>
<script>
const t0 = performance.now();
document.getElementById("f").addEventListener("submit", () => {
  document.getElementById("ms").value = Math.round(performance.now() - t0); });
document.addEventListener("keydown", e => {
  const b = {r: "r", s: "s"}[e.key.toLowerCase()]; if (b) document.getElementById(b).click(); });
</script></body></html>"""

DONE = """<!doctype html><html><head><meta charset="utf-8"><title>Thank you</title><style>{{ style }}</style>
</head><body><h1>Thank you, {{ name }}</h1>
<p>You labelled {{ total }} images; {{ correct }} of them correctly ({{ pct }} %). Chance is 50 %.</p>
</body></html>"""


def create_app(study: TuringStudy) -> Any:
    from flask import Flask, Response, abort, redirect, render_template_string, request, url_for

    app = Flask("simreal-turing")
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024  # a name and an answer; anything larger is refused (413)
    per_subject = 2 * study.cfg.per_class
    examples = [(c, len(study.examples[c])) for c in ("real", "synthetic")]
    what = study.description()

    def status_or_404(token: str) -> dict[str, Any]:
        try:
            return study.status(token)
        except NotFoundError:
            abort(404)

    @app.get("/")
    def intro():
        return render_template_string(INTRO, style=STYLE, total=per_subject, what=what, error=None)

    @app.post("/start")
    def start():
        try:
            token = study.new_subject(request.form.get("name", ""))
        except SimrealError as exc:
            return render_template_string(INTRO, style=STYLE, total=per_subject, what=what,
                                          error=str(exc)), 400
        return redirect(url_for("subject", token=token))

    @app.get("/s/<token>")
    def subject(token: str):
        st = status_or_404(token)
        if st["next"] is None:
            mine = study.subject_score(token)
            return render_template_string(DONE, style=STYLE, name=st["name"], total=mine["trials"],
                                          correct=mine["correct"], pct=f"{100 * mine['accuracy']:.0f}")
        return render_template_string(TRIAL, style=STYLE, token=token, k=st["next"], total=st["total"],
                                      answered=st["answered"], name=st["name"], examples=examples)

    @app.post("/s/<token>/answer")
    def answer(token: str):
        status_or_404(token)
        try:
            k = int(request.form["k"])
            ms = int(request.form["ms"]) if request.form.get("ms") else None
            study.answer(token, k, request.form.get("answer", ""), ms)
        except (KeyError, ValueError, SimrealError):
            pass  # a repeated or stale submission (back button, double click): show the next trial again
        return redirect(url_for("subject", token=token))

    @app.get("/s/<token>/trial/<int:k>.png")
    def trial_image(token: str, k: int):
        try:
            return Response(study.trial_image(token, k), mimetype="image/png",
                            headers={"Cache-Control": "no-store"})
        except NotFoundError:
            abort(404)

    @app.get("/example/<cls>/<int:i>.png")
    def example_image(cls: str, i: int):
        try:
            return Response(study.example_image(cls, i), mimetype="image/png")
        except NotFoundError:
            abort(404)

    return app
