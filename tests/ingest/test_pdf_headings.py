"""Every PDF chunk carries the heading printed above its text, also across page breaks.

The truth comes from the sample documents' own sources (tools/sample_docs/source/*.md): the last `#`/`##`
heading above a chunk's first words there is the heading the reader sees above them in the PDF.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.chunker import ChunkingConfig, chunk_document
from ingest.registry import parse_file
from ingest.tokens import load_token_counter
from kb.embedding.packaged import resolve_model_path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "tools" / "sample_docs" / "source"
PDFS = sorted((ROOT / "sample_docs").rglob("*.pdf"))


def _words(text: str) -> str:
    return " ".join(re.sub(r"[*|•]", " ", text).split())


def _heading_above(source: str, snippet: str) -> str | None:
    """The last heading before ``snippet`` in the Markdown source (None when the snippet is not found)."""
    flat, headings = "", []
    for line in source.splitlines():
        match = re.match(r"^#{1,3}\s+(.*)$", line)
        if match:
            headings.append((len(flat), _words(match.group(1))))
        flat += _words(line) + " "
    at = flat.find(snippet)
    if at < 0:
        return None
    above = [title for position, title in headings if position <= at]
    return above[-1] if above else ""


@pytest.fixture(scope="module")
def count():
    return load_token_counter(resolve_model_path("sentence-transformers/all-MiniLM-L6-v2"))


@pytest.mark.parametrize("pdf", PDFS, ids=[p.name for p in PDFS])
def test_every_chunk_has_the_heading_printed_above_it(pdf, count):
    source = (SOURCES / pdf.relative_to(ROOT / "sample_docs")).with_suffix(".md").read_text(encoding="utf-8")
    doc = parse_file(pdf)
    checked = 0
    for chunk in chunk_document(doc, count, ChunkingConfig(256, 40)):
        lines = [line for line in chunk.text.splitlines() if len(line.split()) >= 6]
        if not lines:
            continue  # a title block or a table fragment: nothing to look up in the source
        snippet = " ".join(_words(lines[0]).split()[:6])
        expected = _heading_above(source, snippet)
        if expected is None:
            continue  # a table row rendered differently from its source
        checked += 1
        assert (chunk.heading_path[-1] if chunk.heading_path else "") == expected, (chunk.page, chunk.text[:120])
    assert checked >= 5
