"""Pick a parser for a file, check it first, and turn every failure into ``UnreadableFile``.

The checks run before any parser: the file exists, is not empty or too big, has a supported suffix,
and its first bytes match that suffix (a ``.pdf`` that is really a ZIP is reported as such).
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable
from pathlib import Path

from ingest.docx import parse_docx
from ingest.formats import BINARY_KINDS, DESCRIPTIONS, KINDS, TEXT_KINDS, sniff
from ingest.limits import ParseLimits
from ingest.pdf import parse_pdf
from ingest.textfile import parse_markdown, parse_text
from kb.errors import UnreadableFile
from kb.files import NotRegularFile, open_regular
from kb.types import Document, content_hash

log = logging.getLogger(__name__)


Parser = Callable[[Path, ParseLimits], Document]

PARSERS: dict[str, Parser] = {
    ".pdf": parse_pdf,
    ".docx": parse_docx,
    ".txt": parse_text,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
}
_SUPPORTED_LIST = ".docx, .md, .pdf, .txt"
_LEGACY = {
    ".doc": "unsupported legacy Word 97-2003 .doc format: save it as .docx",
    ".dot": "unsupported legacy Word 97-2003 .dot template: save it as .docx",
    ".xls": f"unsupported legacy Excel 97-2003 .xls format (spreadsheets are not supported; "
            f"supported: {_SUPPORTED_LIST})",
    ".ppt": f"unsupported legacy PowerPoint 97-2003 .ppt format (presentations are not supported; "
            f"supported: {_SUPPORTED_LIST})",
}
_LIBRARY_NAMES = {"pdf": "pdfium/pypdf", "docx": "python-docx", "text": "text decoder", "markdown": "text decoder"}


def parse_file(path: Path, limits: ParseLimits = ParseLimits()) -> Document:
    """Parse one file into a Document, or raise ``UnreadableFile`` with a short, specific reason."""
    path = Path(path).resolve()
    if not path.exists():
        raise UnreadableFile("file not found")
    if not path.is_file():
        raise UnreadableFile("not a regular file")
    size = path.stat().st_size
    suffix = path.suffix.lower()
    if size == 0:
        raise UnreadableFile("empty file (0 bytes)")
    if size > limits.max_file_mb * 1024 * 1024:
        raise UnreadableFile(f"file too large: {size / 1024 / 1024:.1f} MB "
                             f"(limit {limits.max_file_mb:g} MB, setting max_file_mb)")
    if KINDS.get(suffix) in TEXT_KINDS and size > limits.max_text_mb * 1024 * 1024:
        raise UnreadableFile(f"text file too large: {size / 1024 / 1024:.1f} MB (limit {limits.max_text_mb:g} MB "
                             f"for .txt and .md files, setting max_text_mb)")
    try:
        with open(open_regular(path), "rb") as fh:  # never blocks: a FIFO put in its place is refused
            head = fh.read(8192)
    except NotRegularFile:
        raise UnreadableFile("not a regular file") from None
    parser, kind, warnings = _choose(path, suffix, head)
    try:
        doc = parser(path, limits)
    except UnreadableFile:
        raise
    except MemoryError:
        raise UnreadableFile("ran out of memory while parsing") from None
    except RecursionError as exc:
        raise UnreadableFile(f"{kind} structure too deeply nested to parse") from exc
    except Exception as exc:  # noqa: BLE001 - a library failure costs this file only
        log.warning("unexpected error parsing %s", path, exc_info=True)
        message = " ".join(str(exc).split())[:160]
        raise UnreadableFile(f"could not parse {kind}: {_LIBRARY_NAMES[kind]} failed "
                             f"({type(exc).__name__}{': ' + message if message else ''})") from exc
    doc.path = path
    doc.kind = kind
    doc.content_hash = content_hash(path)
    doc.warnings = warnings + doc.warnings
    return doc


def _choose(path: Path, suffix: str, head: bytes) -> tuple[Parser, str, list[str]]:
    """The parser for a file, after checking that its content matches its suffix."""
    content = sniff(head)
    if suffix in (".doc", ".dot") and content == "zip" and _is_docx_zip(path):
        # a real .docx saved under the old suffix: readable, so read it
        return parse_docx, "docx", [f"file has extension {suffix} but contains a .docx document"]
    if suffix in _LEGACY:
        raise UnreadableFile(_LEGACY[suffix])
    if suffix not in PARSERS:
        shown = f"'{suffix}'" if suffix else "(no extension)"
        raise UnreadableFile(f"unsupported file type {shown} (supported: {_SUPPORTED_LIST})")
    if suffix == ".pdf" and content != "pdf":
        raise UnreadableFile(f"extension .pdf but content is not a PDF (starts with {head[:4]!r}, "
                             f"looks like {_describe(content)})")
    if suffix == ".docx":
        if content == "ole":
            raise UnreadableFile(_ole_reason(path))
        if content != "zip":
            raise UnreadableFile(f"extension .docx but content is not a DOCX (starts with {head[:4]!r}, "
                                 f"looks like {_describe(content)})")
    if suffix in (".txt", ".md", ".markdown") and content in BINARY_KINDS:
        raise UnreadableFile(f"extension {suffix} but content is {_describe(content)}, not text")
    return PARSERS[suffix], KINDS[suffix], []


def _ole_reason(path: Path) -> str:
    """Why an OLE (Compound File) container with a .docx suffix cannot be read."""
    with open(path, "rb") as fh:
        data = fh.read(1 << 20)  # directory entries sit near the start in practice
    if "EncryptedPackage".encode("utf-16-le") in data:
        return "encrypted or password-protected Office file"
    if "WordDocument".encode("utf-16-le") in data:
        return "legacy Word 97-2003 .doc content with a .docx extension: save it as .docx"
    return "encrypted or password-protected Office file"


def _describe(kind: str) -> str:
    """A short phrase for a sniffed content kind."""
    return DESCRIPTIONS[kind]


def _is_docx_zip(path: Path) -> bool:
    """Whether a ZIP file holds a WordprocessingML document."""
    try:
        with zipfile.ZipFile(path) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
