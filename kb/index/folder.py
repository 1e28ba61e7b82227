"""The index folder: immutable versions of plain files, an atomic ``CURRENT`` pointer, a writer lock.

    DIR/CURRENT                 name of the version readers use (replaced atomically)
    DIR/LOCK                    held (flock) by the one writer; holds its pid
    DIR/versions/v000007/       one complete version (``kb.index.version`` lists its files)

A writer builds a new version in ``versions/.tmp-*``, renames it into place and then swaps ``CURRENT``:
killed at any moment, it leaves the previous version complete and in use.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Protocol

from kb.errors import IndexLocked, IndexNotFound, IndexUnusable
from kb.files import private_dir
from kb.index.manifest import Manifest
from kb.index.version import fsync_dir, write_atomic

log = logging.getLogger(__name__)


class VersionStore(Protocol):
    """A second home of the versions, kept in step by the folder (e.g. ``kb.retrieval.milvus.MilvusStore``)."""

    def prepare(self, folder: Path, name: str) -> None:
        """Copy the finished version in ``folder`` (not yet in place) in under ``name``."""

    def activate(self, version: Path) -> None:
        """Make the published ``version`` the current one there (called before ``CURRENT`` names it)."""

    def prune(self, kept: list[Path]) -> None:
        """Drop what belongs to versions other than ``kept``."""


class IndexFolder:
    """Locates versions inside an index folder, swaps them and guards writers.

    ``store`` (optional) is kept in step with every publish, rollback and prune; without one the folder is all."""

    def __init__(self, root: Path, store: VersionStore | None = None):
        self.root = Path(root)
        self.versions = self.root / "versions"
        self.store = store

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
        private_dir(self.root)  # versions hold restricted passages: owner only
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
        if self.store is not None:
            self.store.activate(version)
        write_atomic(self.root / "CURRENT", version.name)
        fsync_dir(self.root)

    def remove_stale_tmp(self) -> int:
        """Delete ``versions/.tmp-*`` folders left by killed writers (hold the writer lock); how many went."""
        removed = 0
        for stale in self.versions.glob(".tmp-*") if self.versions.is_dir() else ():
            shutil.rmtree(stale, ignore_errors=True)
            removed += 1
        if removed:
            log.info("removed %d unfinished version folder(s) left by an interrupted run in %s", removed,
                     self.versions)
        return removed

    def new_tmp(self) -> Path:
        """A new, empty, owner-only folder for the version being built (hold the writer lock)."""
        private_dir(self.versions)
        self.remove_stale_tmp()
        tmp = self.versions / f".tmp-{os.getpid()}-{time.time_ns()}"
        tmp.mkdir(mode=0o700)
        return tmp

    def publish(self, tmp: Path, keep: int) -> Path:
        """Move a finished version into place, point CURRENT at it, drop versions beyond ``keep``."""
        numbers = [int(p.name[1:]) for p in self.versions.glob("v*") if p.name[1:].isdigit()]
        final = self.versions / f"v{max(numbers, default=0) + 1:06d}"
        if self.store is not None:  # before the rename: a failure leaves a .tmp folder, never a half version
            self.store.prepare(tmp, final.name)
        os.rename(tmp, final)
        fsync_dir(self.versions)
        if self.store is not None:
            self.store.activate(final)
        write_atomic(self.root / "CURRENT", final.name)
        fsync_dir(self.root)
        for old in self.list_versions()[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
        if self.store is not None:
            self.store.prune(self.list_versions())
        return final
