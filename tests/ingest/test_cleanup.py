"""Text helpers: whitespace, hyphenation, paragraphs, headers/footers and page numbers."""

from __future__ import annotations

import pytest

from ingest import cleanup


def test_normalize_whitespace_unifies_spaces_and_blank_lines():
    text = "  a\u00a0 b\t c \r\n\r\n\r\n\r\nd\x07e\u200b\n"
    assert cleanup.normalize_whitespace(text) == "a b c\n\nde"


def test_clean_line_expands_ligatures_and_drops_controls():
    assert cleanup.clean_line(" e\ufb03cient\x1f  \ufb01les ") == "efficient files"


@pytest.mark.parametrize("lines, expected", [
    (["manage-", "ment"], "management"),
    (["well-", "Known"], "well-Known"),  # next line starts uppercase: a real hyphen
    (["2023-", "0379"], "2023-0379"),
])
def test_lines_broken_at_a_hyphen_are_joined(lines, expected):
    assert cleanup.rebuild_paragraphs(lines, line_length=5) == expected


@pytest.mark.parametrize("line", [
    "3", "Page 3", "page 3 of 10", "- 3 -", "— 12 —", "3 / 10", "3 of 10", "iv", "17 | Page"])
def test_page_number_lines(line):
    assert cleanup.is_page_number(line)


@pytest.mark.parametrize("line", ["2015 2014", "Item 3.", "Page Proof Pending Publication", "mix it", "$ 3", "I"])
def test_not_page_number_lines(line):
    assert not cleanup.is_page_number(line)


@pytest.mark.parametrize("line, expected", [
    ("• Item", True), ("- item", True), ("1. First", True), ("(a) Thing", True), ("iv) no", False),
    ("e. g. something", False), ("2015 was a year", False), ("a) Upper", True), ("a) lower", False),
    ("(iv) Fourth", True),
])
def test_list_items(line, expected):
    assert cleanup.is_list_item(line) is expected


def test_rebuild_paragraphs_joins_wrapped_lines_and_hyphens():
    lines = [
        "The committee reviewed the manage-",
        "ment report and agreed that the budget for the next year should be reviewed",
        "again before the end of the quarter.",
        "A new paragraph starts after a short line that ends a sentence and it also wraps",
        "onto a second line.",
    ]
    text = cleanup.rebuild_paragraphs(lines)
    assert text == ("The committee reviewed the management report and agreed that the budget for the next year "
                    "should be reviewed again before the end of the quarter.\n\n"
                    "A new paragraph starts after a short line that ends a sentence and it also wraps onto a "
                    "second line.")


def test_rebuild_paragraphs_list_items_and_layout_breaks():
    lines = [
        "Users must follow these rules at all times when they use company systems and data:",
        "• Use strong passwords and never share them with anyone else, even colleagues",
        "• Lock the screen",
        "Heading After Gap",
        "Body text under the heading that is long enough to count as a full line of text.",
    ]
    text = cleanup.rebuild_paragraphs(lines, breaks_before={3})
    paragraphs = text.split("\n\n")
    assert paragraphs[1] == "• Use strong passwords and never share them with anyone else, even colleagues"
    assert paragraphs[2] == "• Lock the screen"
    assert paragraphs[3].startswith("Heading After Gap")
    assert "\n\n\n" not in text


def test_layout_gap_inside_a_sentence_is_not_a_paragraph_break():
    lines = ["Employees should contact an Ethics Advisor or the", "Law Department for further guidance."]
    assert cleanup.rebuild_paragraphs(lines, breaks_before={1}) == (
        "Employees should contact an Ethics Advisor or the Law Department for further guidance.")


def test_short_lines_stay_on_their_own_line():
    lines = ["Total revenue 1,000 2,000", "Cost of revenue 500 900", "Gross profit 500 1,100"] + [
        "A long line of ordinary prose that sets the typical line length for this page of text."] * 5
    text = cleanup.rebuild_paragraphs(lines)
    assert text.startswith("Total revenue 1,000 2,000\nCost of revenue 500 900\nGross profit 500 1,100")


def test_repeated_headers_and_footers_are_found_and_dropped():
    words = "alpha beta gamma delta epsilon".split()
    pages = [["ACME Annual Report", f"Body text about {word}.", f"More about {word}.", f"Page {n} of 5"]
             for n, word in enumerate(words, start=1)]
    repeated = cleanup.find_repeated_edge_lines(pages)
    assert "acme annual report" in repeated and "page # of #" in repeated
    assert cleanup.furniture_key("Body text about alpha.") not in repeated
    assert cleanup.furniture_indices(pages[0], repeated) == {0, 3}


def test_running_header_on_consecutive_pages_only():
    pages = [["Chapter 1", "text a"], ["Chapter 1", "text b"], ["Chapter 1", "text c"], ["Chapter 1", "text d"]]
    pages += [["Chapter 2", f"text {n}"] for n in range(8)]
    repeated = cleanup.find_repeated_edge_lines(pages)
    assert "chapter #" in repeated


def test_furniture_removal_stops_at_body_text():
    lines = ["12", "Body line that mentions ACME Annual Report", "ACME Annual Report", "end"]
    assert cleanup.furniture_indices(lines, {"acme annual report"}) == {0}


def test_strip_furniture_affix():
    repeated = {"page proof pending publication"}
    assert cleanup.strip_furniture_affix("distinct from Sim-Page Proof Pending Publication", repeated) == (
        "distinct from Sim-")


def test_ends_sentence():
    assert cleanup.ends_sentence("It is not.")
    assert cleanup.ends_sentence("“Quoted.”")
    assert not cleanup.ends_sentence("services for")
