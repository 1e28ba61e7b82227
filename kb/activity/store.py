"""The app's own records in SQLite next to the index: questions, answers, citations, feedback, conversations and
ingest runs.

Library code (not UI) so that the CLI and other tools can read the same records. The schema is created on
open (columns added since are added to older files); the database runs in WAL mode so the web app can write
while reports read.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sqlite3
import time
from dataclasses import dataclass, fields
from pathlib import Path

from kb.files import private_file
from kb.types import Answer, Chunk, Citation, Hit

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
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY, username TEXT NOT NULL, title TEXT NOT NULL, created_at REAL NOT NULL,
    updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_user ON conversations(username, updated_at);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE, position INTEGER NOT NULL,
    question_id INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    PRIMARY KEY (conversation_id, position));
"""
# columns added after the first release: (table, column, type); older files get them on open
ADDED_COLUMNS = (
    ("questions", "username", "TEXT"),
    ("questions", "refusal", "TEXT"),  # "not_covered" or "not_stated" (kb.types.Answer.refusal)
    ("questions", "follow_up_of", "TEXT"),
    ("questions", "closest_path", "TEXT"),  # the best passage's document: what an admin would fix or extend
    ("questions", "closest_page", "INTEGER"),
    ("questions", "details", "TEXT"),  # the whole answer as `kb ask --json` prints it: reopens a conversation
    ("ingest_log", "username", "TEXT"),
)
TITLE_CHARS = 80
REASONS = {"not_covered": "not covered", "not_stated": "not stated"}


@dataclass
class Gap:
    """A question the knowledge base did not serve: refused ("not covered": nothing is about it; "not stated":
    the closest passages are about it but none says it; "refused" for records from before the two were
    told apart), or rated 👎 ("not helpful")."""

    question_id: int
    asked_at: float
    question: str
    answer: str
    reason: str
    comment: str
    closest_path: str = ""  # the document of the best passage ("" when none came close)
    closest_page: int | None = None


@dataclass
class Conversation:
    """One of a user's conversations on the Ask page."""

    id: int
    username: str
    title: str
    created_at: float
    updated_at: float
    turns: int = 0


@dataclass
class StoredTurn:
    """A question of a conversation with its answer as it was shown, and its feedback."""

    question_id: int
    answer: Answer
    rating: int | None = None
    comment: str = ""


class ActivityStore:
    """Questions, answers, citations, feedback, conversations and the ingest log of the web app."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        # questions and quotes of restricted passages: owner only (the -wal and -shm files take this mode)
        private_file(self.path)
        self.db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)
        for table, column, kind in ADDED_COLUMNS:
            if column not in {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        self.db.commit()

    @classmethod
    def open(cls, settings) -> "ActivityStore":
        """The store at ``settings.app_db_path``."""
        return cls(settings.app_db_path)

    def close(self) -> None:
        self.db.close()

    # ----------------------------------------------------------------------------------------- writes

    def record_answer(self, answer: Answer, session: str = "", filters: dict | None = None,
                      index_version: str = "", asked_at: float | None = None, username: str = "",
                      conversation: int | None = None) -> int:
        """Store a question with its answer and citations; returns the question's id (for feedback).

        ``conversation`` (an id from :meth:`start_conversation`) appends the question to that conversation."""
        t = answer.timings
        closest = answer.hits[0].chunk if answer.hits else None
        at = asked_at or time.time()
        with self.db:
            cur = self.db.execute(
                "INSERT INTO questions (asked_at, session, question, answer, refused, mode, retrieve_s, "
                "first_token_s, total_s, filters, index_version, username, refusal, follow_up_of, closest_path, "
                "closest_page, details) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (at, session, answer.question, answer.text, int(answer.refused), answer.mode,
                 t.get("retrieve"), t.get("first_token"), t.get("total"), json.dumps(filters or {}),
                 index_version, username, getattr(answer, "refusal", "") or "", getattr(answer, "follow_up_of", ""),
                 closest.path if closest else None, closest.page if closest else None,
                 json.dumps(answer.to_json(), ensure_ascii=False)))
            qid = int(cur.lastrowid)
            self.db.executemany(
                "INSERT INTO citations (question_id, n, path, name, page, heading, quote, chunk_id) "
                "VALUES (?,?,?,?,?,?,?,?)",
                [(qid, c.n, c.path, c.name, c.page, c.heading, c.quote, c.chunk_id) for c in answer.citations])
            if conversation is not None:
                self.db.execute("INSERT INTO turns (conversation_id, position, question_id) VALUES (?, (SELECT "
                                "COUNT(*) FROM turns WHERE conversation_id = ?), ?)", (conversation, conversation, qid))
                self.db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (at, conversation))
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

    def log_ingest(self, action: str, detail: str, ok: bool = True, report: dict | None = None,
                   username: str = "") -> None:
        """One line of the admin's ingest log (upload, delete, re-index) with who did it and the ingest report."""
        with self.db:
            self.db.execute("INSERT INTO ingest_log (at, action, detail, ok, report, username) VALUES (?,?,?,?,?,?)",
                            (time.time(), action, detail, int(ok), json.dumps(report) if report else None,
                             username))

    # ---------------------------------------------------------------------------------- conversations

    def start_conversation(self, username: str, title: str, at: float | None = None) -> int:
        """A new, empty conversation of ``username``; returns its id (questions join it in record_answer)."""
        at = at or time.time()
        with self.db:
            cur = self.db.execute("INSERT INTO conversations (username, title, created_at, updated_at) "
                                  "VALUES (?,?,?,?)", (username, title_for(title), at, at))
        return int(cur.lastrowid)

    def conversations(self, username: str, limit: int = 50) -> list[Conversation]:
        """``username``'s conversations, the most recently used first."""
        rows = self.db.execute(
            "SELECT c.id, c.username, c.title, c.created_at, c.updated_at, COUNT(t.question_id) FROM conversations c "
            "LEFT JOIN turns t ON t.conversation_id = c.id WHERE c.username = ? GROUP BY c.id "
            "ORDER BY c.updated_at DESC, c.id DESC LIMIT ?", (username, limit))
        return [Conversation(*row) for row in rows]

    def conversation(self, username: str, conversation_id: int) -> Conversation | None:
        """One conversation, only if it is ``username``'s (anyone else's id finds nothing)."""
        return next((c for c in self.conversations(username, limit=-1) if c.id == conversation_id), None)

    def conversation_turns(self, username: str, conversation_id: int) -> list[StoredTurn]:
        """The questions of ``username``'s conversation in order, with their answers and feedback."""
        rows = self.db.execute(
            "SELECT q.id, q.details, q.question, q.answer, q.refused, q.mode, f.rating, f.comment FROM turns t "
            "JOIN conversations c ON c.id = t.conversation_id JOIN questions q ON q.id = t.question_id "
            "LEFT JOIN feedback f ON f.question_id = q.id WHERE c.id = ? AND c.username = ? ORDER BY t.position",
            (conversation_id, username))
        out = []
        for qid, details, question, text, refused, mode, rating, comment in rows:
            data = json.loads(details) if details else {"question": question, "answer": text or "",
                                                        "refused": bool(refused), "mode": mode or ""}
            out.append(StoredTurn(qid, answer_from_json(data), rating, comment or ""))
        return out

    def rename_conversation(self, username: str, conversation_id: int, title: str) -> bool:
        """Give ``username``'s conversation a new title; False when there is no such conversation of theirs."""
        with self.db:
            return self.db.execute("UPDATE conversations SET title = ? WHERE id = ? AND username = ?",
                                   (title_for(title), conversation_id, username)).rowcount > 0

    def delete_conversation(self, username: str, conversation_id: int) -> bool:
        """Remove a conversation from ``username``'s list (its questions stay in the usage records and the
        knowledge-gaps report); False when there is no such conversation of theirs."""
        with self.db:
            return self.db.execute("DELETE FROM conversations WHERE id = ? AND username = ?",
                                   (conversation_id, username)).rowcount > 0

    # ------------------------------------------------------------------------------------------ reads

    def questions(self, since: float = 0.0) -> list[dict]:
        """Every question since ``since`` with its outcome, latency and feedback, oldest first."""
        keys = ("id", "asked_at", "question", "answer", "refused", "mode", "retrieve_s", "first_token_s",
                "total_s", "rating", "comment", "refusal", "username", "closest_path", "closest_page")
        rows = self.db.execute(
            "SELECT q.id, q.asked_at, q.question, q.answer, q.refused, q.mode, q.retrieve_s, q.first_token_s, "
            "q.total_s, f.rating, f.comment, q.refusal, q.username, q.closest_path, q.closest_page FROM questions q "
            "LEFT JOIN feedback f ON f.question_id = q.id WHERE q.asked_at >= ? ORDER BY q.asked_at", (since,))
        return [dict(zip(keys, row)) for row in rows]

    def citations(self, question_id: int) -> list[dict]:
        keys = ("n", "name", "page", "heading", "quote", "chunk_id")
        rows = self.db.execute(f"SELECT {', '.join(keys)} FROM citations WHERE question_id=? ORDER BY n", (question_id,))
        return [dict(zip(keys, r)) for r in rows]

    def gaps(self, since: float = 0.0) -> list[Gap]:
        """The knowledge-gaps report: refused questions (not covered / not stated) and answers rated 👎,
        newest first, each with the closest document."""
        out = []
        for q in reversed(self.questions(since)):
            if q["refused"] or q["rating"] == -1:
                reason = REASONS.get(q["refusal"] or "", "refused") if q["refused"] else "not helpful"
                out.append(Gap(q["id"], q["asked_at"], q["question"], q["answer"] or "", reason, q["comment"] or "",
                               q["closest_path"] or "", q["closest_page"]))
        return out

    def gaps_csv(self, since: float = 0.0) -> str:
        """The knowledge-gaps report as CSV (asked_at in UTC ISO format)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["asked_at", "question", "reason", "comment", "answer", "closest_document", "closest_page"])
        for g in self.gaps(since):
            writer.writerow([time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(g.asked_at)), g.question, g.reason,
                             g.comment, g.answer, g.closest_path, "" if g.closest_page is None else g.closest_page])
        return buffer.getvalue()

    def recent_ingests(self, limit: int = 20) -> list[dict]:
        rows = self.db.execute("SELECT at, action, detail, ok, report, username FROM ingest_log ORDER BY id DESC "
                               "LIMIT ?", (limit,))
        return [{"at": at, "action": action, "detail": detail, "ok": bool(ok),
                 "report": json.loads(report) if report else None, "user": username or ""}
                for at, action, detail, ok, report, username in rows]


def title_for(text: str) -> str:
    """A conversation title: the text on one line, cut at a word to ``TITLE_CHARS``; never empty."""
    line = " ".join(str(text).split())
    if len(line) > TITLE_CHARS:
        cut = line.rfind(" ", 0, TITLE_CHARS)
        line = line[:cut if cut > TITLE_CHARS // 2 else TITLE_CHARS].rstrip(" ,;:") + "…"
    return line or "Untitled conversation"


def answer_from_json(data: dict) -> Answer:
    """An :class:`Answer` back from its ``to_json()`` (what ``record_answer`` keeps to reopen a conversation)."""
    citations = [Citation(c["n"], c["path"], c["name"], c.get("page"), c.get("heading") or "", c.get("quote") or "",
                          c.get("chunk_id") or "") for c in data.get("citations", [])]
    hits = [_hit_from_json(h) for h in data.get("hits", [])]
    known = {f.name for f in fields(Answer)}
    extra = {k: data[k] for k in ("refusal", "follow_up_of") if k in known and k in data}
    return Answer(question=data.get("question", ""), text=data.get("answer", ""), refused=bool(data.get("refused")),
                  mode=data.get("mode", ""), citations=citations, hits=hits, dropped=list(data.get("dropped", [])),
                  timings=dict(data.get("timings", {})), retrieval_query=data.get("retrieval_query", ""), **extra)


def _hit_from_json(h: dict) -> Hit:
    heading = h.get("heading") or ""
    chunk = Chunk(chunk_id=h.get("chunk_id", ""), doc_id="", path=h["path"], name=h["name"], text=h.get("text", ""),
                  chunk_index=0, char_start=0, char_end=0, page=h.get("page"),
                  heading_path=tuple(heading.split(" > ")) if heading else ())
    return Hit(chunk, h.get("score", 0.0), h.get("rank", 0), h.get("dense_rank"), h.get("dense_score"),
               h.get("keyword_rank"), h.get("keyword_score"), h.get("judge_score"))
