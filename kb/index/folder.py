"""The index folder: immutable versions of plain files, an atomic ``CURRENT`` pointer, a writer lock.

    DIR/CURRENT                 name of the version readers use (replaced atomically)
    DIR/PUBLISHED               names of the versions that have been current, one a line (rollback targets)
    DIR/LOCK                    held (flock) by the one writer; holds its pid
    DIR/versions/v000007/       one complete version (``kb.index.version`` lists its files)

A writer builds a new version in ``versions/.tmp-*``, renames it into place and then swaps ``CURRENT``:
killed at any moment, it leaves the previous version complete and in use. A version that failed between the
rename and the swap (a full disk) is removed at once; one left by a kill in that moment was never published and
is never counted as a version to keep or roll back to.
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

PUBLISHED = "PUBLISHED"


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
        name = self._current_name()
        if name is None:
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
            try:
                fh.seek(0)
                fh.truncate()
                fh.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
                fh.flush()
            except OSError as exc:  # a full disk: the flock is what guards; the note only says who holds it
                log.warning("could not note the lock holder in %s (%s)", self.root / "LOCK", exc)
            yield
        finally:
            fh.close()  # closing releases the flock

    def _folders(self) -> list[Path]:
        if not self.versions.is_dir():
            return []
        return sorted(p for p in self.versions.glob("v*") if p.name[1:].isdigit() and p.is_dir())

    def _published_names(self) -> set[str] | None:
        """Names of the versions that have been current (None: an index from before the list was kept)."""
        try:
            return set((self.root / PUBLISHED).read_text(encoding="utf-8").split())
        except FileNotFoundError:
            return None

    def list_versions(self) -> list[Path]:
        """Published versions (those that have been current), oldest first."""
        folders = self._folders()
        names = self._published_names()
        if names is None:
            return folders
        current = self._current_name()
        return [p for p in folders if p.name in names or p.name == current]

    def previous(self) -> Path | None:
        """The newest published version older than the current one (what a rollback restores)."""
        current = self.current()
        older = [p for p in self.list_versions() if current is None or p.name < current.name]
        return older[-1] if older else None

    def _current_name(self) -> str | None:
        try:
            return (self.root / "CURRENT").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None

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
        """Move a finished version into place, point CURRENT at it, drop published versions beyond ``keep``
        (never the current one or the one before it) and any that were never published.

        A failure on the way (a full disk) removes the new version at once and leaves CURRENT as it was."""
        numbers = [int(p.name[1:]) for p in self.versions.glob("v*") if p.name[1:].isdigit()]
        final = self.versions / f"v{max(numbers, default=0) + 1:06d}"
        before = self.current()
        if self.store is not None:  # before the rename: a failure leaves a .tmp folder, never a half version
            self.store.prepare(tmp, final.name)
        os.rename(tmp, final)
        try:
            fsync_dir(self.versions)
            if self.store is not None:
                self.store.activate(final)
            write_atomic(self.root / "CURRENT", final.name)
            fsync_dir(self.root)
        except BaseException:
            self._undo_publish(final, before)
            raise
        self._record_published([before.name] if before is not None else [], final.name)
        self.prune(keep)
        return final

    def _undo_publish(self, final: Path, before: Path | None) -> None:
        """After a publish failed: if CURRENT does not name ``final``, the version was never published: remove
        it now (the store serves ``before`` again), so no later run counts it as a version to keep."""
        (self.root / "CURRENT.tmp").unlink(missing_ok=True)
        if self._current_name() == final.name:
            return  # the swap happened; only a later step failed: it is published
        log.warning("publishing %s failed; removed it, %s stays in use", final.name,
                    before.name if before else "no version")
        shutil.rmtree(final, ignore_errors=True)
        if self.store is not None and before is not None:
            try:
                self.store.activate(before)
            except Exception:  # noqa: BLE001 - the original failure is what the caller must see
                log.warning("could not make %s current again in the version store", before.name, exc_info=True)

    def _record_published(self, earlier: list[str], name: str) -> None:
        """Add ``name`` (now current) to the list of published versions. On a legacy index the list starts
        with every version folder there is; the version current before ``name`` is always added, so a failed
        write here (a full disk) is made good by the next publish."""
        names = self._published_names()
        if names is None:
            names = {p.name for p in self._folders()}
        names |= set(earlier) | {name}
        existing = {p.name for p in self._folders()}
        try:
            write_atomic(self.root / PUBLISHED, "\n".join(sorted(names & existing)) + "\n")
        except OSError as exc:
            (self.root / f"{PUBLISHED}.tmp").unlink(missing_ok=True)
            log.warning("could not record %s as published (%s); the next publish records it", name, exc)

    def prune(self, keep: int) -> None:
        """Remove published versions beyond the newest ``keep`` (never the current one or the one before it,
        the rollback target) and version folders that were never published. Hold the writer lock."""
        published = self.list_versions()
        current, previous = self.current(), self.previous()
        protected = {p.name for p in (current, previous) if p is not None}
        doomed = [p for p in published[:-keep] if p.name not in protected] if keep > 0 else []
        if self._published_names() is not None:
            names = {p.name for p in published}
            doomed += [p for p in self._folders() if p.name not in names and p.name not in protected]
        for old in doomed:
            shutil.rmtree(old, ignore_errors=True)
        if self.store is not None:
            self.store.prune(self.list_versions())
