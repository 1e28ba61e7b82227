"""Checks for files users upload through the web app, before anything is written to ``docs_dir``.

``safe_upload_path`` turns a client-supplied file name and collection into a path that is guaranteed to lie
inside ``docs_dir/collection`` (no traversal, absolute paths, hidden names, control or direction-override
characters, reserved Windows names); ``check_upload`` rejects wrong types, content that does not match the
extension, empty files and files over ``upload_max_mb``. Both raise ``UploadRejected`` with a message that
can be shown to the uploader. Parsing the accepted file still happens in the limited parse worker.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from ingest.formats import DESCRIPTIONS, IGNORED_PREFIXES, IMAGE_SUFFIXES, PARTIAL_SUFFIXES, UPLOAD_SUFFIXES, sniff
from kb.errors import KBError
from kb.settings import Settings

MAX_NAME_BYTES = 200  # leaves room under the usual 255-byte limit for "name (2).pdf" style renames
_FORBIDDEN = set('/\\:*?"<>|')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.I)


class UploadRejected(KBError):
    """An upload is refused; the message says why and what is accepted."""


def clean_name(name: str, what: str = "file name") -> str:
    """``name`` as a safe single path component (NFC-normalised, trimmed), or raise UploadRejected."""
    if not isinstance(name, str):
        raise UploadRejected(f"{what} must be text")
    name = unicodedata.normalize("NFC", name).strip()
    if not name:
        raise UploadRejected(f"{what} is empty")
    if name in (".", ".."):
        raise UploadRejected(f"{what} {name!r} is not allowed")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or name.startswith("\\\\"):
        raise UploadRejected(f"{what} {name!r} is an absolute path; give just the name")
    bad = sorted({ch for ch in name if ch in _FORBIDDEN})
    if bad:
        raise UploadRejected(f"{what} {name!r} contains {''.join(bad)!r}; folder separators and "
                             f"the characters {''.join(sorted(_FORBIDDEN))} are not allowed")
    # control, format (zero-width, right-to-left override "invoice\u202efdp.exe"), private-use, unassigned
    odd = [ch for ch in name if unicodedata.category(ch)[0] == "C"]
    if odd:
        raise UploadRejected(f"{what} {name!r} contains invisible or control characters "
                             f"({', '.join(f'U+{ord(c):04X}' for c in odd[:3])})")
    if name.startswith(IGNORED_PREFIXES):
        raise UploadRejected(f"{what} {name!r} starts with {name[:2]!r}: hidden and lock-file names are not indexed")
    if name.endswith((".", " ")):
        raise UploadRejected(f"{what} {name!r} ends with a dot or space")
    if _WINDOWS_RESERVED.match(name):
        raise UploadRejected(f"{what} {name!r} is a reserved device name")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise UploadRejected(f"{what} is too long ({len(name.encode('utf-8'))} bytes, limit {MAX_NAME_BYTES})")
    return name


def safe_upload_path(docs_dir: str | Path, collection: str, filename: str) -> Path:
    """Where an upload named ``filename`` for ``collection`` ('' = top level) goes; always inside docs_dir.

    Raises UploadRejected for traversal (``../x``), absolute paths, separators, odd characters, hidden or
    partial-download names, unsupported extensions, and collections that resolve outside ``docs_dir``
    (e.g. through a symlink).
    """
    name = clean_name(filename)
    suffix = Path(name).suffix.lower()
    if name.lower().endswith(PARTIAL_SUFFIXES):
        raise UploadRejected(f"file name {name!r} looks like a partial download")
    if suffix not in UPLOAD_SUFFIXES:
        shown = f"'{suffix}'" if suffix else "(none)"
        raise UploadRejected(f"file type {shown} is not accepted; upload {', '.join(UPLOAD_SUFFIXES)} files")
    root = Path(docs_dir).expanduser().resolve()
    folder = root / clean_name(collection, "collection") if collection else root
    target = folder / name
    # resolve() follows symlinks already on disk: a collection linked to /etc must not be written through
    resolved = Path(os.path.realpath(target))
    if not resolved.is_relative_to(root) or resolved.parent != Path(os.path.realpath(folder)):
        raise UploadRejected(f"upload target {target} resolves outside the documents folder {root}")
    if not Path(os.path.realpath(folder)).is_relative_to(root):
        raise UploadRejected(f"collection {collection!r} resolves outside the documents folder {root}")
    return target


def check_upload(name: str, data_head: bytes, size: int, settings: Settings) -> str:
    """Check an upload's size, type and first bytes; returns its kind ("pdf", "docx", "text", "markdown", "image").

    ``data_head`` is at least the first 8 KiB (or the whole file if smaller).
    """
    name = clean_name(name)
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise UploadRejected(f"file type '{suffix or '(none)'}' is not accepted; upload "
                             f"{', '.join(UPLOAD_SUFFIXES)} files")
    if size <= 0 or not data_head:
        raise UploadRejected(f"{name} is empty")
    limit = settings.upload_max_mb * 1024 * 1024
    if size > limit:
        raise UploadRejected(f"{name} is {size / 1024 / 1024:.1f} MB; uploads are limited to "
                             f"{settings.upload_max_mb:g} MB (setting upload_max_mb)")
    content = sniff(data_head)
    if suffix == ".pdf":
        if content != "pdf":
            raise UploadRejected(f"{name} has extension .pdf but its content is {DESCRIPTIONS[content]}")
        return "pdf"
    if suffix == ".docx":
        if content != "zip":
            raise UploadRejected(f"{name} has extension .docx but its content is {DESCRIPTIONS[content]}")
        return "docx"
    if suffix in IMAGE_SUFFIXES:
        if content != "image":
            raise UploadRejected(f"{name} has extension {suffix} but its content is {DESCRIPTIONS[content]}")
        return "image"
    if content != "text":
        raise UploadRejected(f"{name} has extension {suffix} but its content is {DESCRIPTIONS[content]}, not text")
    return "text" if suffix == ".txt" else "markdown"
