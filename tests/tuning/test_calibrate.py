"""Fitting the reader's calibration (``kb.tuning.calibrate``) on candidate spans: the weights follow what tells
right spans from wrong ones, the floors keep confident wrong answers under the bound on every collection. The
candidates here are written by hand (plumbing and arithmetic; ``kb.cli.calibrate`` collects real ones)."""

from __future__ import annotations

import random

from kb.answering.spans import ANSWER, Calibration
from kb.tuning.calibrate import choose_floors, fit, found_of, outcomes


def _collection(rng: random.Random, questions: int, answerable: float = 0.8) -> list[dict]:
    """Each question has three spans; on answerable ones a right span sits in a unit close in meaning to the
    question (similarity ~0.75), the wrong ones farther (~0.45); the margins are noise, alike for both."""
    rows = []
    for q in range(questions):
        has = rng.random() < answerable
        right_at = rng.randrange(3) if has else -1
        candidates = [{"passage": p + 1, "start": 0, "end": 1, "margin": rng.gauss(1.0, 1.5), "judge": 0.6,
                       "unit": 0.5, "agree": 0, "similarity": rng.gauss(0.75 if p == right_at else 0.45, 0.08),
                       "top": False, "right": p == right_at} for p in range(3)]
        rows.append({"id": f"q{q}", "answerable": has, "candidates": candidates})
    return rows


def test_the_fitted_weights_follow_the_feature_that_tells_right_from_wrong():
    rng = random.Random(7)
    collections = {"a": _collection(rng, 120), "b": _collection(rng, 60)}
    weights = fit(collections)
    named = dict(zip(Calibration.WEIGHTS + ("bias",), weights))
    assert named["similarity_weight"] > 5 and abs(named["margin_weight"]) < 0.5, named
    calibration = choose_floors(collections, weights, max_confident_wrong=0.04, likely_wrong_cost=1.5)
    for rows in collections.values():
        figures = outcomes(rows, calibration)
        assert figures["confident_wrong"] <= 0.04 and figures["right"] > 0.6, figures
    # the chooser takes the span in the closest unit, whatever its margin
    rows = collections["a"]
    chosen = [max(r["candidates"], key=lambda c: calibration.probability(found_of(c)))
              for r in rows if r["answerable"]]
    assert sum(c["right"] for c in chosen) / len(chosen) > 0.9
    assert calibration.grade(calibration.probability(found_of({**chosen[0], "similarity": 0.95}))) == ANSWER
