"""Heavy objects shared by every session of the app, created once with ``st.cache_resource``."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import streamlit as st

from kb import KnowledgeBase, Settings
from kb.activity.store import ActivityStore

log = logging.getLogger(__name__)


@dataclass
class Warmup:
    """Loads the models in the background when the app starts, so the page shows at once."""

    started: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)
    error: str = ""
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, kb: KnowledgeBase) -> None:
        """Start loading once (later calls do nothing); without an index there is nothing to warm up."""
        with self._lock:
            if self.started:
                return
            self.started = time.time()
        if kb.folder.current() is None:
            self.done.set()
            return
        threading.Thread(target=self.run, args=(kb,), name="kb-warmup", daemon=True).start()

    def run(self, kb: KnowledgeBase) -> None:
        try:
            kb.warm_up()
        except Exception as exc:  # shown in the app; asking will raise the same error with its message
            log.exception("warm-up failed")
            self.error = str(exc)
        finally:
            self.seconds = time.time() - self.started
            log.info("models ready after %.1f s", self.seconds)
            self.done.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)


def settings() -> Settings:
    """Settings from kb.toml and KB_* variables (read on every run: cheap, and they may change)."""
    return Settings.load()


@st.cache_resource(show_spinner=False)
def _knowledge_base(key: str, _settings: Settings) -> tuple[KnowledgeBase, Warmup]:
    return KnowledgeBase(_settings), Warmup()


@st.cache_resource(show_spinner=False)
def _store(path: str) -> ActivityStore:
    return ActivityStore(path)


def knowledge_base(s: Settings | None = None) -> KnowledgeBase:
    """The knowledge base for these settings (one per index folder and configuration)."""
    s = s or settings()
    return _knowledge_base(repr(s), s)[0]


def warmup(s: Settings | None = None, start: bool = True) -> Warmup:
    """The background model loading; started on first call, after the first page has been drawn."""
    s = s or settings()
    kb, warm = _knowledge_base(repr(s), s)
    if start:
        warm.start(kb)
    return warm


def store(s: Settings | None = None) -> ActivityStore:
    """The SQLite store of questions, answers and feedback (``settings.app_db_path``)."""
    s = s or settings()
    return _store(str(s.app_db_path))
