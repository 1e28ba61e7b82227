"""The audit log: who asked what and which documents they were shown, readable by admins only.

Records go to the ``audit_log`` table of the app database (:mod:`kb.db`: the SQLite file ``app_db``, or
PostgreSQL with ``database_url``, where every web-app replica writes to the one log). The table is append-only:
there is no API to change a record and a trigger refuses UPDATEs; the only deletion is the retention purge, which drops
records older than ``audit_retention_days`` (0 keeps them forever).

Records hold document paths, never passage text, so the log cannot leak a restricted passage; and only admins
(who may read every document) can read it.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from kb.db import Database, Transaction, open_database
from kb.db.migrations import migrate
from kb.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from kb.access.users import User
    from kb.types import Answer, Hit

log = logging.getLogger(__name__)

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
    """Append-only audit records in the app database ``db`` (by default the one of ``settings``: PostgreSQL with
    ``database_url``, else ``settings.app_db_path``)."""

    settings: Settings
    clock: Callable[[], float] = time.time
    db: Database | None = None

    def __post_init__(self) -> None:
        if self.db is None:
            self.db = open_database(self.settings, self.settings.app_db_path)

    @property
    def path(self) -> Path:
        """The SQLite file (on PostgreSQL, the unused ``app_db_path``)."""
        return self.db.path or Path(self.settings.app_db_path)

    @contextmanager
    def _db(self) -> Iterator[Transaction]:
        migrate(self.db, "audit")
        with self.db.transaction() as tx:
            yield tx

    def record(self, user: "User | str", action: str, question: str = "", documents: Iterable[str] = ()) -> int:
        """Append one record; returns its id. Old records are purged by retention on the way."""
        name = user if isinstance(user, str) else user.username
        docs = list(dict.fromkeys(str(d) for d in documents))
        with self._db() as db:
            self._purge(db)
            return db.insert("INSERT INTO audit_log (at, username, action, question, documents) VALUES (?, ?, ?, ?, ?)",
                             (self.clock(), name, action, question[:MAX_QUESTION_CHARS], json.dumps(docs)))

    def record_answer(self, user: "User | str", answer: "Answer") -> int:
        """Audit a question and every document its answer showed (citations and listed passages)."""
        return self.record(user, "ask", answer.question, documents_shown(answer))

    def _purge(self, db: Transaction) -> int:
        days = self.settings.audit_retention_days
        if days <= 0:
            return 0
        removed = db.execute("DELETE FROM audit_log WHERE at < ?", (self.clock() - days * 86400,))
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
            rows = db.query(query, args)
        return [AuditRecord(r[0], r[1], r[2], r[3], r[4], tuple(json.loads(r[5]))) for r in rows]
