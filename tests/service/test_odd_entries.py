"""Ingest that no entry of the documents folder can stop (issue 12): each test is one reproduction.

FIFOs, devices, sockets, link loops, dangling links, links to siblings or to files outside the folder, names that
are not UTF-8, binary data named .md, oversize text, transient worker deaths, a script without a main guard, a
killed run's leftovers: each ends as a recorded skip (or a retry), never a hang, a crash or a silent loss.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kb.index.folder import IndexFolder
from kb.index.manifest import Manifest
from tests.service.conftest import HASHED_ENV, make_pdf, paths

ROOT = Path(__file__).resolve().parents[2]
REPORT = "# Quarterly report\n\nRevenue grew by 12 percent in the third quarter, driven by the Nordic region.\n"


def _skips(report) -> dict[str, str]:
    return {s.path: s.reason for s in report.skipped}


def _ingest_in_time(kb, docs, seconds: float = 60.0):
    """Run an ingest in a thread; fail (instead of hanging the suite) if it does not finish in time."""
    out: dict = {}
    thread = threading.Thread(target=lambda: out.setdefault("report", kb.ingest([docs])), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"ingest still running after {seconds:.0f} s: blocked on an odd entry"
    return out["report"]


def test_fifo_socket_and_link_to_a_device_are_skipped_without_being_opened(make_kb, docs):
    (docs / "report.md").write_text(REPORT, encoding="utf-8")
    os.mkfifo(docs / "pipe.md")  # nobody ever writes: opening it for reading would block forever
    (docs / "zero.txt").symlink_to("/dev/zero")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(docs / "control.sock"))
    try:
        kb = make_kb()
        report = _ingest_in_time(kb, docs)
    finally:
        sock.close()
    skips = _skips(report)
    assert "named pipe" in skips[str(docs / "pipe.md")]
    assert "socket" in skips[str(docs / "control.sock")]
    assert "/dev/zero" in skips[str(docs / "zero.txt")]
    assert report.indexed == [str(docs / "report.md")]
    assert any(s["path"] == str(docs / "pipe.md") for s in kb.status()["skipped"])  # kb status shows why


def test_link_loops_and_dangling_links_are_reported_and_the_batch_goes_on(make_kb, docs):
    (docs / "report.md").write_text(REPORT, encoding="utf-8")
    (docs / "loop.md").symlink_to(docs / "loop.md")
    (docs / "gone.md").symlink_to(docs / "deleted-long-ago.md")
    report = make_kb().ingest([docs])
    skips = _skips(report)
    assert "loop" in skips[str(docs / "loop.md")]
    assert "dangling" in skips[str(docs / "gone.md")] and "deleted-long-ago.md" in skips[str(docs / "gone.md")]
    assert report.indexed == [str(docs / "report.md")]


def test_a_link_to_a_sibling_file_is_indexed_once(make_kb, docs):
    (docs / "report.md").write_text(REPORT, encoding="utf-8")
    (docs / "latest.md").symlink_to("report.md")
    kb = make_kb()
    report = kb.ingest([docs])
    assert report.indexed == [str(docs / "report.md")]
    assert "report.md" in _skips(report)[str(docs / "latest.md")]
    assert set(paths(kb, "Nordic revenue third quarter")) == {str(docs / "report.md")}
    again = kb.ingest([docs])  # and the next run is quiet: nothing added, nothing removed
    assert not again.indexed and not again.removed and again.unchanged == [str(docs / "report.md")]


@pytest.mark.slow
def test_the_watcher_keeps_indexing_after_odd_entries(watch, docs):
    os.mkfifo(docs / "pipe.md")
    (docs / "loop.md").symlink_to(docs / "loop.md")
    (docs / "latest.md").symlink_to("report.md")  # dangling until report.md arrives
    watcher, kb = watch()
    (docs / "report.md").write_text(REPORT, encoding="utf-8")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and str(docs / "report.md") not in paths(kb, "Nordic revenue"):
        time.sleep(0.2)
    assert paths(kb, "Nordic revenue") == [str(docs / "report.md")]
    assert watcher.alive


def test_a_file_name_that_is_not_utf8_is_skipped_and_json_stays_valid(tmp_path, docs):
    (docs / "report.md").write_text(REPORT, encoding="utf-8")
    odd = os.path.join(os.fsencode(docs), b"caf\xe9-notes.md")
    with open(odd, "wb") as fh:
        fh.write(REPORT.encode("utf-8"))
    env = {**os.environ, **HASHED_ENV, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "kb.cli", "ingest", str(docs), "--index", str(tmp_path / "index"),
                           "--json"], capture_output=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    report = json.loads(proc.stdout.decode("utf-8"))  # strict UTF-8: raises on a raw \xe9 byte
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert skipped == {f"{docs}/caf\\xe9-notes.md": "file name is not valid UTF-8: rename it to index it"}
    assert report["indexed"] == [str(docs / "report.md")]


def test_random_bytes_named_md_are_not_text(make_kb, docs):
    rng = __import__("random").Random(12)
    (docs / "notes.md").write_bytes(bytes(rng.randrange(1, 256) for _ in range(200_000)))  # no NUL byte
    (docs / "report.md").write_text(REPORT, encoding="utf-8")
    report = make_kb().ingest([docs])
    assert _skips(report)[str(docs / "notes.md")].startswith("not text"), report.to_json()
    assert report.indexed == [str(docs / "report.md")] and report.chunks_added < 5


def test_an_oversize_text_file_is_skipped_by_its_size_before_parsing(make_kb, docs):
    big = docs / "dump.txt"
    big.write_text(("All work and no play makes Jack a dull boy. " * 24 + "\n") * 2000, encoding="utf-8")
    kb = make_kb(max_text_mb=1)
    report = kb.ingest([docs])
    reason = _skips(report)[str(big)]
    assert reason.startswith("text file too large: 2.") and "setting max_text_mb" in reason
    assert report.parse_seconds < 2  # decided from the size: nothing was decoded or tokenized


def test_a_file_whose_worker_died_is_retried_on_the_next_run(make_kb, docs):
    words = REPORT.split() + "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
    pdf = make_pdf(docs / "long.pdf", [" ".join(words[(n * k) % len(words)] for k in range(1, 40)) for n in range(30)])
    kb = make_kb()
    killer = threading.Thread(target=_kill_first_worker, daemon=True)
    killer.start()
    first = kb.ingest([docs])
    killer.join(5)
    reason = _skips(first)[str(pdf)]
    assert "parser process died (killed by SIGKILL)" in reason and "attempt 1 of 3" in reason, reason
    entry = Manifest.read(kb.folder.current()).files[str(pdf)]
    assert entry.skipped and entry.retries == 1
    assert Manifest.read(kb.folder.current()).files[str(pdf)].to_json()["retries"] == 1  # in manifest.json
    second = kb.ingest([docs])  # same file, same settings: tried again because the failure was transient
    assert second.indexed == [str(pdf)], second.to_json()
    assert Manifest.read(kb.folder.current()).files[str(pdf)].retries == 0


def _kill_first_worker(timeout: float = 60.0) -> None:
    """SIGKILL this process's first parse worker as soon as it exists: the file is already on its way to it
    (the pool sends it at once), so the worker dies while it has the file, as a crash or the OOM killer does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in _worker_pids():
            os.kill(pid, 9)
            return
        time.sleep(0.01)


def _worker_pids() -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and b"ingest.worker" in cmdline:
            out.append(int(entry.name))
    return out


def test_the_python_example_works_as_a_script_without_a_main_guard(tmp_path, docs):
    (docs / "report.md").write_text(REPORT, encoding="utf-8")
    script = tmp_path / "example.py"
    script.write_text(  # the README's example, saved as it is: no `if __name__ == "__main__":`
        "import json\n"
        "from kb import KnowledgeBase\n"
        f"kb = KnowledgeBase.open({str(tmp_path / 'index')!r})\n"
        f"report = kb.ingest([{str(docs)!r}])\n"
        "print(json.dumps(report.to_json()))\n", encoding="utf-8")
    env = {**os.environ, **HASHED_ENV, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["indexed"] == [str(docs / "report.md")] and not report["skipped"], report


def test_a_killed_runs_leftovers_go_even_when_nothing_changed(make_kb, docs):
    (docs / "report.md").write_text(REPORT, encoding="utf-8")
    kb = make_kb()
    kb.ingest([docs])
    stale = IndexFolder(kb.folder.root).versions / ".tmp-4242-1700000000"
    (stale / "bm25").mkdir(parents=True)
    (stale / "chunks.sqlite").write_bytes(b"half a version")
    report = kb.ingest([docs])
    assert report.unchanged == [str(docs / "report.md")] and not report.indexed
    assert not stale.exists()
