"""What files are documents: the supported suffixes, names that are never documents, and content sniffing.

One place for the ingestor (which files to parse), the watcher (which events matter) and uploads (what may
be uploaded), so the three can never disagree.
"""

from __future__ import annotations

# suffix -> the kind of document a parser makes of it
KINDS: dict[str, str] = {".pdf": "pdf", ".docx": "docx", ".txt": "text", ".md": "markdown", ".markdown": "markdown",
                         ".png": "image", ".jpg": "image", ".jpeg": "image", ".tif": "image", ".tiff": "image"}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(KINDS)
TEXT_KINDS = frozenset({"text", "markdown"})
IMAGE_SUFFIXES = frozenset(s for s, kind in KINDS.items() if kind == "image")  # read by OCR (ingest.image)
UPLOAD_SUFFIXES: tuple[str, ...] = tuple(KINDS)
# editor lock files, partial downloads, hidden files
IGNORED_PREFIXES = ("~$", ".")
PARTIAL_SUFFIXES = (".part", ".partial", ".crdownload", ".tmp", ".swp", ".download", "~")

_MAGIC = ((b"%PDF-", "pdf"), (b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"),
          (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
          (b"MZ", "executable"), (b"\x7fELF", "executable"), (b"\xca\xfe\xba\xbe", "executable"),
          (b"\x89PNG", "image"), (b"\xff\xd8\xff", "image"), (b"GIF8", "image"), (b"II*\x00", "image"),
          (b"MM\x00*", "image"), (b"\x1f\x8b", "archive"), (b"7z\xbc\xaf", "archive"), (b"Rar!", "archive"))
DESCRIPTIONS = {"pdf": "a PDF", "zip": "a ZIP/Office file", "ole": "a legacy Office (OLE) file",
                "executable": "a program", "image": "an image", "archive": "a compressed archive",
                "html": "an HTML page", "binary": "unknown binary data", "text": "plain text"}
# kinds that are certainly not a text file, whatever the file is called
BINARY_KINDS = frozenset({"pdf", "zip", "ole", "image", "archive"})


def is_ignored_name(name: str) -> bool:
    """True for temporary or hidden files that must never be indexed."""
    return name.startswith(IGNORED_PREFIXES) or name.lower().endswith(PARTIAL_SUFFIXES)


def sniff(head: bytes) -> str:
    """What a file's first bytes look like: pdf, zip, ole, executable, image, archive, html, binary or text."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if b"%PDF-" in head[:1024]:  # readers accept a PDF header after some junk, so we must too
        return "pdf"
    lowered = head[:512].lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<script", b"<svg")):
        return "html"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text"  # UTF-16 with a byte-order mark
    if b"\x00" in head:
        return "binary"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a multi-byte character cut at the end of the head
            try:
                head.decode("cp1252")
            except UnicodeDecodeError:
                return "binary"
    return "text"
