"""The plain files of one index version, and the chunk table inside it.

    versions/v000007/manifest.json    what the version holds (``kb.index.manifest``)
                     chunks.sqlite    passages with their provenance (table ``chunks``)
                     vectors.npy      dense vectors, row i for ids.npy[i]
                     ids.npy          chunk row ids, ascending
                     dense.faiss      the FAISS index over the vectors (``kb.index.dense``)
                     bm25/            the BM25 matrices (``kb.index.sparse``)
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from kb.errors import IndexUnusable
from kb.types import Chunk

CHUNKS_DB = "chunks.sqlite"
VECTORS = "vectors.npy"
IDS = "ids.npy"
DENSE = "dense.faiss"
BM25_DIR = "bm25"
MODELS_DIR = "models"  # models tuned for this index (kb tune), carried into every later version
TUNE_REPORT = "tune_report.json"
TUNED_EMBEDDER = f"{MODELS_DIR}/embedder"  # the embedder a version's vectors were made with, when kb tune made them

CHUNK_COLUMNS = ("id", "chunk_id", "doc_id", "path", "name", "page", "heading", "title", "chunk_index",
                 "char_start", "char_end", "text", "language")
_INSERT = f"INSERT INTO chunks ({', '.join(CHUNK_COLUMNS)}) VALUES ({', '.join(':' + c for c in CHUNK_COLUMNS)})"


def create_chunk_table(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE chunks (id INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE, doc_id TEXT, path TEXT,
                  name TEXT, page INTEGER, heading TEXT, title TEXT, chunk_index INTEGER, char_start INTEGER,
                  char_end INTEGER, text TEXT, language TEXT)""")
    db.execute("CREATE INDEX chunks_doc ON chunks(doc_id)")


def insert_chunks(db: sqlite3.Connection, rows: Iterable[tuple[int, Chunk]]) -> None:
    """Store chunks under the given row ids (the ids the dense index knows them by)."""
    db.executemany(_INSERT, (_row(row_id, chunk) for row_id, chunk in rows))


def select_chunks(db: sqlite3.Connection, where: str = "", args: tuple = (),
                  table: str = "chunks") -> Iterator[tuple[int, Chunk]]:
    """(row id, chunk) of the rows of ``table`` matching the SQL condition ``where``, by id.

    A table written before a column existed (``language``) reads that column as ''."""
    schema, _, name = table.rpartition(".")
    present = {row[1] for row in db.execute(f"PRAGMA {schema + '.' if schema else ''}table_info({name})")}
    columns = ", ".join(c if c in present else f"'' AS {c}" for c in CHUNK_COLUMNS)
    query = f"SELECT {columns} FROM {table}" + (f" WHERE {where}" if where else "") + " ORDER BY id"
    cursor = db.execute(query, args)
    cursor.row_factory = sqlite3.Row
    for row in cursor:
        yield row["id"], _chunk(row)


def fetch_chunks(db: sqlite3.Connection, ids: list[int]) -> dict[int, Chunk]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    return dict(select_chunks(db, f"id IN ({marks})", tuple(ids)))


def open_db(folder: Path) -> sqlite3.Connection:
    """Read-only connection to a version's chunk table (safe to share across threads for reads)."""
    path = folder / CHUNKS_DB
    if not path.is_file():
        raise IndexUnusable(f"index version {folder} has no {CHUNKS_DB}; run `kb ingest --rebuild`")
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)


def _row(row_id: int, c: Chunk) -> dict:
    return {"id": row_id, "chunk_id": c.chunk_id, "doc_id": c.doc_id, "path": c.path, "name": c.name,
            "page": c.page, "heading": json.dumps(list(c.heading_path)), "title": c.title,
            "chunk_index": c.chunk_index, "char_start": c.char_start, "char_end": c.char_end, "text": c.text,
            "language": c.language}


def _chunk(row: sqlite3.Row) -> Chunk:
    return Chunk(chunk_id=row["chunk_id"], doc_id=row["doc_id"], path=row["path"], name=row["name"],
                 text=row["text"], chunk_index=row["chunk_index"], char_start=row["char_start"],
                 char_end=row["char_end"], page=row["page"], heading_path=tuple(json.loads(row["heading"])),
                 title=row["title"], language=row["language"] or "")


def load_ids(folder: Path) -> np.ndarray:
    return np.load(folder / IDS)


def load_vectors(folder: Path) -> np.ndarray:
    return np.load(folder / VECTORS, mmap_mode="r")


def save_arrays(folder: Path, vectors: np.ndarray, ids: np.ndarray) -> None:
    np.save(folder / VECTORS, np.ascontiguousarray(vectors, dtype=np.float32))
    np.save(folder / IDS, np.ascontiguousarray(ids, dtype=np.int64))


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one step: readers see the old content or the new, never a part; a failed
    write (a full disk) leaves the old content and no temporary file."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def carry_models(old: Path, new: Path) -> None:
    """Give a new version the tuned models (and their report) of the version it was built from."""
    import shutil

    if (old / MODELS_DIR).is_dir():
        shutil.copytree(old / MODELS_DIR, new / MODELS_DIR, copy_function=_link_or_copy)
    if (old / TUNE_REPORT).is_file():
        _link_or_copy(old / TUNE_REPORT, new / TUNE_REPORT)


def tuned_embedder(version: Path | None) -> Path | None:
    """The tuned embedding model a version's vectors were made with (``kb tune``), if any."""
    path = version / TUNED_EMBEDDER if version is not None else None
    return path if path is not None and (path / "modules.json").is_file() else None


def link_version(old: Path, new: Path, leave_out: set[str]) -> None:
    """Give the empty folder ``new`` every file of version ``old`` (hard links where possible) except those
    whose path relative to ``old`` is in ``leave_out`` or lies under a folder named there: a new version that
    differs from ``old`` only in those files."""
    for path in sorted(old.rglob("*")):
        relative = path.relative_to(old)
        if path.is_dir() or any(part in leave_out for part in _prefixes(relative)):
            continue
        (new / relative).parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(path, new / relative)


def _prefixes(relative: Path) -> list[str]:
    parts = relative.parts
    return ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]


def _link_or_copy(source, target) -> None:
    import shutil

    try:
        os.link(source, target)  # versions never change once published: sharing their bytes is safe
    except OSError:
        shutil.copy2(source, target)
