"""Which files under the given paths are documents: recursive, sorted, ``.kbignore`` rules applied."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Iterable

from ingest.formats import is_ignored_name
from kb.types import SkippedFile

IGNORE_FILE = ".kbignore"


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[SkippedFile]]:
    """Files under ``paths`` (recursively, sorted), and the given paths that do not exist.

    A folder's ``.kbignore`` lists glob patterns (one per line, ``#`` comments) of files that are not
    documents, matched against names and paths relative to that folder, in it and below it.
    """
    found: list[Path] = []
    missing: list[SkippedFile] = []
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            rules: list[tuple[Path, list[str]]] = []
            for dirpath, dirnames, filenames in os.walk(path):
                here = Path(dirpath)
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                rules = [(base, pats) for base, pats in rules if here.is_relative_to(base)]
                if IGNORE_FILE in filenames:
                    rules.append((here, _ignore_patterns(here / IGNORE_FILE)))
                found.extend(here / f for f in sorted(filenames)
                             if not is_ignored_name(f) and not _excluded(here / f, rules))
        else:
            missing.append(SkippedFile(str(path), "no such file or directory"))
    return sorted(set(found)), missing


def _ignore_patterns(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _excluded(path: Path, rules: list[tuple[Path, list[str]]]) -> bool:
    for base, patterns in rules:
        relative = path.relative_to(base).as_posix()
        if any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(path.name, p) for p in patterns):
            return True
    return False
