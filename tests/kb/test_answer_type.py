"""Answer types: what value a question asks for, and whether a sentence gives it."""

from __future__ import annotations

import pytest

from kb.answering.answer_type import AnswerType, expected
from kb.text.analyzer import Analyzer

A = Analyzer("english")


@pytest.mark.parametrize("question, kind, unit", [
    ("How many employees work at the Glasgow office?", "count", "employe"),
    ("How many of the days can I carry over?", "count", "day"),
    ("how many holiday days do i get a year full time", "count", "day"),  # what is counted: days, not holiday
    ("my nan passed away, how many days off do i get", "count", "day"),
    ("How many people can the meeting room hold?", "count", "peopl"),
    ("How much does the company add to my pension?", "number", ""),
    ("How long does probation last?", "number", ""),
    ("What is the maximum hotel rate per night in London?", "number", ""),
    ("When is the fire alarm tested?", "time", ""),
    ("I was underpaid. When will I get the money?", "time", ""),
    ("What time should I arrive on my first day?", "time", ""),
])
def test_questions_that_ask_for_a_value(question, kind, unit):
    assert expected(question, A) == AnswerType(kind, unit)


@pytest.mark.parametrize("question", [
    "Can I bring my dog into the office?",
    "Who should I ask about my payslip?",
    "What mileage rate applies when I drive a company car?".replace("rate", "form"),  # "when" mid-sentence
    "How do I get a parking space?",
])
def test_questions_any_statement_may_answer(question):
    assert expected(question, A) is None


def test_a_count_needs_a_number_of_the_counted_thing():
    employees = AnswerType("count", "employe")
    assert employees.given_by("About 140 employees work at the Glasgow engineering centre.", A)
    assert employees.given_by("The centre has 140 full-time employees.", A)
    assert not employees.given_by("Glasgow engineering centre, 3rd floor, 40 Kingston Street, Glasgow G5 8BP.", A)


def test_numbers_dates_and_times():
    assert AnswerType("number").given_by("The limit is £180 per night.", A)
    assert AnswerType("number").given_by("You get twenty days.", A)
    assert not AnswerType("number").given_by("3.2 Company sick pay", A)  # a section number is not a value
    assert AnswerType("number").given_by("25 days of paid annual leave in each leave year.", A)
    assert AnswerType("count", "day").given_by("5 days Per bereavement", A)
    assert AnswerType("time").given_by("The alarm is tested every Wednesday.", A)
    assert AnswerType("time").given_by("Arrive at 09:30.", A)
    assert not AnswerType("time").given_by("Ask at reception for your onboarding buddy.", A)
