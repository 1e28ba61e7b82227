"""The schema of every store of the app database, in one place, versioned.

Three schemas: ``activity`` (questions, citations, feedback, conversations, the ingest log: ``kb.activity.store``),
``audit`` (the append-only audit log: ``kb.access.audit``) and ``users`` (users, sessions, failed sign-ins,
cookie secrets: ``kb.access.users``). On SQLite ``activity`` and ``audit`` share the ``app_db`` file and
``users`` has its own; on PostgreSQL all three live in one database.

A store calls :func:`migrate` with its schema's name when it first uses a database; the table
``schema_versions`` says which version each schema is at, and only the newer migrations run, all in one
exclusive transaction (so two replicas starting together do not race). Migration 1 is the schema as the
stores created it before versioning, written so that it also completes a file of any earlier release: tables
are created if missing, and columns added since the first release are added where missing.

SQL is written in SQLite's dialect; for PostgreSQL the types are translated (``REAL`` is a double there, an
``id INTEGER PRIMARY KEY`` an identity column, ``BLOB`` is ``BYTEA``). A new migration goes at the end of its
schema's list with the next version number; never edit one that has shipped.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from kb.db import Database, Transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    """One step of a schema: statements for both backends (SQLite dialect), statements for one backend only,
    and ``(table, column, type)`` columns added where missing."""

    version: int
    about: str
    sql: tuple[str, ...] = ()
    sqlite: tuple[str, ...] = ()
    postgres: tuple[str, ...] = ()
    columns: tuple[tuple[str, str, str], ...] = ()


ACTIVITY = (
    Migration(1, "questions, citations, feedback, the ingest log and conversations", sql=(
        """CREATE TABLE IF NOT EXISTS questions (
            id INTEGER PRIMARY KEY, asked_at REAL NOT NULL, session TEXT, question TEXT NOT NULL, answer TEXT,
            refused INTEGER NOT NULL, mode TEXT, retrieve_s REAL, first_token_s REAL, total_s REAL,
            filters TEXT, index_version TEXT)""",
        "CREATE INDEX IF NOT EXISTS questions_asked ON questions(asked_at)",
        """CREATE TABLE IF NOT EXISTS citations (
            question_id INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE, n INTEGER, path TEXT,
            name TEXT, page INTEGER, heading TEXT, quote TEXT, chunk_id TEXT)""",
        """CREATE TABLE IF NOT EXISTS feedback (
            question_id INTEGER PRIMARY KEY REFERENCES questions(id) ON DELETE CASCADE, rating INTEGER NOT NULL,
            comment TEXT NOT NULL DEFAULT '', at REAL NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS ingest_log (
            id INTEGER PRIMARY KEY, at REAL NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL,
            ok INTEGER NOT NULL, report TEXT)""",
        """CREATE TABLE IF NOT EXISTS conversations (
            id INTEGER PRIMARY KEY, username TEXT NOT NULL, title TEXT NOT NULL, created_at REAL NOT NULL,
            updated_at REAL NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS conversations_user ON conversations(username, updated_at)",
        """CREATE TABLE IF NOT EXISTS turns (
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            position INTEGER NOT NULL, question_id INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
            PRIMARY KEY (conversation_id, position))""",
    ), columns=(  # added by releases before versioning: older files gain them
        ("questions", "username", "TEXT"),
        ("questions", "refusal", "TEXT"),  # "not_covered" or "not_stated" (kb.types.Answer.refusal)
        ("questions", "follow_up_of", "TEXT"),
        ("questions", "closest_path", "TEXT"),  # the best passage's document: what an admin would fix or extend
        ("questions", "closest_page", "INTEGER"),
        ("questions", "details", "TEXT"),  # the whole answer as `kb ask --json` prints it: reopens a conversation
        ("ingest_log", "username", "TEXT"),
    )),
    Migration(2, "citations indexed by question (Insights and kb tune read them per question)", sql=(
        "CREATE INDEX IF NOT EXISTS citations_question ON citations(question_id)",
    )),
)

AUDIT = (
    Migration(1, "the append-only audit log", sql=(
        """CREATE TABLE IF NOT EXISTS audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL,
            username TEXT NOT NULL, action TEXT NOT NULL, question TEXT NOT NULL, documents TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log(at)",
    ), sqlite=(
        """CREATE TRIGGER IF NOT EXISTS audit_log_append_only BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    ), postgres=(
        """CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$""",
        "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
        """CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
    )),
)

USERS = (
    Migration(1, "users, sessions, failed sign-ins, secrets and cookie grants", sql=(
        """CREATE TABLE IF NOT EXISTS users (username TEXT PRIMARY KEY, password_hash TEXT, role TEXT NOT NULL,
            groups TEXT NOT NULL, created_at REAL NOT NULL, password_changed_at REAL)""",
        """CREATE TABLE IF NOT EXISTS sessions (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL,
            created_at REAL NOT NULL, expires_at REAL NOT NULL, browser_hash TEXT)""",
        "CREATE INDEX IF NOT EXISTS sessions_user ON sessions(username)",
        "CREATE TABLE IF NOT EXISTS login_failures (key TEXT NOT NULL, at REAL NOT NULL)",
        "CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures(key, at)",
        "CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
        """CREATE TABLE IF NOT EXISTS cookie_grants (grant_hash TEXT PRIMARY KEY, sealed BLOB NOT NULL,
            expires_at REAL NOT NULL)""",
    ), columns=(
        ("sessions", "browser_hash", "TEXT"),  # a users file from before downloads were guarded
    )),
)

SCHEMAS: dict[str, tuple[Migration, ...]] = {"activity": ACTIVITY, "audit": AUDIT, "users": USERS}

_VERSIONS = ("CREATE TABLE IF NOT EXISTS schema_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL, "
             "applied_at REAL NOT NULL)")
_POSTGRES_TYPES = (
    (re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b"), "INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bid INTEGER PRIMARY KEY\b"), "id INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),  # PostgreSQL's REAL is 4 bytes: epoch seconds need 8
    (re.compile(r"\bBLOB\b"), "BYTEA"),
)


def latest(name: str) -> int:
    """The newest version of schema ``name`` this code knows."""
    return SCHEMAS[name][-1].version


def versions(db: Database) -> dict[str, int]:
    """The version each schema is at in ``db`` (schemas never applied there are left out)."""
    with db.transaction() as tx:
        if not tx.columns("schema_versions"):
            return {}
        return dict(tx.query("SELECT name, version FROM schema_versions"))


def migrate(db: Database, *names: str) -> None:
    """Bring the schemas ``names`` of ``db`` up to date (idempotent; cheap once done through this object)."""
    todo = [name for name in names if name not in db.schemas]
    if not todo:
        return
    with db.transaction(exclusive=True) as tx:
        tx.execute(_statement(_VERSIONS, db.backend))
        done = dict(tx.query("SELECT name, version FROM schema_versions"))
        for name in todo:
            at = done.get(name, 0)
            if at > latest(name):
                log.warning("schema %s of %s is at version %d, newer than this kb knows (%d): upgrade kb on every "
                            "replica", name, db.where, at, latest(name))
            for step in SCHEMAS[name]:
                if step.version > at:
                    _apply(tx, db.backend, step)
                    tx.execute("INSERT INTO schema_versions (name, version, applied_at) VALUES (?, ?, ?) ON CONFLICT "
                               "(name) DO UPDATE SET version = excluded.version, applied_at = excluded.applied_at",
                               (name, step.version, time.time()))
                    log.info("%s: schema %s migrated to version %d (%s)", db.where, name, step.version, step.about)
    db.schemas.update(todo)


def _apply(tx: Transaction, backend: str, step: Migration) -> None:
    for sql in step.sql + (step.sqlite if backend == "sqlite" else step.postgres):
        tx.execute(_statement(sql, backend))
    for table, column, kind in step.columns:
        if column not in tx.columns(table):
            tx.execute(_statement(f"ALTER TABLE {table} ADD COLUMN {column} {kind}", backend))


def _statement(sql: str, backend: str) -> str:
    if backend == "postgres":
        for pattern, replacement in _POSTGRES_TYPES:
            sql = pattern.sub(replacement, sql)
    return sql
