"""Which files under the given paths are documents: recursive, sorted, ``.kbignore`` rules applied.

Only regular files are documents. Everything else is reported with a reason and never opened: FIFOs,
devices and sockets (reading one blocks or never ends), symbolic links (a link would put a file under a
path the access rules do not see, or index one file twice), names that are not valid UTF-8 or hold control
characters (they cannot be shown, and a newline in a path must not meet an access rule), folders that
cannot be read.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from pathlib import Path
from typing import Iterable

from ingest.formats import is_ignored_name
from kb.files import NotRegularFile, kind_of, name_problem, open_regular, printable
from kb.types import SkippedFile

IGNORE_FILE = ".kbignore"
MISSING = "no such file or directory"  # the reason for a given path that does not exist (not a file entry)
_MAX_IGNORE_BYTES = 1 << 20


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[SkippedFile]]:
    """Regular files under ``paths`` (recursively, sorted), and the entries that are skipped, with why.

    A given path that does not exist is reported with the reason :data:`MISSING`. A folder's ``.kbignore``
    lists glob patterns (one per line, ``#`` comments) of files that are not documents, matched against names
    and paths relative to that folder, in it and below it.
    """
    found: set[Path] = set()
    skipped: dict[str, SkippedFile] = {}

    def skip(path: str | Path, reason: str) -> None:
        key = printable(str(path))
        skipped.setdefault(key, SkippedFile(key, reason))

    for raw in paths:
        given = Path(raw).expanduser()
        try:
            path = given.resolve(strict=True)
        except FileNotFoundError:
            skip(Path(os.path.abspath(given)), MISSING)
            continue
        except (OSError, RuntimeError) as exc:  # a loop of links (RuntimeError before Python 3.13)
            skip(Path(os.path.abspath(given)), f"cannot be resolved ({_why(exc)})")
            continue
        if path.is_dir():
            _walk(path, found, skip)
        else:
            reason = _file_problem(path, path.name)
            if reason:
                skip(path, reason)
            else:
                found.add(path)
    return sorted(found), sorted(skipped.values(), key=lambda s: s.path)


def _walk(root: Path, found: set[Path], skip) -> None:
    rules: list[tuple[Path, list[str]]] = []

    def unreadable(error: OSError) -> None:
        skip(error.filename or root, f"folder cannot be read ({_why(error)})")

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        here = Path(dirpath)
        rules = [(base, pats) for base, pats in rules if here.is_relative_to(base)]
        if IGNORE_FILE in filenames:
            rules.append((here, _ignore_patterns(here / IGNORE_FILE)))
        kept = []
        for name in sorted(dirnames):
            if name.startswith("."):
                continue
            if os.path.islink(here / name):  # os.walk does not follow it; say so instead of dropping it silently
                skip(here / name, _link_reason(here / name, root, folder=True))
                continue
            kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            path = here / name
            if is_ignored_name(name) or _excluded(path, rules):
                continue
            reason = _name_reason(path, root) or _file_problem(path, name, root)
            if reason:
                skip(path, reason)
            else:
                found.add(path)


def _name_reason(path: Path, root: Path) -> str | None:
    """Why the path below ``root`` has a name that cannot be indexed (a folder's name counts too)."""
    parts = path.relative_to(root).parts
    for i, part in enumerate(parts):
        problem = name_problem(part)
        if problem:
            what = "file name" if i == len(parts) - 1 else f"folder name {printable(part)!r}"
            return f"{what} {problem}: rename it to index it"
    return None


def _file_problem(path: Path, name: str, root: Path | None = None) -> str | None:
    """Why ``path`` is not a regular file that can be read (None when it is one)."""
    problem = name_problem(name)
    if problem:
        return f"file name {problem}: rename it to index it"
    try:
        info = path.lstat()
    except OSError as exc:
        return f"cannot be read ({_why(exc)})"
    if stat.S_ISLNK(info.st_mode):
        return _link_reason(path, root or path.parent)
    if not stat.S_ISREG(info.st_mode):
        return f"not a regular file: {kind_of(info.st_mode)} is never read"
    return None


def _link_reason(link: Path, root: Path, folder: bool = False) -> str:
    """The skip reason of a symbolic link found under ``root``: links are never followed."""
    try:
        target = Path(os.path.realpath(link, strict=True))
    except FileNotFoundError:
        return f"dangling symbolic link: its target {printable(os.readlink(link))!r} does not exist"
    except (OSError, RuntimeError) as exc:
        return f"symbolic link loop ({_why(exc)})"
    if not target.is_relative_to(root):
        return (f"symbolic link to {printable(str(target))}, outside the folder being indexed: not followed "
                f"(move or copy the {'folder' if folder else 'file'} into the folder to index it)")
    shown = printable(target.relative_to(root).as_posix())
    if folder:
        return f"symbolic link to the folder {shown}: not followed (its files are indexed under their own path)"
    try:
        mode = target.stat().st_mode
    except OSError as exc:
        return f"symbolic link to {shown}, which cannot be read ({_why(exc)})"
    if not stat.S_ISREG(mode):
        return f"symbolic link to {shown}, which is {kind_of(mode)}: never read"
    return f"symbolic link to {shown}: not indexed twice (the target is indexed under its own path)"


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _ignore_patterns(path: Path) -> list[str]:
    try:
        with open(open_regular(path), "rb") as fh:
            data = fh.read(_MAX_IGNORE_BYTES)
    except (NotRegularFile, OSError):
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _excluded(path: Path, rules: list[tuple[Path, list[str]]]) -> bool:
    for base, patterns in rules:
        relative = path.relative_to(base).as_posix()
        if any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(path.name, p) for p in patterns):
            return True
    return False
