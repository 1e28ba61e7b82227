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

from kb.errors import ConfigError, IncompatibleIndex, IndexLocked, KBError
from kb.ingestor import Ingestor, Progress, chunking_settings
from kb.settings import Settings, is_set
from kb.store import IndexFolder, Manifest

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


def reindex(kb, folder: str | Path | None = None, wait: bool | float = False, force: bool = False,
            rebuild: bool = False, progress: Progress | None = None) -> dict:
    """Reconcile the index with ``folder`` (default: setting docs_dir) into a new version; returns the report.

    Raises IndexLocked when another writer holds the index (after waiting, with ``wait``), and whatever
    stopped the run; the report is written in every case. ``force`` swaps the new version in even when the
    gold gate would reject it.
    """
    settings: Settings = kb.settings
    folder = Path(folder or settings.docs_dir).expanduser().resolve()
    started = time.perf_counter()
    report = {
        "kind": "reindex", "status": "running", "pid": os.getpid(),
        "started_at": _stamp(time.time()), "finished_at": None,
        "index": str(Path(settings.index_dir).resolve()), "folder": str(folder),
        "version_before": None, "version_after": None, "rebuild": rebuild, "rebuild_reason": None,
        "counts": {}, "durations": {}, "failures": [], "changes": {}, "gate": None, "error": None,
    }
    path = _report_path(settings)
    _write_report(path, report)
    try:
        if not folder.is_dir():
            raise ConfigError(f"documents folder {folder} does not exist; create it or set docs_dir")
        current = kb.folder.current()  # provisional: the writer lock is not held yet
        report["version_before"] = current.name if current else None
        candidate = _Candidate()
        gate = _gate(kb, candidate, force)
        ingestor = Ingestor(kb.folder, settings, kb.embedder)
        try:
            result = ingestor.run([folder], rebuild=rebuild, progress=progress, gate=gate, wait=wait)
        except IncompatibleIndex as exc:  # another model or chunking: rebuild everything into a new version
            log.warning("%s; rebuilding everything into a new version", exc)
            report["rebuild"], report["rebuild_reason"] = True, str(exc).split(":")[0]
            result = ingestor.run([folder], rebuild=True, progress=progress, gate=gate, wait=wait)
        report["version_after"] = result.version or None
        built = candidate.manifest is not None
        report["version_before"] = candidate.base if built else report["version_after"]
        rejected = candidate.gate is not None and not candidate.gate.passed and not candidate.gate.forced
        report["status"] = "rejected" if rejected else "published" if built else "unchanged"
        report["gate"] = candidate.gate.__dict__ if candidate.gate else None
        report["changes"] = _changes(candidate.base_manifest, candidate.manifest, folder) if built else {
            "new": [], "changed": [], "removed": [], "renamed": []}
        report["failures"] = [{"path": s.path, "reason": s.reason} for s in result.skipped]
        report["counts"] = {
            **{k: len(v) for k, v in report["changes"].items()},
            "unchanged": len(result.unchanged), "skipped": len(result.skipped),
            "chunks_added": result.chunks_added, "pages_parsed": result.pages_parsed,
            **_totals(kb.folder, report["version_after"]),
        }
        report["durations"] = {"total_seconds": 0.0, "parse_seconds": round(result.parse_seconds, 3),
                               "embed_seconds": round(result.embed_seconds, 3),
                               "eval_seconds": round(candidate.gate.seconds, 3) if candidate.gate else 0.0}
        if rejected:
            log.warning("reindex: new version rejected by the gold gate (%s); %s stays in use",
                        candidate.gate.reason, report["version_before"])
        return report
    except IndexLocked as exc:
        report["status"], report["error"] = "locked", str(exc)
        raise
    except BaseException as exc:  # KeyboardInterrupt/SystemExit too: the report must say the run stopped
        report["status"], report["error"] = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        report["finished_at"] = _stamp(time.time())
        report["durations"]["total_seconds"] = round(time.perf_counter() - started, 3)
        _write_report(path, report)
        _prune_reports(settings)
        log.info("reindex %s: %s -> %s in %.1f s (report %s)", report["status"], report["version_before"],
                 report["version_after"], report["durations"]["total_seconds"], path)


def rollback(kb, force: bool = False, wait: bool | float = False) -> dict:
    """Point readers back at the previous kept version; returns {"index", "from", "to", "report"}."""
    folder: IndexFolder = kb.folder
    with folder.writer_lock(wait):
        current = folder.require_current()
        previous = folder.previous()
        if previous is None:
            raise KBError(f"index at {folder.root} keeps no version older than {current.name}; nothing to roll "
                          f"back to (keep_versions={kb.settings.keep_versions})")
        manifest = Manifest.read(previous)
        if not force:
            try:
                manifest.check_compatible(kb.settings.embedding_model, kb.settings.bm25_language, folder.root,
                                          chunking_settings(kb.settings, kb.embedder))
            except IncompatibleIndex as exc:
                raise IncompatibleIndex(f"{previous.name} cannot be read with the current settings ({exc}); "
                                        "change the settings back first, or pass --force") from None
        folder.point_to(previous)
    result = {"kind": "rollback", "status": "done", "index": str(folder.root.resolve()), "from": current.name,
              "to": previous.name, "started_at": _stamp(time.time()), "pid": os.getpid()}
    path = _report_path(kb.settings, "rollback")
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

class _VersionSearch:
    """Just enough of a KnowledgeBase for a retrieval-only evaluation of one version folder."""

    def __init__(self, folder: Path, settings: Settings, embedder):
        from kb.searcher import IndexReader

        self.settings = settings
        self.embedder = embedder
        self.reader = IndexReader(folder, settings)

    def search(self, query: str, k: int = 5):
        if not query.strip():
            return []
        return self.reader.search(query, self.embedder.encode([query])[0], k)

    def close(self) -> None:
        self.reader.close()


def _gate(kb, candidate: _Candidate, force: bool) -> Callable[[Path], bool]:
    settings: Settings = kb.settings

    def gate(tmp: Path) -> bool:  # runs under the writer lock, before the swap
        candidate.manifest = Manifest.read(tmp)
        current = kb.folder.current()
        candidate.base = current.name if current else None
        candidate.base_manifest = Manifest.read(current) if current else None
        if not is_set(settings.gold_file):
            return True
        started = time.perf_counter()
        result = GateResult(gold_file=str(settings.gold_file), max_drop=settings.reindex_max_drop, forced=force)
        candidate.gate = result
        result.candidate = _evaluate(tmp, settings, kb.embedder)
        if current is None:
            result.reason = "no current version to compare with"
        else:
            try:
                result.current = _evaluate(*_settings_for(current, settings, kb.embedder))
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


def _settings_for(version: Path, settings: Settings, embedder) -> tuple[Path, Settings, object]:
    """Settings and embedder that read ``version`` (its own model, e.g. before a model change)."""
    manifest = Manifest.read(version)
    if manifest.embedding_model == settings.embedding_model:
        return version, settings.replace(bm25_language=manifest.bm25_language), embedder
    from kb.embedder import SentenceTransformerEmbedder

    other = settings.replace(embedding_model=manifest.embedding_model, bm25_language=manifest.bm25_language)
    return version, other, SentenceTransformerEmbedder(manifest.embedding_model, settings.device,
                                                       settings.embedding_batch_size)


def _evaluate(version: Path, settings: Settings, embedder) -> dict:
    from kb.evaluate import run_eval

    gold = Path(settings.gold_file).expanduser()
    if not gold.is_file():
        raise ConfigError(f"gold_file {gold} does not exist; fix the setting or unset it (gold_file = \"\")")
    searcher = _VersionSearch(version, settings, embedder)
    try:
        return run_eval(searcher, gold, retrieval_only=True)["summary"]
    finally:
        searcher.close()


# ------------------------------------------------------------------------------------------ report helpers

def _changes(before: Manifest | None, after: Manifest, folder: Path) -> dict:
    old = {p: e for p, e in (before.files if before else {}).items() if Path(p).is_relative_to(folder)}
    new = {p: e for p, e in after.files.items() if Path(p).is_relative_to(folder)}
    removed = sorted(set(old) - set(new))
    added = sorted(set(new) - set(old))
    removed_by_hash = {old[p].get("hash"): p for p in removed}
    renamed = [{"from": removed_by_hash[new[p].get("hash")], "to": p} for p in added
               if new[p].get("hash") in removed_by_hash]
    moved_to = {r["to"] for r in renamed}
    moved_from = {r["from"] for r in renamed}
    return {"new": [p for p in added if p not in moved_to],
            "changed": sorted(p for p in set(old) & set(new) if old[p].get("hash") != new[p].get("hash")),
            "removed": [p for p in removed if p not in moved_from],
            "renamed": renamed}


def _totals(folder: IndexFolder, version: str | None) -> dict:
    if not version:
        return {"documents": 0, "chunks": 0}
    manifest = Manifest.read(folder.versions / version)
    documents = sum(1 for e in manifest.files.values() if e.get("status") == "indexed")
    return {"documents": documents, "chunks": manifest.chunks}


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t))


def _report_path(settings: Settings, kind: str = "reindex") -> Path:
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(now)) + f".{int(now * 1e6) % 1_000_000:06d}"
    return reports_dir(settings) / f"{kind}-{stamp}.json"


def _write_report(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


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
