"""The write path: discover files, decide what changed, parse/embed the rest, publish a new version.

:class:`IndexWriter` is the one writer of index versions; the ``write_*`` functions below write the files
of a version and are what it (and the search benchmark, on synthetic data) uses.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import shutil
import sqlite3
import sys
import threading
import time
from collections import deque
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager, Iterable, Iterator, Protocol, Sequence

import numpy as np

from ingest.formats import SUPPORTED_SUFFIXES
from ingest.pool import ParsedFile, ParsePool, WorkerConfig
from kb.embedding import VersionEmbedders
from kb.embedding.protocol import Embedder
from kb.files import disk_full_error, is_disk_full, private_file
from kb.index.dense import VectorIndex
from kb.index.discover import MISSING, discover
from kb.index.folder import IndexFolder
from kb.index.manifest import INDEXED, MANIFEST, SCHEMA_VERSION, SKIPPED, FileEntry, Manifest
from kb.index.ocr import carry_ocr, write_ocr
from kb.index.sparse import KeywordIndex
from kb.index.version import (
    BM25_DIR,
    CHUNK_COLUMNS,
    CHUNKS_DB,
    DENSE,
    IDS,
    VECTORS,
    carry_models,
    create_chunk_table,
    folder_size,
    insert_chunks,
    link_version,
    load_ids,
    load_vectors,
    open_db,
    save_arrays,
    select_chunks,
    tuned_embedder,
)
from kb.settings import Settings
from kb.types import Chunk, IngestReport, SkippedFile, content_hash, doc_id_for

log = logging.getLogger(__name__)

# (stage, done, total): "parse" (files), "embed" (chunks embedded of the chunks parsed so far: the total grows
# while files are still being parsed), "index" (steps of writing the version)
Progress = Callable[[str, int, int], None]
# (path, stat) -> True to leave a file as the current version has it (e.g. it is still being written)
Defer = Callable[[Path, os.stat_result], bool]
# a finished, unpublished version folder -> True to publish it, False to discard it
Gate = Callable[[Path], bool]
# passages sorted by length together, so that each model batch pads to about its own length (a page's last passage
# is short, the others full): model batches of 32 in parse order pad 31-43 % tokens on the 10-K filings and the
# policies, windows of 1,024 sorted 2-3 % (measured with the model's tokenizer); staged together, one write a window
_WINDOW = 1024
# passages parsed ahead of the embedder at most (then the parse workers wait and the embedder has every core)
_PARSE_AHEAD = 4096
# a file skipped for a transient reason (the parse worker died, a timeout) is tried this often in all
MAX_ATTEMPTS = 3


class IngestSession(Protocol):
    """One run's parsing and embedding (what an :class:`IngestExecutor` opens)."""

    def parse(self, paths: Sequence[str]) -> Iterator[ParsedFile | None]:
        """One ParsedFile per path (a file that fails is one with a ``skip_reason``; the batch goes on); None
        now and then while no file is done yet, so the caller may embed what it has instead of waiting."""
        ...

    def submit(self, texts: Sequence[str]) -> None:
        """Embed these passages (now, or on a worker)."""
        ...

    def embedded(self, final: bool = False) -> Iterator[tuple[np.ndarray, float]]:
        """(vectors, seconds spent embedding) of the submitted batches that are done, in submission order;
        ``final``: wait for all of them."""
        ...


class IngestExecutor(Protocol):
    """Where ingest parses and embeds: :class:`LocalExecutor` (the default) or ``kb.index.ray_executor.RayExecutor``."""

    def session(self, embedder: Embedder, config: WorkerConfig | None = None, workers: int = 1,
                ahead: int = 0) -> ContextManager[IngestSession]:
        """``config``: the parse workers' (None: this session only embeds); ``workers``: the local parse pool's
        size; ``ahead``: passages that may be parsed and not yet submitted before parsing waits (0: no limit)."""
        ...

    def running(self) -> ContextManager[None]:
        """Keeps what the sessions of one writer run share (a Ray session) up until the run ends."""
        ...


_END = object()


class _LocalSession:
    """Parse workers and the embedder sharing this machine's cores: the pool runs in a thread of its own, files
    are parsed ahead of the embedder (up to ``ahead`` passages), and the embedder runs on the cores no parse
    worker is using: all of them once the workers wait (the files are parsed, or the embedder is ``ahead``
    passages behind). Two busy processes on two cores, never three: torch's threads wait for each other at
    every step, so one that shares its core with a parser slows them all."""

    def __init__(self, embedder: Embedder, pool: ParsePool | None, ahead: int = 0):
        self._embedder, self._pool, self._ahead = embedder, pool, ahead
        self._done: deque[tuple[np.ndarray, float]] = deque()
        self._waiting = threading.Condition()
        self._outstanding = 0  # passages parsed and not yet submitted
        self._closing = False
        self._thread: threading.Thread | None = None

    def parse(self, paths: Sequence[str]) -> Iterator[ParsedFile | None]:
        results: queue.SimpleQueue = queue.SimpleQueue()

        def run() -> None:
            try:
                for result in self._pool.parse(paths, admit=self._admit):
                    with self._waiting:
                        self._outstanding += len(result.chunks)
                    results.put(result)
            except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
                results.put(exc)
            results.put(_END)

        self._thread = threading.Thread(target=run, name="kb-parse-pool", daemon=True)
        self._thread.start()
        said_none = False
        while True:
            try:
                item = results.get(block=said_none)
            except queue.Empty:
                said_none = True
                yield None
                continue
            said_none = False
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _admit(self, busy: int) -> bool:
        with self._waiting:
            if not self._closing and self._ahead and self._outstanding >= self._ahead and not busy:
                self._waiting.wait_for(lambda: self._closing or self._outstanding < self._ahead)
            return not self._closing and (not self._ahead or self._outstanding < self._ahead)

    def submit(self, texts: Sequence[str]) -> None:
        parsing = self._pool.busy if self._pool is not None else 0
        t0 = time.perf_counter()
        with _cores_left(parsing):
            vectors = self._embedder.encode(list(texts))
        self._done.append((vectors, time.perf_counter() - t0))
        with self._waiting:
            self._outstanding -= len(texts)
            self._waiting.notify_all()

    def embedded(self, final: bool = False) -> Iterator[tuple[np.ndarray, float]]:
        while self._done:
            yield self._done.popleft()

    def close(self) -> None:
        """Stop the pool's thread (the workers are stopped first, so a file half parsed does not hold it)."""
        with self._waiting:
            self._closing = True
            self._waiting.notify_all()
        if self._thread is not None and self._thread.is_alive():
            self._pool.close(kill=True)
            self._thread.join(30)


@contextmanager
def _cores_left(busy: int) -> Iterator[None]:
    """Run torch (when this process has loaded it) on the cores ``busy`` parse workers leave free; other
    backends keep the threads they were built with."""
    torch = sys.modules.get("torch")
    if torch is None or not busy:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, before - busy))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class LocalExecutor:
    """Parse in a local :class:`ParsePool` and embed in this process, one batch at a time (the default)."""

    @contextmanager
    def session(self, embedder: Embedder, config: WorkerConfig | None = None, workers: int = 1,
                ahead: int = 0) -> Iterator[IngestSession]:
        if config is None:
            yield _LocalSession(embedder, None)
            return
        with ParsePool(config, workers=workers, timeout_s=config.timeout_s) as pool:
            session = _LocalSession(embedder, pool, ahead)
            try:
                yield session
            finally:
                session.close()

    def running(self) -> ContextManager[None]:
        return nullcontext()


def executor_for(settings: Settings) -> IngestExecutor:
    """The executor setting ``ingest_executor`` names (a Ray one starts or connects to Ray when a run needs it)."""
    if settings.ingest_executor == "ray":
        from kb.index.ray_executor import RayExecutor

        return RayExecutor(settings)
    return LocalExecutor()


def chunking_settings(settings: Settings, embedder: Embedder) -> dict:
    """The chunking an index built with these settings and this embedder has (part of its manifest)."""
    model_max = embedder.max_tokens
    max_tokens = min(settings.chunk_tokens or model_max, model_max)
    if settings.chunk_tokens > model_max:
        log.warning("chunk_tokens=%d exceeds the model's limit of %d tokens; using %d",
                    settings.chunk_tokens, model_max, model_max)
    return {"max_tokens": max_tokens, "overlap_tokens": min(settings.chunk_overlap_tokens, max_tokens // 2)}


# ------------------------------------------------------------------------------------ version files

def write_dense(tmp: Path, vectors: np.ndarray, ids: np.ndarray, settings: Settings,
                searchable: np.ndarray | None = None) -> VectorIndex:
    """The vectors, their ids and the FAISS index of a new version; returns the built index.

    ``searchable`` (a mask over the rows) leaves the other rows out of the FAISS index: chunks published
    before their vectors exist (keyword-first) have placeholder rows that dense search must never return."""
    dense = VectorIndex(vectors.shape[1], settings.exact_search_max, settings.hnsw_m, settings.hnsw_ef_search)
    dense.build(vectors if searchable is None else vectors[searchable], ids if searchable is None else ids[searchable])
    dense.save(tmp / DENSE)
    save_arrays(tmp, vectors, ids)
    return dense


def write_sparse(tmp: Path, texts: Iterable[str], language: str,
                 languages: Iterable[str] | None = None) -> KeywordIndex:
    """The BM25 index of a new version (text ``i`` is chunk row ``i`` in id order, ``languages[i]`` its
    language for ``bm25_language = "auto"``); returns it."""
    keyword = KeywordIndex(language)
    keyword.build(list(texts), list(languages) if languages is not None else None)
    (tmp / BM25_DIR).mkdir()
    keyword.save(tmp / BM25_DIR)
    return keyword


def write_manifest(tmp: Path, settings: Settings, dimension: int, chunking: dict, chunks: int, next_id: int,
                   files: dict[str, FileEntry], vectors_pending: list[str] | None = None) -> Manifest:
    manifest = Manifest(schema_version=SCHEMA_VERSION, embedding_model=settings.embedding_model,
                        dimension=dimension, chunking=chunking, bm25_language=settings.bm25_language,
                        created_at=time.time(), chunks=chunks, next_id=next_id, files=files,
                        vectors_pending=list(vectors_pending or []))
    manifest.write(tmp)
    return manifest


def open_chunk_db(tmp: Path) -> sqlite3.Connection:
    """The (new, empty) chunk table of a version being built (owner-only: it holds restricted passages)."""
    db = sqlite3.connect(private_file(tmp / CHUNKS_DB))
    create_chunk_table(db)
    return db


class _Staged:
    """The new files' chunks and vectors as they come out of parsing and embedding, kept on disk in the version
    being built (a SQLite table and a raw float32 file), not in RAM: a 10,000-file drop holds no passage in
    memory until the version is assembled, and each vector once. Rows are numbered 0.. in arrival order."""

    DB, VECTORS = "staged.sqlite", "staged.f32"

    def __init__(self, tmp: Path, dimension: int):
        self.tmp, self.dimension, self.count = tmp, dimension, 0
        self.pending_paths: set[str] = set()  # files whose chunks came without vectors (keyword-first)
        self._db = sqlite3.connect(private_file(tmp / self.DB))
        self._db.execute("PRAGMA journal_mode = OFF")  # scratch data: the version folder itself is the unit
        self._db.execute("PRAGMA synchronous = OFF")
        create_chunk_table(self._db)
        self._vectors = open(private_file(tmp / self.VECTORS), "wb")

    def add(self, chunks: list[Chunk], vectors: np.ndarray | None) -> None:
        insert_chunks(self._db, zip(range(self.count, self.count + len(chunks)), chunks))
        if vectors is None:  # a placeholder row for a chunk published before its vector (never in FAISS)
            self.pending_paths.update(c.path for c in chunks)
            vectors = np.zeros((len(chunks), self.dimension), dtype=np.float32)
        self._vectors.write(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
        self.count += len(chunks)

    def close(self) -> None:
        if not self._vectors.closed:
            self._db.commit()
            self._db.close()
            self._vectors.close()

    def copy_into(self, db: sqlite3.Connection, first_id: int) -> np.ndarray:
        """Insert the staged chunks into ``db`` under ids ``first_id``.. (in SQLite, never all in Python) and
        return their vectors: a read-only map of the staged file, which stays until :meth:`discard`."""
        self.close()
        columns = ", ".join(CHUNK_COLUMNS[1:])
        db.execute("ATTACH DATABASE ? AS staged", (str(self.tmp / self.DB),))
        db.execute(f"INSERT INTO chunks (id, {columns}) SELECT id + ?, {columns} FROM staged.chunks ORDER BY id",
                   (first_id,))
        db.commit()
        db.execute("DETACH DATABASE staged")
        (self.tmp / self.DB).unlink()
        if not self.count:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.memmap(self.tmp / self.VECTORS, dtype=np.float32, mode="r", shape=(self.count, self.dimension))

    def discard(self) -> None:
        self.close()
        for name in (self.DB, self.VECTORS):
            (self.tmp / name).unlink(missing_ok=True)


@dataclass
class _Window:
    """Passages embedded together in order of length; staged in their own order once all are embedded."""

    chunks: list[Chunk]
    vectors: np.ndarray
    left: int  # rows not embedded yet


# ------------------------------------------------------------------------------------ the writer

@dataclass
class _Plan:
    parse: list[Path] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)  # new path -> old path with the same content
    keep: set[str] = field(default_factory=set)  # old paths whose chunks stay
    removed: list[str] = field(default_factory=list)
    files: dict[str, FileEntry] = field(default_factory=dict)  # manifest entries of the new version
    ocr: dict[str, list[dict]] = field(default_factory=dict)  # parsed path -> its pages read by OCR


class IndexWriter:
    """Brings an index folder up to date with a set of paths (one writer at a time)."""

    def __init__(self, folder: IndexFolder, settings: Settings, embedder: Embedder,
                 executor: IngestExecutor | None = None):
        """``executor``: where files are parsed and embedded (default: the one setting ``ingest_executor`` names)."""
        self.folder = folder
        self.settings = settings
        self.embedder = embedder  # the one this run embeds with: the current version's (see VersionEmbedders)
        self.embedders = VersionEmbedders(settings, embedder)
        self.executor = executor if executor is not None else executor_for(settings)

    def chunking(self) -> dict:
        return chunking_settings(self.settings, self.embedder)

    def run(self, paths: Iterable[str | Path], rebuild: bool = False, progress: Progress | None = None,
            defer: Defer | None = None, gate: Gate | None = None, wait: bool | float = False,
            keyword_first: bool = False) -> IngestReport:
        """Bring the index up to date with ``paths``.

        ``defer`` leaves chosen files as they are in the current version (not added, changed or removed;
        the report lists them as ``deferred``); ``gate`` sees the finished new version before it is
        published and may reject it (the report's ``version`` then stays the current one); ``wait`` is
        passed to the writer lock.

        ``keyword_first`` publishes the new files' chunks as soon as they are parsed, searchable by keyword
        only (the manifest lists them in ``vectors_pending``), then embeds them and publishes a following
        version with their vectors. Each step is a complete version; a run that fails between them leaves the
        keyword-only version, which the next run completes. Ignored with a ``gate``, which must judge the
        complete version.
        """
        paths = [Path(p) for p in paths]
        started = time.perf_counter()
        progress = progress or (lambda stage, done, total: None)
        with self.folder.writer_lock(wait), self.executor.running():
            self.folder.remove_stale_tmp()  # even when nothing changes, a killed run's leftovers go
            chunking = self.chunking()
            old_folder = None if rebuild else self.folder.current()
            # new passages join the vectors of a tuned embedder (kb tune) only if that model makes them too
            self.embedder = self.embedders.get(tuned_embedder(old_folder))
            old = Manifest.read(old_folder) if old_folder else None
            if old:
                old.check_compatible(self.settings.embedding_model, self.settings.bm25_language,
                                     self.folder.root, chunking)
            files, odd = discover(paths)
            report = IngestReport(skipped=[s for s in odd if s.reason == MISSING])
            plan = self._plan(files, paths, old, report, defer, [s for s in odd if s.reason != MISSING])
            keyword_first = keyword_first and gate is None
            if not (plan.parse or plan.renamed or plan.removed) and old_folder is not None:
                report.version = old_folder.name
            else:
                with self._new_version(old_folder) as tmp:  # the new files' chunks are staged in it as they come
                    staged = self._parse_and_embed(plan, chunking, report, progress, tmp, embed=not keyword_first)
                    published = self._publish(tmp, old_folder, old, plan, staged, chunking, progress, gate)
                report.version = published.name if published else (old_folder.name if old_folder else "")
            latest = self.folder.current()
            if latest is not None and latest.name == report.version and Manifest.read(latest).vectors_pending:
                # chunks published without vectors (just now, or by a run that failed before embedding them)
                report.keyword_version = latest.name
                report.version = self._complete_vectors(latest, report, progress).name
        report.total_seconds = time.perf_counter() - started
        log.info("ingest: %d indexed, %d unchanged, %d removed, %d skipped in %.1f s", len(report.indexed),
                 len(report.unchanged), len(report.removed), len(report.skipped), report.total_seconds)
        return report

    @contextmanager
    def _new_version(self, old_folder: Path | None) -> Iterator[Path]:
        """A new, empty version folder, removed whatever happens once the block ends (a published one is no
        longer there); a full disk becomes :class:`DiskFull`, naming the folder and the space a version needs."""
        tmp: Path | None = None
        try:
            tmp = self.folder.new_tmp()
            yield tmp
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            written = folder_size(tmp) if tmp is not None and tmp.is_dir() else 0
            before = folder_size(old_folder) if old_folder is not None else 0
            raise disk_full_error(self.folder.versions, max(written, before) * 5 // 4 + (1 << 20),
                                  "the new index version") from exc
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    def _limits_signature(self) -> str:
        s = self.settings
        # "ocr" is new: a PDF skipped as scanned before OCR existed (or while it was off) is tried again
        return (f"mb={s.max_file_mb};pages={s.max_pages};timeout={s.parse_timeout_s};mem={s.parse_memory_mb};"
                f"text_mb={s.max_text_mb}" + (";ocr" if s.ocr else ""))

    def _plan(self, files: list[Path], roots: list[Path], old: Manifest | None, report: IngestReport,
              defer: Defer | None = None, odd: list[SkippedFile] = ()) -> _Plan:
        plan = _Plan()
        old_files = old.files if old else {}
        by_hash = {e.hash: p for p, e in old_files.items() if e.indexed}
        seen = set()
        for skip in odd:  # links, FIFOs, bad names: listed in the manifest (kb status) but never opened
            seen.add(skip.path)
            plan.files[skip.path] = FileEntry("", status=SKIPPED, reason=skip.reason, limits=self._limits_signature())
            report.skipped.append(skip)
        for path in files:
            key = str(path)
            entry = old_files.get(key)
            try:
                stat = path.stat()
                if defer is not None and defer(path, stat):
                    seen.add(key)
                    report.deferred.append(key)
                    if entry:  # keep what the current version has until the file settles
                        plan.files[key] = entry
                        if entry.indexed:
                            plan.keep.add(key)
                    continue
                if entry and entry.hash and entry.size == stat.st_size and entry.mtime_ns == stat.st_mtime_ns:
                    digest = entry.hash
                else:
                    digest = content_hash(path)
            except FileNotFoundError:  # deleted since discovery (a watched folder changes under us)
                continue
            except OSError as exc:  # replaced by a FIFO since discovery, unreadable, ...: this file only
                reason = f"cannot be read ({exc.strerror or exc})"
                seen.add(key)
                plan.files[key] = FileEntry("", status=SKIPPED, reason=reason, limits=self._limits_signature())
                report.skipped.append(SkippedFile(key, reason))
                continue
            seen.add(key)
            if entry and entry.skipped and entry.hash == digest and 0 < entry.retries < MAX_ATTEMPTS:
                # skipped for a reason that may not recur (the worker died, a timeout): try again
                plan.parse.append(path)
                plan.files[key] = FileEntry(digest, stat.st_size, stat.st_mtime_ns, retries=entry.retries)
            elif entry and entry.hash == digest and (entry.indexed or entry.limits == self._limits_signature()) \
                    and not _newly_supported(path, entry):
                plan.files[key] = entry.with_stat(digest, stat.st_size, stat.st_mtime_ns)
                if entry.indexed:
                    plan.keep.add(key)
                    report.unchanged.append(key)
                else:
                    report.skipped.append(SkippedFile(key, entry.reason))
            elif digest in by_hash:
                plan.renamed[key] = by_hash[digest]
                moved = old_files[by_hash[digest]].with_stat(digest, stat.st_size, stat.st_mtime_ns)
                moved.doc_id, moved.indexed_at = doc_id_for(path), time.time()
                plan.files[key] = moved
                report.indexed.append(key)
            else:
                plan.parse.append(path)
                plan.files[key] = FileEntry(digest, stat.st_size, stat.st_mtime_ns)
        scopes = [Path(r).expanduser().resolve() for r in roots if Path(r).expanduser().exists()]
        for key, entry in old_files.items():
            if key in seen:
                continue
            if any(Path(key) == s or Path(key).is_relative_to(s) for s in scopes):
                plan.removed.append(key)
                report.removed.append(key)
            else:
                plan.files[key] = entry
                if entry.indexed:
                    plan.keep.add(key)
        return plan

    def _parse_and_embed(self, plan: _Plan, chunking: dict, report: IngestReport, progress: Progress, tmp: Path,
                         embed: bool = True) -> _Staged:
        """Parse and embed the plan's files, staging their chunks and vectors in the version ``tmp``."""
        out = _Staged(tmp, self.embedder.dimension)
        if not plan.parse:
            return out
        s = self.settings
        config = WorkerConfig(tokenizer_path=self.embedder.tokenizer_path,
                              max_tokens=chunking["max_tokens"], overlap_tokens=chunking["overlap_tokens"],
                              max_file_mb=s.max_file_mb, max_pages=s.max_pages, memory_mb=s.parse_memory_mb,
                              max_text_mb=s.max_text_mb, ocr=s.ocr, timeout_s=s.parse_timeout_s)
        pending: list[Chunk] = []
        windows: deque[_Window] = deque()  # windows handed to the executor, not yet all embedded
        batches: deque[tuple[_Window, list[int]]] = deque()  # each submitted batch: its window, its rows there
        total = len(plan.parse)
        counts = {"found": 0, "embedded": 0}  # chunks parsed so far, chunks embedded so far
        step = max(1, s.embedding_batch_size)

        def collect(work: IngestSession, final: bool = False) -> None:
            for vectors, seconds in work.embedded(final):
                window, rows = batches.popleft()
                report.embed_seconds += seconds
                window.vectors[rows] = vectors
                window.left -= len(rows)
                counts["embedded"] += len(rows)
                progress("embed", counts["embedded"], counts["found"])
                while windows and not windows[0].left:  # staged in parse order: the chunk ids do not depend on it
                    done = windows.popleft()
                    out.add(done.chunks, done.vectors)

        def flush(work: IngestSession, whole_windows: bool = False) -> None:
            while len(pending) >= (_WINDOW if whole_windows else 1):
                chunks = pending[:_WINDOW]
                del pending[:_WINDOW]
                if not embed:
                    out.add(chunks, None)
                    continue
                window = _Window(chunks, np.empty((len(chunks), out.dimension), dtype=np.float32), len(chunks))
                windows.append(window)
                order = sorted(range(len(chunks)), key=lambda i: len(chunks[i].embed_text), reverse=True)
                # a model batch at a time, so that the "embed" stage moves (the model batches the same way)
                for start in range(0, len(order), step):
                    rows = order[start:start + step]
                    batches.append((window, rows))
                    work.submit([chunks[i].embed_text for i in rows])
                    collect(work)

        progress("parse", 0, total)
        done = 0
        with self.executor.session(self.embedder, config, workers=s.parse_workers,
                                   ahead=_PARSE_AHEAD if embed else 0) as work:
            for result in work.parse([str(p) for p in plan.parse]):
                if result is None:  # no file parsed just now: embed what there is instead of waiting
                    flush(work)
                    continue
                done += 1
                report.parse_seconds += result.seconds
                self._record(result, plan, report)
                pending.extend(result.chunks)
                counts["found"] += len(result.chunks)
                flush(work, whole_windows=True)
                collect(work)
                progress("parse", done, total)
            flush(work)
            collect(work, final=True)
        return out

    def _record(self, result: ParsedFile, plan: _Plan, report: IngestReport) -> None:
        entry = plan.files[result.path]
        if result.content_hash:
            # what the worker read and parsed, which is not what the plan hashed if the file changed since: the
            # next run then sees the file differ from this hash and reads it again
            entry.hash, entry.size, entry.mtime_ns = result.content_hash, result.size, result.mtime_ns
        if result.skip_reason:
            reason = result.skip_reason
            entry.retries = entry.retries + 1 if result.transient else 0
            if result.transient:
                left = MAX_ATTEMPTS - entry.retries
                reason += (f" (attempt {entry.retries} of {MAX_ATTEMPTS}; tried again on the next run)" if left > 0
                           else f" (attempt {entry.retries} of {MAX_ATTEMPTS}; not tried again until it changes)")
            log.warning("skipped %s: %s", result.path, reason)
            entry.status, entry.reason, entry.limits = SKIPPED, reason, self._limits_signature()
            report.skipped.append(SkippedFile(result.path, reason))
            return
        entry.retries = 0
        entry.status, entry.doc_id, entry.title, entry.kind = INDEXED, result.chunks[0].doc_id, result.title, result.kind
        entry.pages, entry.chunks, entry.warnings = result.pages, len(result.chunks), result.warnings
        entry.ocr_pages = [int(page["page"]) for page in result.ocr]
        if result.ocr:
            plan.ocr[result.path] = result.ocr
        entry.indexed_at = time.time()
        report.indexed.append(result.path)
        report.chunks_added += len(result.chunks)
        report.pages_parsed += result.pages or 0

    def _publish(self, tmp: Path, old_folder: Path | None, old: Manifest | None, plan: _Plan, staged: _Staged,
                 chunking: dict, progress: Progress, gate: Gate | None = None) -> Path | None:
        next_id = old.next_id if old else 0
        ids_parts: list[np.ndarray] = []
        vector_parts: list[np.ndarray] = []
        db = open_chunk_db(tmp)
        if old_folder is not None:
            next_id = self._carry_old(db, old_folder, plan, next_id, ids_parts, vector_parts)
        ids_parts.append(np.arange(next_id, next_id + staged.count, dtype=np.int64))
        vector_parts.append(staged.copy_into(db, next_id))
        next_id += staged.count
        dimension = self.embedder.dimension
        ids = np.concatenate(ids_parts)
        # a first import reads its vectors straight from the staged file (FAISS keeps its own copy, once)
        vectors = np.vstack(vector_parts) if len(vector_parts) > 1 else vector_parts[0]
        if np.any(ids[1:] <= ids[:-1]):  # kept chunks keep their (older, smaller) ids, so this is rare
            order = np.argsort(ids, kind="stable")
            ids, vectors = ids[order], vectors[order]
        pending = self._pending_paths(old, plan, staged)
        searchable = ~np.isin(ids, _chunk_ids(db, pending)) if pending else None
        progress("index", 0, 2)
        write_dense(tmp, vectors, ids, self.settings, searchable)
        del vectors
        staged.discard()
        progress("index", 1, 2)
        texts, languages = [], []  # the strings BM25 needs, not every chunk object
        for _, chunk in select_chunks(db):
            texts.append(chunk.embed_text)
            languages.append(chunk.language)
        write_sparse(tmp, texts, self.settings.bm25_language, languages)
        del texts, languages
        db.close()
        self._write_ocr(tmp, old_folder, old, plan)
        write_manifest(tmp, self.settings, dimension, chunking, len(ids), next_id, plan.files, pending)
        if old_folder is not None:
            carry_models(old_folder, tmp)
        progress("index", 2, 2)
        if gate is not None and not gate(tmp):
            log.warning("new index version rejected before publishing; %s stays in use",
                        old_folder.name if old_folder else "no version")
            shutil.rmtree(tmp, ignore_errors=True)
            return None
        return self.folder.publish(tmp, self.settings.keep_versions)

    @staticmethod
    def _pending_paths(old: Manifest | None, plan: _Plan, staged: _Staged) -> list[str]:
        """Files of the new version without vectors: parsed keyword-first now, or kept (or renamed) so."""
        waiting = set(old.vectors_pending) if old is not None else set()
        paths = {p for p in plan.keep if p in waiting} | {new for new, was in plan.renamed.items() if was in waiting}
        return sorted(paths | staged.pending_paths)

    def _complete_vectors(self, folder: Path, report: IngestReport, progress: Progress) -> Path:
        """Embed the chunks that version ``folder`` has without vectors and publish the version with them.

        Everything else (chunk table, BM25, OCR pages, tuned models, ...) is the same files, hard-linked;
        only the vectors, the FAISS index and the manifest are new. Hold the writer lock."""
        with self._new_version(folder) as tmp:
            return self._publish_vectors(folder, tmp, report, progress)

    def _publish_vectors(self, folder: Path, tmp: Path, report: IngestReport, progress: Progress) -> Path:
        manifest = Manifest.read(folder)
        link_version(folder, tmp, {MANIFEST, VECTORS, IDS, DENSE})
        db = open_db(folder)
        try:
            marks = ",".join("?" * len(manifest.vectors_pending))
            rows = list(select_chunks(db, f"path IN ({marks})", tuple(manifest.vectors_pending)))
        finally:
            db.close()
        ids = load_ids(folder)
        vectors = np.array(load_vectors(folder), dtype=np.float32)
        positions = np.searchsorted(ids, np.array([row_id for row_id, _ in rows], dtype=np.int64))
        step = max(1, self.settings.embedding_batch_size)
        progress("embed", 0, len(rows))
        starts: deque[int] = deque()  # batches submitted, not yet embedded

        def collect(work: IngestSession, final: bool = False) -> None:
            for embedded, seconds in work.embedded(final):
                start = starts.popleft()
                vectors[positions[start:start + step]] = embedded
                report.embed_seconds += seconds
                progress("embed", min(start + step, len(rows)), len(rows))

        with self.executor.session(self.embedder) as work:
            for start in range(0, len(rows), step):
                starts.append(start)
                work.submit([c.embed_text for _, c in rows[start:start + step]])
                collect(work)
            collect(work, final=True)
        progress("index", 0, 1)
        write_dense(tmp, vectors, ids, self.settings)
        dataclasses.replace(manifest, created_at=time.time(), vectors_pending=[]).write(tmp)
        progress("index", 1, 1)
        published = self.folder.publish(tmp, self.settings.keep_versions)
        log.info("vectors of %d chunks (%d files) published in %s after their keyword-only version %s", len(rows),
                 len(manifest.vectors_pending), published.name, folder.name)
        return published

    @staticmethod
    def _write_ocr(tmp: Path, old_folder: Path | None, old: Manifest | None, plan: _Plan) -> None:
        """The OCR'd pages of the new version: those just parsed, and those of the files it keeps."""
        for path, pages in plan.ocr.items():
            entry = plan.files.get(path)
            if entry is not None and entry.indexed:
                write_ocr(tmp, entry.doc_id, pages)
        if old_folder is None or old is None:
            return
        carried = [(plan.files[p].doc_id, plan.files[p].doc_id) for p in plan.keep if plan.files[p].ocr_pages]
        carried += [(old.files[o].doc_id, plan.files[n].doc_id) for n, o in plan.renamed.items()
                    if plan.files[n].ocr_pages]  # a copy of a kept file is "renamed" from it too
        carry_ocr(old_folder, tmp, carried)

    def _carry_old(self, db: sqlite3.Connection, old_folder: Path, plan: _Plan, next_id: int,
                   ids_parts: list[np.ndarray], vector_parts: list[np.ndarray]) -> int:
        """Copy kept chunks (and renamed files' chunks, under their new path) with their vectors."""
        old_ids = load_ids(old_folder)
        old_vectors = load_vectors(old_folder)
        position = {int(i): p for p, i in enumerate(old_ids)}
        db.execute("ATTACH DATABASE ? AS old", (f"file:{old_folder / CHUNKS_DB}?mode=ro",))
        kept = [(row_id, chunk) for row_id, chunk in select_chunks(db, table="old.chunks") if chunk.path in plan.keep]
        insert_chunks(db, kept)
        kept_ids = np.array([row_id for row_id, _ in kept], dtype=np.int64)
        ids_parts.append(kept_ids)
        vector_parts.append(np.asarray(old_vectors[[position[int(i)] for i in kept_ids]], dtype=np.float32))
        for new_path, old_path in plan.renamed.items():
            rows = list(select_chunks(db, "path = ?", (old_path,), table="old.chunks"))
            source_ids = [position[row_id] for row_id, _ in rows]
            doc_id = doc_id_for(Path(new_path))
            for _, chunk in rows:
                chunk.chunk_id = chunk.chunk_id.replace(chunk.doc_id, doc_id, 1)
                chunk.doc_id, chunk.path, chunk.name = doc_id, new_path, Path(new_path).name
            ids = np.arange(next_id, next_id + len(rows), dtype=np.int64)
            insert_chunks(db, zip((int(i) for i in ids), (chunk for _, chunk in rows)))
            next_id += len(rows)
            ids_parts.append(ids)
            vector_parts.append(np.asarray(old_vectors[source_ids], dtype=np.float32))
        db.commit()
        db.execute("DETACH DATABASE old")
        return next_id


def _newly_supported(path: Path, entry: FileEntry) -> bool:
    """A file skipped as an unsupported type whose type is supported now (images, read by OCR)."""
    return entry.skipped and entry.reason.startswith("unsupported file type") and \
        path.suffix.lower() in SUPPORTED_SUFFIXES


def _chunk_ids(db: sqlite3.Connection, paths: list[str]) -> list[int]:
    """Row ids of the chunks of ``paths`` in a version's chunk table."""
    marks = ",".join("?" * len(paths))
    return [row_id for (row_id,) in db.execute(f"SELECT id FROM chunks WHERE path IN ({marks})", tuple(paths))]

