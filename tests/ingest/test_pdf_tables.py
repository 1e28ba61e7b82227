"""Ruled PDF tables keep their column headers: each row becomes ``Header: value; …`` on its own line."""

from __future__ import annotations

from pathlib import Path

from ingest.pdf_tables import row_lines
from ingest.registry import parse_file

ROOT = Path(__file__).resolve().parents[2]


def test_rows_name_their_cells_by_header():
    cells = [["City or region", "Hotel limit per night", "Per diem per day"], ["London", "£180", "£55"],
             ["Other UK cities", None, "£40"]]
    assert row_lines(cells) == ["City or region: London; Hotel limit per night: £180; Per diem per day: £55",
                                "City or region: Other UK cities; Per diem per day: £40"]


def test_boxes_without_a_header_row_keep_their_flat_text():
    assert row_lines([["Cash and cash equivalents", "$", "1,467,576"]]) == []
    assert row_lines([["Total", ""], ["a", "b"]]) == []


def test_a_sample_policy_table_row_is_read_with_its_headers():
    doc = parse_file(ROOT / "sample_docs" / "finance" / "travel_expense_policy.pdf")
    lines = [line for s in doc.sections for line in s.text.split("\n")]
    assert "City or region: London; Hotel limit per night: £180; Per diem per day: £55" in lines
    assert not any(line.strip() == "London £180 £55" for line in lines)  # the flat row is gone


def test_only_pages_whose_rules_form_a_grid_are_handed_to_pdfplumber(shared_data):
    import pypdfium2 as pdfium

    from ingest.pdf import _page_objects
    from ingest.pdf_tables import has_ruled_grid

    def ruled_grid(page) -> bool:
        return has_ruled_grid(_page_objects(page).rules)

    ruled = pdfium.PdfDocument(str(ROOT / "sample_docs" / "finance" / "travel_expense_policy.pdf"))
    assert ruled_grid(ruled[0])
    # a 10-K page of shaded bands (no column rules): pdfplumber would read its first band as a header row
    filings = shared_data / "corpus" / "filings-10k"
    banded = pdfium.PdfDocument(str(filings / "AES_2015_10K.pdf"))
    assert not ruled_grid(banded[14])
    assert sum(ruled_grid(banded[i]) for i in range(len(banded))) < len(banded) // 10
