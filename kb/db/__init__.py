"""The app's own database: users and sessions, questions and feedback, conversations and the audit log.

Two backends behind one small API, chosen by the ``database_url`` setting:

- **SQLite** (the default): a file next to the index (``app_db``, ``users_db``), one per store, as ever.
- **PostgreSQL** (``database_url = "postgresql://..."``): one database that several web-app replicas share, so
  a sign-in, a conversation, feedback and the audit log are the same whichever replica serves the browser.

Both speak the same SQL subset with ``?`` placeholders, and both run every statement inside
:meth:`Database.transaction` (committed at the end of the ``with`` block, rolled back on an exception). The
schema of every store lives in :mod:`kb.db.migrations`, applied by the stores when they first use a database.
For example::

    db = open_database(settings, settings.app_db_path)
    with db.transaction() as tx:
        qid = tx.insert("INSERT INTO questions (asked_at, question, refused) VALUES (?, ?, ?)", (now, q, 0))
        rows = tx.query("SELECT question FROM questions WHERE id = ?", (qid,))
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Protocol, Sequence

from kb.errors import DatabaseError

if TYPE_CHECKING:  # pragma: no cover
    from kb.settings import Settings

__all__ = ["Database", "DatabaseError", "IntegrityError", "Transaction", "open_database"]

log = logging.getLogger(__name__)


class IntegrityError(DatabaseError):
    """A statement broke a constraint (a duplicate key): the stores turn it into their own message."""


class Transaction(Protocol):
    """Statements inside one transaction; ``?`` marks each parameter on both backends."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; returns the number of rows it changed."""

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run a statement once per row of parameters."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """The rows of a SELECT, as tuples."""

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run an INSERT into a table whose key is ``id``; returns the new row's id."""

    def columns(self, table: str) -> set[str]:
        """The names of ``table``'s columns (empty when there is no such table)."""


class Database(Protocol):
    """An app database: SQLite file or PostgreSQL server, the same calls for both."""

    backend: str  # "sqlite" or "postgres"
    path: Path | None  # the SQLite file; None for PostgreSQL
    where: str  # for messages and logs: the file, or the URL without its password
    schemas: set[str]  # the migrations.SCHEMAS already brought up to date through this object

    def transaction(self, exclusive: bool = False) -> AbstractContextManager[Transaction]:
        """A transaction, committed when the block ends. ``exclusive`` serialises it against every other
        exclusive one (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock), for check-then-write."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement in its own transaction."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """One SELECT in its own transaction."""

    def close(self) -> None:
        """Close the idle connections (a later call opens new ones)."""


def open_database(source: "Settings | str", sqlite_path: str | Path | None = None) -> Database:
    """The database of these settings: PostgreSQL when ``database_url`` is set (or ``source`` is such a URL),
    else the SQLite file ``sqlite_path``. Nothing is connected or created until the first transaction."""
    url = source if isinstance(source, str) else source.database_url
    if url:
        from kb.db._postgres import PostgresDatabase

        return PostgresDatabase(url)
    if sqlite_path is None or str(sqlite_path) in ("", "."):
        raise DatabaseError("no database: set database_url (PostgreSQL) or give the SQLite file's path")
    from kb.db._sqlite import SQLiteDatabase

    return SQLiteDatabase(Path(sqlite_path))


class PooledDatabase:
    """What both backends share: idle connections kept for reuse (a transaction takes one and gives it back),
    so a web app's many short transactions do not each connect anew, and threads never share a connection."""

    backend = ""
    path: Path | None = None
    where = ""
    max_idle = 4

    def __init__(self) -> None:
        self.schemas: set[str] = set()
        self._idle: list[tuple[Any, float]] = []  # (connection, when it was given back)
        self._lock = threading.Lock()

    # each backend implements these
    def _connect(self) -> Any:
        raise NotImplementedError

    def _transaction(self, conn: Any, exclusive: bool) -> Transaction:
        raise NotImplementedError

    def _usable(self, conn: Any, idle_s: float) -> bool:
        return True

    @contextmanager
    def transaction(self, exclusive: bool = False) -> Iterator[Transaction]:
        conn = self._take()
        try:
            yield self._transaction(conn, exclusive)
            conn.commit()
        except BaseException:
            try:
                conn.rollback()
            except Exception:  # the connection itself failed: do not keep it
                self._discard(conn)
            else:
                self._give_back(conn)
            raise
        self._give_back(conn)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.transaction() as tx:
            return tx.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.transaction() as tx:
            return tx.query(sql, params)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            self._discard(conn)

    def _take(self) -> Any:
        while True:
            with self._lock:
                if not self._idle:
                    break
                conn, since = self._idle.pop()
            if self._usable(conn, time.monotonic() - since):
                return conn
            self._discard(conn)
        return self._connect()

    def _give_back(self, conn: Any) -> None:
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append((conn, time.monotonic()))
                return
        self._discard(conn)

    @staticmethod
    def _discard(conn: Any) -> None:
        try:
            conn.close()
        except Exception:  # already broken
            pass

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.where}>"
