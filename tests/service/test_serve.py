"""``kb serve`` as systemd runs it: a real process with a real web app child, stopped by SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from kb.errors import ConfigError
from kb.settings import Settings
from kb.sync.reindex import recent_reports
from kb.sync.service import ServeOptions, Service, next_run
from tests.service.conftest import HASHED_ENV, paths, poll

APP = 'import streamlit as st\n\nst.write("kb test app")\n'


def test_next_run_follows_the_cron_expression():
    assert next_run("0 2 * * *", datetime(2026, 3, 1, 1, 59)) == datetime(2026, 3, 1, 2, 0)
    assert next_run("0 2 * * *", datetime(2026, 3, 1, 2, 0)) == datetime(2026, 3, 2, 2, 0)
    assert next_run("*/15 * * * 1-5", datetime(2026, 3, 6, 23, 50)) == datetime(2026, 3, 9, 0, 0)
    with pytest.raises(ConfigError, match="reindex_schedule='every night'"):
        next_run("every night")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.slow
def test_serve_runs_app_and_watcher_and_stops_cleanly_on_sigterm(tmp_path, docs, make_kb):
    app = tmp_path / "app.py"
    app.write_text(APP)
    index, log_file, port = tmp_path / "index", tmp_path / "logs" / "kb.log", _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **HASHED_ENV, "KB_LOG_FILE": str(log_file), "KB_WATCH_DEBOUNCE_S": "0.3",
           "KB_WATCH_STABLE_S": "0.5"}
    proc = subprocess.Popen([sys.executable, "-m", "kb.cli", "serve", "--index", str(index), "--folder", str(docs),
                             "--port", str(port), "--address", "127.0.0.1", "--app-path", str(app)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        poll(lambda: proc.poll() is not None or _health(port), timeout=120, interval=0.5, what="the web app")
        assert proc.poll() is None, log_file.read_text() if log_file.exists() else "no log"
        (docs / "hr").mkdir()
        (docs / "hr" / "leave.md").write_text("# Leave\n\nParental leave is sixteen weeks at full pay.\n")
        kb = make_kb(index_dir=index)
        poll(lambda: str(docs / "hr" / "leave.md") in paths(kb, "parental leave weeks"), timeout=120,
             what="the dropped file to be searchable")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = log_file.read_text()
    assert "received SIGTERM" in log and "kb serve stopped" in log and "nightly reindex scheduled" in log
    app_pid = int(re.search(r"web app started \(pid (\d+)\)", log).group(1))
    assert not Path(f"/proc/{app_pid}").exists(), "the web app process was left running"
    assert not _health(port)


@pytest.mark.slow
def test_the_scheduled_reindex_runs_as_a_child_and_writes_a_report(tmp_path, docs, monkeypatch):
    for name, value in HASHED_ENV.items():
        monkeypatch.setenv(name, value)  # the child reads its settings from the environment
    (docs / "a.md").write_text("# Alpha\n\nThe alpha project ships in May.\n")
    settings = Settings.load(index_dir=tmp_path / "index", docs_dir=docs)
    service = Service(settings, ServeOptions(app=False, watch=False, schedule=False))
    assert service.run_reindex() == 0
    report = recent_reports(settings, 1)[0]
    assert report["status"] == "published" and report["counts"]["new"] == 1 and report["pid"] != os.getpid()


def test_serve_refuses_a_missing_app_and_a_bad_schedule(tmp_path):
    settings = Settings(index_dir=tmp_path / "index", docs_dir=tmp_path / "docs")
    with pytest.raises(ConfigError, match="--no-app"):
        Service(settings, ServeOptions(app_path=tmp_path / "missing.py", watch=False)).run(install_signals=False)
    with pytest.raises(ConfigError, match="cron"):
        Service(settings.replace(reindex_schedule="61 * * * *"), ServeOptions(app=False, watch=False)).run(
            install_signals=False)
