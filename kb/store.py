"""The index folder: immutable versions of plain files, an atomic ``CURRENT`` pointer, a writer lock.

    DIR/CURRENT                 name of the version readers use (replaced atomically)
    DIR/LOCK                    held (flock) by the one writer; holds its pid
    DIR/versions/v000007/       manifest.json, chunks.sqlite, vectors.npy, ids.npy, dense.faiss, bm25/

A writer builds a new version in ``versions/.tmp-*``, renames it into place and then swaps ``CURRENT``:
killed at any moment, it leaves the previous version complete and in use.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from kb.errors import IncompatibleIndex, IndexLocked, IndexNotFound, IndexUnusable
from kb.models import Chunk

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 2: English stopwords include question words
MANIFEST = "manifest.json"
CHUNKS_DB = "chunks.sqlite"
VECTORS = "vectors.npy"
IDS = "ids.npy"
DENSE = "dense.faiss"
BM25_DIR = "bm25"

_CHUNK_COLUMNS = ("id", "chunk_id", "doc_id", "path", "name", "page", "heading", "title", "chunk_index",
                  "char_start", "char_end", "text")


@dataclass
class Manifest:
    """What a version holds and how it was built; loading checks it before anything else."""

    schema_version: int
    embedding_model: str
    dimension: int
    chunking: dict
    bm25_language: str
    created_at: float
    chunks: int = 0
    next_id: int = 0
    files: dict[str, dict] = field(default_factory=dict)  # path -> hash, status, reason, pages, ...

    @classmethod
    def read(cls, folder: Path) -> "Manifest":
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            return cls(**data)
        except FileNotFoundError:
            raise IndexUnusable(f"index version {folder} has no {MANIFEST}; run `kb ingest --rebuild`") from None
        except (ValueError, TypeError) as exc:
            raise IndexUnusable(f"manifest of {folder} is unreadable ({exc}); run `kb ingest --rebuild`") from None

    def write(self, folder: Path) -> None:
        _write_atomic(folder / MANIFEST, json.dumps(self.__dict__, indent=1, sort_keys=True))

    def check_compatible(self, embedding_model: str, bm25_language: str, where: Path,
                         chunking: dict | None = None) -> None:
        """Raise IncompatibleIndex naming the difference and the command that rebuilds."""
        fix = f"rebuild it with `kb ingest --rebuild --index {where} PATH...` or point --index elsewhere"
        if self.schema_version != SCHEMA_VERSION:
            raise IncompatibleIndex(f"index at {where} has schema version {self.schema_version}, this version "
                                    f"of kb reads {SCHEMA_VERSION}: {fix}")
        if self.embedding_model != embedding_model:
            raise IncompatibleIndex(f"index at {where} was built with embedding model {self.embedding_model!r} "
                                    f"but settings ask for {embedding_model!r}: {fix}")
        if self.bm25_language != bm25_language:
            raise IncompatibleIndex(f"index at {where} was built with bm25_language {self.bm25_language!r} "
                                    f"but settings ask for {bm25_language!r}: {fix}")
        if chunking is not None and self.chunking != chunking:
            raise IncompatibleIndex(f"index at {where} was built with chunking {self.chunking} but settings "
                                    f"ask for {chunking}: {fix}")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class IndexFolder:
    """Locates versions inside an index folder, swaps them and guards writers."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.versions = self.root / "versions"

    def current(self) -> Path | None:
        """The folder of the version readers should use, or None if there is no index yet."""
        try:
            name = (self.root / "CURRENT").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        folder = self.versions / name
        if not folder.is_dir():
            raise IndexUnusable(f"{self.root}/CURRENT names version {name!r}, which is missing; "
                                f"run `kb ingest --rebuild --index {self.root} PATH...`")
        return folder

    def require_current(self) -> Path:
        folder = self.current()
        if folder is None:
            raise IndexNotFound(f"no index at {self.root}: build one with `kb ingest --index {self.root} PATH...`")
        return folder

    @contextmanager
    def writer_lock(self, wait: bool | float = False) -> Iterator[None]:
        """Exclusive lock for writers; a second writer fails at once and learns who holds the lock.

        ``wait=True`` waits as long as it takes, a number waits that many seconds before failing.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fh = open(self.root / "LOCK", "a+")
        try:
            deadline = None if wait is True else time.monotonic() + float(wait or 0)
            logged = False
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    fh.seek(0)
                    holder = fh.read().strip() or "unknown"
                    if deadline is not None and time.monotonic() >= deadline:
                        raise IndexLocked(f"index at {self.root} is being written by another process ({holder}); "
                                          "wait for it to finish and try again (or use --wait)") from None
                    if not logged:
                        log.info("index at %s is being written by another process (%s); waiting", self.root,
                                 holder)
                        logged = True
                    time.sleep(0.2)
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
            fh.flush()
            yield
        finally:
            fh.close()  # closing releases the flock

    def list_versions(self) -> list[Path]:
        """Published versions, oldest first."""
        if not self.versions.is_dir():
            return []
        return sorted(p for p in self.versions.glob("v*") if p.name[1:].isdigit() and p.is_dir())

    def previous(self) -> Path | None:
        """The newest kept version older than the current one (what a rollback restores)."""
        current = self.current()
        older = [p for p in self.list_versions() if current is None or p.name < current.name]
        return older[-1] if older else None

    def point_to(self, version: Path) -> None:
        """Make ``version`` (a published version folder) the one readers use. Hold the writer lock."""
        Manifest.read(version)  # refuse to point readers at something that is not a complete version
        _write_atomic(self.root / "CURRENT", version.name)
        _fsync_dir(self.root)

    def new_tmp(self) -> Path:
        self.versions.mkdir(parents=True, exist_ok=True)
        for stale in self.versions.glob(".tmp-*"):  # left by a killed writer; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        tmp = self.versions / f".tmp-{os.getpid()}-{time.time_ns()}"
        tmp.mkdir()
        return tmp

    def publish(self, tmp: Path, keep: int) -> Path:
        """Move a finished version into place, point CURRENT at it, drop versions beyond ``keep``."""
        numbers = [int(p.name[1:]) for p in self.versions.glob("v*") if p.name[1:].isdigit()]
        final = self.versions / f"v{max(numbers, default=0) + 1:06d}"
        os.rename(tmp, final)
        _fsync_dir(self.versions)
        _write_atomic(self.root / "CURRENT", final.name)
        _fsync_dir(self.root)
        for old in self.list_versions()[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
        return final


def create_chunk_table(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE chunks (id INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE, doc_id TEXT, path TEXT,
                  name TEXT, page INTEGER, heading TEXT, title TEXT, chunk_index INTEGER, char_start INTEGER,
                  char_end INTEGER, text TEXT)""")
    db.execute("CREATE INDEX chunks_doc ON chunks(doc_id)")


def chunk_row(row_id: int, c: Chunk) -> tuple:
    return (row_id, c.chunk_id, c.doc_id, c.path, c.name, c.page, json.dumps(list(c.heading_path)), c.title,
            c.chunk_index, c.char_start, c.char_end, c.text)


def row_chunk(row: Iterable) -> Chunk:
    (_, chunk_id, doc_id, path, name, page, heading, title, index, start, end, text) = row
    return Chunk(chunk_id=chunk_id, doc_id=doc_id, path=path, name=name, text=text, chunk_index=index,
                 char_start=start, char_end=end, page=page, heading_path=tuple(json.loads(heading)), title=title)


def open_db(folder: Path) -> sqlite3.Connection:
    """Read-only connection to a version's chunk table (safe to share across threads for reads)."""
    path = folder / CHUNKS_DB
    if not path.is_file():
        raise IndexUnusable(f"index version {folder} has no {CHUNKS_DB}; run `kb ingest --rebuild`")
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)


def fetch_chunks(db: sqlite3.Connection, ids: list[int]) -> dict[int, Chunk]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = db.execute(f"SELECT {','.join(_CHUNK_COLUMNS)} FROM chunks WHERE id IN ({marks})", ids)
    return {row[0]: row_chunk(row) for row in rows}


def load_ids(folder: Path) -> np.ndarray:
    return np.load(folder / IDS)


def load_vectors(folder: Path) -> np.ndarray:
    return np.load(folder / VECTORS, mmap_mode="r")


def save_arrays(folder: Path, vectors: np.ndarray, ids: np.ndarray) -> None:
    np.save(folder / VECTORS, np.ascontiguousarray(vectors, dtype=np.float32))
    np.save(folder / IDS, np.ascontiguousarray(ids, dtype=np.int64))


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
