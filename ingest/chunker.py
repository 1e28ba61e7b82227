"""Structure-aware chunking measured in the embedding model's tokens.

A chunk never crosses a section (a PDF page or a heading section), except that a paragraph split by a
page break (``Section.continues``) may finish in the chunk where it started. Breaks fall on paragraph
boundaries when one is in the second half of a chunk, else on sentence boundaries, and only inside an
over-long sentence on word boundaries. Consecutive chunks of a section overlap by whole sentences.
Offsets index into ``document_text(doc)``: the sections joined by a blank line.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ingest.tokens import TokenCounter
from kb.text.language import detect_language
from kb.text.sentences import PARAGRAPH_END, SENTENCE_END, spans
from kb.types import Chunk, Document, embedding_text

SECTION_JOIN = "\n\n"
_WORD = re.compile(r"\S+")
_SPECIAL_TOKENS = 2  # [CLS] and [SEP] (or the model's equivalents) count against the sequence limit


@dataclass(frozen=True)
class ChunkingConfig:
    """How big chunks are, in model tokens, and how much consecutive chunks share."""

    max_tokens: int = 256
    overlap_tokens: int = 40


@dataclass
class _Unit:
    start: int  # offsets in document text
    end: int
    tokens: int
    section: int
    paragraph_start: bool


def document_text(doc: Document) -> str:
    """The text chunk offsets refer to."""
    return SECTION_JOIN.join(s.text for s in doc.sections)


def chunk_document(doc: Document, count_tokens: TokenCounter, config: ChunkingConfig) -> list[Chunk]:
    """Split a parsed document into chunks that fit ``config.max_tokens`` including title and heading."""
    text = document_text(doc)
    section_starts = _section_starts(doc)
    prefixes = [embedding_text(doc.title, s.heading_path, "") for s in doc.sections]
    prefix_tokens = count_tokens(prefixes) if prefixes else []
    units_by_section = []
    for i, section in enumerate(doc.sections):
        budget = _budget(config.max_tokens, prefix_tokens[i])
        units_by_section.append(_units(section.text, section_starts[i], i, budget, count_tokens))

    spans: list[list[_Unit]] = []
    for i, units in enumerate(units_by_section):
        budget = _budget(config.max_tokens, prefix_tokens[i])
        packed = _pack(units, budget, config.overlap_tokens)
        if packed and doc.sections[i].continues and i + 1 < len(doc.sections):
            _carry_over(packed[-1], units_by_section[i + 1], budget)
        spans.extend(packed)

    chunks = []
    document_language = detect_language(text)
    for index, span in enumerate(spans):
        section = doc.sections[span[0].section]
        start, end = span[0].start, span[-1].end
        body = text[start:end]
        digest = hashlib.sha1(body.encode("utf-8")).hexdigest()[:8]
        chunks.append(Chunk(
            chunk_id=f"{doc.doc_id}-{index}-{digest}", doc_id=doc.doc_id, path=str(doc.path),
            name=doc.name, text=body, chunk_index=index, char_start=start, char_end=end,
            page=section.page, heading_path=tuple(section.heading_path), title=doc.title,
            language=detect_language(body) or document_language,
        ))
    return chunks


def _section_starts(doc: Document) -> list[int]:
    starts, offset = [], 0
    for section in doc.sections:
        starts.append(offset)
        offset += len(section.text) + len(SECTION_JOIN)
    return starts


def _budget(max_tokens: int, prefix_tokens: int) -> int:
    # a very long title/heading may not starve the text: it keeps at least half the window
    room = max_tokens - _SPECIAL_TOKENS
    return max(room - min(prefix_tokens + 1, room // 2), 16)


def _units(text: str, base: int, section: int, budget: int, count_tokens: TokenCounter) -> list[_Unit]:
    """Sentences (or word windows of over-long sentences) with document offsets and token counts."""
    pieces: list[tuple[int, int, bool]] = []
    for p_start, p_end in spans(text, PARAGRAPH_END, 0, len(text)):
        first = True
        for s_start, s_end in spans(text, SENTENCE_END, p_start, p_end):
            pieces.append((s_start, s_end, first))
            first = False
    counts = count_tokens([text[a:b] for a, b, _ in pieces]) if pieces else []
    units = []
    for (start, end, para), tokens in zip(pieces, counts):
        if tokens <= budget:
            units.append(_Unit(base + start, base + end, tokens, section, para))
            continue
        for w_start, w_end, w_tokens in _word_windows(text, start, end, budget, count_tokens):
            units.append(_Unit(base + w_start, base + w_end, w_tokens, section, para))
            para = False
    return units


def _word_windows(text: str, start: int, end: int, budget: int,
                  count_tokens: TokenCounter) -> list[tuple[int, int, int]]:
    """Cut an over-long sentence into runs of whole words that each fit the budget."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    counts = count_tokens([text[a:b] for a, b in words])
    windows, first, total = [], 0, 0
    for i, tokens in enumerate(counts):
        tokens = min(tokens, budget)  # a single absurd "word" is truncated by the model, not looped on
        if total + tokens > budget and i > first:
            windows.append((words[first][0], words[i - 1][1], total))
            first, total = i, 0
        total += tokens
    windows.append((words[first][0], words[-1][1], total))
    return windows


def _pack(units: list[_Unit], budget: int, overlap: int) -> list[list[_Unit]]:
    chunks: list[list[_Unit]] = []
    current: list[_Unit] = []
    size = 0
    for unit in units:
        if current and size + unit.tokens > budget:
            cut = _paragraph_cut(current, budget)
            rest_size = sum(u.tokens for u in current[cut:])
            if rest_size + unit.tokens > budget:
                cut, rest_size = len(current), 0
            emitted, rest = current[:cut], current[cut:]
            chunks.append(emitted)
            current = _overlap_tail(emitted, overlap, budget - unit.tokens - rest_size) + rest
            size = sum(u.tokens for u in current)
        current.append(unit)
        size += unit.tokens
    if current:
        chunks.append(current)
    return chunks


def _paragraph_cut(current: list[_Unit], budget: int) -> int:
    """Index to cut at: the last paragraph start past half the budget, else the end."""
    size = 0
    best = len(current)
    for i, unit in enumerate(current):
        if i > 0 and unit.paragraph_start and size >= budget // 2:
            best = i
        size += unit.tokens
    return best


def _overlap_tail(emitted: list[_Unit], overlap: int, room: int) -> list[_Unit]:
    tail: list[_Unit] = []
    size = 0
    for unit in reversed(emitted[1:]):  # never repeat a whole chunk
        if size + unit.tokens > min(overlap, room):
            break
        tail.insert(0, unit)
        size += unit.tokens
    return tail


def _carry_over(last: list[_Unit], next_units: list[_Unit], budget: int) -> None:
    """Let the chunk that ends a page finish the paragraph that the page break split."""
    size = sum(u.tokens for u in last)
    for i, unit in enumerate(next_units):
        if (i > 0 and unit.paragraph_start) or size + unit.tokens > budget:
            break
        last.append(unit)
        size += unit.tokens
