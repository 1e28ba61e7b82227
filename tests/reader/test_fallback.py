"""The reader's fallback (``reader_fallback``): where the judge finds no sentence to quote, the reader's best
span, chosen and graded by its calibration (``models/kb-reader/calibration.json``), answers, or the question is
refused. Real models on the sample documents; the judge is made to refuse every question here
(``answer_min_probability = 0.99``) so that only the fallback can answer."""

from __future__ import annotations

import dataclasses

import pytest

from kb import KnowledgeBase, Settings
from kb.reader.model import SHIPPED_READER

pytestmark = pytest.mark.model

QUESTION = "How much is the referral bonus?"


def _kb(sample_index, embedder, **settings) -> KnowledgeBase:
    return KnowledgeBase(Settings(index_dir=sample_index, reader_model=SHIPPED_READER, answer_min_probability=0.99,
                                  **settings), embedder=embedder)


def test_without_the_fallback_the_judges_refusal_stands(sample_index, embedder):
    answer = _kb(sample_index, embedder, reader_fallback=False).ask(QUESTION)
    assert answer.refused and answer.grade in ("not_stated", "not_covered"), answer.to_json()


def test_the_fallback_shows_the_span_the_calibration_prefers(sample_index, embedder):
    kb = _kb(sample_index, embedder, reader_fallback=True, reader_fallback_grade="likely")
    answer = kb.ask(QUESTION)
    assert not answer.refused and answer.grade in ("answer", "likely"), answer.to_json()
    first = answer.citations[0]
    assert first.span == "£750" and "£750" in first.quote and first.name == "employee_handbook.pdf", answer.to_json()
    calibration = kb.answerer().calibration
    assert answer.confidence >= calibration.likely_floor
    assert (answer.grade == "answer") == (answer.confidence >= calibration.answer_floor)


@pytest.mark.parametrize("least, sure, grade", [("answer", False, None), ("likely", False, "likely"),
                                                ("answer", True, "answer")])
def test_the_fallback_grade_follows_the_floors_and_the_least_grade_allowed(sample_index, embedder, least, sure,
                                                                          grade):
    kb = _kb(sample_index, embedder, reader_fallback=True, reader_fallback_grade=least)
    answerer = kb.answerer()  # floors set here: the best span sure enough for "answer" (and no other), or likely
    best = kb.ask(QUESTION).confidence
    # (the confidence shown is rounded to 4 decimals: the floor goes just under it)
    answerer.calibration = dataclasses.replace(answerer.calibration, answer_floor=best - 1e-4 if sure else 1.0,
                                               likely_floor=0.0)
    answer = kb.ask(QUESTION)
    if grade is None:
        assert answer.refused, answer.to_json()
    else:
        assert not answer.refused and answer.grade == grade and "£750" in answer.text, answer.to_json()


def test_the_fallback_answers_at_its_least_probability_and_not_under_it(sample_index, embedder):
    best = _kb(sample_index, embedder, reader_fallback_grade="likely").ask(QUESTION)
    assert not best.refused, best.to_json()
    at = _kb(sample_index, embedder, reader_fallback_grade="likely",
             reader_fallback_min_probability=best.confidence - 1e-4).ask(QUESTION)
    above = _kb(sample_index, embedder, reader_fallback_grade="likely",
                reader_fallback_min_probability=min(1.0, best.confidence + 0.01)).ask(QUESTION)
    assert not at.refused and "£750" in at.text and at.grade == best.grade, at.to_json()
    assert above.refused, above.to_json()
