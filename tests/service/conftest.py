"""Fixtures for the service tests: real folders, real PDFs (reportlab), a real watcher, the hashed embedder.

These tests are about plumbing (what is indexed when, atomic versions, locks, processes), so they use the
deterministic hashed embedder, also in the processes they start (``HASHED_ENV``); BM25 finds the passages.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from kb import KnowledgeBase, Settings
from kb.embedding import HASHED_MODEL

HASHED_ENV = {"KB_EMBEDDING_MODEL": HASHED_MODEL}


def poll(check: Callable[[], object], timeout: float = 60.0, interval: float = 0.1, what: str = "condition"):
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # e.g. no index yet
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error!r})")


def make_pdf(path: Path, pages: list[str]) -> Path:
    """A real PDF with one paragraph of text per page."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    for text in pages:
        y = 800
        words = text.split()
        line: list[str] = []
        for word in words:
            line.append(word)
            if len(" ".join(line)) > 80:
                pdf.drawString(50, y, " ".join(line))
                y -= 16
                line = []
        if line:
            pdf.drawString(50, y, " ".join(line))
        pdf.showPage()
    pdf.save()
    return path


def texts(kb: KnowledgeBase, query: str, k: int = 10) -> list[str]:
    return [h.chunk.text for h in kb.search(query, k=k)]


def paths(kb: KnowledgeBase, query: str, k: int = 10) -> list[str]:
    return [h.chunk.path for h in kb.search(query, k=k)]


@pytest.fixture
def make_kb(tmp_path, hashed_embedder):
    def make(**settings) -> KnowledgeBase:
        settings.setdefault("index_dir", tmp_path / "index")
        return KnowledgeBase(Settings(embedding_model=HASHED_MODEL, **settings), embedder=hashed_embedder)

    return make


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    return folder


@pytest.fixture
def no_leaked_threads():
    before = {t.ident for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        leaked = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()
                  and t.name != "tqdm_monitor"]  # tqdm's own monitor, started by model loading
        if not leaked:
            return
        time.sleep(0.1)
    raise AssertionError(f"threads left running: {[t.name for t in leaked]}")


@pytest.fixture
def watch(make_kb, docs, no_leaked_threads):
    """Start a real watcher on ``docs`` (stopped at the end of the test); returns (watcher, kb)."""
    from kb.sync.watch import FolderWatcher

    started = []

    def start(folder: Path | None = None, **settings):
        settings = {"watch_debounce_s": 0.3, "watch_stable_s": 0.8, **settings}
        kb = make_kb(**settings)
        watcher = FolderWatcher(kb.writer(), folder or docs).start()
        started.append(watcher)
        assert watcher.wait_idle(60), "the start-up reconcile did not finish"
        return watcher, kb

    yield start
    for watcher in started:
        watcher.stop()
