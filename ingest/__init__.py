"""Turn files into Documents: PDF, DOCX, plain text and Markdown parsers behind one ``parse_file``."""

from ingest.registry import SUPPORTED_SUFFIXES, ParseLimits, parse_file

__all__ = ["SUPPORTED_SUFFIXES", "ParseLimits", "parse_file"]
