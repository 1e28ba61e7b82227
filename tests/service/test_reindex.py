"""``kb reindex``/``kb rollback`` through the library: reconcile, rebuild on new settings, gold gate, lock."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from kb.errors import IncompatibleIndex, IndexLocked, KBError
from kb.index.folder import IndexFolder
from kb.sync.reindex import recent_reports, reindex, rollback
from tests.service.conftest import paths, texts

FACTS = {
    "ferry.md": ("# Ferry\n\nThe staff ferry to the island leaves the harbour at 07:40 every weekday.",
                 "When does the staff ferry leave the harbour?"),
    "canteen.md": ("# Canteen\n\nThe canteen serves buckwheat pancakes on Fridays.",
                   "What does the canteen serve on Fridays?"),
    "parking.md": ("# Parking\n\nVisitor parking is on garage level minus two, bay C.",
                   "Where can visitors park?"),
    "badges.md": ("# Badges\n\nLost access badges are replaced by the security desk in building B.",
                  "Who replaces a lost access badge?"),
    "library.md": ("# Library\n\nThe company library lends laptops for up to three weeks.",
                   "How long can I borrow a laptop from the library?"),
}


@pytest.fixture
def facts(docs):
    for name, (text, _) in FACTS.items():
        (docs / name).write_text(text + "\n")
    return docs


@pytest.fixture
def gold(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps({"question": q, "answer": t, "sources": [{"name": n}]}) + "\n"
                            for n, (t, q) in FACTS.items()))
    return path


@pytest.mark.slow
def test_reindex_reconciles_and_writes_a_report(make_kb, facts, tmp_path):
    kb = make_kb()
    first = reindex(kb.writer(), facts).to_json()
    assert first["status"] == "published" and first["counts"]["new"] == 5 and first["version_before"] is None
    (facts / "ferry.md").write_text("# Ferry\n\nThe staff ferry now leaves the harbour at 08:15.\n")
    (facts / "parking.md").unlink()
    (facts / "team").mkdir()
    (facts / "canteen.md").rename(facts / "team" / "food.md")
    (facts / "new.md").write_text("# Gym\n\nThe gym on the roof opens at six.\n")
    (facts / "broken.pdf").write_text("not really a PDF")
    second = reindex(kb.writer(), facts).to_json()
    assert second["status"] == "published" and second["version_before"] == first["version_after"]
    changes = second["changes"]
    assert sorted(os.path.basename(p) for p in changes["new"]) == ["broken.pdf", "new.md"]
    assert [os.path.basename(p) for p in changes["changed"]] == ["ferry.md"]
    assert [os.path.basename(p) for p in changes["removed"]] == ["parking.md"]
    assert [(os.path.basename(r["from"]), os.path.basename(r["to"])) for r in changes["renamed"]] == \
        [("canteen.md", "food.md")]
    assert second["counts"]["unchanged"] == 2 and second["counts"]["documents"] == 5
    assert [os.path.basename(f["path"]) for f in second["failures"]] == ["broken.pdf"]
    assert second["failures"][0]["reason"]
    assert set(second["durations"]) >= {"total_seconds", "parse_seconds", "embed_seconds", "eval_seconds"}
    assert any("08:15" in t for t in texts(kb, "staff ferry harbour"))
    assert str(facts / "parking.md") not in paths(kb, "visitor parking garage")

    third = reindex(kb.writer(), facts).to_json()  # nothing changed: no new version
    assert third["status"] == "unchanged" and third["version_after"] == second["version_after"]
    reports = recent_reports(kb.settings, 10)
    assert [r["status"] for r in reports] == ["unchanged", "published", "published"]
    assert all(os.path.isfile(r["report"]) for r in reports)


@pytest.mark.slow
def test_new_embedding_or_chunking_settings_rebuild_into_a_new_version(make_kb, facts):
    kb = make_kb()
    old = reindex(kb.writer(), facts).to_json()["version_after"]
    with pytest.raises(IncompatibleIndex):
        make_kb(chunk_tokens=128).search("ferry")
    report = reindex(make_kb(chunk_tokens=128).writer(), facts).to_json()
    assert report["rebuild"] and "chunking" in report["rebuild_reason"]
    assert report["status"] == "published" and report["version_after"] != old
    assert report["counts"]["unchanged"] == 0 and report["counts"]["chunks_added"] > 0
    assert make_kb(chunk_tokens=128).search("staff ferry", k=1)[0].chunk.name == "ferry.md"
    assert (IndexFolder(kb.settings.index_dir).versions / old).is_dir(), "the previous version is kept"
    with pytest.raises(IncompatibleIndex, match="--force"):
        rollback(make_kb(chunk_tokens=128).writer())  # the old version needs the old settings
    assert rollback(kb.writer())["to"] == old
    assert kb.search("staff ferry", k=1)[0].chunk.name == "ferry.md"


@pytest.mark.slow
def test_gold_gate_keeps_a_worse_version_out(make_kb, facts, gold):
    kb = make_kb(gold_file=gold, reindex_max_drop=0.02)
    first = reindex(kb.writer(), facts).to_json()
    assert first["status"] == "published" and first["gate"]["candidate"]["retrieval_hit@5"] == 1.0
    assert first["gate"]["current"] is None
    (facts / "badges.md").unlink()
    (facts / "library.md").unlink()
    rejected = reindex(kb.writer(), facts).to_json()
    gate = rejected["gate"]
    assert rejected["status"] == "rejected" and not gate["passed"]
    assert gate["current"]["retrieval_hit@5"] == 1.0 and gate["candidate"]["retrieval_hit@5"] == 0.6
    assert "retrieval_hit@5 dropped by 0.4" in gate["reason"]
    assert IndexFolder(kb.settings.index_dir).current().name == first["version_after"]
    assert "badges.md" in [h.chunk.name for h in kb.search("lost access badge", k=3)], "old version serves"
    assert rejected["durations"]["eval_seconds"] > 0
    forced = reindex(kb.writer(), facts, force=True).to_json()
    assert forced["status"] == "published" and forced["gate"]["forced"] and not forced["gate"]["passed"]
    assert "badges.md" not in [h.chunk.name for h in kb.search("lost access badge", k=3)]


@pytest.mark.slow
def test_gold_gate_passes_an_equal_or_better_version(make_kb, facts, gold):
    kb = make_kb(gold_file=gold)
    reindex(kb.writer(), facts).to_json()
    (facts / "extra.md").write_text("# Plants\n\nThe office plants are watered on Tuesdays.\n")
    report = reindex(kb.writer(), facts).to_json()
    assert report["status"] == "published" and report["gate"]["passed"]
    assert report["gate"]["current"]["retrieval_mrr@10"] is not None


@pytest.mark.slow
def test_rollback_restores_the_previous_version(make_kb, facts):
    kb = make_kb()
    with pytest.raises(KBError, match="no index"):
        rollback(kb.writer())
    first = reindex(kb.writer(), facts).to_json()["version_after"]
    with pytest.raises(KBError, match="nothing to roll back"):
        rollback(kb.writer())
    (facts / "ferry.md").unlink()
    second = reindex(kb.writer(), facts).to_json()["version_after"]
    assert "ferry.md" not in [h.chunk.name for h in kb.search("staff ferry", k=3)]
    result = rollback(kb.writer())
    assert (result["from"], result["to"]) == (second, first)
    assert "ferry.md" in [h.chunk.name for h in kb.search("staff ferry", k=3)], "an open reader switches back"
    assert recent_reports(kb.settings, 1)[0]["kind"] == "rollback"
    # the next reindex starts from the restored version and publishes a newer one
    third = reindex(kb.writer(), facts).to_json()
    assert third["version_before"] == first and third["version_after"] > second


def test_a_second_writer_is_refused_or_waits(make_kb, facts):
    kb = make_kb()
    folder = IndexFolder(kb.settings.index_dir)
    with folder.writer_lock():
        with pytest.raises(IndexLocked, match=rf"another process \(pid {os.getpid()} "):
            reindex(kb.writer(), facts).to_json()
    locked = recent_reports(kb.settings, 1)[0]
    assert locked["status"] == "locked" and f"pid {os.getpid()}" in locked["error"]

    held = threading.Event()

    def hold() -> None:
        with folder.writer_lock():
            held.set()
            time.sleep(1.5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    started = time.monotonic()
    report = reindex(kb.writer(), facts, wait=True).to_json()
    holder.join()
    assert report["status"] == "published" and time.monotonic() - started >= 1.0


def test_a_killed_run_is_reported_as_interrupted(make_kb, facts):
    kb = make_kb()
    reindex(kb.writer(), facts).to_json()
    path = kb.folder.root / "reports" / "reindex-29991231T000000.000000.json"
    path.write_text(json.dumps({"kind": "reindex", "status": "running", "pid": 2 ** 22 + 12345}))
    latest = recent_reports(kb.settings, 5)[0]
    assert latest["status"] == "interrupted" and "stopped before it finished" in latest["error"]
