"""parse_file: pre-checks, dispatch, Document fields, error conversion, and a sweep over robustness/."""

from __future__ import annotations

import logging
import re
import shutil

import pytest

from ingest import registry
from ingest.formats import SUPPORTED_SUFFIXES
from ingest.limits import ParseLimits
from ingest.registry import parse_file
from kb.errors import UnreadableFile
from kb.types import Document, content_hash

log = logging.getLogger(__name__)

UNSUPPORTED_LIST = "(supported: .docx, .jpg, .md, .pdf, .png, .tif, .txt)"


def _reason(path, limits: ParseLimits = ParseLimits()) -> str:
    with pytest.raises(UnreadableFile) as err:
        parse_file(path, limits)
    return err.value.reason


def test_supported_suffixes():
    assert SUPPORTED_SUFFIXES == {".pdf", ".docx", ".txt", ".md", ".markdown", ".png", ".jpg", ".jpeg", ".tif",
                                  ".tiff"}
    assert set(registry.PARSERS) == set(SUPPORTED_SUFFIXES)


def test_document_fields_are_filled(tmp_path, monkeypatch):
    (tmp_path / "Notes.TXT").write_text("hello\n")
    monkeypatch.chdir(tmp_path)
    doc = parse_file("Notes.TXT")
    assert isinstance(doc, Document)
    assert doc.path.is_absolute() and doc.path == (tmp_path / "Notes.TXT").resolve()
    assert doc.kind == "text"
    assert doc.content_hash == content_hash(tmp_path / "Notes.TXT")


def test_missing_and_not_a_file(tmp_path):
    assert _reason(tmp_path / "nope.pdf") == "file not found"
    (tmp_path / "folder.pdf").mkdir()
    assert _reason(tmp_path / "folder.pdf") == "not a regular file"


def test_empty_file(shared_data):
    assert _reason(shared_data / "robustness/pdfplumber/empty.pdf") == "empty file (0 bytes)"


def test_file_too_large(shared_data):
    reason = _reason(shared_data / "docs/policies/google_code_of_conduct.pdf", ParseLimits(max_file_mb=0.1))
    assert reason == "file too large: 0.2 MB (limit 0.1 MB, setting max_file_mb)"


def test_extension_content_mismatch(shared_data, tmp_path):
    fake_pdf = tmp_path / "report.pdf"
    shutil.copy(shared_data / "docs/policies/Acceptable_Use_Policy.docx", fake_pdf)
    assert _reason(fake_pdf) == ("extension .pdf but content is not a PDF (starts with b'PK\\x03\\x04', "
                                 "looks like a ZIP/Office file)")
    fake_txt = tmp_path / "notes.txt"
    shutil.copy(shared_data / "docs/policies/google_code_of_conduct.pdf", fake_txt)
    assert _reason(fake_txt) == "extension .txt but content is a PDF, not text"
    html_pdf = tmp_path / "page.pdf"
    html_pdf.write_text("<!DOCTYPE html><html><body>Not found</body></html>")
    assert _reason(html_pdf) == "extension .pdf but content is not a PDF (starts with b'<!DO', looks like an HTML page)"
    fake_docx = tmp_path / "letter.docx"
    fake_docx.write_text("Dear team, ...")
    assert _reason(fake_docx) == (
        "extension .docx but content is not a DOCX (starts with b'Dear', looks like plain text)")


def test_legacy_and_unsupported_types(shared_data, tmp_path):
    assert _reason(shared_data / "robustness/unstructured/simple.doc") == (
        "unsupported legacy Word 97-2003 .doc format: save it as .docx")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    assert _reason(tmp_path / "old.xls").startswith("unsupported legacy Excel 97-2003 .xls format")
    assert _reason(shared_data / "robustness/pypdf-sample-files/002-trivial-libre-office-writer/source.odt") == (
        f"unsupported file type '.odt' {UNSUPPORTED_LIST}")
    assert _reason(shared_data / "robustness/pypdf-sample-files/Makefile") == (
        f"unsupported file type (no extension) {UNSUPPORTED_LIST}")


def test_library_errors_become_unreadable(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    path.write_text("text")

    def broken(path, limits, data=None):
        raise KeyError("word/styles.xml")

    monkeypatch.setitem(registry.PARSERS, ".txt", broken)
    assert _reason(path) == "could not parse text: text decoder failed (KeyError: 'word/styles.xml')"

    def hungry(path, limits, data=None):
        raise MemoryError

    monkeypatch.setitem(registry.PARSERS, ".txt", hungry)
    assert _reason(path) == "ran out of memory while parsing"


# What a precise skip reason may say, one pattern per kind of problem.
EXPECTED_REASONS = [
    r"empty file \(0 bytes\)",
    r"unsupported file type ('\.\w+'|\(no extension\)) \(supported: \.docx, \.jpg, \.md, \.pdf, \.png, \.tif, \.txt\)",
    r"an image: its text can only be read by OCR, which is off \(setting ocr\)",
    r"unsupported legacy Word 97-2003 \.doc format: save it as \.docx",
    r"encrypted PDF: a password is required to open it",
    r"no text layer on (its only page|any of \d+ pages)( besides running headers/page numbers)?: "
    r"looks like a scanned or image-only PDF "
    r"\(OCR is off: setting ocr\)",
    r"too many pages: \d+ \(limit 300, setting max_pages\)",
    r"Strict Open XML DOCX is not supported: re-save it as a standard Word document",
    r"corrupt PDF: neither pdfium nor pypdf could read it \(pdfium: .+; pypdf: \w+: .+\)",
    r"no text found in document",
    r"no body text: the only text is page numbers and running headers/footers \(lines repeated across pages\)",
    r"no text on (its only page|any of \d+ pages): blank, or vector drawings only \(no images to OCR\)",
]


@pytest.mark.slow
def test_every_robustness_file_parses_or_is_skipped_precisely(shared_data):
    """Each file gives a Document or an UnreadableFile with a known, specific reason -- nothing else (OCR off:
    reading the scans takes minutes; tests/ingest/test_ocr.py and bench/ocr_quality.py read them)."""
    root = shared_data / "robustness"
    outcomes: dict[str, str] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.stat().st_size > 20 * 1024 * 1024:
            continue
        name = str(path.relative_to(root))
        try:
            doc = parse_file(path, ParseLimits(max_pages=300, ocr=False))
        except UnreadableFile as exc:
            outcomes[name] = f"SKIP {exc.reason}"
            assert exc.reason.strip(), name
            assert any(re.fullmatch(p, exc.reason) for p in EXPECTED_REASONS), f"{name}: {exc.reason}"
        else:
            assert isinstance(doc, Document) and doc.sections, name
            assert all(s.text.strip() for s in doc.sections), name
            outcomes[name] = f"OK {doc.kind} {doc.pages or ''} {'; '.join(doc.warnings)}"
    skipped = {k: v for k, v in outcomes.items() if v.startswith("SKIP")}
    print(f"\n{len(outcomes) - len(skipped)} parsed, {len(skipped)} skipped")
    for name, outcome in sorted(skipped.items()):
        print(f"{name}: {outcome}")
    # readable documents must not be skipped
    for name in ("pdfplumber/malformed-from-issue-932.pdf", "unstructured/pdf/copy-protected.pdf",
                 "unstructured/pdf/invalid-pdf-structure-pdfminer-one-page.pdf",
                 "unstructured/pdf/failure-after-repair.pdf", "unstructured/pdf/pdf-bad-color-space.pdf",
                 "unstructured/handbook-872p.docx", "docling/docx/sources/Transitional.docx",
                 "unstructured/language-docs/eng_spa_mult.doc", "docling/pdf/invisible_text_layer.pdf"):
        assert outcomes[name].startswith("OK"), f"{name}: {outcomes[name]}"
