"""Upload names and content: traversal, absolute paths, odd characters, type/content mismatch, size."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kb.settings import Settings
from kb.sync.uploads import UploadRejected, check_upload, safe_upload_path

PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
DOCX_HEAD = b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 20


@pytest.mark.parametrize("name", [
    "../../etc/passwd.txt", "..\\..\\boot.ini.txt", "hr/../../x.pdf", "/etc/cron.d/x.txt", "C:\\Windows\\x.txt",
    "\\\\server\\share\\x.pdf", "..", ".", "", "   ", ".hidden.pdf", "~$lock.docx", "a\x00b.pdf", "a\nb.pdf",
    "invoice\u202efdp.exe.pdf", "zero\u200bwidth.pdf", "CON.txt", "nul.pdf", "report.pdf.", "a:b.pdf",
    "what?.pdf", "x" * 300 + ".pdf", "payload.exe", "page.html", "noext", "report.pdf.part", "shell.php.",
])
def test_hostile_names_are_rejected(tmp_path, name):
    with pytest.raises(UploadRejected):
        safe_upload_path(tmp_path, "general", name)


@pytest.mark.parametrize("collection", ["..", "../outside", "/etc", "hr/confidential", ".git", "a\x00"])
def test_hostile_collections_are_rejected(tmp_path, collection):
    with pytest.raises(UploadRejected):
        safe_upload_path(tmp_path, collection, "ok.pdf")


@pytest.mark.parametrize("name", ["Holiday policy 2026.pdf", "Übersicht – Reisekosten.docx", "notes_v2.md",
                                  "read me (final).txt", "社員ハンドブック.pdf"])
def test_ordinary_names_land_inside_the_collection(tmp_path, name):
    target = safe_upload_path(tmp_path, "general", name)
    assert target.parent == (tmp_path / "general").resolve()
    assert target.name == name


def test_symlinked_collection_outside_docs_dir_is_rejected(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    docs = tmp_path / "docs"
    docs.mkdir()
    os.symlink(outside, docs / "linked")
    with pytest.raises(UploadRejected, match="outside"):
        safe_upload_path(docs, "linked", "x.pdf")
    os.symlink("/etc/passwd", docs / "evil.txt")  # an existing symlinked file name must not be written through
    with pytest.raises(UploadRejected, match="outside"):
        safe_upload_path(docs, "", "evil.txt")


@pytest.mark.parametrize("name, head, message", [
    ("report.pdf", b"PK\x03\x04rest", "content is a ZIP"),
    ("report.pdf", b"MZ\x90\x00program", "a program"),
    ("report.docx", PDF_HEAD, "content is a PDF"),
    ("report.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Office"),
    ("notes.txt", b"\x7fELF\x02\x01\x01", "a program"),
    ("notes.md", b"\x89PNG\r\n\x1a\n", "an image"),
    ("notes.txt", b"<!DOCTYPE html><html><script>alert(1)</script>", "HTML"),
    ("notes.txt", b"abc\x00\x01\x02" * 10, "binary"),
    ("payload.exe", b"MZ", "not accepted"),
])
def test_extension_content_mismatch(name, head, message):
    with pytest.raises(UploadRejected, match=message):
        check_upload(name, head, len(head), Settings())


def test_size_limits():
    settings = Settings(upload_max_mb=1)
    assert check_upload("a.pdf", PDF_HEAD, 1024 * 1024, settings) == "pdf"
    with pytest.raises(UploadRejected, match="limited to 1 MB"):
        check_upload("a.pdf", PDF_HEAD, 1024 * 1024 + 1, settings)
    with pytest.raises(UploadRejected, match="empty"):
        check_upload("a.pdf", b"", 0, settings)


def test_real_files_pass(shared_data, sample_docs):
    settings = Settings()
    files = [next((shared_data / "docs" / "policies").glob("*.pdf")), next((shared_data / "docs" / "policies").glob("*.docx")),
             next(Path(sample_docs).rglob("*.md"))]
    for path in files:
        data = path.read_bytes()
        assert check_upload(path.name, data[:8192], len(data), settings) in ("pdf", "docx", "markdown")
    assert check_upload("latin1.txt", "Café olé".encode("cp1252"), 8, settings) == "text"
    assert check_upload("utf16.txt", "hello".encode("utf-16"), 12, settings) == "text"
