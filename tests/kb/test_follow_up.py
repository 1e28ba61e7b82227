"""Elliptical follow-ups: the phrase a fragment names replaces the one it stands for in the previous question."""

import pytest

from kb.answering.pipeline import resolve_ellipsis


@pytest.mark.parametrize("previous, question, expected", [
    ("How many days of annual leave do full-time staff get?", "And part-time staff?",
     "How many days of annual leave do part-time staff get?"),
    ("How many days of annual leave do full-time staff get?", "and for part-time staff?",
     "How many days of annual leave do part-time staff get?"),
    ("What's the hotel limit per night in London?", "and in Paris?", "What's the hotel limit per night in Paris?"),
    ("What is the mileage rate for cars?", "what about bicycles?", "What is the mileage rate for bicycles?"),
])
def test_a_fragment_swaps_the_phrase_it_stands_for(previous, question, expected):
    assert resolve_ellipsis(previous, question) == expected


@pytest.mark.parametrize("previous, question", [
    ("What is the per diem in London?", "is it paid in advance?"),  # points back, but is no fragment
    ("How much is the learning budget?", "and for contractors?"),  # names nothing the question has
    ("What is the hotel limit in London?", "What is the CEO's salary?"),
])
def test_no_swap_without_a_matching_phrase(previous, question):
    assert resolve_ellipsis(previous, question) == ""
