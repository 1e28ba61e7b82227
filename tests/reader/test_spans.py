"""The answer shown for a span: its sentence, table row or list item with the lead-in; and the grading."""

from __future__ import annotations

from kb.answering.spans import ANSWER, LIKELY, Calibration, marked, unit_of

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


def test_grades_follow_the_calibrated_probability():
    c = Calibration(margin_weight=1.0, judge_weight=0.0, bias=0.0, answer_floor=0.7, likely_floor=0.4)
    assert c.grade(c.probability(3.0, None)) == ANSWER
    assert c.grade(c.probability(0.0, 0.9)) == LIKELY
    assert c.grade(c.probability(-3.0, 0.9)) == ""
    judged = Calibration(margin_weight=0.0, judge_weight=1.0, bias=0.0)
    assert judged.probability(0.0, 0.9) > judged.probability(0.0, 0.5) > judged.probability(0.0, 0.1)
