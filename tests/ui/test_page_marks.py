"""The page picture marks a quoted table row by its printed cells, and the answer span inside it (issue 29:
rows were never marked, "quote not found on page 3")."""

from __future__ import annotations

from pathlib import Path

from ui.pdf_preview import find_row, render_page, row_cells

TRAVEL = Path(__file__).resolve().parents[2] / "sample_docs" / "finance" / "travel_expense_policy.pdf"
ROW = "City or region: London; Hotel limit per night: £180; Per diem per day: £55"


def test_a_row_quote_gives_its_cells():
    assert row_cells(ROW) == ["London", "£180", "£55"]
    assert row_cells("Hotel rates:\n" + ROW) == ["London", "£180", "£55"]  # a lead-in above the row
    assert row_cells("The nightly hotel limits below include breakfast.") == []


def test_the_cells_are_found_in_the_same_printed_row():
    page = "City or region Hotel limit Per diem\nLondon £180 £55\nOther UK cities £120 £40\nRest £150 £55\n"
    ranges = find_row(page, ["London", "£180", "£55"])
    assert [page[a:b] for a, b in ranges] == ["London", "£180", "£55"]
    assert ranges[2][0] < page.index("Other")  # the £55 of London's row, not of the last row


def test_the_row_and_its_span_are_marked_on_the_pdf_page():
    picture = render_page(TRAVEL, 3, ROW, span="£180")
    assert len(picture.boxes) == 3
    plain = render_page(TRAVEL, 3, "A sentence that is nowhere on this page at all.")
    assert plain.boxes == []
