"""The size limits every parser is given."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ParseLimits:
    """Size limits that make a file be skipped rather than parsed."""

    max_file_mb: float = 200
    max_pages: int = 5000
