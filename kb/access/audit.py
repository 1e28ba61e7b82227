"""The audit log: who asked what and which documents they were shown, readable by admins only.

Records go to the ``audit_log`` table of the app store (setting ``app_db``). The table is append-only: there is
no API to change a record and a trigger refuses UPDATEs; the only deletion is the retention purge, which drops
records older than ``audit_retention_days`` (0 keeps them forever).

Records hold document paths, never passage text, so the log cannot leak a restricted passage; and only admins
(who may read every document) can read it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from kb.files import private_file
from kb.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from kb.access.users import User
    from kb.types import Answer, Hit

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL,
    username TEXT NOT NULL, action TEXT NOT NULL, question TEXT NOT NULL, documents TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log(at);
CREATE TRIGGER IF NOT EXISTS audit_log_append_only BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
MAX_QUESTION_CHARS = 4000


@dataclass(frozen=True)
class AuditRecord:
    """One audited event: ``action`` is e.g. "ask", "search", "preview", "download", "sign-in"."""

    id: int
    at: float
    username: str
    action: str
    question: str
    documents: tuple[str, ...] = field(default=())

    def to_json(self) -> dict:
        return {"id": self.id, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at)),
                "user": self.username, "action": self.action, "question": self.question,
                "documents": list(self.documents)}


def documents_shown(answer: "Answer | None" = None, hits: Iterable["Hit"] = ()) -> list[str]:
    """The distinct document paths an answer (citations and listed passages) or a hit list showed."""
    seen: dict[str, None] = {}
    if answer is not None:
        for citation in answer.citations:
            seen.setdefault(citation.path)
        for hit in answer.hits:
            seen.setdefault(hit.chunk.path)
    for hit in hits:
        seen.setdefault(hit.chunk.path)
    return list(seen)


@dataclass
class AuditLog:
    """Append-only audit records in ``settings.app_db_path``."""

    settings: Settings
    clock: Callable[[], float] = time.time

    @property
    def path(self) -> Path:
        return Path(self.settings.app_db_path)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        private_file(self.path)  # who asked what: owner only (the -wal and -shm files take this mode)
        with closing(sqlite3.connect(self.path, timeout=10)) as db:
            db.execute("PRAGMA busy_timeout = 10000")
            db.executescript(_SCHEMA)
            with db:
                yield db

    def record(self, user: "User | str", action: str, question: str = "", documents: Iterable[str] = ()) -> int:
        """Append one record; returns its id. Old records are purged by retention on the way."""
        name = user if isinstance(user, str) else user.username
        docs = list(dict.fromkeys(str(d) for d in documents))
        with self._db() as db:
            self._purge(db)
            cursor = db.execute("INSERT INTO audit_log (at, username, action, question, documents) "
                                "VALUES (?, ?, ?, ?, ?)",
                                (self.clock(), name, action, question[:MAX_QUESTION_CHARS], json.dumps(docs)))
            return int(cursor.lastrowid)

    def record_answer(self, user: "User | str", answer: "Answer") -> int:
        """Audit a question and every document its answer showed (citations and listed passages)."""
        return self.record(user, "ask", answer.question, documents_shown(answer))

    def _purge(self, db: sqlite3.Connection) -> int:
        days = self.settings.audit_retention_days
        if days <= 0:
            return 0
        removed = db.execute("DELETE FROM audit_log WHERE at < ?", (self.clock() - days * 86400,)).rowcount
        if removed:
            log.info("audit log: %d record(s) older than %d days purged", removed, days)
        return removed

    def read(self, viewer: "User", username: str | None = None, since: float | None = None,
             limit: int = 1000) -> list[AuditRecord]:
        """Newest records first, for admins only (raises ``PermissionDenied`` for anyone else)."""
        from kb.access.users import require_admin

        require_admin(viewer)
        query = "SELECT id, at, username, action, question, documents FROM audit_log WHERE 1=1"
        args: list = []
        if username is not None:
            query += " AND username = ?"
            args.append(username)
        if since is not None:
            query += " AND at >= ?"
            args.append(since)
        query += " ORDER BY id DESC LIMIT ?"
        args.append(int(limit))
        with self._db() as db:
            self._purge(db)
            rows = db.execute(query, args).fetchall()
        return [AuditRecord(r[0], r[1], r[2], r[3], r[4], tuple(json.loads(r[5]))) for r in rows]
