"""Scoring a visual Turing test (SimGAN, section 3.1): people label images as real or synthetic.

The paper pools all answers: 10 subjects chose the correct label 517 times in 1,000 trials, p = 0.148 (a
one-sided binomial test against chance, 50 %), so they could not tell refined from real images; with
unrefined synthetic images, 162 of 200, p ≤ 1e-8. :func:`score_answers` gives that test, the confusion
matrix of the paper's Table 1 (ground truth × selected), a 95 % Clopper–Pearson interval, and the same per
subject.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scipy.stats import binomtest

from simreal.utils.errors import InputError

CLASSES = ("real", "synthetic")


def chance_test(correct: int, trials: int) -> dict[str, Any]:
    """Accuracy, 95 % Clopper–Pearson interval and one-sided binomial p (above 50 %?) of `correct` of `trials`."""
    if trials == 0:
        return {"trials": 0, "correct": 0, "accuracy": None, "p_value": None, "ci95": None}
    t = binomtest(correct, trials, 0.5, alternative="greater")
    ci = binomtest(correct, trials, 0.5).proportion_ci(0.95, method="exact")  # two-sided interval
    return {"trials": trials, "correct": correct, "accuracy": correct / trials, "p_value": float(t.pvalue),
            "ci95": [float(ci.low), float(ci.high)]}


def score_answers(truth: Sequence[str], answers: Sequence[str], subjects: Sequence[str] | None = None
                  ) -> dict[str, Any]:
    """Pooled and per-subject accuracy of ``answers`` against ``truth`` (each ``real`` or ``synthetic``).

    ``p_value`` is the one-sided binomial test of "better than chance"; ``confusion[t][a]`` counts trials
    with ground truth ``t`` answered ``a``."""
    if len(truth) != len(answers) or (subjects is not None and len(subjects) != len(truth)):
        raise InputError("truth, answers and subjects need one entry per trial")
    bad = sorted({v for v in (*truth, *answers) if v not in CLASSES})
    if bad:
        raise InputError(f"labels must be 'real' or 'synthetic', got {bad}")
    confusion = {t: dict.fromkeys(CLASSES, 0) for t in CLASSES}
    for t, a in zip(truth, answers, strict=True):
        confusion[t][a] += 1
    result = chance_test(sum(t == a for t, a in zip(truth, answers, strict=True)), len(truth))
    result["confusion"] = confusion
    if subjects is not None:
        per: dict[str, list[int]] = {}
        for s, t, a in zip(subjects, truth, answers, strict=True):
            c = per.setdefault(s, [0, 0])
            c[0] += t == a
            c[1] += 1
        result["subjects"] = {s: chance_test(c, n) for s, (c, n) in per.items()}
    return result
