"""The write path: discover files, decide what changed, parse/embed the rest, publish a new version."""

from __future__ import annotations

import fnmatch
import logging
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ingest.pool import ParsedFile, ParsePool, WorkerConfig
from kb.embedder import Embedder, resolve_model_path
from kb.keyword import KeywordIndex
from kb.models import Chunk, IngestReport, SkippedFile, content_hash, doc_id_for
from kb.settings import Settings
from kb.store import (BM25_DIR, CHUNKS_DB, DENSE, SCHEMA_VERSION, IndexFolder, Manifest, chunk_row,
                      create_chunk_table, load_ids, load_vectors, row_chunk, save_arrays)
from kb.vectors import VectorIndex

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
# (path, stat) -> True to leave a file as the current version has it (e.g. it is still being written)
Defer = Callable[[Path, os.stat_result], bool]
# a finished, unpublished version folder -> True to publish it, False to discard it
Gate = Callable[[Path], bool]
# names that are never documents: editor lock files, partial downloads, hidden files
_IGNORED_PREFIXES = ("~$", ".")
_IGNORED_SUFFIXES = (".part", ".partial", ".crdownload", ".tmp", ".swp", ".download", "~")
_EMBED_BATCH = 256


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


def is_ignored_name(name: str) -> bool:
    """True for temporary or hidden files that must never be indexed."""
    return name.startswith(_IGNORED_PREFIXES) or name.lower().endswith(_IGNORED_SUFFIXES)


def chunking_settings(settings: Settings, embedder: Embedder) -> dict:
    model_max = embedder.max_tokens
    max_tokens = min(settings.chunk_tokens or model_max, model_max)
    if settings.chunk_tokens > model_max:
        log.warning("chunk_tokens=%d exceeds the model's limit of %d tokens; using %d",
                    settings.chunk_tokens, model_max, model_max)
    return {"max_tokens": max_tokens, "overlap_tokens": min(settings.chunk_overlap_tokens, max_tokens // 2)}


@dataclass
class _Plan:
    parse: list[Path] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)  # new path -> old path with the same content
    keep: set[str] = field(default_factory=set)  # old paths whose chunks stay
    removed: list[str] = field(default_factory=list)
    files: dict[str, dict] = field(default_factory=dict)  # manifest entries of the new version


class Ingestor:
    """Brings an index folder up to date with a set of paths (one writer at a time)."""

    def __init__(self, folder: IndexFolder, settings: Settings, embedder: Embedder):
        self.folder = folder
        self.settings = settings
        self.embedder = embedder

    def run(self, paths: list[Path], rebuild: bool = False, progress: Progress | None = None,
            defer: Defer | None = None, gate: Gate | None = None, wait: bool | float = False) -> IngestReport:
        """Bring the index up to date with ``paths``.

        ``defer`` leaves chosen files as they are in the current version (not added, changed or removed);
        ``gate`` sees the finished new version before it is published and may reject it (the report's
        ``version`` then stays the current one); ``wait`` is passed to the writer lock.
        """
        started = time.perf_counter()
        progress = progress or (lambda stage, done, total: None)
        with self.folder.writer_lock(wait):
            chunking = chunking_settings(self.settings, self.embedder)
            old_folder = None if rebuild else self.folder.current()
            old = Manifest.read(old_folder) if old_folder else None
            if old:
                old.check_compatible(self.settings.embedding_model, self.settings.bm25_language,
                                     self.folder.root, chunking)
            files, missing = discover(paths)
            report = IngestReport(skipped=list(missing))
            plan = self._plan(files, paths, old, report, defer)
            parsed = self._parse_and_embed(plan, chunking, report, progress)
            if not (plan.parse or plan.renamed or plan.removed) and old_folder is not None:
                report.version = old_folder.name
            else:
                published = self._publish(old_folder, old, plan, parsed, chunking, progress, gate)
                report.version = published.name if published else (old_folder.name if old_folder else "")
        report.total_seconds = time.perf_counter() - started
        log.info("ingest: %d indexed, %d unchanged, %d removed, %d skipped in %.1f s", len(report.indexed),
                 len(report.unchanged), len(report.removed), len(report.skipped), report.total_seconds)
        return report

    def _limits_signature(self) -> str:
        s = self.settings
        return f"mb={s.max_file_mb};pages={s.max_pages};timeout={s.parse_timeout_s};mem={s.parse_memory_mb}"

    def _plan(self, files: list[Path], roots: list[Path], old: Manifest | None, report: IngestReport,
              defer: Defer | None = None) -> _Plan:
        plan = _Plan()
        old_files = old.files if old else {}
        by_hash = {e["hash"]: p for p, e in old_files.items() if e.get("status") == "indexed"}
        seen = set()
        for path in files:
            key = str(path)
            entry = old_files.get(key)
            try:
                stat = path.stat()
                if defer is not None and defer(path, stat):
                    seen.add(key)
                    if entry:  # keep what the current version has until the file settles
                        plan.files[key] = entry
                        if entry.get("status") == "indexed":
                            plan.keep.add(key)
                    continue
                if entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
                    digest = entry["hash"]
                else:
                    digest = content_hash(path)
            except FileNotFoundError:  # deleted since discovery (a watched folder changes under us)
                continue
            seen.add(key)
            fresh = {"hash": digest, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
            if entry and entry["hash"] == digest and (
                    entry["status"] == "indexed" or entry.get("limits") == self._limits_signature()):
                plan.files[key] = {**entry, **fresh}
                if entry["status"] == "indexed":
                    plan.keep.add(key)
                    report.unchanged.append(key)
                else:
                    report.skipped.append(SkippedFile(key, entry["reason"]))
            elif digest in by_hash:
                plan.renamed[key] = by_hash[digest]
                plan.files[key] = {**old_files[by_hash[digest]], **fresh, "doc_id": doc_id_for(path),
                                   "indexed_at": time.time()}
                report.indexed.append(key)
            else:
                plan.parse.append(path)
                plan.files[key] = fresh
        scopes = [Path(r).expanduser().resolve() for r in roots if Path(r).expanduser().exists()]
        for key, entry in old_files.items():
            if key in seen:
                continue
            if any(Path(key) == s or Path(key).is_relative_to(s) for s in scopes):
                plan.removed.append(key)
                report.removed.append(key)
            else:
                plan.files[key] = entry
                if entry.get("status") == "indexed":
                    plan.keep.add(key)
        return plan

    def _parse_and_embed(self, plan: _Plan, chunking: dict, report: IngestReport,
                         progress: Progress) -> list[tuple[list[Chunk], np.ndarray]]:
        if not plan.parse:
            return []
        s = self.settings
        config = WorkerConfig(tokenizer_path=resolve_model_path(s.embedding_model),
                              max_tokens=chunking["max_tokens"], overlap_tokens=chunking["overlap_tokens"],
                              max_file_mb=s.max_file_mb, max_pages=s.max_pages, memory_mb=s.parse_memory_mb)
        out: list[tuple[list[Chunk], np.ndarray]] = []
        pending: list[Chunk] = []
        total = len(plan.parse)

        def flush() -> None:
            if pending:
                t0 = time.perf_counter()
                vectors = self.embedder.encode([c.embed_text for c in pending])
                report.embed_seconds += time.perf_counter() - t0
                out.append((list(pending), vectors))
                pending.clear()

        progress("parse", 0, total)
        with ParsePool(config, workers=s.parse_workers, timeout_s=s.parse_timeout_s) as pool:
            for done, result in enumerate(pool.parse([str(p) for p in plan.parse]), start=1):
                report.parse_seconds += result.seconds
                self._record(result, plan, report)
                pending.extend(result.chunks)
                if len(pending) >= _EMBED_BATCH:
                    flush()
                progress("parse", done, total)
            flush()
        return out

    def _record(self, result: ParsedFile, plan: _Plan, report: IngestReport) -> None:
        entry = plan.files[result.path]
        if result.skip_reason:
            log.warning("skipped %s: %s", result.path, result.skip_reason)
            entry.update(status="skipped", reason=result.skip_reason, limits=self._limits_signature())
            report.skipped.append(SkippedFile(result.path, result.skip_reason))
            return
        entry.update(status="indexed", doc_id=result.chunks[0].doc_id, title=result.title, kind=result.kind,
                     pages=result.pages, chunks=len(result.chunks), warnings=result.warnings,
                     indexed_at=time.time())
        report.indexed.append(result.path)
        report.chunks_added += len(result.chunks)
        report.pages_parsed += result.pages or 0

    def _publish(self, old_folder: Path | None, old: Manifest | None, plan: _Plan,
                 parsed: list[tuple[list[Chunk], np.ndarray]], chunking: dict, progress: Progress,
                 gate: Gate | None = None) -> Path | None:
        tmp = self.folder.new_tmp()
        next_id = old.next_id if old else 0
        ids_parts: list[np.ndarray] = []
        vector_parts: list[np.ndarray] = []
        db = sqlite3.connect(tmp / CHUNKS_DB)
        create_chunk_table(db)
        if old_folder is not None:
            next_id = self._carry_old(db, old_folder, plan, next_id, ids_parts, vector_parts)
        for chunks, vectors in parsed:
            ids = np.arange(next_id, next_id + len(chunks), dtype=np.int64)
            db.executemany(f"INSERT INTO chunks VALUES ({','.join('?' * 12)})",
                           (chunk_row(int(i), c) for i, c in zip(ids, chunks)))
            next_id += len(chunks)
            ids_parts.append(ids)
            vector_parts.append(vectors)
        db.commit()
        dimension = self.embedder.dimension
        ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, dtype=np.int64)
        vectors = np.vstack(vector_parts) if vector_parts else np.zeros((0, dimension), dtype=np.float32)
        order = np.argsort(ids, kind="stable")
        ids, vectors = ids[order], vectors[order]
        progress("index", 0, 2)
        dense = VectorIndex(dimension, self.settings.exact_search_max, self.settings.hnsw_m,
                            self.settings.hnsw_ef_search)
        dense.build(vectors, ids)
        dense.save(tmp / DENSE)
        save_arrays(tmp, vectors, ids)
        progress("index", 1, 2)
        keyword = KeywordIndex(self.settings.bm25_language)
        keyword.build([row_chunk(r).embed_text for r in db.execute("SELECT * FROM chunks ORDER BY id")])
        (tmp / BM25_DIR).mkdir()
        keyword.save(tmp / BM25_DIR)
        db.close()
        Manifest(schema_version=SCHEMA_VERSION, embedding_model=self.settings.embedding_model, dimension=dimension,
                 chunking=chunking, bm25_language=self.settings.bm25_language, created_at=time.time(),
                 chunks=len(ids), next_id=next_id, files=plan.files).write(tmp)
        progress("index", 2, 2)
        if gate is not None and not gate(tmp):
            log.warning("new index version rejected before publishing; %s stays in use",
                        old_folder.name if old_folder else "no version")
            shutil.rmtree(tmp, ignore_errors=True)
            return None
        return self.folder.publish(tmp, self.settings.keep_versions)

    def _carry_old(self, db: sqlite3.Connection, old_folder: Path, plan: _Plan, next_id: int,
                   ids_parts: list[np.ndarray], vector_parts: list[np.ndarray]) -> int:
        """Copy kept chunks (and renamed files' chunks, under their new path) with their vectors."""
        old_ids = load_ids(old_folder)
        old_vectors = load_vectors(old_folder)
        position = {int(i): p for p, i in enumerate(old_ids)}
        db.execute("ATTACH DATABASE ? AS old", (f"file:{old_folder / CHUNKS_DB}?mode=ro",))
        keep_rows = [r for r in db.execute("SELECT * FROM old.chunks ORDER BY id") if r[3] in plan.keep]
        db.executemany(f"INSERT INTO chunks VALUES ({','.join('?' * 12)})", keep_rows)
        kept = np.array([r[0] for r in keep_rows], dtype=np.int64)
        ids_parts.append(kept)
        vector_parts.append(np.asarray(old_vectors[[position[int(i)] for i in kept]], dtype=np.float32))
        for new_path, old_path in plan.renamed.items():
            rows = [row_chunk(r) for r in db.execute("SELECT * FROM old.chunks WHERE path = ? ORDER BY id",
                                                     (old_path,))]
            source_ids = [position[int(r[0])] for r in db.execute(
                "SELECT id FROM old.chunks WHERE path = ? ORDER BY id", (old_path,))]
            doc_id = doc_id_for(Path(new_path))
            for chunk in rows:
                chunk.chunk_id = chunk.chunk_id.replace(chunk.doc_id, doc_id, 1)
                chunk.doc_id, chunk.path, chunk.name = doc_id, new_path, Path(new_path).name
            ids = np.arange(next_id, next_id + len(rows), dtype=np.int64)
            db.executemany(f"INSERT INTO chunks VALUES ({','.join('?' * 12)})",
                           (chunk_row(int(i), c) for i, c in zip(ids, rows)))
            next_id += len(rows)
            ids_parts.append(ids)
            vector_parts.append(np.asarray(old_vectors[source_ids], dtype=np.float32))
        db.commit()
        db.execute("DETACH DATABASE old")
        return next_id
