"""Chunking with the real all-MiniLM-L6-v2 tokenizer (light: tokenizers only, no model weights)."""

from pathlib import Path

import pytest

from ingest.chunker import ChunkingConfig, chunk_document, document_text
from ingest.tokens import load_token_counter
from kb.embedding.packaged import resolve_model_path
from kb.settings import Settings
from kb.types import Document, Section


@pytest.fixture(scope="module")
def count():
    return load_token_counter(resolve_model_path(Settings().embedding_model))


def _sentences(topic: str, n: int) -> str:
    return " ".join(f"Rule {i} of the {topic} policy applies to every employee in the Oslo office."
                    for i in range(1, n + 1))


def _doc(*sections: Section) -> Document:
    return Document(path=Path("/company/handbook.pdf"), title="Employee Handbook", sections=list(sections))


def _covered(doc, chunks) -> bool:
    text = document_text(doc)
    covered = [False] * len(text)
    for c in chunks:
        for i in range(c.char_start, c.char_end):
            covered[i] = True
    return all(covered[i] for i, ch in enumerate(text) if not ch.isspace())


def test_chunks_are_exact_slices_fit_the_window_and_cover_everything(count):
    doc = _doc(Section(_sentences("leave", 30) + "\n\n" + _sentences("travel", 12), page=1,
                       heading_path=("Leave",)),
               Section(_sentences("expense", 25), page=2, heading_path=("Expenses", "Receipts")))
    config = ChunkingConfig(max_tokens=128, overlap_tokens=24)
    chunks = chunk_document(doc, count, config)
    text = document_text(doc)
    assert len(chunks) > 4
    for i, c in enumerate(chunks):
        assert text[c.char_start:c.char_end] == c.text
        assert c.chunk_index == i
        assert count([c.embed_text])[0] + 2 <= config.max_tokens
        assert c.embed_text.startswith("Employee Handbook\n")
    assert _covered(doc, chunks)
    assert [c.page for c in chunks] == sorted(c.page for c in chunks)
    assert {c.heading for c in chunks if c.page == 2} == {"Expenses > Receipts"}
    assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_chunks_do_not_cross_pages_unless_a_paragraph_runs_on(count):
    config = ChunkingConfig(max_tokens=256, overlap_tokens=0)
    plain = _doc(Section("The first page ends here.", page=1), Section("The second page starts.", page=2))
    assert [c.text for c in chunk_document(plain, count, config)] == [
        "The first page ends here.", "The second page starts."]
    split = _doc(Section("Reimbursement requires the original receipt and", page=1, continues=True),
                 Section("a signed claim form. Late claims are refused.\n\nNext topic here.", page=2))
    first = chunk_document(split, count, config)[0]
    assert first.page == 1
    assert first.text.endswith("a signed claim form. Late claims are refused.")
    assert "Next topic" not in first.text


def test_breaks_prefer_paragraphs_and_consecutive_chunks_overlap(count):
    paragraph_a = _sentences("security", 6)
    paragraph_b = _sentences("onboarding", 6)
    doc = _doc(Section(paragraph_a + "\n\n" + paragraph_b, page=1))
    size = count([paragraph_a + " " + paragraph_b])[0]
    chunks = chunk_document(doc, count, ChunkingConfig(max_tokens=size - 10, overlap_tokens=0))
    assert chunks[0].text == paragraph_a  # cut at the paragraph, not mid-paragraph
    long = _doc(Section(_sentences("privacy", 40), page=3))
    chunks = chunk_document(long, count, ChunkingConfig(max_tokens=100, overlap_tokens=30))
    for a, b in zip(chunks, chunks[1:]):
        assert b.char_start < a.char_end, "consecutive chunks share whole sentences"


def test_an_over_long_sentence_is_cut_on_word_boundaries(count):
    words = " ".join(f"item{i}" for i in range(600))
    doc = _doc(Section(words, page=1))
    chunks = chunk_document(doc, count, ChunkingConfig(max_tokens=64, overlap_tokens=8))
    assert len(chunks) > 5
    for c in chunks:
        assert count([c.embed_text])[0] + 2 <= 64
        assert not c.text.startswith(" ") and c.text.split()[0].startswith("item")
    assert _covered(doc, chunks)
