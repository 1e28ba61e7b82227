"""The app's own records: questions, answers, citations, feedback, conversations and ingest runs.

Library code (not UI) so that the CLI and other tools can read the same records. They live in the app database
(:mod:`kb.db`): a SQLite file next to the index by default (``app_db``, in WAL mode so the web app can write
while reports read), or PostgreSQL with ``database_url`` so that several web-app replicas share them. The schema
(``activity`` in :mod:`kb.db.migrations`) is brought up to date on open; older files gain the new columns.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from dataclasses import dataclass, fields
from pathlib import Path

from kb.db import Database, open_database
from kb.db.migrations import migrate
from kb.types import Answer, Chunk, Citation, Hit

log = logging.getLogger(__name__)

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

    def __init__(self, db: Database | str | Path):
        """``db``: the app database (:func:`kb.db.open_database`), or the path of a SQLite file."""
        self.db = open_database("", db) if isinstance(db, (str, Path)) else db
        self.path = self.db.path  # the SQLite file; None on PostgreSQL
        migrate(self.db, "activity")

    @classmethod
    def open(cls, settings) -> "ActivityStore":
        """The store of these settings: PostgreSQL with ``database_url``, else ``settings.app_db_path``."""
        return cls(open_database(settings, settings.app_db_path))

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
        with self.db.transaction() as tx:
            qid = tx.insert(
                "INSERT INTO questions (asked_at, session, question, answer, refused, mode, retrieve_s, "
                "first_token_s, total_s, filters, index_version, username, refusal, follow_up_of, closest_path, "
                "closest_page, details) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (at, session, answer.question, answer.text, int(answer.refused), answer.mode,
                 t.get("retrieve"), t.get("first_token"), t.get("total"), json.dumps(filters or {}),
                 index_version, username, getattr(answer, "refusal", "") or "", getattr(answer, "follow_up_of", ""),
                 closest.path if closest else None, closest.page if closest else None,
                 json.dumps(answer.to_json(), ensure_ascii=False)))
            tx.executemany(
                "INSERT INTO citations (question_id, n, path, name, page, heading, quote, chunk_id) "
                "VALUES (?,?,?,?,?,?,?,?)",
                [(qid, c.n, c.path, c.name, c.page, c.heading, c.quote, c.chunk_id) for c in answer.citations])
            if conversation is not None:
                tx.execute("INSERT INTO turns (conversation_id, position, question_id) VALUES (?, (SELECT "
                           "COUNT(*) FROM turns WHERE conversation_id = ?), ?)", (conversation, conversation, qid))
                tx.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (at, conversation))
        return qid

    def record_feedback(self, question_id: int, rating: int, comment: str = "") -> None:
        """👍 (rating 1) or 👎 (rating -1) on an answer; a later rating or comment replaces the earlier one."""
        if rating not in (1, -1):
            raise ValueError(f"rating must be 1 (👍) or -1 (👎), not {rating!r}")
        self.db.execute(
            "INSERT INTO feedback (question_id, rating, comment, at) VALUES (?,?,?,?) "
            "ON CONFLICT(question_id) DO UPDATE SET rating=excluded.rating, comment=excluded.comment, "
            "at=excluded.at", (question_id, rating, comment.strip(), time.time()))

    def log_ingest(self, action: str, detail: str, ok: bool = True, report: dict | None = None,
                   username: str = "") -> None:
        """One line of the admin's ingest log (upload, delete, re-index) with who did it and the ingest report."""
        self.db.execute("INSERT INTO ingest_log (at, action, detail, ok, report, username) VALUES (?,?,?,?,?,?)",
                        (time.time(), action, detail, int(ok), json.dumps(report) if report else None, username))

    # ---------------------------------------------------------------------------------- conversations

    def start_conversation(self, username: str, title: str, at: float | None = None) -> int:
        """A new, empty conversation of ``username``; returns its id (questions join it in record_answer)."""
        at = at or time.time()
        with self.db.transaction() as tx:
            return tx.insert("INSERT INTO conversations (username, title, created_at, updated_at) VALUES (?,?,?,?)",
                             (username, title_for(title), at, at))

    def conversations(self, username: str, limit: int = 50) -> list[Conversation]:
        """``username``'s conversations, the most recently used first (``limit`` < 0: all of them)."""
        return self._conversations("c.username = ?", (username,), limit)

    def conversation(self, username: str, conversation_id: int) -> Conversation | None:
        """One conversation, only if it is ``username``'s (anyone else's id finds nothing)."""
        found = self._conversations("c.username = ? AND c.id = ?", (username, conversation_id), 1)
        return found[0] if found else None

    def _conversations(self, where: str, params: tuple, limit: int) -> list[Conversation]:
        rows = self.db.query(
            "SELECT c.id, c.username, c.title, c.created_at, c.updated_at, COUNT(t.question_id) FROM conversations c "
            f"LEFT JOIN turns t ON t.conversation_id = c.id WHERE {where} GROUP BY c.id "
            "ORDER BY c.updated_at DESC, c.id DESC" + (" LIMIT ?" if limit >= 0 else ""),
            params + ((limit,) if limit >= 0 else ()))
        return [Conversation(*row) for row in rows]

    def conversation_turns(self, username: str, conversation_id: int) -> list[StoredTurn]:
        """The questions of ``username``'s conversation in order, with their answers and feedback."""
        rows = self.db.query(
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
        return self.db.execute("UPDATE conversations SET title = ? WHERE id = ? AND username = ?",
                               (title_for(title), conversation_id, username)) > 0

    def delete_conversation(self, username: str, conversation_id: int) -> bool:
        """Remove a conversation from ``username``'s list (its questions stay in the usage records and the
        knowledge-gaps report); False when there is no such conversation of theirs."""
        return self.db.execute("DELETE FROM conversations WHERE id = ? AND username = ?",
                               (conversation_id, username)) > 0

    # ------------------------------------------------------------------------------------------ reads

    def questions(self, since: float = 0.0) -> list[dict]:
        """Every question since ``since`` with its outcome, latency and feedback, oldest first."""
        keys = ("id", "asked_at", "question", "answer", "refused", "mode", "retrieve_s", "first_token_s",
                "total_s", "rating", "comment", "refusal", "username", "closest_path", "closest_page")
        rows = self.db.query(
            "SELECT q.id, q.asked_at, q.question, q.answer, q.refused, q.mode, q.retrieve_s, q.first_token_s, "
            "q.total_s, f.rating, f.comment, q.refusal, q.username, q.closest_path, q.closest_page FROM questions q "
            "LEFT JOIN feedback f ON f.question_id = q.id WHERE q.asked_at >= ? ORDER BY q.asked_at", (since,))
        return [dict(zip(keys, row)) for row in rows]

    def citations(self, question_id: int) -> list[dict]:
        keys = ("n", "name", "page", "heading", "quote", "chunk_id")
        rows = self.db.query(f"SELECT {', '.join(keys)} FROM citations WHERE question_id=? ORDER BY n", (question_id,))
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
        rows = self.db.query("SELECT at, action, detail, ok, report, username FROM ingest_log ORDER BY id DESC "
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
