"""How a graded answer looks (issue 29): a "likely" answer is shown under "This passage may answer your
question" without the checked status, its source on top; a confident one keeps the checked status; the span is
bold. AppTest of the render functions alone (no index, no model)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from kb.types import Answer
from ui.render import LIKELY_TITLE, status_label


def _graded_app() -> None:
    import streamlit as st

    from kb.types import Answer, Chunk, Citation, Hit
    from ui import render

    text = "Employees may work from home up to **2 days** a week, agreed with their manager."
    chunk = Chunk("c1", "d1", "/docs/hr/remote.md", "remote.md", text.replace("**", ""), 0, 0, 80,
                  heading_path=("Working from home",))
    quote = text.replace("**", "")
    answer = Answer("can i work from home on fridays?", f"“{text}” [1]", False, "extractive",
                    citations=[Citation(1, chunk.path, chunk.name, None, chunk.heading, quote, "c1", span="2 days")],
                    hits=[Hit(chunk, 0.03, 1)], timings={"total": 0.8}, grade=st.session_state["grade"])
    render.style()
    render.answer_body(answer, "1", expand_first=False)


def _run(grade: str) -> AppTest:
    at = AppTest.from_function(_graded_app, default_timeout=30)
    at.session_state["grade"] = grade
    at.run()
    assert not at.exception, at.exception
    return at


def _html(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_a_likely_answer_is_shown_as_a_passage_that_may_answer():
    page = _html(_run("likely"))
    assert LIKELY_TITLE in page and "**2 days**" in page
    assert status_label(Answer("q", "t", False, "extractive", grade="likely")) == LIKELY_TITLE


def test_a_confident_answer_keeps_the_checked_status():
    page = _html(_run("answer"))
    assert LIKELY_TITLE not in page and "**2 days**" in page
    assert status_label(Answer("q", "t", False, "extractive", grade="answer")) == "Answer checked against the sources"
