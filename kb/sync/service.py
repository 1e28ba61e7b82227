"""``kb serve``: the web app, the folder watcher and the nightly reindex, run together until SIGTERM.

- the web app runs as a child process (``streamlit run ui/app.py``), restarted if it dies; its output goes
  to the service log;
- the watcher runs in this process (it owns the embedding model for ingest);
- the nightly reindex (``reindex_schedule``, a cron expression) runs ``kb reindex --wait`` as a child
  process, so a shutdown can stop it at once and leave the current version serving.

SIGTERM or SIGINT stops everything cleanly: the watcher abandons a batch in progress (nothing half-written is
ever published), children get SIGTERM and then SIGKILL after a grace period.
"""

from __future__ import annotations

import importlib.util
import logging
import logging.handlers
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kb.errors import ConfigError
from kb.settings import Settings, is_set

log = logging.getLogger(__name__)


def default_app() -> Path:
    """The web app's Streamlit script, shipped as the ``ui`` package next to ``kb`` (source or wheel):
    ``ui/server.py``, the pages behind the download guard (``ui.guard``)."""
    spec = importlib.util.find_spec("ui")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the web app (package ui) is not installed; reinstall kb, or pass --app-path")
    return Path(spec.submodule_search_locations[0]) / "server.py"

_GRACE_S = 10.0


@dataclass
class ServeOptions:
    """What ``kb serve`` runs; everything else comes from Settings."""

    port: int = 8501
    address: str = "0.0.0.0"
    app: bool = True
    watch: bool = True
    schedule: bool = True
    app_path: Path | None = None  # None: the installed web app (default_app())
    config_file: Path | None = None


def log_file_for(settings: Settings) -> Path:
    """The service log: setting log_file, or ``<index_dir>/kb-serve.log``."""
    return Path(settings.log_file) if is_set(settings.log_file) else Path(settings.index_dir) / "kb-serve.log"


def configure_logging(settings: Settings, to_stderr: bool = True) -> Path:
    """Front-end logging for the service: a rotating log file (and stderr). Returns the file's path."""
    path = log_file_for(settings).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s")
    root = logging.getLogger()
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=10 * 1024 * 1024, backupCount=5,
                                                   encoding="utf-8")
    handler.setFormatter(formatter)
    root.addHandler(handler)
    if to_stderr and not any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
                             for h in root.handlers):
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        root.addHandler(stream)
    root.setLevel(settings.log_level)
    for handler in root.handlers:
        handler.setLevel(settings.log_level)
    for noisy in ("sentence_transformers", "transformers", "faiss", "bm25s", "httpx", "huggingface_hub",
                  "watchdog", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path


def next_run(schedule: str, after: datetime | None = None) -> datetime:
    """The next time the cron expression ``schedule`` fires after ``after`` (local time)."""
    from croniter import croniter

    if not croniter.is_valid(schedule):
        raise ConfigError(f"setting reindex_schedule={schedule!r} is not a valid cron expression "
                          "(five fields, e.g. \"0 2 * * *\" for 02:00 every day)")
    return croniter(schedule, after or datetime.now()).get_next(datetime)


class Service:
    """The long-running service. ``run()`` blocks until ``stop()`` (or SIGTERM/SIGINT when installed)."""

    def __init__(self, settings: Settings, options: ServeOptions | None = None, embedder=None):
        self.settings = settings
        self.options = options or ServeOptions()
        self.embedder = embedder
        self._stop = threading.Event()
        self._children: dict[str, subprocess.Popen] = {}
        self._children_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.watcher = None
        self.app_path: Path | None = None

    # ------------------------------------------------------------------ lifecycle

    def run(self, install_signals: bool = True) -> int:
        """Start everything and block until stopped; returns the exit status (0 = clean shutdown)."""
        if self.options.schedule:
            first = next_run(self.settings.reindex_schedule)  # a bad expression fails before anything starts
        self.app_path = Path(self.options.app_path) if self.options.app_path else default_app()
        if self.options.app and not self.app_path.is_file():
            raise ConfigError(f"web app {self.app_path} not found; reinstall kb, pass "
                              "--app-path, or --no-app")
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
        log.info("kb serve starting (pid %d): index %s, documents %s", os.getpid(),
                 Path(self.settings.index_dir).resolve(), Path(self.settings.docs_dir).resolve())
        try:
            if self.options.watch:
                self._start_watcher()
            if self.options.schedule:
                log.info("nightly reindex scheduled by %r; next run at %s", self.settings.reindex_schedule,
                         first.isoformat(timespec="minutes"))
                self._spawn_thread("kb-schedule", self._schedule_loop)
            if self.options.app:
                self._spawn_thread("kb-app", self._app_loop)
            while not self._stop.wait(0.5):
                if self.watcher is not None and not self.watcher.alive:
                    log.error("the watcher stopped unexpectedly; shutting down")
                    return 1
            return 0
        finally:
            self._shutdown()

    def stop(self) -> None:
        self._stop.set()

    def _on_signal(self, signum, frame) -> None:
        log.info("received %s: shutting down", signal.Signals(signum).name)
        self._stop.set()

    def _shutdown(self) -> None:
        self._stop.set()
        with self._children_lock:
            children = dict(self._children)
        for name, proc in children.items():
            _terminate(proc, name)
        if self.watcher is not None:
            self.watcher.stop()
        for thread in self._threads:
            thread.join(_GRACE_S + 5)
        log.info("kb serve stopped")

    def _spawn_thread(self, name: str, target) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # ------------------------------------------------------------------ watcher

    def _start_watcher(self) -> None:
        from kb.access.rules import milvus_access_keys
        from kb.embedding import make_embedder
        from kb.index.folder import IndexFolder
        from kb.index.writer import IndexWriter
        from kb.retrieval.milvus import milvus_store
        from kb.sync.watch import FolderWatcher

        docs = Path(self.settings.docs_dir).expanduser()
        if not docs.exists():
            log.info("creating the documents folder %s", docs.resolve())
            docs.mkdir(parents=True, exist_ok=True)
        writer = IndexWriter(IndexFolder(self.settings.index_dir, milvus_store(
            self.settings, access_keys=milvus_access_keys(self.settings))), self.settings,
                             self.embedder or make_embedder(self.settings))
        self.watcher = FolderWatcher(writer, docs).start()

    # ------------------------------------------------------------------ nightly reindex

    def _schedule_loop(self) -> None:
        while not self._stop.is_set():
            when = next_run(self.settings.reindex_schedule)
            if self._stop.wait(max(0.0, (when - datetime.now()).total_seconds())):
                return
            self.run_reindex()

    def run_reindex(self) -> int | None:
        """Run ``kb reindex --wait`` as a child process now (after ``kb tune`` when ``tune_nightly_minutes`` is
        set: the gate decides whether its judge is adopted); the reindex's exit status (None if stopped first)."""
        if self.settings.tune_nightly_minutes > 0:
            command = [*self._kb_command(), "tune", "--budget-minutes", str(self.settings.tune_nightly_minutes),
                       "--json"]
            if is_set(self.settings.gold_file):
                command += ["--gold", str(self.settings.gold_file)]
            code = self._run_child("tune", command)
            if code is None:
                return None
            (log.info if code in (0, 3) else log.error)("nightly tuning finished: %s",
                                                        {0: "adopted", 3: "not adopted"}.get(code, f"status {code}"))
        return self._run_child("reindex", [*self._kb_command(), "reindex", str(Path(self.settings.docs_dir).resolve()),
                                           "--wait", "--json", "--no-progress"])

    def _run_child(self, name: str, command: list[str]) -> int | None:
        log.info("nightly %s starting", name)
        proc = self._start_child(name, command)
        if proc is None:
            return None
        code = proc.wait()
        with self._children_lock:
            self._children.pop(name, None)
        if name == "reindex":
            (log.info if code == 0 else log.error)("nightly reindex finished with exit status %d", code)
        return code

    # ------------------------------------------------------------------ web app

    def _app_loop(self) -> None:
        command = [sys.executable, "-m", "streamlit", "run", str(self.app_path), "--server.headless",
                   "true", "--server.port", str(self.options.port), "--server.address", self.options.address,
                   "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
                   "--server.maxUploadSize", str(max(1, math.ceil(self.settings.upload_max_mb)))]
        delay = 2.0
        while not self._stop.is_set():
            started = time.monotonic()
            proc = self._start_child("app", command)
            if proc is None:
                return
            log.info("web app started (pid %d) on http://%s:%d", proc.pid, self.options.address, self.options.port)
            code = proc.wait()
            with self._children_lock:
                self._children.pop("app", None)
            if self._stop.is_set():
                return
            delay = 2.0 if time.monotonic() - started > 60 else min(delay * 2, 60.0)
            log.error("web app exited with status %s; restarting in %.0f s", code, delay)
            if self._stop.wait(delay):
                return

    # ------------------------------------------------------------------ children

    def _kb_command(self) -> list[str]:
        command = [sys.executable, "-m", "kb.cli", "-v"]
        if self.options.config_file:
            command += ["--config", str(self.options.config_file)]
        return command

    def child_env(self) -> dict[str, str]:
        """The environment of child processes: this process's, with the settings that locate everything."""
        env = dict(os.environ)
        env["HF_HUB_OFFLINE"] = "1"
        if self.options.config_file:
            env["KB_CONFIG"] = str(Path(self.options.config_file).resolve())
        for name in ("index_dir", "docs_dir"):
            env[f"KB_{name.upper()}"] = str(Path(getattr(self.settings, name)).expanduser().resolve())
        if is_set(self.settings.log_file):
            env["KB_LOG_FILE"] = str(Path(self.settings.log_file).expanduser().resolve())
        return env

    def _start_child(self, name: str, command: Sequence[str]) -> subprocess.Popen | None:
        with self._children_lock:
            if self._stop.is_set():
                return None
            proc = subprocess.Popen(list(command), env=self.child_env(), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                                    start_new_session=True)
            self._children[name] = proc
        child_log = logging.getLogger(f"kb.child.{name}")
        thread = threading.Thread(target=_pump, args=(proc, child_log), name=f"kb-{name}-log", daemon=True)
        thread.start()
        return proc


def _pump(proc: subprocess.Popen, child_log: logging.Logger) -> None:
    """Copy a child's output into the service log, line by line."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip():
            child_log.info("%s", line.rstrip())
    proc.stdout.close()


def _terminate(proc: subprocess.Popen, name: str) -> None:
    if proc.poll() is not None:
        return
    log.info("stopping %s (pid %d)", name, proc.pid)
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: reaches the children it started too
    except ProcessLookupError:
        return
    try:
        proc.wait(_GRACE_S)
    except subprocess.TimeoutExpired:
        log.warning("%s did not stop within %.0f s; killing it", name, _GRACE_S)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
