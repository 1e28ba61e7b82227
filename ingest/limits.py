"""The size limits every parser is given."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ParseLimits:
    """Size limits that make a file be skipped rather than parsed."""

    max_file_mb: float = 200
    max_pages: int = 5000
    # plain text and Markdown: tokenizing and chunking cost grows with the text itself (a 200 MB .txt exhausts
    # the parse worker's memory long before max_file_mb), so they have their own, smaller limit
    max_text_mb: float = 20
