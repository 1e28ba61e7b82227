"""File-system helpers every layer shares: reading only regular files, private files and folders, printable names.

- :func:`open_regular` opens a path for reading without ever blocking: a FIFO, a device or a socket is refused
  from its ``fstat`` (opened with ``O_NONBLOCK``, so even a FIFO with no writer returns at once).
- :func:`private_dir` / :func:`private_file` create what holds restricted text (index versions, SQLite
  databases) readable by the owner only (0700 / 0600), and tighten ones an older version created wider.
  SQLite gives its ``-wal``/``-shm``/``-journal`` files the mode of the database file, so creating the
  database 0600 covers them too.
- :func:`printable` turns a file name that is not valid UTF-8 (Python keeps such bytes as lone surrogates)
  into text that any JSON or terminal accepts; :func:`name_problem` says why a name cannot be indexed.
- :func:`is_disk_full` tells a full disk from other write failures, whatever layer reported it (an ``OSError``
  ENOSPC, SQLite's "database or disk is full"); :class:`DiskFull` is the error that names the folder and the space.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
import unicodedata
from pathlib import Path

from kb.errors import KBError

log = logging.getLogger(__name__)

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"),
          (stat.S_ISLNK, "a symbolic link"))
# zero-width space, word joiner, BOM and the bidirectional controls: they make one name look like another
# (the joiners U+200C/U+200D are letters' business in Persian and Indic names, so they stay allowed)
_INVISIBLE = frozenset("\u200b\u2060\ufeff\u061c\u200e\u200f" + "".join(map(chr, range(0x202A, 0x202F)))
                       + "".join(map(chr, range(0x2066, 0x206A))))


class NotRegularFile(OSError):
    """The path is a FIFO, device, socket or folder: it is never read."""


def kind_of(mode: int) -> str:
    """'a regular file', 'a named pipe (FIFO)', 'a character device', ... for an ``st_mode``."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path: str | Path) -> int:
    """A read-only file descriptor of ``path``, or :class:`NotRegularFile` when it is not a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"{printable(str(path))} is {kind_of(mode)}, not a regular file")
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def private_dir(path: str | Path) -> Path:
    """``path`` (and missing parents) as a folder only its owner can enter; an existing one is tightened."""
    path = Path(path)
    if not path.is_dir():
        path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIR_MODE)
    return path


def private_file(path: str | Path) -> Path:
    """``path`` created empty with mode 0600 if missing (its folder 0700 if missing); an existing one tightened."""
    path = Path(path)
    if not path.parent.is_dir():
        private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE))
    except FileExistsError:
        _tighten(path, PRIVATE_FILE_MODE)
    return path


def _tighten(path: Path, mode: int) -> None:
    try:
        info = path.stat()
        if info.st_mode & 0o077 and info.st_uid == os.getuid():
            os.chmod(path, stat.S_IMODE(info.st_mode) & mode)
            log.info("tightened permissions of %s to %o (it holds restricted text)", path, mode)
    except OSError as exc:  # not ours, or a read-only mount: leave it, the service still works
        log.warning("could not restrict permissions of %s: %s", path, exc)


def printable(text: str) -> str:
    """``text`` safe to show and store: bytes that were not valid UTF-8 as ``\\xNN``, control characters as
    ``\\n``, ``\\x1b``... (valid UTF-8, one line, JSON-safe)."""
    if not _needs_escaping(text):
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF or unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _INVISIBLE:
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii") if code < 0xD800
                       else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def valid_utf8(text: str) -> str:
    """``text`` with lone surrogates (bytes that were not valid UTF-8 in a file name) written as ``\\xNN``."""
    if not any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        return text
    return "".join(f"\\x{ord(ch) - 0xDC00:02x}" if 0xDC80 <= ord(ch) <= 0xDCFF else
                   f"\\u{ord(ch):04x}" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


def _needs_escaping(text: str) -> bool:
    return any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or 0xD800 <= ord(ch) <= 0xDFFF or ch in _INVISIBLE
               or ch in "\u2028\u2029" for ch in text)


def name_problem(name: str) -> str | None:
    """Why a file or folder name cannot be indexed safely (None when it can).

    Names that are not valid UTF-8 cannot be shown or stored as text; control characters (a newline, a tab,
    an escape) and invisible format characters let one name look like another in rules, logs and reports.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    for ch in name:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _INVISIBLE:
            return f"contains the control or invisible character U+{ord(ch):04X}"
    return None


class DiskFull(KBError):
    """A write failed because the file system is full (or over quota); nothing half-written was kept."""


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from) says the disk is full or the quota used up: an
    ``OSError`` ENOSPC/EDQUOT, SQLite's "database or disk is full", a library's "No space left on device"."""
    for _ in range(10):
        if exc is None:
            return False
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(exc).lower()
        if "disk is full" in text or "no space left" in text or "quota exceeded" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def disk_full_error(folder: Path, needed_bytes: int, what: str) -> DiskFull:
    """The error for a write of ``what`` into ``folder`` that ran out of space: the folder, about how much it
    needs and how much is free."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = 0
    return DiskFull(f"the disk holding {printable(str(folder))} is full: {what} needs about "
                    f"{_mb(needed_bytes)} MB and {_mb(free)} MB are free there. Free up space on it (or set "
                    f"index_dir to a bigger disk) and run again; nothing half-written was kept")


def _mb(n: int) -> str:
    return f"{max(n, 0) / 1024 / 1024:,.1f}"
