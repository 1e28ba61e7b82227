"""Turn files into Documents: PDF, DOCX, plain text and Markdown parsers behind ``registry.parse_file``.

Imports nothing here, so that ``import ingest.formats`` (suffixes, sniffing) does not load the parsers.
"""
