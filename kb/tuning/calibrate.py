"""Fit the reader's calibration on several collections at once: how sure is an answer, and when to show it.

    python -m kb.cli.calibrate --reader models/kb-reader --work runs/calibrate \\
        --collection sample_docs=sample_docs/questions.jsonl --collection <docs>=<gold.jsonl> ... \\
        --out models/kb-reader/calibration.json

Every gold question of every collection is answered the product's way up to the reader (retrieval, reranking,
the reader over the best passages, the names and answer-type checks); each passage's span is labelled right
when the unit shown for it holds a gold value and the passage is a gold source. A logistic model of what the
pipeline knows about each span (``Calibration.features``: its margin, the judge's scores for its passage and
unit, its passage's rank, agreement with the other passages' spans, the unit's closeness in meaning to the
question, whether the judge's best sentence holds it) fits P(right) on all collections pooled, each weighted
alike; then the two floors are chosen on the
question level: ``answer_floor`` the lowest that keeps confident wrong answers at or under ``--max-confident-wrong``
on every collection, ``likely_floor`` the one that adds the most right answers for the wrong ones it adds
(each wrong one costs ``--likely-wrong-cost`` right ones). The fitted figures and the command go in the file.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from kb.answering.spans import Calibration, Found, choose

log = logging.getLogger(__name__)


def collect(kb, items, reader) -> list[dict]:
    """For each gold question: its candidate spans (``Found``'s fields, and whether each is right) as the
    pipeline would see them, with every feature the calibration may weigh."""
    from dataclasses import asdict

    from kb.answering.evaluate import contains
    from kb.answering.pipeline import shown_unit

    answerer = kb.answerer()
    answerer.reader = reader
    s = kb.settings
    rows = []
    for item in items:
        if item.follow_up_of:
            continue
        query, hits, _ = answerer.route(item.question)
        evidence = hits[: s.answer_passages]
        found = answerer.reader_candidates(item.question, query, evidence, answerer.verifier(evidence))
        candidates = []
        for f in found:
            hit = evidence[f.passage - 1]
            unit = shown_unit(hit, f)[0]
            right = item.answerable and any(contains(unit, v) for v in (item.values or [item.answer])) and any(
                src.matches(hit.chunk) for src in item.sources)
            candidates.append({**asdict(f), "right": bool(right)})
        rows.append({"id": item.id, "answerable": item.answerable, "candidates": candidates})
    return rows


def found_of(candidate: dict) -> Found:
    """A collected candidate (a dict of ``Found``'s fields and more) as the ``Found`` the calibration weighs."""
    return Found(**{k: candidate[k] for k in Found.__dataclass_fields__ if k in candidate})


def fit(collections: dict[str, list[dict]], steps: int = 50, l2: float = 1e-2) -> list[float]:
    """The weights (``Calibration.WEIGHTS``, then the bias) of a logistic P(right), each collection weighted
    alike (Newton's method, a small L2 penalty on all but the bias)."""
    xs, ys, ws = [], [], []
    for rows in collections.values():
        cands = [c for r in rows for c in r["candidates"]]
        for c in cands:
            xs.append(Calibration.features(found_of(c)) + [1.0])
            ys.append(float(c["right"]))
            ws.append(1.0 / max(1, len(cands)))
    x, y, w = np.array(xs), np.array(ys), np.array(ws)
    penalty = l2 * np.diag([1.0] * (x.shape[1] - 1) + [0.0]) * w.sum() / len(collections)
    beta = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(x @ beta, -30, 30)))
        gradient = x.T @ (w * (y - p)) - penalty @ beta
        hessian = -(x.T * (w * p * (1 - p))) @ x - penalty - 1e-6 * np.eye(x.shape[1])
        beta -= np.linalg.solve(hessian, gradient)
    return [float(b) for b in beta]


def outcomes(rows: list[dict], calibration: Calibration) -> dict:
    """Question-level shares with this calibration: right, wrong, confident wrong, likely, unanswerable refused."""
    right = wrong = confident_wrong = likely = refused_unanswerable = 0
    answerable = sum(r["answerable"] for r in rows)
    for r in rows:
        found = [found_of(c) for c in r["candidates"]]
        chosen, probability = choose(found, calibration)
        best = r["candidates"][found.index(chosen)] if chosen is not None else None
        grade = calibration.grade(probability) if best else ""
        if not grade:
            refused_unanswerable += not r["answerable"]
            continue
        likely += grade == "likely"
        if best["right"]:
            right += 1
        else:
            wrong += r["answerable"]
            confident_wrong += grade == "answer"
    n, unanswerable = max(1, len(rows)), max(1, len(rows) - answerable)
    return {"right": right / max(1, answerable), "wrong": wrong / max(1, answerable),
            "confident_wrong": confident_wrong / n, "likely": likely / n,
            "unanswerable_refused": refused_unanswerable / unanswerable if len(rows) > answerable else None}


def choose_floors(collections: dict[str, list[dict]], weights: list[float], max_confident_wrong: float,
                  likely_wrong_cost: float) -> Calibration:
    """The floors (see the module's docstring) for the fitted weights."""
    grid = [round(x, 3) for x in np.arange(0.05, 0.96, 0.01)]
    base = Calibration()

    def with_floors(answer: float, likely: float) -> Calibration:
        return base.with_weights(weights, answer_floor=answer, likely_floor=min(likely, answer))

    answer_floor = next((a for a in grid if all(
        outcomes(rows, with_floors(a, a))["confident_wrong"] <= max_confident_wrong for rows in collections.values())),
        grid[-1])

    def gain(likely: float) -> float:
        figures = [outcomes(rows, with_floors(answer_floor, likely)) for rows in collections.values()]
        return float(np.mean([f["right"] - likely_wrong_cost * f["wrong"] for f in figures]))

    likely_floor = max((x for x in grid if x <= answer_floor), key=lambda x: (round(gain(x), 6), x))
    return with_floors(answer_floor, likely_floor)


def card_section(card: Path, calibration: Calibration, report: dict) -> None:
    """The model card's "Calibration" section, written anew: the fitted figures and what they give."""
    rows = "\n".join(f"| {name} | " + " | ".join("-" if figures[k] is None else f"{figures[k]:.2f}" for k in
                                                 ("right", "wrong", "confident_wrong", "likely", "unanswerable_refused"))
                     + " |" for name, figures in report.items())
    section = f"""## Calibration

`calibration.json`: P(right) = sigmoid({calibration.margin_weight:.3f} x span margin + {calibration.judge_weight:.3f}
x passage judge logit + {calibration.unit_weight:.3f} x unit judge logit + {calibration.first_weight:.3f} x [passage
ranked first] + {calibration.agree_weight:.3f} x [other passages' spans that agree, at most 2] +
{calibration.similarity_weight:.3f} x cosine(question, unit) + {calibration.top_weight:.3f} x [the judge's best
sentence holds the span] + {calibration.bias:.3f}); `answer` at
{calibration.answer_floor:.2f} or more, `likely` at {calibration.likely_floor:.2f} or more. Fitted on the collections
below together (a span is right when its unit holds a gold value and its passage is a gold source; follow-up
questions left out), by `{calibration.fitted_on}`:

| collection | right | wrong | confident wrong | likely | unanswerable refused |
|---|---|---|---|---|---|
{rows}
"""
    text = card.read_text(encoding="utf-8")
    text = text.split("## Calibration")[0].rstrip() + "\n\n" + section
    card.write_text(text, encoding="utf-8")
