"""Every file of ../shared/data/robustness in one ingest run: indexed, or skipped with a precise reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kb import KnowledgeBase, Settings
from kb.index.discover import discover
from kb.retrieval.filters import Filter

pytestmark = [pytest.mark.model, pytest.mark.slow]


def test_the_whole_robustness_folder_in_one_run(tmp_path, shared_data, embedder):
    robust = shared_data / "robustness"
    policy = tmp_path / "policy"
    policy.mkdir()
    shutil.copy(shared_data / "docs" / "policies" / "Remote_Access_Policy.docx", policy)
    # a low page limit keeps the run short and exercises the "huge file" rule on the 400- and 619-page PDFs;
    # OCR off: reading the 25 scans would take many minutes here (tests/ingest/test_ocr.py, bench/ocr_quality.py)
    kb = KnowledgeBase(Settings(index_dir=tmp_path / "index", max_pages=100, parse_timeout_s=120, ocr=False),
                       embedder=embedder)
    kb.ingest([policy])
    before = kb.search("remote access VPN", k=1)[0].chunk.chunk_id

    report = kb.ingest([robust, policy])

    files, _ = discover([robust])
    assert len(report.indexed) + len(report.skipped) == len(files) > 400
    assert len(report.unchanged) == 1 and not report.removed  # the policy was kept as it was
    reasons = {str(Path(s.path).relative_to(robust)): s.reason for s in report.skipped}
    assert all(len(reason) > 10 for reason in reasons.values())
    assert "encrypted" in reasons["pypdf-resources/encryption/r4-aes-user-password.pdf"]
    assert "legacy Word 97-2003 .doc" in reasons["unstructured/simple.doc"]
    assert "scanned" in reasons["docling/ocr/sources/ocr_test.pdf"]
    assert "empty file" in reasons["pdfplumber/empty.pdf"]
    assert "pages" in reasons["unstructured/pdf/DA-619p.pdf"]
    assert "corrupt" in reasons["pypdf-sample-files/017-unreadable-meta-data/unreadablemetadata.pdf"]
    assert "read by OCR, which is off" in reasons["pypdf-sample-files/007-imagemagick-images/smile.png"]
    assert len(report.indexed) > 300

    status = kb.status()
    assert len(status["skipped"]) == len(report.skipped) and status["documents"] == len(report.indexed) + 1
    # the policy's chunks were kept as they were (the new files may now outrank it on an unfiltered search)
    only_policy = Filter.of(paths=[policy])
    assert kb.search("remote access VPN", k=1, where=only_policy)[0].chunk.chunk_id == before
    assert kb.search("Lorem ipsum dolor sit amet", k=3)
