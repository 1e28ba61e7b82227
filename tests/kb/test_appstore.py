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
