"""Fault tests with real processes: SIGKILL during reindex, searches during swaps, concurrent reindex runs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kb import KnowledgeBase, Settings
from kb.index.folder import IndexFolder
from kb.index.manifest import Manifest
from kb.sync.reindex import recent_reports, reindex, rollback
from tests.service.conftest import HASHED_ENV, poll

pytestmark = pytest.mark.slow

REAL_ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}
ENV = {**REAL_ENV, **HASHED_ENV}


def kb_cli(*args: str, env: dict = ENV, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kb.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.fixture
def records(tmp_path, shared_data) -> Path:
    """About 50 chunks of real PDFs in 5 files, and one unreadable PDF: a reindex takes a few seconds."""
    folder = tmp_path / "records"
    src = shared_data / "docs" / "records"
    for sub in ("income_statements", "insurance_claims", "solar_panels"):
        shutil.copytree(src / sub, folder / sub)
    (folder / "court_orders").mkdir()
    # password-protected (a scan would be read by OCR now, and take a minute)
    shutil.copy(shared_data / "robustness/pypdf-resources/encryption/r4-aes-user-password.pdf",
                folder / "court_orders" / "sealed_order.pdf")
    return folder


def _has_children(pid: int) -> bool:
    """True once the process has started a child (the ingest's parser worker)."""
    try:
        return bool(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    except OSError:
        return False


def _state(index: Path) -> tuple[str, dict]:
    current = IndexFolder(index).require_current()
    return current.name, Manifest.read(current).files


@pytest.mark.model  # the real model: embedding takes long enough to kill the run in each of its stages
def test_sigkill_during_reindex_leaves_the_previous_version_serving(records, tmp_path, embedder):
    index = tmp_path / "index"
    kb = KnowledgeBase(Settings(index_dir=index), embedder=embedder)
    small = records / "solar_panels"
    reindex(kb.writer(), small).to_json()  # the version that must keep serving: only the datasheet
    before = _state(index)
    lock = index / "LOCK"

    def lock_taken_by(proc):  # the child holds the writer lock: planning and parsing start now
        return lambda: f"pid {proc.pid} " in lock.read_text()

    def publishing():  # a new version is being written (vectors, FAISS, BM25, manifest) but not yet swapped
        return any(IndexFolder(index).versions.glob(".tmp-*"))

    kill_points = {
        "lock taken": lambda proc: lock_taken_by(proc),
        "parsing and embedding": lambda proc: (lambda: _has_children(proc.pid) and time.sleep(0.5) is None),
        "writing the new version": lambda proc: publishing,
    }
    killed = []
    for point, until in kill_points.items():
        proc = kb_cli("reindex", str(records), "--index", str(index), "--no-progress", env=REAL_ENV)
        try:
            poll(until(proc), timeout=120, interval=0.005, what=point)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
        if _state(index) != before:  # finished between the check and the kill: nothing to test there
            continue
        killed.append(point)
        assert kb.search("solar panel datasheet", k=1)[0].chunk.path.startswith(str(small))
    assert len(killed) >= 2, killed
    assert recent_reports(kb.settings, 1)[0]["status"] == "interrupted"

    report = reindex(kb.writer(), records).to_json()  # the next run completes
    assert report["status"] == "published" and report["version_before"] == before[0]
    assert report["counts"]["documents"] == 5 and report["counts"]["skipped"] == 1
    assert not list(IndexFolder(index).versions.glob(".tmp-*")), "leftovers of killed runs are cleaned up"
    assert kb.search("Morgan Stanley income statement", k=1)[0].chunk.path.startswith(
        str(records / "income_statements"))


def test_searches_during_swaps_never_fail(make_kb, docs):
    (docs / "base.md").write_text("# Base\n\nThe base document talks about harbour ferries.\n")
    writer = make_kb(keep_versions=2)
    reindex(writer.writer(), docs).to_json()
    reader = make_kb()
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: set[str] = set()
    searches = [0]

    def search_loop() -> None:
        while not stop.is_set():
            try:
                hits = reader.search("harbour ferry", k=3)
                assert hits and hits[0].chunk.text
                seen.add(reader.reader().folder.name)
                searches[0] += 1
            except BaseException as exc:  # noqa: BLE001 - any failure is what this test looks for
                errors.append(exc)

    threads = [threading.Thread(target=search_loop) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for n in range(6):
            (docs / f"extra{n}.md").write_text(f"# Extra {n}\n\nFerry number {n} leaves from pier {n}.\n")
            reindex(writer.writer(), docs).to_json()
            if n == 3:
                rollback(writer.writer())
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors[:3]
    assert searches[0] > 20 and len(seen) >= 3, (searches, seen)


def test_two_concurrent_reindex_runs_do_not_corrupt_the_index(records, tmp_path, make_kb):
    index = tmp_path / "index"
    first = kb_cli("reindex", str(records), "--index", str(index), "--json", "--no-progress")
    poll(lambda: first.poll() is not None or f"pid {first.pid} " in (index / "LOCK").read_text(), timeout=120,
         interval=0.01, what="the first run to take the lock")
    assert first.poll() is None, first.communicate()
    second = kb_cli("reindex", str(records), "--index", str(index), "--json", "--no-progress")
    waiting = kb_cli("reindex", str(records), "--index", str(index), "--json", "--no-progress", "--wait")
    out1, err1 = first.communicate(timeout=300)
    out2, err2 = second.communicate(timeout=300)
    out3, err3 = waiting.communicate(timeout=300)
    assert first.returncode == 0, err1
    assert second.returncode == 1 and f"being written by another process (pid {first.pid} " in err2
    assert waiting.returncode == 0, err3
    one, three = json.loads(out1), json.loads(out3)
    assert set(one) >= {"kind", "status", "started_at", "finished_at", "index", "folder", "version_before",
                        "version_after", "rebuild", "rebuild_reason", "counts", "durations", "failures", "changes",
                        "gate", "error"}
    assert one["status"] == "published" and three["status"] == "unchanged", (one["changes"], three["changes"], three["version_before"])
    assert three["version_after"] == one["version_after"]
    name, files = _state(index)
    kb = make_kb(index_dir=index)
    status = kb.status()
    assert name == one["version_after"] and status["documents"] == one["counts"]["documents"]
    assert status["chunks"] == kb.reader().db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    assert len(kb.reader().ids) == status["chunks"]
    statuses = sorted(r["status"] for r in recent_reports(kb.settings, 10))
    assert statuses == ["locked", "published", "unchanged"]


def test_cli_reindex_rollback_json_and_exit_codes(tmp_path, docs, make_kb):
    index = tmp_path / "index"
    (docs / "a.md").write_text("# Alpha\n\nThe alpha project ships in May.\n")
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"question": "When does the alpha project ship?", "answer": "May",
                                "sources": [{"name": "a.md"}]}) + "\n")
    env_gold = {"KB_GOLD_FILE": str(gold)}
    report = reindex(make_kb(index_dir=index, gold_file=gold).writer(), docs).to_json()  # `kb reindex --json` prints this dict
    (docs / "a.md").unlink()
    (docs / "b.md").write_text("# Beta\n\nBeta is about something else entirely.\n")
    run = subprocess.run([sys.executable, "-m", "kb.cli", "reindex", str(docs), "--index", str(index)],
                         env={**ENV, **env_gold}, capture_output=True, text=True, timeout=300)
    assert run.returncode == 3 and "rejected" in run.stdout and "gold gate: FAILED" in run.stdout, run.stderr
    (docs / "a.md").write_text("# Alpha\n\nThe alpha project ships in June.\n")  # a second kept version
    assert reindex(make_kb(index_dir=index).writer(), docs).to_json()["status"] == "published"
    run = subprocess.run([sys.executable, "-m", "kb.cli", "rollback", "--index", str(index), "--json"], env=ENV,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert set(result) >= {"index", "from", "to", "report"} and result["to"] == report["version_after"]
    assert make_kb(index_dir=index).search("alpha project", k=1)[0].chunk.text.endswith("May.")


@pytest.mark.parametrize("command", ["watch", "reindex", "rollback", "serve"])
def test_every_service_command_has_help(command):
    run = subprocess.run([sys.executable, "-m", "kb.cli", command, "--help"], env=ENV, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0 and "Usage:" in run.stdout and "--index" in run.stdout
