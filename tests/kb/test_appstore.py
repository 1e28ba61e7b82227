"""The app store (questions, answers, citations, feedback, ingest log) and the documents-folder writes."""

from __future__ import annotations

import csv
import io
import sqlite3

import pytest

from kb import Settings
from kb.activity.store import ActivityStore
from kb.errors import KBError
from kb.sync.docfolder import delete_document, save_upload
from kb.sync.uploads import UploadRejected
from kb.types import Answer, Citation


def _answer(question: str, refused: bool = False) -> Answer:
    return Answer(question=question, text="" if refused else "25 days [1]", refused=refused,
                  mode="refused" if refused else "generated", timings={"total": 3.5, "first_token": 1.2},
                  citations=[] if refused else [Citation(1, "/d/leave.pdf", "leave.pdf", 2, "Leave", "25 days", "c1")])


def test_answers_feedback_and_gaps_are_stored_in_sqlite(tmp_path):
    store = ActivityStore(tmp_path / "app.sqlite")
    good = store.record_answer(_answer("How much leave?"), session="s1", filters={"collections": ["hr"]})
    refused = store.record_answer(_answer("Mars weather?", refused=True))
    store.record_feedback(good, -1, "it is 27 days for me")
    store.record_feedback(good, -1, "  it is 27 days after 5 years ")  # a later rating replaces the first
    with pytest.raises(ValueError):
        store.record_feedback(good, 0)
    store.close()

    db = sqlite3.connect(tmp_path / "app.sqlite")  # readable by any tool, not just the app
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT rating, comment FROM feedback").fetchall() == [(-1, "it is 27 days after 5 years")]
    assert db.execute("SELECT name, page, quote FROM citations WHERE question_id=?", (good,)).fetchall() == [
        ("leave.pdf", 2, "25 days")]

    store = ActivityStore(tmp_path / "app.sqlite")
    gaps = store.gaps()
    assert [(g.question_id, g.reason) for g in gaps] == [(refused, "refused"), (good, "not helpful")]
    rows = list(csv.DictReader(io.StringIO(store.gaps_csv())))
    assert rows[1]["question"] == "How much leave?" and rows[1]["comment"] == "it is 27 days after 5 years"
    assert store.questions()[0]["total_s"] == 3.5


def test_upload_lands_atomically_in_its_collection_and_delete_stays_inside_docs(tmp_path):
    settings = Settings(docs_dir=tmp_path / "docs", index_dir=tmp_path / "index", upload_max_mb=0.001)
    path = save_upload("note.md", b"# Note\n\nHello.\n", settings, "hr")
    assert path == tmp_path / "docs" / "hr" / "note.md" and path.read_bytes().startswith(b"# Note")
    assert [p.name for p in path.parent.iterdir()] == ["note.md"]  # no temporary file left behind
    with pytest.raises(UploadRejected, match="already exists"):
        save_upload("note.md", b"again", settings, "hr")
    with pytest.raises(UploadRejected, match="upload_max_mb"):
        save_upload("big.txt", b"x" * 2000, settings, "hr")
    with pytest.raises(UploadRejected):
        save_upload("../../etc/passwd.txt", b"x", settings, "hr")
    with pytest.raises(KBError, match="not inside the documents folder"):
        delete_document(tmp_path / "index" / "x.txt", settings)
    delete_document(path, settings)
    assert not path.exists()


def _refusal(question: str, kind: str, closest: str = "/d/faq.docx") -> Answer:
    from kb.types import Chunk, Hit

    chunk = Chunk("c9", "d9", closest, closest.rsplit("/", 1)[-1], "Dogs are not allowed in the office.", 0, 0, 30,
                  page=4, heading_path=("Pets",))
    return Answer(question=question, text="The documents talk about this, but none of the passages says it.",
                  refused=True, mode="refused", hits=[Hit(chunk, 0.03, 1, 1, 0.7, 1, 4.0)], refusal=kind)


def test_conversations_are_kept_per_user_and_reopen_with_their_answers(tmp_path):
    store = ActivityStore(tmp_path / "app.sqlite")
    first = store.start_conversation("eve", "  How much leave do I get\nas a new starter?  ", at=100.0)
    q1 = store.record_answer(_answer("How much leave?"), username="eve", conversation=first, asked_at=101.0)
    q2 = store.record_answer(_refusal("Can I bring my dog?", "not_stated"), username="eve", conversation=first,
                             asked_at=102.0)
    store.record_feedback(q1, 1, "clear")
    second = store.start_conversation("eve", "Expenses", at=200.0)
    other = store.start_conversation("harriet", "HR cases", at=300.0)
    store.close()

    store = ActivityStore(tmp_path / "app.sqlite")  # a reload: everything comes back from the file
    assert [(c.id, c.title, c.turns) for c in store.conversations("eve")] == [
        (second, "Expenses", 0), (first, "How much leave do I get as a new starter?", 2)]
    turns = store.conversation_turns("eve", first)
    assert [t.question_id for t in turns] == [q1, q2]
    assert turns[0].answer.citations[0].quote == "25 days" and (turns[0].rating, turns[0].comment) == (1, "clear")
    refused = turns[1].answer
    assert refused.refused and refused.refusal == "not_stated" and refused.hits[0].chunk.heading == "Pets"
    assert refused.hits[0].chunk.text == "Dogs are not allowed in the office." and refused.hits[0].chunk.page == 4

    # nobody reaches another user's conversation by its id
    assert store.conversation("eve", other) is None and store.conversation_turns("eve", other) == []
    assert not store.rename_conversation("eve", other, "mine now") and not store.delete_conversation("eve", other)
    assert store.conversation("harriet", other).title == "HR cases"

    assert store.rename_conversation("eve", first, "Leave") and store.conversation("eve", first).title == "Leave"
    assert store.rename_conversation("eve", first, "   ") and store.conversation("eve", first).title == \
        "Untitled conversation"
    assert store.delete_conversation("eve", first) and store.conversation("eve", first) is None
    assert {q["id"] for q in store.questions()} >= {q1, q2}  # the usage records keep the questions


def test_knowledge_gaps_tell_the_two_refusals_apart_with_the_closest_document(tmp_path):
    store = ActivityStore(tmp_path / "app.sqlite")
    store.record_answer(_refusal("Can I bring my dog?", "not_stated"), asked_at=10.0)
    store.record_answer(_refusal("What is the weather on Mars?", "not_covered", "/d/travel.pdf"), asked_at=11.0)
    gaps = store.gaps()
    assert [(g.question, g.reason, g.closest_path, g.closest_page) for g in gaps] == [
        ("What is the weather on Mars?", "not covered", "/d/travel.pdf", 4),
        ("Can I bring my dog?", "not stated", "/d/faq.docx", 4)]
    rows = list(csv.DictReader(io.StringIO(store.gaps_csv())))
    assert [(r["reason"], r["closest_document"], r["closest_page"]) for r in rows] == [
        ("not covered", "/d/travel.pdf", "4"), ("not stated", "/d/faq.docx", "4")]
    assert store.questions()[0]["refusal"] == "not_stated"


def test_the_ingest_log_says_who_and_older_files_gain_the_new_columns(tmp_path):
    path = tmp_path / "app.sqlite"
    old = sqlite3.connect(path)  # an app store from before conversations and refusal kinds
    old.executescript("""
        CREATE TABLE questions (id INTEGER PRIMARY KEY, asked_at REAL NOT NULL, session TEXT, question TEXT NOT NULL,
            answer TEXT, refused INTEGER NOT NULL, mode TEXT, retrieve_s REAL, first_token_s REAL, total_s REAL,
            filters TEXT, index_version TEXT);
        CREATE TABLE ingest_log (id INTEGER PRIMARY KEY, at REAL NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL,
            ok INTEGER NOT NULL, report TEXT);
        INSERT INTO questions (asked_at, question, answer, refused) VALUES (1.0, 'Is there a gym?', '-', 1);
        INSERT INTO ingest_log (at, action, detail, ok) VALUES (1.0, 'reindex', 'old run', 1);""")
    old.commit()
    old.close()
    store = ActivityStore(path)
    assert [g.reason for g in store.gaps()] == ["refused"]  # a refusal from before the kinds: still listed
    store.log_ingest("upload", "Uploaded a.md", username="ada")
    assert [(e["action"], e["user"]) for e in store.recent_ingests()] == [("upload", "ada"), ("reindex", "")]
