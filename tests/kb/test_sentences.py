"""Sentence boundaries: a hard-wrapped line of a .txt/.md paragraph is not a sentence end; list items and
table rows still are."""

from __future__ import annotations

from kb.text.sentences import sentences


def test_a_wrapped_line_continues_its_sentence():
    text = ("Canal Wharf has 40 car parking spaces. Spaces\nmust be booked in the ParkIt app by 18:00, blue badge\n"
            "holders two weeks\nahead. There is a bike store.")
    assert sentences(text) == ["Canal Wharf has 40 car parking spaces.",
                               "Spaces\nmust be booked in the ParkIt app by 18:00, blue badge\n"
                               "holders two weeks\nahead.",
                               "There is a bike store."]
    assert sentences("Staff who work that day (for example plant maintenance)   \n      receive a day off.") == \
        ["Staff who work that day (for example plant maintenance)   \n      receive a day off."]


def test_lines_that_are_items_or_rows_stay_apart():
    assert sentences("You can:\nask your manager;\nemail HR\n- a lost laptop\n- a phone\n| a | b |\n| c | d |") == \
        ["You can:", "ask your manager;", "email HR", "- a lost laptop", "- a phone", "| a | b |", "| c | d |"]
    assert sentences("Tue 29 December 2026\nMon 3 August 2026\nCHRISTMAS CLOSURE") == \
        ["Tue 29 December 2026", "Mon 3 August 2026", "CHRISTMAS CLOSURE"]
