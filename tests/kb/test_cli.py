"""The `kb` command as other tools drive it: real subprocesses, JSON on stdout."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.model

HIT_FIELDS = {"rank", "score", "path", "name", "page", "heading", "text", "chunk_id"}


def kb(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "kb.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory, shared_data):
    docs = tmp_path_factory.mktemp("docs")
    for name in ("Remote_Access_Policy.docx", "Incident_Response_Policy.docx",
                 "vanderbloemen_remote_work_policy.pdf"):
        shutil.copy(shared_data / "docs" / "policies" / name, docs)
    index = tmp_path_factory.mktemp("index")
    report = json.loads(kb("ingest", str(docs), "--index", str(index), "--json").stdout)
    return docs, index, report


def test_ingest_json(built):
    docs, _, report = built
    assert report["counts"]["indexed"] == 3 and report["counts"]["skipped"] == 0
    assert all(Path(p).is_absolute() for p in report["indexed"])
    assert set(report) >= {"indexed", "unchanged", "removed", "skipped", "counts", "timings", "version"}


def test_search_json_fields(built):
    _, index, _ = built
    out = json.loads(kb("search", "who do I report a security incident to", "--index", str(index),
                        "-k", "4", "--json").stdout)
    hits = out["hits"]
    assert len(hits) == 4 and HIT_FIELDS <= set(hits[0])
    assert [h["rank"] for h in hits] == [1, 2, 3, 4]
    assert hits[0]["name"] == "Incident_Response_Policy.docx"
    assert Path(hits[0]["path"]).is_absolute() and Path(hits[0]["path"]).exists()
    assert all(h["page"] is None or h["page"] >= 1 for h in hits)


def test_search_batch_one_line_per_query(built, tmp_path):
    _, index, _ = built
    batch = tmp_path / "queries.jsonl"
    batch.write_text('{"id": "a", "query": "VPN access"}\n\n{"id": 7, "query": "working from home"}\n')
    lines = kb("search", "--batch", str(batch), "--index", str(index), "--json", "-k", "2").stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == ["a", 7] and all(len(r["hits"]) == 2 for r in rows)


def test_status_json_and_text(built):
    _, index, _ = built
    info = json.loads(kb("status", "--index", str(index), "--json").stdout)
    assert info["documents"] == 3 and info["chunks"] > 0 and info["skipped"] == []
    assert "documents  3" in kb("status", "--index", str(index)).stdout


def test_errors_exit_1_with_a_message(tmp_path):
    proc = kb("search", "x", "--index", str(tmp_path / "none"), check=False)
    assert proc.returncode == 1 and "no index at" in proc.stderr and "kb ingest" in proc.stderr
    proc = kb("search", "--index", str(tmp_path), check=False)
    assert proc.returncode == 2


@pytest.mark.parametrize("command", [[], ["ingest"], ["search"], ["status"]])
def test_every_command_has_help(command):
    out = kb(*command, "--help").stdout
    assert "Usage:" in out and "--help" in out


def test_killed_ingest_leaves_the_previous_version_serving(built, tmp_path, shared_data):
    docs, _, _ = built
    index = tmp_path / "index"
    kb("ingest", str(docs), "--index", str(index))
    before = json.loads(kb("status", "--index", str(index), "--json").stdout)
    big = tmp_path / "big"
    shutil.copytree(shared_data / "docs" / "records", big)
    shutil.copytree(docs, big / "policies")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for delay in (1.0, 4.0, 8.0, 12.0):
        proc = subprocess.Popen([sys.executable, "-m", "kb.cli", "ingest", str(big), "--index", str(index)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = json.loads(kb("status", "--index", str(index), "--json").stdout)
        if now["version"] != before["version"]:  # the run finished before the kill: that is fine too
            break
        assert now == before
        hits = json.loads(kb("search", "remote work", "--index", str(index), "--json").stdout)["hits"]
        assert hits
    final = json.loads(kb("ingest", str(big), "--index", str(index), "--json").stdout)
    assert final["counts"]["indexed"] + final["counts"]["unchanged"] >= 3
    assert json.loads(kb("status", "--index", str(index), "--json").stdout)["documents"] >= 10


ANSWER_FIELDS = {"question", "answer", "refused", "mode", "citations", "hits", "dropped", "timings",
                 "retrieval_query", "grade"}


@pytest.mark.slow
def test_ask_batch_and_eval_json(sample_index, tmp_path):
    questions = tmp_path / "questions.jsonl"
    questions.write_text(json.dumps({"id": "leave", "question": "How many days of annual leave do full-time "
                                     "staff get?"}) + "\n" + json.dumps({"id": "ceo", "question":
                                     "What is the company's share price on the stock exchange?"}) + "\n")
    lines = [json.loads(line) for line in kb("ask", "--batch", str(questions), "--index", str(sample_index),
                                             "--json").stdout.splitlines()]
    assert [line["id"] for line in lines] == ["leave", "ceo"]
    assert all(ANSWER_FIELDS <= line.keys() for line in lines)
    leave, ceo = lines
    assert not leave["refused"] and leave["citations"][0]["name"] == "leave_policy.pdf"
    assert {"n", "path", "name", "page", "heading", "quote", "chunk_id", "span"} == leave["citations"][0].keys()
    assert ceo["refused"] and ceo["hits"] and not ceo["citations"]

    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(json.dumps(line) for line in [
        {"question": "How many days of annual leave do full-time staff get?", "answer": "25 days",
         "sources": [{"name": "leave_policy.pdf", "page": 1}]},
        {"question": "When is the weekly fire alarm test at Canal Wharf?",
         "truth": "Every Wednesday at 11:00 [office_facilities_guide.md#page=1]"},
        {"question": "Who won the Ripple Award last quarter?", "answer": "", "answerable": False},
    ]) + "\n")
    report = json.loads(kb("eval", str(gold), "--index", str(sample_index), "--json",
                           "--output", str(tmp_path / "eval.json")).stdout)
    summary = report["summary"]
    assert summary["questions"] == 3 and summary["answerable"] == 2 and summary["unanswerable"] == 1
    assert summary["retrieval_hit@5"] is not None and 0 <= summary["retrieval_mrr@10"] <= 1
    assert json.loads((tmp_path / "eval.json").read_text())["summary"] == summary
    table = kb("eval", str(gold), "--index", str(sample_index)).stdout
    assert "retrieval_hit@5" in table and "refusal_recall" in table


# ---- progress and readable output (issue 13): the hashed embedder and quoted answers, no model to load ----

def _hashed_env(**extra: str) -> dict:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "KB_EMBEDDING_MODEL": "kb-hashed-bow", "KB_ANSWER_MODE": "quote",
            **extra}


def _run(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "kb.cli", *args], capture_output=True, text=True, timeout=300,
                          env=_hashed_env())
    assert proc.returncode == 0, proc.stderr
    return proc


def _on_a_terminal(*args: str) -> str:
    """What a 120-column terminal shows (stdout and stderr together) while ``kb ARGS`` runs."""
    import fcntl
    import pty
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child: a sized terminal, as a person's would be (tqdm draws nothing 0 columns wide)
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.execve(sys.executable, [sys.executable, "-m", "kb.cli", *args], _hashed_env())
    out = b""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # the child has exited and closed the terminal
            break
        if not data:
            break
        out += data
    os.waitpid(pid, 0)
    return out.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def small_docs(tmp_path_factory):
    docs = tmp_path_factory.mktemp("small-docs")
    (docs / "leave.md").write_text("# Leave\n\nFull-time staff get 25 days of annual leave a year.\n")
    (docs / "travel.md").write_text("# Travel\n\nThe hotel limit in London is 180 pounds a night.\n")
    return docs


def test_ingest_and_reindex_show_plain_progress_lines_off_a_terminal_and_nothing_extra_with_json(small_docs,
                                                                                                   tmp_path):
    plain = _run("ingest", str(small_docs), "--index", str(tmp_path / "a"))
    lines = plain.stderr.splitlines()
    assert "parsing files: 2/2" in lines and "embedding passages: 2/2" in lines, plain.stderr
    assert "DEBUG" not in plain.stderr  # bm25s sets its own logger to DEBUG: not shown at the default level
    quiet = _run("ingest", str(small_docs), "--index", str(tmp_path / "b"), "--json")
    assert quiet.stderr == "" and json.loads(quiet.stdout)["counts"]["indexed"] == 2
    (small_docs / "new.md").write_text("# New\n\nThe canteen opens at 8.\n")
    try:
        again = _run("reindex", str(small_docs), "--index", str(tmp_path / "a"))
        assert "parsing files: 1/1" in again.stderr.splitlines() and "DEBUG" not in again.stderr
        assert _run("reindex", str(small_docs), "--index", str(tmp_path / "b"), "--json").stderr == ""
    finally:
        (small_docs / "new.md").unlink()


def test_on_a_terminal_ingest_draws_bars_and_ask_says_it_is_loading(small_docs, tmp_path):
    index = str(tmp_path / "index")
    shown = _on_a_terminal("ingest", str(small_docs), "--index", index)
    assert "parsing files: 100%" in shown and "embedding passages: 100%" in shown, shown
    asked = _on_a_terminal("ask", "How many days of annual leave do full-time staff get?", "--index", index)
    assert "Loading models…" in asked and "25 days" in asked.replace("**", ""), asked
    assert "Loading models…" not in _on_a_terminal("ask", "How much leave?", "--index", index, "--json")


def test_search_says_why_each_passage_ranks_and_json_keeps_the_scores(small_docs, tmp_path):
    index = str(tmp_path / "index")
    _run("ingest", str(small_docs), "--index", index, "--json")
    text = _run("search", "annual leave days", "--index", index, "-k", "2").stdout
    first = text.splitlines()[0]
    assert first.startswith(" 1. leave.md — Leave  (") and "meaning #1" in first and "keyword #1" in first
    assert "[0." not in text  # no bare fused scores
    hit = json.loads(_run("search", "annual leave days", "--index", index, "-k", "2", "--json").stdout)["hits"][0]
    assert {"score", "dense_rank", "dense_score", "keyword_rank", "keyword_score"} <= set(hit)
