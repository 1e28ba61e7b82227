"""Pick a parser for a file, check it first, and turn every failure into ``UnreadableFile``.

The checks run before any parser: the file exists, is not empty or too big, has a supported suffix,
and its first bytes match that suffix (a ``.pdf`` that is really a ZIP is reported as such).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ingest.docx import parse_docx
from ingest.formats import BINARY_KINDS, DESCRIPTIONS, IMAGE_SUFFIXES, KINDS, TEXT_KINDS, sniff
from ingest.image import parse_image
from ingest.limits import ParseLimits
from ingest.pdf import parse_pdf
from ingest.textfile import parse_markdown, parse_text
from kb.errors import UnreadableFile
from kb.files import NotRegularFile, open_regular
from kb.types import Document

log = logging.getLogger(__name__)


class Parser(Protocol):
    """Parses a file's bytes (``data``; read from ``path`` when None) into a Document."""

    def __call__(self, path: Path, limits: ParseLimits, data: bytes | None = None) -> Document: ...


PARSERS: dict[str, Parser] = {
    ".pdf": parse_pdf,
    ".docx": parse_docx,
    ".txt": parse_text,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    **{suffix: parse_image for suffix in sorted(IMAGE_SUFFIXES)},
}
_SUPPORTED_LIST = ".docx, .jpg, .md, .pdf, .png, .tif, .txt"
_LEGACY = {
    ".doc": "unsupported legacy Word 97-2003 .doc format: save it as .docx",
    ".dot": "unsupported legacy Word 97-2003 .dot template: save it as .docx",
    ".xls": f"unsupported legacy Excel 97-2003 .xls format (spreadsheets are not supported; "
            f"supported: {_SUPPORTED_LIST})",
    ".ppt": f"unsupported legacy PowerPoint 97-2003 .ppt format (presentations are not supported; "
            f"supported: {_SUPPORTED_LIST})",
}
_LIBRARY_NAMES = {"pdf": "pdfium/pypdf", "docx": "python-docx", "text": "text decoder", "markdown": "text decoder",
                  "image": "Pillow/RapidOCR"}


@dataclass(frozen=True)
class Snapshot:
    """A file's bytes as read once, and the hash and stat they had: parsers read these bytes, never the path
    again, so the hash an index records is the hash of what was parsed (a file rewritten while a run is under
    way is read again by the next run). ``size``/``mtime_ns`` are the file's before it was read: a file written
    to during the read has another stat afterwards, so the next run hashes it again."""

    data: bytes
    content_hash: str
    size: int
    mtime_ns: int


def parse_file(path: Path, limits: ParseLimits = ParseLimits()) -> Document:
    """Parse one file into a Document, or raise ``UnreadableFile`` with a short, specific reason."""
    path = Path(path).resolve()
    return parse_snapshot(path, read_snapshot(path, limits), limits)


def read_snapshot(path: Path, limits: ParseLimits = ParseLimits()) -> Snapshot:
    """Check a file (exists, regular, not empty, within the size limits) and read its bytes once."""
    path = Path(path)
    if not path.exists():
        raise UnreadableFile("file not found")
    if not path.is_file():
        raise UnreadableFile("not a regular file")
    suffix = path.suffix.lower()
    limit = limits.max_file_mb * 1024 * 1024
    try:
        with open(open_regular(path), "rb") as fh:  # never blocks: a FIFO put in its place is refused
            info = os.fstat(fh.fileno())
            _check_size(info.st_size, suffix, limits)
            if suffix not in PARSERS and suffix not in _LEGACY:  # said before reading what cannot be parsed
                raise UnreadableFile(_unsupported(suffix))
            data = fh.read(int(limit) + 1)  # a file that grew past the limit since the check is cut off here
    except NotRegularFile:
        raise UnreadableFile("not a regular file") from None
    _check_size(len(data), suffix, limits)
    return Snapshot(data, hashlib.sha256(data).hexdigest(), info.st_size, info.st_mtime_ns)


def _check_size(size: int, suffix: str, limits: ParseLimits) -> None:
    if size == 0:
        raise UnreadableFile("empty file (0 bytes)")
    if size > limits.max_file_mb * 1024 * 1024:
        raise UnreadableFile(f"file too large: {size / 1024 / 1024:.1f} MB "
                             f"(limit {limits.max_file_mb:g} MB, setting max_file_mb)")
    if KINDS.get(suffix) in TEXT_KINDS and size > limits.max_text_mb * 1024 * 1024:
        raise UnreadableFile(f"text file too large: {size / 1024 / 1024:.1f} MB (limit {limits.max_text_mb:g} MB "
                             f"for .txt and .md files, setting max_text_mb)")


def parse_snapshot(path: Path, snapshot: Snapshot, limits: ParseLimits = ParseLimits()) -> Document:
    """Parse the bytes of ``snapshot`` (read from ``path``, which names the document) into a Document."""
    suffix = path.suffix.lower()
    parser, kind, warnings = _choose(suffix, snapshot.data)
    try:
        doc = parser(path, limits, data=snapshot.data)
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
    doc.content_hash = snapshot.content_hash
    doc.warnings = warnings + doc.warnings
    return doc


def _choose(suffix: str, data: bytes) -> tuple[Parser, str, list[str]]:
    """The parser for a file, after checking that its content matches its suffix."""
    head = data[:8192]
    content = sniff(head)
    if suffix in (".doc", ".dot") and content == "zip" and _is_docx_zip(data):
        # a real .docx saved under the old suffix: readable, so read it
        return parse_docx, "docx", [f"file has extension {suffix} but contains a .docx document"]
    if suffix in _LEGACY:
        raise UnreadableFile(_LEGACY[suffix])
    if suffix not in PARSERS:
        raise UnreadableFile(_unsupported(suffix))
    if suffix == ".pdf" and content != "pdf":
        raise UnreadableFile(f"extension .pdf but content is not a PDF (starts with {head[:4]!r}, "
                             f"looks like {_describe(content)})")
    if suffix == ".docx":
        if content == "ole":
            raise UnreadableFile(_ole_reason(data))
        if content != "zip":
            raise UnreadableFile(f"extension .docx but content is not a DOCX (starts with {head[:4]!r}, "
                                 f"looks like {_describe(content)})")
    if suffix in (".txt", ".md", ".markdown") and content in BINARY_KINDS:
        raise UnreadableFile(f"extension {suffix} but content is {_describe(content)}, not text")
    if suffix in IMAGE_SUFFIXES and content != "image":
        raise UnreadableFile(f"extension {suffix} but content is not an image (starts with {head[:4]!r}, "
                             f"looks like {_describe(content)})")
    return PARSERS[suffix], KINDS[suffix], []


def _unsupported(suffix: str) -> str:
    shown = f"'{suffix}'" if suffix else "(no extension)"
    return f"unsupported file type {shown} (supported: {_SUPPORTED_LIST})"


def _ole_reason(data: bytes) -> str:
    """Why an OLE (Compound File) container with a .docx suffix cannot be read."""
    data = data[:1 << 20]  # directory entries sit near the start in practice
    if "EncryptedPackage".encode("utf-16-le") in data:
        return "encrypted or password-protected Office file"
    if "WordDocument".encode("utf-16-le") in data:
        return "legacy Word 97-2003 .doc content with a .docx extension: save it as .docx"
    return "encrypted or password-protected Office file"


def _describe(kind: str) -> str:
    """A short phrase for a sniffed content kind."""
    return DESCRIPTIONS[kind]


def _is_docx_zip(data: bytes) -> bool:
    """Whether a ZIP file holds a WordprocessingML document."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
