"""Which chunks a search may return: a general "allowed chunk" predicate over path, collection and file type.

The searcher turns a :class:`Filter` into a boolean mask over the chunk table and applies it to both
retrievers *before* ranking, so a filtered search returns the best allowed passages (never fewer because
better disallowed ones were cut afterwards). Access control (``kb.access.rules.restrict``) is one such predicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np


def collection_of(path: str | Path, docs_dir: str | Path | None) -> str:
    """The first-level subfolder of ``docs_dir`` that holds ``path`` ('' at the top level or outside it)."""
    if docs_dir is None:
        return ""
    try:
        relative = Path(path).resolve().relative_to(Path(docs_dir).resolve())
    except ValueError:
        return ""
    return relative.parts[0] if len(relative.parts) > 1 else ""


def suffix_of(path: str | Path) -> str:
    """The lower-case file extension without its dot ('pdf', 'docx', 'md', 'txt')."""
    return Path(path).suffix.lower().lstrip(".")


@dataclass(frozen=True)
class Access:
    """The access-rules part of a filter (``kb.access.rules.restrict``): ``check(path)`` decides; a backend that
    stores each passage's access key with it (Milvus) filters on "key in ``keys``" instead, as long as its keys
    were computed (``key_of``) under the same rules (``stamp``)."""

    check: Callable[[str], bool]
    keys: tuple[str, ...]  # the access keys of the documents the reader may read
    stamp: str  # identifies the rules (``AccessPolicy.stamp``)
    key_of: Callable[[str], str]  # a document's access key under these rules


@dataclass(frozen=True)
class Filter:
    """An allowed-chunk predicate; every part that is set must hold (empty parts allow everything).

    ``collections``: first-level subfolders of ``docs_dir``; ``suffixes``: file types such as "pdf";
    ``paths``: files or folders (a folder allows everything under it); ``predicate``: any extra test on the
    absolute path; ``access``: the access rules' check for one reader (see :class:`Access`).
    """

    collections: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    docs_dir: Path | None = None
    predicate: Callable[[str], bool] | None = field(default=None, compare=False)
    access: Access | None = field(default=None, compare=False)

    @classmethod
    def of(cls, collections: Iterable[str] = (), suffixes: Iterable[str] = (), paths: Iterable[str | Path] = (),
           docs_dir: str | Path | None = None, predicate: Callable[[str], bool] | None = None) -> "Filter":
        """Build a filter from any iterables; suffixes may be given with or without the dot."""
        return cls(collections=tuple(collections), suffixes=tuple(s.lower().lstrip(".") for s in suffixes),
                   paths=tuple(str(Path(p).resolve()) for p in paths),
                   docs_dir=Path(docs_dir) if docs_dir is not None else None, predicate=predicate)

    @property
    def empty(self) -> bool:
        return not (self.collections or self.suffixes or self.paths or self.predicate or self.access)

    def allows(self, path: str) -> bool:
        """Whether a chunk of the file at ``path`` may be returned."""
        if self.collections and collection_of(path, self.docs_dir) not in self.collections:
            return False
        if self.suffixes and suffix_of(path) not in self.suffixes:
            return False
        if self.paths and not any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.paths):
            return False
        if self.access is not None and not self.access.check(path):
            return False
        return self.predicate is None or bool(self.predicate(path))

    def mask(self, paths: np.ndarray) -> np.ndarray:
        """Boolean mask over an array of chunk paths (each distinct path is tested once)."""
        if len(paths) == 0:
            return np.zeros(0, dtype=bool)
        unique, inverse = np.unique(paths, return_inverse=True)
        allowed = np.fromiter((self.allows(str(p)) for p in unique), dtype=bool, count=len(unique))
        return allowed[inverse]
