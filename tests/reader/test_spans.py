"""The answer shown for a span: its sentence, table row or list item with the lead-in; and the grading."""

from __future__ import annotations

from kb.answering.spans import ANSWER, LIKELY, Calibration, Found, agreement, find_spans, marked, unit_of
from kb.reader.model import Span
from kb.types import Chunk, Hit

LEAVE = ("2.1 Entitlement\nFull-time employees receive 25 days of paid annual leave. Annual leave grows with "
         "length of service:\n\nCompleted years of service: 3 to 4 years; Annual leave per year: 26 days\n\n"
         "Completed years of service: 5 to 7 years; Annual leave per year: 27 days\n")
LAPTOP = ("7 Lost or stolen devices\nIf your laptop is lost or stolen:\n• report it to the IT Service Desk within "
          "1 hour;\n• tell your manager.\nThe Service Desk locks the device remotely.")


def test_a_row_is_the_unit_with_its_column_headers():
    start = LEAVE.index("27 days")
    a, b, lead = unit_of(LEAVE, start, start + len("27 days"))
    assert LEAVE[a:b] == "Completed years of service: 5 to 7 years; Annual leave per year: 27 days"
    assert lead == ""
    assert marked(LEAVE[a:b], start - a, start - a + 7).endswith("Annual leave per year: **27 days**")


def test_a_list_item_comes_with_the_line_that_leads_into_the_list():
    start = LAPTOP.index("report it")
    a, b, lead = unit_of(LAPTOP, start, start + len("report it to the IT Service Desk"))
    assert LAPTOP[a:b] == "• report it to the IT Service Desk within 1 hour;"
    assert lead == "If your laptop is lost or stolen:"
    start = LAPTOP.index("locks")  # a sentence after the list stands alone
    assert unit_of(LAPTOP, start, start + 5)[2] == ""


def test_a_span_across_sentences_shows_them_all_and_a_whole_unit_span_is_not_marked():
    text = "Rail is standard class. First class needs approval. Taxis are allowed at night."
    start, end = text.index("standard"), text.index("approval") + 8
    a, b, _ = unit_of(text, start, end)
    assert text[a:b] == "Rail is standard class. First class needs approval."
    assert marked("Taxis are allowed at night.", 0, 27) == "Taxis are allowed at night."


def _hit(text: str) -> Hit:
    return Hit(Chunk("c", "d", "a.md", "a.md", text, 0, 0, len(text)), 1.0, 1)


def _found(margin: float, judge: float | None, passage: int = 1, **more) -> Found:
    return Found(passage, 0, 1, margin, judge, **more)


def test_grades_follow_the_calibrated_probability():
    c = Calibration(margin_weight=1.0, judge_weight=0.0, bias=0.0, answer_floor=0.7, likely_floor=0.4)
    assert c.grade(c.probability(_found(3.0, None))) == ANSWER
    assert c.grade(c.probability(_found(0.0, 0.9))) == LIKELY
    assert c.grade(c.probability(_found(-3.0, 0.9))) == ""
    judged = Calibration(margin_weight=0.0, judge_weight=1.0, bias=0.0)
    assert judged.probability(_found(0.0, 0.9)) > judged.probability(_found(0.0, 0.5)) > \
        judged.probability(_found(0.0, 0.1))


def test_every_weight_of_the_calibration_moves_the_probability_its_way():
    plain = _found(1.0, 0.5, passage=2)
    for weight, better in [("first_weight", _found(1.0, 0.5, passage=1)),
                           ("agree_weight", _found(1.0, 0.5, passage=2, agree=1)),
                           ("similarity_weight", _found(1.0, 0.5, passage=2, similarity=0.8)),
                           ("top_weight", _found(1.0, 0.5, passage=2, top=True))]:
        c = Calibration().with_weights([0.0] * len(Calibration.WEIGHTS) + [0.0])
        c = Calibration(**{**c.__dict__, weight: 2.0})
        assert c.probability(better) > c.probability(plain) == 0.5, weight
    # a file written before these weights existed reads them as 0: the same probabilities as before
    old = Calibration(margin_weight=0.3, judge_weight=-0.2, bias=-0.6, unit_weight=0.5)
    assert old.probability(_found(2.0, 0.7, passage=1, agree=2, similarity=0.9, top=True, unit=0.6)) == \
        old.probability(_found(2.0, 0.7, passage=3, unit=0.6))


def test_spans_of_other_passages_that_say_the_same_agree():
    hits = [_hit("The limit is £180 a night."), _hit("London: £180 per night"), _hit("Paris: €150")]
    found = [Found(1, hits[0].chunk.text.index("£180"), hits[0].chunk.text.index(" a night"), 1.0, None),
             Found(2, hits[1].chunk.text.index("£180"), hits[1].chunk.text.index(" per"), 1.0, None),
             Found(3, hits[2].chunk.text.index("€"), len(hits[2].chunk.text), 1.0, None)]
    assert [f.agree for f in agreement(found, hits)] == [1, 1, 0]


def test_the_reader_never_answers_from_a_question_the_document_asks():
    # plumbing: a fake reader that records what it may not answer from and answers at the passage's start
    text = "Can I buy the tickets?\nYes, if the event is not sold out."
    hit = Hit(Chunk("c", "d", "a.md", "a.md", text, 0, 0, len(text), title="Gifts"), 1.0, 1)
    seen = []

    def read(question, texts, context):
        seen.extend(context)
        return [Span(0, 6, 9, texts[0][6:9], 5.0, 0.0)]

    assert [f.start for f in find_spans(read, "tickets?", [hit], asking=[[(0, 22)]])] == [0]
    assert seen == [[(0, 6), (6, 28)]]  # the title, then the question (offsets in what the reader reads)
