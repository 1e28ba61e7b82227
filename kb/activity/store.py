"""The app's own records in SQLite next to the index: questions, answers, citations, feedback, ingest runs.

Library code (not UI) so that the CLI and other tools can read the same records. The schema is created on
open; the database runs in WAL mode so the web app can write while reports read.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from kb.files import private_file
from kb.types import Answer

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY, asked_at REAL NOT NULL, session TEXT, question TEXT NOT NULL, answer TEXT,
    refused INTEGER NOT NULL, mode TEXT, retrieve_s REAL, first_token_s REAL, total_s REAL,
    filters TEXT, index_version TEXT);
CREATE INDEX IF NOT EXISTS questions_asked ON questions(asked_at);
CREATE TABLE IF NOT EXISTS citations (
    question_id INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE, n INTEGER, path TEXT, name TEXT,
    page INTEGER, heading TEXT, quote TEXT, chunk_id TEXT);
CREATE TABLE IF NOT EXISTS feedback (
    question_id INTEGER PRIMARY KEY REFERENCES questions(id) ON DELETE CASCADE, rating INTEGER NOT NULL,
    comment TEXT NOT NULL DEFAULT '', at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ingest_log (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL, ok INTEGER NOT NULL,
    report TEXT);
"""


@dataclass
class Gap:
    """A question the knowledge base did not serve: refused, or rated 👎."""

    question_id: int
    asked_at: float
    question: str
    answer: str
    reason: str  # "refused" or "not helpful"
    comment: str


class ActivityStore:
    """Questions, answers, citations, feedback and the ingest log of the web app."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        # questions and quotes of restricted passages: owner only (the -wal and -shm files take this mode)
        private_file(self.path)
        self.db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)
        self.db.commit()

    @classmethod
    def open(cls, settings) -> "ActivityStore":
        """The store at ``settings.app_db_path``."""
        return cls(settings.app_db_path)

    def close(self) -> None:
        self.db.close()

    # ----------------------------------------------------------------------------------------- writes

    def record_answer(self, answer: Answer, session: str = "", filters: dict | None = None,
                      index_version: str = "", asked_at: float | None = None) -> int:
        """Store a question with its answer and citations; returns the question's id (for feedback)."""
        t = answer.timings
        with self.db:
            cur = self.db.execute(
                "INSERT INTO questions (asked_at, session, question, answer, refused, mode, retrieve_s, "
                "first_token_s, total_s, filters, index_version) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (asked_at or time.time(), session, answer.question, answer.text, int(answer.refused), answer.mode,
                 t.get("retrieve"), t.get("first_token"), t.get("total"), json.dumps(filters or {}),
                 index_version))
            qid = int(cur.lastrowid)
            self.db.executemany(
                "INSERT INTO citations (question_id, n, path, name, page, heading, quote, chunk_id) "
                "VALUES (?,?,?,?,?,?,?,?)",
                [(qid, c.n, c.path, c.name, c.page, c.heading, c.quote, c.chunk_id) for c in answer.citations])
        return qid

    def record_feedback(self, question_id: int, rating: int, comment: str = "") -> None:
        """👍 (rating 1) or 👎 (rating -1) on an answer; a later rating or comment replaces the earlier one."""
        if rating not in (1, -1):
            raise ValueError(f"rating must be 1 (👍) or -1 (👎), not {rating!r}")
        with self.db:
            self.db.execute(
                "INSERT INTO feedback (question_id, rating, comment, at) VALUES (?,?,?,?) "
                "ON CONFLICT(question_id) DO UPDATE SET rating=excluded.rating, comment=excluded.comment, "
                "at=excluded.at", (question_id, rating, comment.strip(), time.time()))

    def log_ingest(self, action: str, detail: str, ok: bool = True, report: dict | None = None) -> None:
        """One line of the admin's ingest log (upload, delete, re-index) with the ingest report."""
        with self.db:
            self.db.execute("INSERT INTO ingest_log (at, action, detail, ok, report) VALUES (?,?,?,?,?)",
                            (time.time(), action, detail, int(ok), json.dumps(report) if report else None))

    # ------------------------------------------------------------------------------------------ reads

    def questions(self, since: float = 0.0) -> list[dict]:
        """Every question since ``since`` with its outcome, latency and feedback, oldest first."""
        rows = self.db.execute(
            "SELECT q.id, q.asked_at, q.question, q.answer, q.refused, q.mode, q.retrieve_s, q.first_token_s, "
            "q.total_s, f.rating, f.comment FROM questions q LEFT JOIN feedback f ON f.question_id = q.id "
            "WHERE q.asked_at >= ? ORDER BY q.asked_at", (since,))
        keys = ("id", "asked_at", "question", "answer", "refused", "mode", "retrieve_s", "first_token_s",
                "total_s", "rating", "comment")
        return [dict(zip(keys, row)) for row in rows]

    def citations(self, question_id: int) -> list[dict]:
        rows = self.db.execute("SELECT n, name, page, heading, quote FROM citations WHERE question_id=? ORDER BY n",
                               (question_id,))
        return [dict(zip(("n", "name", "page", "heading", "quote"), r)) for r in rows]

    def gaps(self, since: float = 0.0) -> list[Gap]:
        """The knowledge-gaps report: refused questions and answers rated 👎, newest first."""
        out = []
        for q in reversed(self.questions(since)):
            if q["refused"] or q["rating"] == -1:
                out.append(Gap(q["id"], q["asked_at"], q["question"], q["answer"] or "",
                               "refused" if q["refused"] else "not helpful", q["comment"] or ""))
        return out

    def gaps_csv(self, since: float = 0.0) -> str:
        """The knowledge-gaps report as CSV (asked_at in UTC ISO format)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["asked_at", "question", "reason", "comment", "answer"])
        for g in self.gaps(since):
            writer.writerow([time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(g.asked_at)), g.question, g.reason,
                             g.comment, g.answer])
        return buffer.getvalue()

    def recent_ingests(self, limit: int = 20) -> list[dict]:
        rows = self.db.execute("SELECT at, action, detail, ok, report FROM ingest_log ORDER BY id DESC LIMIT ?",
                               (limit,))
        return [{"at": at, "action": action, "detail": detail, "ok": bool(ok),
                 "report": json.loads(report) if report else None} for at, action, detail, ok, report in rows]
