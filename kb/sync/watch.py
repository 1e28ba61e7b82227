"""``kb watch``: keep the index in step with a folder as files are added, edited, renamed and deleted.

Every change is handled by the same full reconcile of the folder that ``kb ingest`` does (so renames re-use
embeddings by content hash, deletes drop chunks, subfolders become collections), run when

- the folder has been quiet for ``watch_debounce_s`` (a burst of events becomes one batch; a steady stream
  is still handled at least every ``max_delay_s``), and
- the files that changed are completely written: size and mtime unchanged for ``watch_stable_s``. Files
  still being written are *deferred*: the current version keeps what it had for them until they settle.

Temporary and hidden names (``~$x.docx``, ``*.part``, ``*.crdownload``, dotfiles) never trigger anything.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ingest.formats import is_ignored_name
from kb.errors import ConfigError, IndexLocked
from kb.index.discover import IGNORE_FILE
from kb.index.writer import IndexWriter
from kb.types import IngestReport

log = logging.getLogger(__name__)

# events that say something may have changed; opened/closed-without-writing are our own parser's reads
_CHANGE_EVENTS = {"created", "modified", "moved", "deleted", "closed", "attrib"}


@dataclass
class WatchBatch:
    """One reconcile run of the watcher: the ingest report, or the error that stopped it."""

    started_at: float  # wall clock
    reason: str = "change"  # "start" (catching up on what changed while down), "change" or "rescan"
    report: IngestReport = field(default_factory=IngestReport)
    seconds: float = 0.0
    error: str | None = None

    def to_json(self) -> dict:
        r = self.report
        return {"started_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.started_at)),
                "seconds": round(self.seconds, 3), "reason": self.reason, "indexed": r.indexed,
                "removed": r.removed, "skipped": [{"path": s.path, "reason": s.reason} for s in r.skipped],
                "unchanged": len(r.unchanged), "deferred": r.deferred, "embed_seconds": round(r.embed_seconds, 3),
                "version": r.version, "keyword_version": r.keyword_version, "error": self.error}


@dataclass
class _Pending:
    signature: tuple | None  # (size, mtime_ns), None when the path is gone
    since: float  # monotonic time the signature was first seen unchanged
    last_event: float


class _Stopped(Exception):
    """Raised from the progress callback to abandon a batch when the watcher stops."""


class FolderWatcher:
    """Watches ``folder`` (recursively) and reconciles ``writer``'s index with it; a background thread.

    ``start()`` first catches up on whatever changed while nothing was watching, then follows events until
    ``stop()``. Use as a context manager in tests and tools.
    """

    def __init__(self, writer: IndexWriter, folder: str | Path, debounce_s: float | None = None,
                 stable_s: float | None = None,
                 max_delay_s: float = 30.0, rescan_s: float | None = 300.0,
                 on_batch: Callable[[WatchBatch], None] | None = None,
                 progress: Callable[[str, int, int], None] | None = None):
        self.writer = writer
        settings = writer.settings
        self.folder = Path(folder).expanduser().resolve()
        if not self.folder.is_dir():
            raise ConfigError(f"watched folder {self.folder} does not exist or is not a folder; create it or "
                              "set docs_dir")
        index = Path(settings.index_dir).expanduser().resolve()
        if index == self.folder or index.is_relative_to(self.folder):
            raise ConfigError(f"index folder {index} is inside the watched folder {self.folder}; "
                              "put the index elsewhere (setting index_dir)")
        self.debounce_s = settings.watch_debounce_s if debounce_s is None else debounce_s
        self.stable_s = settings.watch_stable_s if stable_s is None else stable_s
        self.max_delay_s = max(max_delay_s, self.debounce_s)
        # a periodic reconcile catches what events miss: an inotify queue overflow, a network share whose
        # remote changes raise no events. Cheap: unchanged files are only stat()ed (None: never)
        self.rescan_s = rescan_s
        self._last_batch = time.monotonic()
        self.on_batch = on_batch
        self.progress = progress
        self.batches: deque[WatchBatch] = deque(maxlen=500)
        self._pending: dict[str, _Pending] = {}
        self._dirty = True  # catch up on start
        self._reason = "start"
        self._first_dirty = float("-inf")
        self._last_event = float("-inf")
        self._running = False
        self._retry_at = 0.0
        self._failures = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._observer = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "FolderWatcher":
        from watchdog.observers import Observer

        observer = Observer()
        observer.schedule(_Handler(self), str(self.folder), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._thread = threading.Thread(target=self._loop, name="kb-watcher", daemon=True)
        self._thread.start()
        log.info("watching %s (debounce %.1f s, stable %.1f s)", self.folder, self.debounce_s, self.stable_s)
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Stop following events; a batch in progress is abandoned (the current version stays in use)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("watcher thread did not stop within %.0f s", timeout)
        log.info("stopped watching %s", self.folder)

    def __enter__(self) -> "FolderWatcher":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is pending or running (True), or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._dirty or self._pending or self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))
        return True

    # ------------------------------------------------------------------ events (observer thread)

    def note(self, path: str, is_directory: bool = False) -> None:
        """Record that ``path`` may have changed."""
        if not self._relevant(path, is_directory):
            return
        now = time.monotonic()
        with self._cond:
            if not self._dirty:
                self._first_dirty = now
                self._reason = "change"
            self._dirty = True
            self._last_event = now
            if not is_directory:
                item = self._pending.get(path)
                if item is None:
                    self._pending[path] = _Pending(_signature(path), now, now)
                else:
                    item.signature, item.since, item.last_event = _signature(path), now, now
            self._cond.notify_all()

    def _relevant(self, path: str, is_directory: bool) -> bool:
        try:
            relative = Path(path).relative_to(self.folder)
        except ValueError:
            return False
        parts = relative.parts
        if not parts:
            return False
        if any(p.startswith(".") for p in parts[:-1]):  # inside a hidden folder: never indexed
            return False
        name = parts[-1]
        if name == IGNORE_FILE:
            return True
        if is_directory:
            return not name.startswith(".")
        return not is_ignored_name(name)

    # ------------------------------------------------------------------ batches (watcher thread)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                self._cond.wait(0.1)
                if self._stop.is_set():
                    break
                due = self._due(time.monotonic())
                if due:
                    self._running = True
            if not due:
                continue
            try:
                self._batch()
            except _Stopped:
                log.info("watcher stopped during a batch; the current index version stays in use")
            finally:
                with self._cond:
                    self._running = False
                    self._last_batch = time.monotonic()
                    self._cond.notify_all()

    def _due(self, now: float) -> bool:
        """Whether a batch should run now: called with the condition held."""
        if not self._dirty and self.rescan_s is not None and now - self._last_batch >= self.rescan_s:
            self._dirty, self._reason, self._first_dirty = True, "rescan", now
        if not self._dirty or now < self._retry_at:
            return False
        quiet = now - self._last_event >= self.debounce_s
        overdue = now - self._first_dirty >= self.max_delay_s
        if not (quiet or overdue):
            return False
        self._refresh(now)
        # all at once: a deleted file may be the source of a rename whose destination is still settling,
        # and the rename only re-uses embeddings when both sides are in the same batch
        return overdue or all(self._settled(p, now) for p in self._pending.values())

    def _refresh(self, now: float) -> None:
        for path, item in self._pending.items():
            signature = _signature(path)
            if signature != item.signature:
                item.signature, item.since = signature, now

    def _settled(self, item: _Pending, now: float) -> bool:
        """Gone, or size and mtime unchanged for ``stable_s`` (seen for that long, or mtime that old)."""
        if item.signature is None or now - item.since >= self.stable_s:
            return True
        # a renamed, moved or `cp -p` file is complete when its event arrives: its mtime is already old
        return time.time() - item.signature[1] / 1e9 >= self.stable_s

    def _batch(self) -> None:
        started, started_wall = time.monotonic(), time.time()
        with self._cond:
            self._refresh(started)
            unsettled = {p for p, item in self._pending.items() if not self._settled(item, started)}
            reason = self._reason
            self._dirty = False

        def defer(path: Path, stat: os.stat_result) -> bool:
            # a file with no event yet but a very recent mtime may be mid-copy: its events are on the way
            return str(path) in unsettled or abs(time.time() - stat.st_mtime) < self.stable_s

        def progress(stage: str, done: int, total: int) -> None:
            if self._stop.is_set():
                raise _Stopped()
            if self.progress:
                self.progress(stage, done, total)

        try:
            report = self.writer.run([self.folder], progress=progress, defer=defer,
                                     keyword_first=self.writer.settings.keyword_first)
        except _Stopped:
            raise
        except IndexLocked as exc:
            log.info("%s; retrying in a few seconds", exc)
            self._retry(started, reason, delay=2.0)
            return
        except Exception as exc:  # a batch must never kill the watcher: record, back off, retry
            self._failures += 1
            delay = min(300.0, 5.0 * 2 ** min(self._failures - 1, 6))
            log.exception("watcher batch failed (attempt %d); retrying in %.0f s", self._failures, delay)
            batch = WatchBatch(started_at=started_wall, reason=reason, seconds=time.monotonic() - started,
                               error=f"{type(exc).__name__}: {exc}")
            self._record(batch)
            self._retry(started, reason, delay)
            return
        self._failures = 0
        batch = WatchBatch(started_at=started_wall, reason=reason, report=report, seconds=report.total_seconds)
        deferred = report.deferred
        with self._cond:
            now = time.monotonic()
            for path, item in list(self._pending.items()):
                if path not in unsettled and item.last_event <= started:
                    del self._pending[path]
            for path in deferred:
                if path not in self._pending:
                    self._pending[path] = _Pending(_signature(path), now, now)
            if self._pending:
                if not self._dirty:
                    self._first_dirty = now
                self._dirty = True
        if report.indexed or report.removed or deferred:
            log.info("watch: %d indexed, %d removed, %d deferred (still being written) -> %s in %.1f s",
                     len(report.indexed), len(report.removed), len(deferred), report.version, report.total_seconds)
        self._record(batch)

    def _retry(self, started: float, reason: str, delay: float) -> None:
        with self._cond:
            if not self._dirty:
                self._first_dirty = started
            self._dirty = True
            self._retry_at = time.monotonic() + delay

    def _record(self, batch: WatchBatch) -> None:
        self.batches.append(batch)
        if self.on_batch:
            try:
                self.on_batch(batch)
            except Exception:  # a listener's bug must not stop the watcher
                log.exception("on_batch callback failed")


def _signature(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


class _Handler:
    """watchdog handler: forwards every relevant path to the watcher (cheap; runs on the observer thread)."""

    def __init__(self, watcher: FolderWatcher):
        self.watcher = watcher

    def dispatch(self, event) -> None:
        if event.event_type not in _CHANGE_EVENTS:
            return
        if event.is_directory and event.event_type in ("modified", "attrib", "closed"):
            return  # a folder's own mtime changes whenever a file in it does; the file has its own event
        self.watcher.note(os.fsdecode(event.src_path), event.is_directory)
        dest = getattr(event, "dest_path", "")
        if dest:
            self.watcher.note(os.fsdecode(dest), event.is_directory)
