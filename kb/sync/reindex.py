"""``kb reindex`` (the nightly job), ``kb rollback`` and the run reports the admin page shows.

A reindex is a full reconcile of the documents folder (new, changed, deleted and renamed files) built as a
new index version beside the current one, which keeps serving until the new one is swapped in atomically.
If the embedding model or chunking settings changed, everything is rebuilt into a new version. With a gold
file configured, the new version is evaluated (retrieval only) and not swapped in when it is worse than the
current one by more than ``reindex_max_drop``. Every run writes ``<index_dir>/reports/reindex-*.json``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kb.embedding import Embedder, make_embedder
from kb.errors import ConfigError, IncompatibleIndex, IndexLocked, KBError
from kb.index.folder import IndexFolder
from kb.index.manifest import Manifest
from kb.index.version import tuned_embedder, write_atomic
from kb.index.writer import IndexWriter, Progress
from kb.retrieval.reader import VersionSearcher
from kb.settings import Settings, is_set
from kb.types import IngestReport

log = logging.getLogger(__name__)

REPORTS_DIR = "reports"
KEEP_REPORTS = 200
GATE_METRICS = ("retrieval_hit@5", "retrieval_mrr@10")


@dataclass
class GateResult:
    """The gold-file comparison of a candidate version with the current one."""

    gold_file: str
    max_drop: float
    current: dict | None = None  # retrieval summary of the version in use (None: there is none)
    candidate: dict | None = None
    passed: bool = True
    forced: bool = False
    reason: str = ""
    seconds: float = 0.0


@dataclass
class _Candidate:
    """What the gate saw under the writer lock: the new version, and the version it replaces."""

    manifest: Manifest | None = None
    base: str | None = None
    base_manifest: Manifest | None = None
    gate: GateResult | None = None


def reports_dir(settings: Settings) -> Path:
    return Path(settings.index_dir).expanduser().resolve() / REPORTS_DIR


@dataclass
class ReindexReport:
    """One ``kb reindex`` run; ``to_json`` is the documented report (``--json`` and ``reports/*.json``)."""

    index: str
    folder: str
    started_at: float
    pid: int = field(default_factory=os.getpid)
    status: str = "running"  # published | unchanged | rejected | failed | locked
    finished_at: float | None = None
    version_before: str | None = None
    version_after: str | None = None
    rebuild: bool = False
    rebuild_reason: str | None = None
    ingest: IngestReport | None = None
    changes: dict = field(default_factory=dict)
    totals: dict = field(default_factory=dict)  # documents and chunks of the version in use afterwards
    gate: GateResult | None = None
    error: str | None = None
    total_seconds: float = 0.0

    def to_json(self) -> dict:
        r = self.ingest
        counts = {**{k: len(v) for k, v in self.changes.items()},
                  "unchanged": len(r.unchanged), "skipped": len(r.skipped), "chunks_added": r.chunks_added,
                  "pages_parsed": r.pages_parsed, **self.totals} if r else {}
        durations = {"total_seconds": round(self.total_seconds, 3)}
        if r:
            durations.update(parse_seconds=round(r.parse_seconds, 3), embed_seconds=round(r.embed_seconds, 3),
                             eval_seconds=round(self.gate.seconds, 3) if self.gate else 0.0)
        return {
            "kind": "reindex", "status": self.status, "pid": self.pid, "started_at": _stamp(self.started_at),
            "finished_at": _stamp(self.finished_at) if self.finished_at else None, "index": self.index,
            "folder": self.folder, "version_before": self.version_before, "version_after": self.version_after,
            "rebuild": self.rebuild, "rebuild_reason": self.rebuild_reason, "counts": counts,
            "durations": durations,
            "failures": [{"path": s.path, "reason": s.reason} for s in r.skipped] if r else [],
            "changes": self.changes, "gate": self.gate.__dict__ if self.gate else None, "error": self.error,
        }


def reindex(writer: IndexWriter, folder: str | Path | None = None, wait: bool | float = False,
            force: bool = False, rebuild: bool = False, progress: Progress | None = None) -> ReindexReport:
    """Reconcile the index with ``folder`` (default: setting docs_dir) into a new version; returns the report.

    Raises IndexLocked when another writer holds the index (after waiting, with ``wait``), and whatever
    stopped the run; the report is written in every case. ``force`` swaps the new version in even when the
    gold gate would reject it.
    """
    settings = writer.settings
    folder = Path(folder or settings.docs_dir).expanduser().resolve()
    started = time.perf_counter()
    report = ReindexReport(index=str(Path(settings.index_dir).resolve()), folder=str(folder),
                           started_at=time.time(), rebuild=rebuild)
    path = _report_path(settings)
    _write_report(path, report)
    try:
        if not folder.is_dir():
            raise ConfigError(f"documents folder {folder} does not exist; create it or set docs_dir")
        current = writer.folder.current()  # provisional: the writer lock is not held yet
        report.version_before = current.name if current else None
        candidate = _Candidate()
        gate = _gate(writer, candidate, force)
        try:
            result = writer.run([folder], rebuild=rebuild, progress=progress, gate=gate, wait=wait)
        except IncompatibleIndex as exc:  # another model or chunking: rebuild everything into a new version
            log.warning("%s; rebuilding everything into a new version", exc)
            report.rebuild, report.rebuild_reason = True, str(exc).split(":")[0]
            result = writer.run([folder], rebuild=True, progress=progress, gate=gate, wait=wait)
        report.ingest = result
        report.version_after = result.version or None
        built = candidate.manifest is not None
        report.version_before = candidate.base if built else report.version_after
        rejected = candidate.gate is not None and not candidate.gate.passed and not candidate.gate.forced
        report.status = "rejected" if rejected else "published" if built else "unchanged"
        report.gate = candidate.gate
        report.changes = _changes(candidate.base_manifest, candidate.manifest, folder) if built else {
            "new": [], "changed": [], "removed": [], "renamed": []}
        report.totals = _totals(writer.folder, report.version_after)
        if rejected:
            log.warning("reindex: new version rejected by the gold gate (%s); %s stays in use",
                        candidate.gate.reason, report.version_before)
        return report
    except IndexLocked as exc:
        report.status, report.error = "locked", str(exc)
        raise
    except BaseException as exc:  # KeyboardInterrupt/SystemExit too: the report must say the run stopped
        report.status, report.error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        report.finished_at = time.time()
        report.total_seconds = time.perf_counter() - started
        _write_report(path, report)
        _prune_reports(settings)
        log.info("reindex %s: %s -> %s in %.1f s (report %s)", report.status, report.version_before,
                 report.version_after, report.total_seconds, path)


def rollback(writer: IndexWriter, force: bool = False, wait: bool | float = False) -> dict:
    """Point readers back at the previous kept version; returns {"index", "from", "to", "report"}."""
    folder = writer.folder
    with folder.writer_lock(wait):
        current = folder.require_current()
        previous = folder.previous()
        if previous is None:
            raise KBError(f"index at {folder.root} keeps no version older than {current.name}; nothing to roll "
                          f"back to (keep_versions={writer.settings.keep_versions})")
        manifest = Manifest.read(previous)
        if not force:
            try:
                manifest.check_compatible(writer.settings.embedding_model, writer.settings.bm25_language,
                                          folder.root, writer.chunking())
            except IncompatibleIndex as exc:
                raise IncompatibleIndex(f"{previous.name} cannot be read with the current settings ({exc}); "
                                        "change the settings back first, or pass --force") from None
        folder.point_to(previous)
    result = {"kind": "rollback", "status": "done", "index": str(folder.root.resolve()), "from": current.name,
              "to": previous.name, "started_at": _stamp(time.time()), "pid": os.getpid()}
    path = _report_path(writer.settings, "rollback")
    _write_report(path, result)
    log.warning("rolled back index %s from %s to %s", folder.root, current.name, previous.name)
    return {**result, "report": str(path)}


def recent_reports(settings: Settings, limit: int = 20) -> list[dict]:
    """The newest reindex and rollback reports, newest first (what the admin page shows).

    A run that was killed before it finished is reported with status "interrupted".
    """
    folder = reports_dir(settings)
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json"), key=lambda p: p.name.split("-", 1)[-1], reverse=True):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("status") == "running" and not _alive(data.get("pid")):
            data["status"] = "interrupted"
            data["error"] = data.get("error") or "the run stopped before it finished (killed or crashed)"
        data["report"] = str(path)
        out.append(data)
        if len(out) >= limit:
            break
    return out


# ------------------------------------------------------------------------------------------ gold gate

def _gate(writer: IndexWriter, candidate: _Candidate, force: bool) -> Callable[[Path], bool]:
    settings = writer.settings

    def gate(tmp: Path) -> bool:  # runs under the writer lock, before the swap
        candidate.manifest = Manifest.read(tmp)
        current = writer.folder.current()
        candidate.base = current.name if current else None
        candidate.base_manifest = Manifest.read(current) if current else None
        if not is_set(settings.gold_file):
            return True
        started = time.perf_counter()
        result = GateResult(gold_file=str(settings.gold_file), max_drop=settings.reindex_max_drop, forced=force)
        candidate.gate = result
        result.candidate = _evaluate(tmp, settings, writer.embedder)
        if current is None:
            result.reason = "no current version to compare with"
        else:
            try:
                result.current = _evaluate(*_settings_for(current, settings,
                                                            writer.embedders.get(tuned_embedder(current))))
            except KBError as exc:
                result.reason = f"current version {current.name} could not be evaluated ({exc}); not compared"
        if result.current is not None:
            drops = {m: round((result.current.get(m) or 0.0) - (result.candidate.get(m) or 0.0), 4)
                     for m in GATE_METRICS}
            worse = {m: d for m, d in drops.items() if d > settings.reindex_max_drop + 1e-9}
            result.passed = not worse
            result.reason = (", ".join(f"{m} dropped by {d:.4f}" for m, d in worse.items())
                             + f" (more than reindex_max_drop={settings.reindex_max_drop})" if worse
                             else f"no metric dropped by more than {settings.reindex_max_drop}")
        result.seconds = round(time.perf_counter() - started, 3)
        return result.passed or force

    return gate


def _settings_for(version: Path, settings: Settings, embedder: Embedder) -> tuple[Path, Settings, Embedder]:
    """Settings and embedder that read ``version`` (its own model, e.g. before a model change)."""
    manifest = Manifest.read(version)
    if manifest.embedding_model == settings.embedding_model:
        return version, settings.replace(bm25_language=manifest.bm25_language), embedder
    # an untagged id is a torch one; a tagged one ("#onnx-int8") sets its own backend
    other = settings.replace(embedding_model=manifest.embedding_model, embedding_backend="torch",
                             bm25_language=manifest.bm25_language)
    return version, other, make_embedder(other)


def _evaluate(version: Path, settings: Settings, embedder: Embedder) -> dict:
    from kb.answering.evaluate import run_eval

    gold = Path(settings.gold_file).expanduser()
    if not gold.is_file():
        raise ConfigError(f"gold_file {gold} does not exist; fix the setting or unset it (gold_file = \"\")")
    searcher = VersionSearcher(version, settings, embedder)
    try:
        return run_eval(gold, searcher.search)["summary"]
    finally:
        searcher.close()


# ------------------------------------------------------------------------------------------ report helpers

def _changes(before: Manifest | None, after: Manifest, folder: Path) -> dict:
    old = {p: e for p, e in (before.files if before else {}).items() if Path(p).is_relative_to(folder)}
    new = {p: e for p, e in after.files.items() if Path(p).is_relative_to(folder)}
    removed = sorted(set(old) - set(new))
    added = sorted(set(new) - set(old))
    removed_by_hash = {old[p].hash: p for p in removed}
    renamed = [{"from": removed_by_hash[new[p].hash], "to": p} for p in added if new[p].hash in removed_by_hash]
    moved_to = {r["to"] for r in renamed}
    moved_from = {r["from"] for r in renamed}
    return {"new": [p for p in added if p not in moved_to],
            "changed": sorted(p for p in set(old) & set(new) if old[p].hash != new[p].hash),
            "removed": [p for p in removed if p not in moved_from],
            "renamed": renamed}


def _totals(folder: IndexFolder, version: str | None) -> dict:
    if not version:
        return {"documents": 0, "chunks": 0}
    manifest = Manifest.read(folder.versions / version)
    documents = len(manifest.indexed)
    return {"documents": documents, "chunks": manifest.chunks}


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t))


def _report_path(settings: Settings, kind: str = "reindex") -> Path:
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(now)) + f".{int(now * 1e6) % 1_000_000:06d}"
    return reports_dir(settings) / f"{kind}-{stamp}.json"


def _write_report(path: Path, report: ReindexReport | dict) -> None:
    """Write a run's report; a report that cannot be written (a full disk) is logged, never raised over the
    run's own outcome."""
    data = report.to_json() if isinstance(report, ReindexReport) else report
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(data, indent=1, ensure_ascii=False))
    except OSError as exc:
        log.warning("could not write the run report %s (%s)", path, exc)


def _prune_reports(settings: Settings) -> None:
    reports = sorted(reports_dir(settings).glob("*.json"), key=lambda p: p.name.split("-", 1)[-1])
    for old in reports[:-KEEP_REPORTS]:
        old.unlink(missing_ok=True)


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, TypeError, ValueError):
        return False
    except PermissionError:
        return True
    return True
