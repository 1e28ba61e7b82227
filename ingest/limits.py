"""The size limits and switches every parser is given."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ParseLimits:
    """Size limits that make a file be skipped rather than parsed, and how far a parser may go to read it."""

    max_file_mb: float = 200
    max_pages: int = 5000
    # plain text and Markdown: tokenizing and chunking cost grows with the text itself (a 200 MB .txt exhausts
    # the parse worker's memory long before max_file_mb), so they have their own, smaller limit
    max_text_mb: float = 20
    # PDF pages without a text layer are read by OCR (ingest.ocr); ocr_seconds > 0 stops OCR that long after
    # the parse started (the parse worker sets it under its time limit, so a long scan keeps the pages read)
    ocr: bool = True
    ocr_seconds: float = 0.0
