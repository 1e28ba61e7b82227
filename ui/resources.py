"""Heavy objects shared by every session of the app (and by the download guard and cookie routes), created once."""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


from kb import KnowledgeBase, Settings
from kb.access.users import UserStore
from kb.activity.store import ActivityStore
from kb.db import Database, open_database
from ui.media import MediaRegistry

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


# plain caches, not st.cache_resource: ui.guard and ui.session_cookie use them outside any script run
@functools.lru_cache(maxsize=None)
def _knowledge_base(s: Settings) -> tuple[KnowledgeBase, Warmup]:
    return KnowledgeBase(s), Warmup()


@functools.lru_cache(maxsize=1)
def media_registry() -> MediaRegistry:
    """The documents behind the media this process has put into Streamlit's media store (see ``ui.guard``)."""
    return MediaRegistry()


@functools.lru_cache(maxsize=None)
def _store(db: Database) -> ActivityStore:
    return ActivityStore(db)


@functools.lru_cache(maxsize=None)
def _database(url: str, path: str) -> Database:
    return open_database(url, path)


def database(s: Settings, sqlite_path: str | Path) -> Database:
    """The app database of these settings, one per process with its pool of connections: with
    ``database_url`` the PostgreSQL database that every store (and every replica) shares, else the SQLite
    file ``sqlite_path`` (``app_db_path`` or ``users_db_path``)."""
    return _database(s.database_url, "" if s.database_url else str(sqlite_path))


@functools.lru_cache(maxsize=16)
def user_store(s: Settings) -> UserStore:
    """The user store of these settings (one per configuration; the sign-in form, the download guard and the
    cookie routes share it)."""
    return UserStore(s, db=database(s, s.users_db_path))


def knowledge_base(s: Settings | None = None) -> KnowledgeBase:
    """The knowledge base for these settings (one per index folder and configuration)."""
    return _knowledge_base(s or settings())[0]


def warmup(s: Settings | None = None, start: bool = True) -> Warmup:
    """The background model loading; started on first call, after the first page has been drawn."""
    kb, warm = _knowledge_base(s or settings())
    if start:
        warm.start(kb)
    return warm


def store(s: Settings | None = None) -> ActivityStore:
    """The store of questions, answers and feedback (``settings.app_db_path``, or PostgreSQL with
    ``database_url``)."""
    s = s or settings()
    return _store(database(s, s.app_db_path))
