"""Parse and chunk files in separate worker processes with a time and memory limit per file.

A parser that hangs, exhausts memory or crashes the interpreter takes down only its worker: the file is
recorded as skipped with the reason (marked transient, so the next run tries it again), the worker is
replaced, and the batch goes on. Workers are fresh interpreters (``python -m ingest.worker``), so the
caller needs no ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Callable, Iterable, Iterator

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
    max_text_mb: float = 20.0
    ocr: bool = True  # read pages without a text layer by OCR (setting ocr)
    timeout_s: float = 300.0  # the pool's time limit per file: OCR stops in time to keep what it has read


@dataclass
class ParsedFile:
    """A file's outcome: its chunks and metadata, or the reason it was skipped."""

    path: str
    # the hash and stat of the bytes the worker read and parsed ("" / 0 when it never read the file)
    content_hash: str = ""
    size: int = 0
    mtime_ns: int = 0
    title: str = ""
    kind: str = ""
    pages: int | None = None
    warnings: list[str] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    ocr: list[dict] = field(default_factory=list)  # the pages read by OCR (ingest.ocr.OcrPage.to_json)
    skip_reason: str | None = None
    seconds: float = 0.0
    transient: bool = False  # skipped for a reason that may not recur (worker died, timeout): retried next run


def serve(conn: Connection) -> None:
    """Worker loop: receive the config, then paths; send back one ParsedFile each. Runs in the child process."""
    import resource

    from ingest.chunker import ChunkingConfig, chunk_document
    from ingest.limits import ParseLimits
    from ingest.registry import parse_snapshot, read_snapshot
    from ingest.tokens import load_token_counter

    try:
        config: WorkerConfig = conn.recv()
    except EOFError:
        return
    limit = config.memory_mb * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):  # some sandboxes forbid it; the time limit still holds
        pass
    count = load_token_counter(config.tokenizer_path)
    limits = ParseLimits(max_file_mb=config.max_file_mb, max_pages=config.max_pages, max_text_mb=config.max_text_mb,
                         ocr=config.ocr, ocr_seconds=_ocr_budget(config.timeout_s))
    chunking = ChunkingConfig(config.max_tokens, config.overlap_tokens)
    while True:
        try:
            path = conn.recv()
        except EOFError:
            return
        if path is None:
            return
        started = time.perf_counter()
        snapshot = None
        try:
            snapshot = read_snapshot(Path(path).resolve(), limits)
            doc = parse_snapshot(Path(path).resolve(), snapshot, limits)
            chunks = chunk_document(doc, count, chunking)
            if not chunks:
                raise UnreadableFile("no text found in document")
            result = ParsedFile(path=path, title=doc.title, kind=doc.kind,
                                pages=doc.pages, warnings=list(doc.warnings), chunks=chunks,
                                ocr=[page.to_json() for _, page in sorted(doc.ocr.items())])
        except UnreadableFile as exc:
            result = ParsedFile(path=path, skip_reason=exc.reason)
        except MemoryError:
            result = ParsedFile(path=path, skip_reason=f"ran out of memory while parsing "
                                                       f"(limit {config.memory_mb} MB, setting parse_memory_mb)")
        except Exception as exc:  # a parser bug must cost one file, not the batch
            result = ParsedFile(path=path, skip_reason=f"parser error: {type(exc).__name__}: {exc}"[:300])
        if snapshot is not None:
            result.content_hash, result.size, result.mtime_ns = snapshot.content_hash, snapshot.size, snapshot.mtime_ns
        del snapshot
        result.seconds = time.perf_counter() - started
        conn.send(result)


def _ocr_budget(timeout_s: float) -> float:
    """Seconds of a file's parse after which OCR reads no further page: most of the time limit, leaving room
    for chunking and the reply (a page takes seconds), so a long scan keeps its first pages."""
    return max(1.0, min(0.85 * timeout_s, timeout_s - 20.0))


def _worker_env() -> dict[str, str]:
    """The worker's environment: ours, with this installation first on the path (a source checkout works too)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


class _Worker:
    """One parser process: a fresh interpreter running ``python -m ingest.worker``, talking over a socket pair.

    Not a multiprocessing child: "spawn" re-runs the caller's ``__main__`` in the child, so a script that
    calls ``KnowledgeBase.ingest`` at top level (no ``if __name__ == "__main__":`` guard) would re-run itself
    there and every file would fail; "fork" would copy the caller's torch/BLAS threads, which do not survive it.
    """

    def __init__(self, config: WorkerConfig):
        self.conn, child = mp.Pipe()
        fd = child.fileno()
        self.process = subprocess.Popen([sys.executable, "-m", "ingest.worker", str(fd)], pass_fds=(fd,),
                                        stdin=subprocess.DEVNULL, env=_worker_env())
        child.close()
        self._send(config)
        self.path: str | None = None
        self.deadline = 0.0

    def submit(self, path: str, timeout: float) -> None:
        self.path = path
        self.deadline = time.monotonic() + timeout
        self._send(path)

    def _send(self, message) -> None:
        """Send to the worker; if it has already died, the pipe reads as closed and ParsePool reports the death
        against the file it was given (a worker killed before it read its first message is no different)."""
        try:
            self.conn.send(message)
        except OSError as exc:
            log.warning("parser worker %s is gone (%s)", self.process.pid, exc)

    def exit_description(self) -> tuple[str, bool]:
        """('exit code 1' or 'killed by SIGABRT', whether the death will recur on the same file) once the process
        has ended. A crash inside the parser (SIGABRT: an allocation failed at the memory limit; SIGSEGV,
        SIGBUS, ...) recurs on the same bytes; SIGKILL comes from outside (the system's out-of-memory killer, a
        person) and an exit code from the interpreter itself, which may not."""
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "still running", False
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"killed by {name}", -code != signal.SIGKILL
        return f"exit code {code}", False

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.conn.close()


class ParsePool:
    """A few worker processes that parse files in parallel with the caller (who embeds)."""

    def __init__(self, config: WorkerConfig, workers: int = 1, timeout_s: float = 300.0):
        self._config = config
        self._timeout = timeout_s
        self._size = max(1, workers)
        self._workers: list[_Worker] = []
        self._closing = False
        self.busy = 0  # workers parsing a file right now (read by the caller to share the cores)

    def __enter__(self) -> "ParsePool":
        self._closing = False
        self._workers = [_Worker(self._config) for _ in range(self._size)]
        return self

    def __exit__(self, *exc) -> None:
        self.close(kill=exc[0] is not None)

    def close(self, kill: bool = False) -> None:
        """Stop the workers (``kill``: at once, a file half parsed or not); a dead worker is not replaced after."""
        self._closing = True
        for worker in self._workers:
            worker.stop(kill=kill)
        self._workers = []

    def parse(self, paths: Iterable[str], admit: Callable[[int], bool] | None = None) -> Iterator[ParsedFile]:
        """Yield one ParsedFile per path, in completion order.

        ``admit(busy)`` is asked before each file is handed to an idle worker (``busy``: workers parsing now);
        False leaves the file for later (when no worker is busy, for good: the parse ends). It may block, which
        is how a caller holds the workers back while it catches up."""
        pending = list(paths)
        pending.reverse()
        busy: list[_Worker] = []
        idle = list(self._workers)

        def hand_out() -> None:  # before yielding, so workers parse while the caller embeds
            while idle and pending and not self._closing and (admit is None or admit(len(busy))):
                worker = idle.pop()
                worker.submit(pending.pop(), self._timeout)
                busy.append(worker)
            self.busy = len(busy)

        hand_out()
        while busy:
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
            self.busy = len(busy)
            hand_out()
            yield from results

    def _collect(self, worker: _Worker, ready: bool) -> tuple[ParsedFile, bool] | None:
        """The worker's result and whether the worker must be replaced; None while it is still busy."""
        if ready:
            try:
                return worker.conn.recv(), False
            except (EOFError, OSError):
                return self._death(worker), True
        if time.monotonic() >= worker.deadline:
            return ParsedFile(path=worker.path, seconds=self._timeout, transient=True, skip_reason=(
                f"parsing took longer than {self._timeout:g} s (setting parse_timeout_s)")), True
        return None

    def _death(self, worker: _Worker) -> ParsedFile:
        """The outcome of a file whose worker died: a crash inside the parser recurs on the same bytes, so the
        file is skipped until it changes (a 43 MB DOCX whose 209 MB document.xml meets the memory limit must not
        cost minutes on every run); a kill from outside (SIGKILL) is tried again on the next run."""
        how, recurs = worker.exit_description()
        reason = (f"parser process died ({how}) while reading this file; a crash or the memory limit "
                  f"(parse_memory_mb={self._config.memory_mb})")
        if recurs:
            return ParsedFile(path=worker.path, skip_reason=reason + "; not tried again until the file changes")
        return ParsedFile(path=worker.path, transient=True, skip_reason=reason)

    def _replace(self, worker: _Worker) -> _Worker:
        if self._closing:
            return worker
        log.warning("restarting parser worker after %s", worker.path)
        worker.stop(kill=True)
        fresh = _Worker(self._config)
        self._workers[self._workers.index(worker)] = fresh
        return fresh
