"""PDF parsing on real files: page text, furniture removal, outline paths, encryption, scans."""

from __future__ import annotations

import re

import pypdf
import pypdfium2
import pytest

from ingest import pdf as pdf_module
from ingest.limits import ParseLimits
from ingest.registry import parse_file
from kb.errors import UnreadableFile


@pytest.fixture(scope="module")
def netflix(shared_data):
    """A real 10-K (73 pages, encrypted with an empty password) parsed once for several tests."""
    return parse_file(shared_data / "corpus/filings-10k/NETFLIX_2016_10K.pdf")


def test_policy_pdf_pages_and_phrases(shared_data):
    doc = parse_file(shared_data / "docs/policies/google_code_of_conduct.pdf")
    assert doc.kind == "pdf" and doc.pages == 26
    assert doc.title == "Lobbyregister - Google Code of Conduct"
    assert doc.warnings == ["no text layer on page 26"]
    page3 = "\n\n".join(s.text for s in doc.sections if s.page == 3)  # one section per heading on the page
    paragraphs = page3.split("\n\n")
    assert "I. Serve Our Users" in page3
    # Skia/Google-Docs PDFs come out of pypdf one word per line; here the words form paragraphs
    assert ("1. Integrity\nOur reputation as a company that our users can trust is our most valuable asset, and it is "
            "up to all of us to make sure that we continually earn that trust. All of our communications and other "
            "interactions with our users should increase their trust in us.") in paragraphs
    assert sorted({s.page for s in doc.sections}) == list(range(1, 26))


def test_page_that_ends_mid_sentence_continues(shared_data):
    doc = parse_file(shared_data / "docs/policies/google_code_of_conduct.pdf")
    first, second = doc.sections[0], doc.sections[1]
    assert first.text.endswith("perform work or services for") and second.text.startswith("Google to follow")
    assert first.continues
    assert not next(s for s in doc.sections if s.page == 3).continues


def test_10k_headers_footers_and_page_numbers_removed(netflix):
    assert netflix.pages == 73 and len(netflix.sections) == 73
    page21 = next(s for s in netflix.sections if s.page == 21)
    assert page21.text.startswith("delivery expenses, therefore, include equipment costs related to Open Connect")
    lines = [line for s in netflix.sections for line in s.text.split("\n")]
    assert "Table of Contents" not in lines  # the running header on every page
    assert not [line for line in lines if re.fullmatch(r"(page )?\d{1,3}", line.strip(), re.I)]
    assert all("\n\n\n" not in s.text and s.text == s.text.strip() for s in netflix.sections)


def test_10k_financial_table_rows_stay_on_lines(netflix):
    balance = next(s for s in netflix.sections if "CONSOLIDATED BALANCE SHEETS" in s.text and s.page == 45)
    assert "Cash and cash equivalents $ 1,467,576 $ 1,809,330" in balance.text.split("\n")


def test_encrypted_with_empty_password_is_read(shared_data, netflix):
    assert pypdf.PdfReader(shared_data / "corpus/filings-10k/NETFLIX_2016_10K.pdf").is_encrypted
    assert "streaming" in netflix.sections[5].text


def test_hyphenated_line_breaks_are_joined(shared_data):
    brief = parse_file(shared_data / "docs/records/scotus_briefs/598us1r3_j4ek.pdf")
    page5 = next(s for s in brief.sections if s.page == 5)
    assert "state postconviction relief" in page5.text
    paper = parse_file(shared_data / "robustness/unstructured/pdf/multi-column-2p.pdf")
    text = paper.sections[0].text
    assert "relies on efficient passage retrieval" in text
    assert "Lucene-BM25 system" in text  # hyphen before a capital is kept


def test_outline_gives_heading_paths(shared_data):
    doc = parse_file(shared_data / "robustness/docling/pdf/bookmark_sample.pdf")
    # each page is cut at its headings: every section carries the heading its text sits under (a heading
    # whose body was dropped as a running footer, repeated on every page, leaves no section of its own)
    paths = [(s.page, s.heading_path) for s in doc.sections]
    assert paths == [(1, ("PART I - DEFINITIONS",)), (1, ("PART I - DEFINITIONS", "1. Interpretation")),
                     (2, ("PART II - OBLIGATIONS",)), (2, ("PART II - OBLIGATIONS", "3. Payment Terms")),
                     (3, ("PART II - OBLIGATIONS", "4. Termination"))]
    assert doc.title == "PART I - DEFINITIONS"  # metadata title is "untitled"


def test_title_from_largest_text_on_first_page(shared_data):
    doc = parse_file(shared_data / "robustness/unstructured/pdf/copy-protected.pdf")
    assert doc.title == "LayoutParser: A Unified Toolkit for Deep Learning Based Document Image Analysis"


@pytest.mark.parametrize("relative", [
    "robustness/pypdf-sample-files/005-libreoffice-writer-password/libreoffice-writer-password.pdf",
    "robustness/pdfplumber/password-example.pdf",
])
def test_password_protected(shared_data, relative):
    with pytest.raises(UnreadableFile) as err:
        parse_file(shared_data / relative)
    assert err.value.reason == "encrypted PDF: a password is required to open it"


def test_empty_owner_password_opens_through_pypdf(shared_data):
    doc = parse_file(shared_data / "robustness/pypdf-resources/encryption/r5-user-password.pdf")
    assert "pdf encryption test" in doc.sections[0].text


# with OCR on, these scans are read (tests/ingest/test_ocr.py); with it off they are skipped, saying why
@pytest.mark.parametrize("relative, reason", [
    ("robustness/docling/ocr/sources/ocr_test.pdf",
     "no text layer on its only page: looks like a scanned or image-only PDF (OCR is off: setting ocr)"),
    ("robustness/docling/ocr/sources/nemotron_multipage.pdf",
     "no text layer on any of 4 pages: looks like a scanned or image-only PDF (OCR is off: setting ocr)"),
])
def test_scanned_pdf(shared_data, relative, reason):
    with pytest.raises(UnreadableFile) as err:
        parse_file(shared_data / relative, ParseLimits(ocr=False))
    assert err.value.reason == reason


def test_scan_with_a_stamped_header(shared_data):
    with pytest.raises(UnreadableFile) as err:  # "Case 1:21-cv-01009 ... Page 1 of 5"
        parse_file(shared_data / "docs/records/court_orders/dr_a_order.pdf", ParseLimits(ocr=False))
    assert err.value.reason == ("no text layer on any of 5 pages besides running headers/page numbers: "
                                "looks like a scanned or image-only PDF (OCR is off: setting ocr)")


def test_pages_without_text_are_reported(shared_data):
    doc = parse_file(shared_data / "robustness/unstructured/pdf/layout-parser-paper-with-empty-pages.pdf")
    assert doc.warnings == ["no text layer on pages 2, 3"]
    assert [s.page for s in doc.sections] == [1, 4]


def test_malformed_but_readable(shared_data):
    doc = parse_file(shared_data / "robustness/pdfplumber/malformed-from-issue-932.pdf")
    assert "2021" in doc.sections[0].text


def test_unreadable_structure(shared_data):
    with pytest.raises(UnreadableFile) as err:
        parse_file(shared_data / "robustness/pypdf-sample-files/017-unreadable-meta-data/unreadablemetadata.pdf")
    assert err.value.reason.startswith("corrupt PDF: neither pdfium nor pypdf could read it (pdfium: ")
    assert "pypdf: PdfReadError" in err.value.reason


def test_too_many_pages(shared_data):
    with pytest.raises(UnreadableFile) as err:
        parse_file(shared_data / "robustness/unstructured/pdf/DA-619p.pdf", ParseLimits(max_pages=300))
    assert err.value.reason == "too many pages: 619 (limit 300, setting max_pages)"


def test_one_bad_page_is_a_warning(shared_data, monkeypatch):
    original = pdf_module._PdfiumSource.page

    def flaky(self, index):
        if index == 1:
            raise RuntimeError("boom")
        return original(self, index)

    monkeypatch.setattr(pdf_module._PdfiumSource, "page", flaky)
    doc = parse_file(shared_data / "robustness/pypdf-sample-files/004-pdflatex-4-pages/pdflatex-4-pages.pdf")
    assert [s.page for s in doc.sections] == [1, 3, 4]
    assert doc.warnings == ["text extraction failed on page 2 (RuntimeError: boom)"]


def test_pypdf_fallback_rebuilds_paragraphs(shared_data, monkeypatch):
    def refuse(*args, **kwargs):
        raise pypdfium2.PdfiumError("Failed to load document (PDFium: Data format error).",
                                    err_code=pypdfium2.raw.FPDF_ERR_FORMAT)

    monkeypatch.setattr(pdf_module.pdfium, "PdfDocument", refuse)
    doc = parse_file(shared_data / "docs/policies/google_code_of_conduct.pdf")
    page3 = next(s for s in doc.sections if s.page == 3)
    # pypdf yields one word per line for this file: the lines must still become running text
    assert "Our reputation as a company that our users can trust is our most valuable asset" in page3.text
