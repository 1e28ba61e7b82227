"""Parse and chunk files in separate worker processes with a time and memory limit per file.

A parser that hangs, exhausts memory or crashes the interpreter takes down only its worker: the file is
recorded as skipped with the reason, the worker is replaced, and the batch goes on.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Iterable, Iterator

from kb.errors import UnreadableFile
from kb.types import Chunk

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker needs; sent once when it starts."""

    tokenizer_path: str
    max_tokens: int
    overlap_tokens: int
    max_file_mb: float
    max_pages: int
    memory_mb: int


@dataclass
class ParsedFile:
    """A file's outcome: its chunks and metadata, or the reason it was skipped."""

    path: str
    content_hash: str = ""
    title: str = ""
    kind: str = ""
    pages: int | None = None
    warnings: list[str] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    skip_reason: str | None = None
    seconds: float = 0.0


def _serve(conn: Connection, config: WorkerConfig) -> None:
    """Worker loop: receive a path, send back a ParsedFile. Runs in the child process."""
    import resource

    from ingest.chunker import ChunkingConfig, chunk_document
    from ingest.limits import ParseLimits
    from ingest.registry import parse_file
    from ingest.tokens import load_token_counter

    limit = config.memory_mb * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):  # some sandboxes forbid it; the time limit still holds
        pass
    count = load_token_counter(config.tokenizer_path)
    limits = ParseLimits(max_file_mb=config.max_file_mb, max_pages=config.max_pages)
    chunking = ChunkingConfig(config.max_tokens, config.overlap_tokens)
    while True:
        try:
            path = conn.recv()
        except EOFError:
            return
        if path is None:
            return
        started = time.perf_counter()
        try:
            doc = parse_file(Path(path), limits)
            chunks = chunk_document(doc, count, chunking)
            if not chunks:
                raise UnreadableFile("no text found in document")
            result = ParsedFile(path=path, content_hash=doc.content_hash, title=doc.title, kind=doc.kind,
                                pages=doc.pages, warnings=list(doc.warnings), chunks=chunks)
        except UnreadableFile as exc:
            result = ParsedFile(path=path, skip_reason=exc.reason)
        except MemoryError:
            result = ParsedFile(path=path, skip_reason=f"ran out of memory while parsing "
                                                       f"(limit {config.memory_mb} MB, setting parse_memory_mb)")
        except Exception as exc:  # a parser bug must cost one file, not the batch
            result = ParsedFile(path=path, skip_reason=f"parser error: {type(exc).__name__}: {exc}"[:300])
        result.seconds = time.perf_counter() - started
        conn.send(result)


class _Worker:
    def __init__(self, ctx, config: WorkerConfig):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, config), daemon=True)
        self.process.start()
        child.close()
        self.path: str | None = None
        self.deadline = 0.0

    def submit(self, path: str, timeout: float) -> None:
        self.path = path
        self.deadline = time.monotonic() + timeout
        self.conn.send(path)

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class ParsePool:
    """A few worker processes that parse files in parallel with the caller (who embeds)."""

    def __init__(self, config: WorkerConfig, workers: int = 1, timeout_s: float = 300.0):
        # spawn, not fork: the parent may hold torch/BLAS threads, which do not survive a fork
        self._ctx = mp.get_context("spawn")
        self._config = config
        self._timeout = timeout_s
        self._size = max(1, workers)
        self._workers: list[_Worker] = []

    def __enter__(self) -> "ParsePool":
        self._workers = [_Worker(self._ctx, self._config) for _ in range(self._size)]
        return self

    def __exit__(self, *exc) -> None:
        for worker in self._workers:
            worker.stop(kill=exc[0] is not None)
        self._workers = []

    def parse(self, paths: Iterable[str]) -> Iterator[ParsedFile]:
        """Yield one ParsedFile per path, in completion order."""
        pending = list(paths)
        pending.reverse()
        busy: list[_Worker] = []
        idle = list(self._workers)
        while pending or busy:
            while idle and pending:
                worker = idle.pop()
                worker.submit(pending.pop(), self._timeout)
                busy.append(worker)
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = wait([w.conn for w in busy], timeout=timeout)
            results = []
            for worker in list(busy):
                result = self._collect(worker, worker.conn in ready)
                if result is None:
                    continue
                result, broken = result
                busy.remove(worker)
                idle.append(self._replace(worker) if broken else worker)
                results.append(result)
            # hand out the next files before yielding, so workers parse while the caller embeds
            while idle and pending:
                worker = idle.pop()
                worker.submit(pending.pop(), self._timeout)
                busy.append(worker)
            yield from results

    def _collect(self, worker: _Worker, ready: bool) -> tuple[ParsedFile, bool] | None:
        """The worker's result and whether the worker must be replaced; None while it is still busy."""
        if ready:
            try:
                return worker.conn.recv(), False
            except (EOFError, OSError):
                worker.process.join(timeout=5)
                return ParsedFile(path=worker.path, skip_reason=(
                    f"parser process died (exit code {worker.process.exitcode}) while reading this file")), True
        if time.monotonic() >= worker.deadline:
            return ParsedFile(path=worker.path, seconds=self._timeout, skip_reason=(
                f"parsing took longer than {self._timeout:g} s (setting parse_timeout_s)")), True
        return None

    def _replace(self, worker: _Worker) -> _Worker:
        log.warning("restarting parser worker after %s", worker.path)
        worker.stop(kill=True)
        fresh = _Worker(self._ctx, self._config)
        self._workers[self._workers.index(worker)] = fresh
        return fresh
