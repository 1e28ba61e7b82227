"""The fast ingest path (issue 32) builds the index the old one built: the same passages, the same vectors.

A mixed folder -- 10-K pages with ruled tables and plain pages, a policy PDF, the sample documents (a PDF with
a ruled table, DOCX, Markdown, text) and a PDF with hidden text -- is ingested with the real embedding model.
Its passages (text, place, heading, ids, language) and the manifest's per-file record are fingerprinted and
compared with the fingerprint the code before issue 32 gave for the same folder (``EXPECTED``, computed by
running :func:`fingerprint` on that code); the vectors are compared with the model encoding the same passages
alone (the old path's vectors).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.security.test_hidden_pdf_text import HIDDEN, VISIBLE, _hidden_text_pdf

pytestmark = [pytest.mark.model, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
# 10-K pages: 7, 8, 116, 150 hold ruled tables (names/ages, segments, subsidiaries), 20 and 40 are plain text
FILING_PAGES = (6, 7, 19, 39, 115, 149)
SAMPLES = ("finance/travel_expense_policy.pdf", "hr/onboarding_guide.docx", "general/office_facilities_guide.md",
           "general/holiday_calendar_2026.txt", "general/code_of_conduct.pdf")
# fingerprint(...) of the folder built by build_mixed_folder, with the code before issue 32 (commit f454933)
EXPECTED = {"passages": "735be63185d3267a89f37cc27cb1c6601825865ba5394c67cf060e1733ef3357",
            "files": "af031c23be8a0067226d391d39270583172d1714f536b46d4e50226a55180213"}


def build_mixed_folder(folder: Path, shared_data: Path) -> Path:
    """The mixed folder (the same bytes on every run)."""
    import pypdfium2 as pdfium

    folder.mkdir(parents=True, exist_ok=True)
    filing = pdfium.PdfDocument(str(shared_data / "corpus" / "filings-10k" / "3M_2015_10K.pdf"))
    pages = pdfium.PdfDocument.new()
    pages.import_pages(filing, list(FILING_PAGES))
    pages.save(str(folder / "3m_pages.pdf"))
    pages.close()
    filing.close()
    shutil.copy(shared_data / "docs" / "policies" / "google_code_of_conduct.pdf", folder)
    for name in SAMPLES:
        shutil.copy(ROOT / "sample_docs" / name, folder)
    _hidden_text_pdf(folder / "leave_hidden.pdf")
    return folder


def fingerprint(version: Path) -> dict[str, str]:
    """sha256 of the version's passages (everything but the path-derived document id) and of its manifest's
    per-file records (everything but times and hashes that depend on when and where the folder was built)."""
    import sqlite3

    from kb.index.manifest import Manifest
    from kb.index.version import CHUNKS_DB, select_chunks

    db = sqlite3.connect(str(version / CHUNKS_DB))
    try:
        passages = [[c.name, c.page, list(c.heading_path), c.title, c.chunk_index, c.char_start, c.char_end,
                     c.language, c.chunk_id.split("-", 1)[1], c.text] for _, c in select_chunks(db)]
    finally:
        db.close()
    passages.sort(key=lambda p: (p[0], p[4]))
    files = {Path(p).name: [e.status, e.title, e.kind, e.pages, e.chunks, e.warnings, e.reason]
             for p, e in Manifest.read(version).files.items()}
    return {"passages": _sha(passages), "files": _sha(sorted(files.items()))}


def _sha(value) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False).encode("utf-8")).hexdigest()


def test_the_mixed_folder_gives_the_index_the_old_ingest_gave(tmp_path, shared_data, embedder):
    from kb import KnowledgeBase, Settings
    from kb.index.version import load_vectors, open_db, select_chunks

    folder = build_mixed_folder(tmp_path / "mixed", shared_data)
    kb = KnowledgeBase(Settings(index_dir=tmp_path / "index"), embedder=embedder)
    report = kb.ingest([folder])
    assert len(report.indexed) == 8 and report.chunks_added == 140 and not report.skipped, report.to_json()
    version = kb.folder.require_current()
    assert fingerprint(version) == EXPECTED

    db = open_db(version)
    try:
        chunks = [c for _, c in select_chunks(db)]
    finally:
        db.close()
    texts = [c.text for c in chunks]
    # the protections hold: hidden text dropped, ruled tables read as header: value rows
    assert any(VISIBLE in t for t in texts)
    assert not any(sentence in t for t in texts for sentence in HIDDEN.values())
    assert any("City or region: London; Hotel limit per night: £180; Per diem per day: £55" in t for t in texts)
    assert any("Name: Inge G. Thulin; Age: 62" in t for t in texts)
    # the vectors are the model's for these passages, whatever batches they were embedded in
    stored = np.asarray(load_vectors(version), dtype=np.float32)
    alone = embedder.encode([c.embed_text for c in chunks])
    cosine = (stored * alone).sum(axis=1) / (np.linalg.norm(stored, axis=1) * np.linalg.norm(alone, axis=1))
    assert float(cosine.min()) > 0.9999, float(cosine.min())
