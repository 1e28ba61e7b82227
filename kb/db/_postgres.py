"""The PostgreSQL backend (psycopg 3): one database that every web-app replica shares.

The stores write SQL with ``?`` placeholders; here they become psycopg's ``%s`` (a literal ``%`` is escaped).
Messages name the server (host, port, database, user) and never the password: psycopg's own text is scrubbed
of it, and its exceptions are not chained, so a traceback cannot show the connection string either.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence
from urllib.parse import unquote

import psycopg
from psycopg import conninfo

from kb.db import IntegrityError, PooledDatabase
from kb.errors import DatabaseError
from kb.settings import masked_url

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10
PING_AFTER_IDLE_S = 30  # a connection idle longer is checked before use (the server may have restarted)
EXCLUSIVE_LOCK = 0x6B62_6462  # the advisory lock of exclusive transactions ("kbdb")


def _pg(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresTransaction:
    """Statements of one PostgreSQL transaction (see :class:`kb.db.Transaction`)."""

    def __init__(self, conn: psycopg.Connection, database: "PostgresDatabase"):
        self._conn = conn
        self._db = database

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._run(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        if rows:
            with self._db.errors(), self._conn.cursor() as cur:
                cur.executemany(_pg(sql), rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._run(sql, params).fetchall()

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self._run(f"{sql} RETURNING id", params).fetchone()[0])

    def columns(self, table: str) -> set[str]:
        rows = self.query("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                          "AND table_name = ?", (table,))
        return {name for (name,) in rows}

    def _run(self, sql: str, params: Sequence[Any]) -> psycopg.Cursor:
        with self._db.errors():
            return self._conn.execute(_pg(sql), tuple(params))


class PostgresDatabase(PooledDatabase):
    """An app database on a PostgreSQL server; connections are opened on the first transaction."""

    backend = "postgres"

    def __init__(self, url: str):
        super().__init__()
        self._url = url
        self.where = masked_url(url)
        try:
            info = conninfo.conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise DatabaseError(f"setting database_url={self.where!r} is not a valid PostgreSQL URL: "
                                f"{self._scrub(str(exc))}; use postgresql://USER:PASSWORD@HOST:PORT/DATABASE") \
                from None
        self._password = str(info.get("password") or "")
        host = str(info.get("host") or "the local socket")
        self.server = (f"host {host} port {info.get('port') or 5432}, database {info.get('dbname') or '(default)'}, "
                       f"user {info.get('user') or '(default)'}")

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self._url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=False)
        except psycopg.Error as exc:
            raise DatabaseError(f"cannot connect to the app database on PostgreSQL ({self.server}): "
                                f"{self._scrub(str(exc))}; check database_url and that the server is "
                                "running and accepts this user") from None

    def _transaction(self, conn: psycopg.Connection, exclusive: bool) -> PostgresTransaction:
        tx = PostgresTransaction(conn, self)
        if exclusive:
            tx.query("SELECT pg_advisory_xact_lock(?)", (EXCLUSIVE_LOCK,))
        return tx

    def _usable(self, conn: psycopg.Connection, idle_s: float) -> bool:
        if conn.closed or conn.broken:
            return False
        if idle_s < PING_AFTER_IDLE_S:
            return True
        try:
            conn.execute("SELECT 1")
            conn.rollback()
            return True
        except psycopg.Error:
            log.info("dropped a stale connection to %s", self.where)
            return False

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn psycopg's errors into ours: a broken constraint, or a lost server (its message scrubbed)."""
        try:
            yield
        except psycopg.errors.IntegrityError as exc:
            raise IntegrityError(self._scrub(str(exc))) from None
        except psycopg.OperationalError as exc:
            raise DatabaseError(f"the app database on PostgreSQL ({self.server}) failed: "
                                f"{self._scrub(str(exc))}") from None

    def _scrub(self, text: str) -> str:
        """psycopg's message on one line, without the password (or the URL that holds it)."""
        text = text.replace(self._url, self.where)
        for secret in {getattr(self, "_password", ""), unquote(getattr(self, "_password", ""))} - {""}:
            text = text.replace(secret, "***")
        return " ".join(text.split())

