"""The SQLite backend: one file, owner-only, in WAL mode so the web app writes while reports read."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

from kb.db import IntegrityError, PooledDatabase
from kb.errors import DatabaseError
from kb.files import private_file

BUSY_TIMEOUT_S = 30


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode (it stays so). Switching needs the file to itself, and SQLite answers "database
    is locked" at once, without waiting out the busy timeout, while another connection opens a new file at the
    same moment (replicas, threads starting together): so retry until the timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class SQLiteTransaction:
    """Statements of one SQLite transaction (see :class:`kb.db.Transaction`)."""

    def __init__(self, conn: sqlite3.Connection, where: str):
        self._conn = conn
        self._where = where

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._run(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(f"{exc} (in {self._where})") from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._run(sql, params).fetchall()

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self._run(sql, params).lastrowid)

    def columns(self, table: str) -> set[str]:
        return {row[1] for row in self._conn.execute(f"PRAGMA table_info({table})")}

    def _run(self, sql: str, params: Sequence[Any]) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, tuple(params))
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(f"{exc} (in {self._where})") from exc


class SQLiteDatabase(PooledDatabase):
    """An app database in one SQLite file; the file (and its folder) is created on the first transaction."""

    backend = "sqlite"

    def __init__(self, path: Path):
        super().__init__()
        self.path = Path(path)
        self.where = str(self.path)

    def _connect(self) -> sqlite3.Connection:
        try:
            # who asked what, password hashes: readable by the owner only (the -wal and -shm files take this mode)
            private_file(self.path)
            # isolation_level=None: transactions are begun here, explicitly, not by the sqlite3 module
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
            _use_wal(conn)
            conn.execute("PRAGMA foreign_keys = ON")
        except (sqlite3.Error, OSError) as exc:
            raise DatabaseError(f"cannot open the app database {self.path}: {exc}; check that the folder is "
                                "writable and the file is a SQLite database") from exc
        return conn

    def _transaction(self, conn: sqlite3.Connection, exclusive: bool) -> SQLiteTransaction:
        conn.execute("BEGIN IMMEDIATE" if exclusive else "BEGIN")
        return SQLiteTransaction(conn, self.where)
