"""Language per passage: detected at ingest, stored per chunk, and BM25 analysing each passage in its language."""
from __future__ import annotations

import sqlite3

import pytest

from kb.index.sparse import KeywordIndex
from kb.text.language import detect_language

GERMAN = ("Vor der Reinigung muss das Gerät ausgeschaltet und der Netzstecker gezogen werden. "
          "Die Brüheinheit wird einmal pro Woche unter fließendem Wasser gespült.")
ENGLISH = ("Employees who are travelling on company business book trains through the travel desk. "
           "Receipts are submitted within thirty days of the journey.")


def test_detects_german_and_english_and_declines_to_guess_on_a_heading():
    assert detect_language(GERMAN) == "german"
    assert detect_language(ENGLISH) == "english"
    assert detect_language("Reinigung") == ""  # too short to tell: the caller falls back


def test_a_german_passage_is_stemmed_the_german_way_and_an_english_one_the_english_way():
    auto = KeywordIndex("auto")
    auto.build([GERMAN, ENGLISH], ["german", "english"])
    assert auto.languages == ["english", "german"]
    assert auto.search("reinigen", 2)[0].tolist() == [0]  # German stems: reinigen ~ Reinigung
    assert auto.search("travel receipts", 2)[0].tolist() == [1]  # English stems: travelling ~ travel
    english = KeywordIndex("english")
    english.build([GERMAN, ENGLISH])
    assert english.search("reinigen", 2)[0].tolist() == []  # what one English stemmer for all misses


def test_ingest_records_each_passage_language_and_search_uses_it(tmp_path, hashed_embedder):
    from kb import KnowledgeBase, Settings
    from kb.embedding import HASHED_MODEL
    from kb.index.version import CHUNKS_DB

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "reinigung.md").write_text(f"# Pflege\n\n{GERMAN}\n", encoding="utf-8")
    (docs / "travel.md").write_text(f"# Travel\n\n{ENGLISH}\n", encoding="utf-8")
    kb = KnowledgeBase(Settings(index_dir=tmp_path / "index", embedding_model=HASHED_MODEL), embedder=hashed_embedder)
    report = kb.ingest([docs])
    assert not report.skipped, report.skipped
    with sqlite3.connect(kb.folder.current() / CHUNKS_DB) as db:
        assert dict(db.execute("SELECT name, language FROM chunks")) == {"reinigung.md": "german",
                                                                         "travel.md": "english"}
    hits = kb.search("Wie oft reinigen?", k=1)
    assert hits[0].chunk.name == "reinigung.md" and hits[0].chunk.language == "german"


def test_an_index_without_the_language_column_still_reads(tmp_path):
    from kb.index.version import select_chunks

    db = sqlite3.connect(tmp_path / "old.sqlite")
    db.execute("""CREATE TABLE chunks (id INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE, doc_id TEXT, path TEXT,
                  name TEXT, page INTEGER, heading TEXT, title TEXT, chunk_index INTEGER, char_start INTEGER,
                  char_end INTEGER, text TEXT)""")
    db.execute("INSERT INTO chunks VALUES (1, 'c', 'd', '/p', 'p', 1, '[]', 't', 0, 0, 4, 'text')")
    [(row_id, chunk)] = list(select_chunks(db))
    assert row_id == 1 and chunk.text == "text" and chunk.language == ""


def test_a_bad_language_setting_fails_at_once():
    from kb.errors import ConfigError

    with pytest.raises(ConfigError, match="bm25_language"):
        KeywordIndex("klingon")
