"""Grounded answers with the real default model (SmolLM2-135M-Instruct) on the sample documents.

One evaluation run over sample_docs/questions.jsonl feeds most tests here: it is the product's own
"test and improve" loop, and every claim below is checked against the documents themselves.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ingest.registry import parse_file
from kb import KnowledgeBase, Settings
from kb.answering.pipeline import NOT_STATED_TEXT, REFUSAL_TEXT
from kb.text.numbers import numbers
from kb.types import Turn

pytestmark = [pytest.mark.model, pytest.mark.slow]
QUESTIONS = Path(__file__).resolve().parents[2] / "sample_docs" / "questions.jsonl"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _page_text(path: str, page: int | None, heading: str) -> str:
    """The text of the cited page (PDF) or section (DOCX/Markdown/text), as the parser reads the file."""
    sections = parse_file(Path(path)).sections
    if page is not None:
        sections = [s for s in sections if s.page == page]
    elif heading:
        sections = [s for s in sections if " > ".join(s.heading_path) == heading] or sections
    return _flat(" ".join(s.text for s in sections))


@pytest.fixture(scope="module")
def kb(sample_index, embedder):
    return KnowledgeBase(Settings(index_dir=sample_index), embedder=embedder)


@pytest.fixture(scope="module")
def report(kb, tmp_path_factory):
    output = tmp_path_factory.mktemp("eval") / "eval.json"
    result = kb.evaluate(QUESTIONS, output)
    assert json.loads(output.read_text())["summary"] == result["summary"]
    return result


def test_answers_cite_quotes_that_are_verbatim_on_the_cited_page(report):
    answered = [item for item in report["items"] if not item["refused"]]
    assert len(answered) >= 30  # more than half of the 53 answerable questions
    for item in answered:
        assert item["cited"], item
        assert re.search(r"\[\d+\]", item["answer"])
        for citation in item["cited"]:
            assert _flat(citation["quote"]) in _page_text(citation["path"], citation["page"], citation["heading"]), (
                item["question"], citation)


def test_no_shown_sentence_has_a_number_the_cited_passages_lack(report, kb):
    """An independent check of the verifier: numbers in an answer appear in what it cites."""
    for item in report["items"]:
        if item["refused"]:
            continue
        cited_text = " ".join(_page_text(c["path"], c["page"], c["heading"]) for c in item["cited"])
        shown = re.sub(r"\[\d+\]", "", item["answer"])
        assert numbers(shown) <= numbers(cited_text), (item["question"], item["answer"])


def test_quality_floor_on_the_sample_set(report):
    """Floors at the level the default judge + reader reach (bench/answer_quality.py, docs/answers.md): the judge
    picks the quote (0.585 right, 0.15 wrong), the reader confirms it (by a margin over 1.5) or grades it likely,
    which takes wrong answers shown as checked from 0.18 to 0.03 of all questions."""
    summary = report["summary"]
    assert summary["refusal_recall"] >= 0.5
    assert summary["answered_right"] >= 0.55 and summary["answered_wrong"] <= 0.17
    assert summary["confident_wrong"] <= 0.05 and summary["likely_share"] > 0
    assert summary["answer_hit@5"] >= 0.6 and summary["retrieval_hit@5"] >= 0.95
    assert summary["citation_precision"] >= 0.75
    assert summary["token_f1"] > 0.1
    assert {"retrieval_hit@1", "retrieval_mrr@10", "refusal_precision", "latency_p95_s",
            "first_token_p50_s"} <= summary.keys()


def test_checked_answers_carry_the_reader_margin_a_higher_confirm_margin_would_regrade(report, kb):
    """What ``bench.answer_quality --confirm-margins`` reads off one run: every checked answer says how sure the
    reader was; at a margin above all of them none stays checked, and nothing but the grades changes."""
    from bench.answer_quality import regraded

    checked = [i for i in report["items"] if i["grade"] == "answer"]
    assert checked and all(i["reader_margin"] > kb.settings.reader_confirm_margin for i in checked), checked
    top = max(i["reader_margin"] for i in checked)
    strict = regraded(report, top)
    assert not [i for i in strict["items"] if i["grade"] == "answer"]
    assert strict["summary"]["likely_share"] == pytest.approx(report["summary"]["likely_share"] + len(checked) /
                                                              len(report["items"]), abs=1e-3)
    for key in ("answered_right", "answered_wrong", "false_refusals", "refusal_recall"):
        assert strict["summary"][key] == report["summary"][key]
    assert regraded(report, kb.settings.reader_confirm_margin)["summary"] == report["summary"]


def test_unanswerable_questions_are_refused_with_the_closest_passages(kb):
    answer = kb.ask("What is the company's share price on the stock exchange?")
    assert answer.refused and answer.mode == "refused" and answer.text in (REFUSAL_TEXT, NOT_STATED_TEXT)
    assert answer.refusal in ("not_covered", "not_stated")
    assert not answer.citations and answer.hits


def _one_page_kb(folder: Path, embedder, kb: KnowledgeBase, name: str, text: str) -> KnowledgeBase:
    """A knowledge base of one Markdown page, answering with the sample knowledge base's generator."""
    docs = folder / "docs"
    docs.mkdir()
    (docs / name).write_text(text, encoding="utf-8")
    one = KnowledgeBase(Settings(index_dir=folder / "index"), embedder=embedder, generator=kb.answerer().generator)
    one.ingest([docs])
    return one


def test_a_planted_passage_does_not_produce_a_made_up_fact(tmp_path, embedder, kb):
    """A passage that invites the model to invent a name and a number; nothing unsupported may be shown."""
    leadership = _one_page_kb(
        tmp_path, embedder, kb, "leadership.md",
        "# Leadership\n\nThe chief executive officer chairs the executive committee. The committee meets "
        "every month and sets the annual budget. The CEO's name and salary are published on the intranet "
        "each year after the board meeting.\n")
    answer = leadership.ask("What is the CEO's name and how much does the CEO earn?")
    source = " ".join(h.chunk.text for h in answer.hits)
    shown = re.sub(r"\[\d+\]", "", answer.text)
    assert numbers(shown) <= numbers(source)
    names = {w for w in re.findall(r"\b[A-Z][a-z]+\b", shown)} - {"The", "CEO", "Leadership"}
    assert all(name in source for name in names), answer.text


def test_a_passage_without_the_value_asked_for_does_not_answer(tmp_path, embedder, kb):
    """A passage about the right place that gives no head count does not answer "how many employees";
    the same passage does answer when the centre opens."""
    offices = _one_page_kb(
        tmp_path, embedder, kb, "offices.md",
        "# Our offices\n\nThe Glasgow engineering centre is on the 3rd floor of Kingston Quay House, "
        "40 Kingston Street, Glasgow G5 8BP. Employees of the Glasgow engineering centre can use the building "
        "from 07:30 to 19:00 on weekdays.\n")
    assert offices.ask("How many employees work at the Glasgow engineering centre?").refused
    opening = offices.ask("When can employees use the Glasgow engineering centre?")
    assert not opening.refused and "07:30" in opening.text, opening.to_json()


def test_follow_up_questions_use_the_conversation(kb):
    first = kb.ask("How many days of annual leave do full-time staff get?")
    assert not first.refused and any(c.name == "leave_policy.pdf" for c in first.citations)
    follow = kb.ask("And part-time staff?", history=[Turn(first.question, first.text)])
    assert "annual leave" in follow.retrieval_query
    assert not follow.refused
    assert any(c.name == "leave_policy.pdf" and c.page == 2 for c in follow.citations), follow.to_json()


def test_streaming_passes_verified_text_as_it_is_ready(kb):
    generating = KnowledgeBase(kb.settings.replace(answer_mode="generate"), embedder=kb.embedder)
    for each in (kb, generating):
        pieces: list[str] = []
        answer = each.ask("How many days per week can staff work remotely?", on_text=pieces.append)
        assert pieces and " ".join(pieces) == answer.text
        assert answer.timings["first_text"] <= answer.timings["total"]
    assert answer.timings["first_token"] <= answer.timings["first_text"]  # the model ran, then text was shown


def test_a_question_that_stands_alone_is_not_read_as_a_follow_up(kb):
    hotel = kb.ask("What is the maximum hotel rate per night in London?")
    ceo = kb.ask("What is the CEO's salary?", history=[Turn(hotel.question, hotel.text)])
    assert ceo.follow_up_of == "" and ceo.retrieval_query == "What is the CEO's salary?"
    # answered (or refused) on its own terms: nothing from the hotel question's passage
    assert "180" not in ceo.text and not any(c.name == hotel.citations[0].name for c in ceo.citations), ceo.to_json()
    marlowe = kb.ask("When is Marlowe Day this year?", history=[Turn(hotel.question, hotel.text)])
    # on its own terms: never the hotel passage, and, when answered, the day itself (the holiday list's row)
    assert marlowe.follow_up_of == "" and (marlowe.refused or "10 July" in marlowe.text), marlowe.to_json()


def test_an_elliptical_question_says_which_question_it_continues(kb):
    first = kb.ask("How many days of annual leave do full-time staff get?")
    follow = kb.ask("And part-time staff?", history=[Turn(first.question, first.text)])
    assert follow.follow_up_of == first.question
