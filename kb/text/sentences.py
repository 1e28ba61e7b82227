"""Sentence boundaries: one splitter for chunking, quoting, verification and training data."""

from __future__ import annotations

import re

# a sentence ends at . ! ? (optionally closed by a quote or bracket) followed by space and a capital,
# digit, bullet or quote; or at a line break (list items, table rows), unless the line only wraps: it ends in a
# letter, digit, comma or bracket and the next begins in lower case (hard-wrapped .txt/.md paragraphs)
SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[•\-–])"
                          r"|(?<=[^\sA-Za-z0-9,)])[ \t]*+\n\s*+|\n\s*+(?![a-z])")
PARAGRAPH_END = re.compile(r"\n\s*\n")
# generated answers: a sentence also ends after a citation mark followed by a capital ("... [1] The next")
_ANSWER_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|(?<=\])\s+(?=[A-Z])|\n+")
# a streamed sentence is complete at . ! ? and the citation marks after it, once whitespace follows
_STREAMED_SENTENCE_DONE = re.compile(r"[.!?](\s*\[\d+(?:\s*[,;]\s*\d+)*\])*(?=\s)|\n")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, list item or table row in ``text``, trimmed of whitespace."""
    return [span for p_start, p_end in spans(text, PARAGRAPH_END, 0, len(text))
            for span in spans(text, SENTENCE_END, p_start, p_end)]


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (see :func:`sentence_spans`)."""
    return [text[a:b] for a, b in sentence_spans(text)]


def spans(text: str, separator: re.Pattern, start: int, end: int) -> list[tuple[int, int]]:
    """Non-blank pieces of ``text[start:end]`` between separator matches, trimmed of whitespace."""
    out, cursor = [], start
    for match in separator.finditer(text, start, end):
        out.append((cursor, match.start()))
        cursor = match.end()
    out.append((cursor, end))
    trimmed = []
    for a, b in out:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            trimmed.append((a, b))
    return trimmed


def answer_pieces(text: str) -> list[str]:
    """A generated answer cut into sentences; citation marks stay with the text around them."""
    return [p.strip() for p in _ANSWER_SENTENCE_END.split(text) if p and p.strip()]


def complete_prefix(buffer: str) -> int:
    """Length of the part of a streamed ``buffer`` that holds only complete sentences (0 if none yet)."""
    done = list(_STREAMED_SENTENCE_DONE.finditer(buffer))
    return done[-1].end() if done else 0
