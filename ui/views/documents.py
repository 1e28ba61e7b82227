"""Documents (admins): upload, the table of every document, delete, re-index now, the ingest log."""

from __future__ import annotations

import logging
import math
from datetime import datetime
from pathlib import Path

import streamlit as st

from ingest.formats import UPLOAD_SUFFIXES
from kb.errors import IndexLocked, KBError
from kb.sync.docfolder import delete_document, save_upload
from kb.sync.uploads import UploadRejected, check_upload
from ui import auth, resources

log = logging.getLogger(__name__)

s = resources.settings()
kb = resources.knowledge_base(s)
store = resources.store(s)
admin = auth.admin_only()
docs_dir = Path(s.docs_dir)
NEW_COLLECTION = "New folder…"  # plain text: an emoji here rendered as a box on some systems
# the picker takes whole megabytes; the label says the same number, and save_upload checks upload_max_mb itself
UPLOAD_LIMIT_MB = max(1, math.ceil(s.upload_max_mb))


def when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else ""


def flash(kind: str, text: str) -> None:
    """A message shown after the page redraws with the new index (success, warning or error)."""
    st.session_state.setdefault("flash", []).append((kind, text))


def reindex(action: str, detail: str, keyword_first: bool = False) -> bool:
    """Index the documents folder now, with a progress bar; the outcome goes to the ingest log.

    ``keyword_first`` (uploads) makes new files searchable by keyword before their passages are embedded."""
    bar = st.progress(0.0, text="Starting…")
    names = {"parse": "Reading documents", "embed": "Embedding passages", "index": "Writing the index"}

    def progress(stage: str, done: int, total: int) -> None:
        bar.progress(min(done / total, 1.0) if total else 1.0, text=f"{names.get(stage, stage)}: {done}/{total}")

    try:
        report = kb.ingest([docs_dir], progress=progress, keyword_first=keyword_first)
    except IndexLocked as exc:
        bar.empty()
        store.log_ingest(action, f"{detail}: {exc}", ok=False, username=admin.username)
        flash("warning", f"{exc}. The file is in the documents folder; it is indexed as soon as that run ends.")
        return False
    except KBError as exc:
        bar.empty()
        store.log_ingest(action, f"{detail}: {exc}", ok=False, username=admin.username)
        flash("error", str(exc))
        return False
    bar.progress(1.0, text="Done")
    counts = report.to_json()["counts"]
    summary = (f"{counts['indexed']} indexed, {counts['removed']} removed, {counts['skipped']} skipped, "
               f"{counts['unchanged']} unchanged in {report.total_seconds:.1f} s")
    store.log_ingest(action, f"{detail}: {summary}", ok=True, report=report.to_json(), username=admin.username)
    for skipped in report.skipped:
        flash("warning", f"{Path(skipped.path).name} was not indexed: {skipped.reason}")
    flash("success", f"{detail}. {summary}.")
    return True


st.title("Documents")
for kind, text in st.session_state.pop("flash", []):
    getattr(st, kind)(text)
try:
    documents = kb.documents()
except KBError:
    documents = []
indexed = [d for d in documents if d["status"] == "indexed"]
skipped = [d for d in documents if d["status"] != "indexed"]
cols = st.columns(4)
cols[0].metric("Documents", len(indexed))
cols[1].metric("Passages", sum(d["chunks"] or 0 for d in indexed))
cols[2].metric("Skipped files", len(skipped))
cols[3].metric("Pages", sum(d["pages"] or 0 for d in indexed))
pending = [d["name"] for d in documents if d.get("vectors_pending")]
if pending:  # published keyword-first: found by keyword search now, by meaning once the next version is out
    st.info(f"Vectors pending for {len(pending)} file(s) ({', '.join(pending[:5])}{'…' if len(pending) > 5 else ''}): "
            "searchable by keyword now; search by meaning follows when their passages are embedded.",
            icon=":material/hourglass_top:")
st.caption(f"Watched folder: `{docs_dir.resolve()}` — files added there are indexed the same way as uploads.")
for problem in kb.access_problems():  # refused rules stop every search until fixed; warnings are worth a look
    if problem.refuse:
        st.error(f"Access rules refused, searches are stopped: {problem.message}", icon=":material/lock:")
    else:
        st.warning(f"Access rules: {problem.message}", icon=":material/rule:")

# stateful tabs: a redraw (after a delete, a re-index, an upload) stays on the tab the admin was on
upload_tab, table_tab, log_tab = st.tabs(["Upload", "All documents", "Ingest log"], key="documents_tab")


def rejection(f) -> str:
    """Why a picked file will not be accepted ("" when it will), checked as soon as it is picked."""
    try:
        check_upload(f.name, f.getvalue()[:8192], f.size, s)
    except UploadRejected as exc:
        return str(exc)
    return ""


with upload_tab:
    collections = sorted({d["collection"] for d in documents if d["collection"]} |
                         {p.name for p in docs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")}
                         if docs_dir.is_dir() else set())
    # every type is let through the picker, whose own refusals only show on hover: the reasons are ours, shown
    # in words under it for the files picked now (a new pick replaces them)
    files = st.file_uploader(f"PDF, Word (.docx), text or Markdown, up to {UPLOAD_LIMIT_MB} MB each",
                             accept_multiple_files=True, help=f"Accepted: {', '.join(UPLOAD_SUFFIXES)}",
                             key=f"uploads-{st.session_state.get('upload_round', 0)}", max_upload_size=UPLOAD_LIMIT_MB)
    rejected = {f.name: why for f in files or [] if (why := rejection(f))}
    for name, why in rejected.items():
        st.error(f"Rejected: {why}", icon=":material/block:")
    accepted = [f for f in files or [] if f.name not in rejected]
    left, right = st.columns(2)
    choice = left.selectbox("Folder", collections + [NEW_COLLECTION], key="upload_collection", index=None,
                            placeholder="Choose a folder")
    collection = right.text_input("New folder name", key="upload_new_collection") \
        if choice == NEW_COLLECTION else choice
    replace = st.checkbox("Replace files that already exist", key="upload_replace")
    if accepted and not collection:
        st.caption("Choose the folder the files belong in (it decides who may read them).")
    if st.button("Upload and index", type="primary", disabled=not (accepted and collection),
                 icon=":material/upload:"):
        saved = []
        for f in files:
            try:
                saved.append(save_upload(f.name, f.getvalue(), s, collection or "", replace))
            except UploadRejected as exc:
                flash("error", f"Rejected: {exc}")
                store.log_ingest("upload", f"rejected {f.name}: {exc}", ok=False, username=admin.username)
        if saved:
            names = ", ".join(p.name for p in saved)
            reindex("upload", f"Uploaded {names}", keyword_first=s.keyword_first)
        # a new widget key empties the picker: saved files are in the folder, rejected ones must be fixed and
        # chosen again (left there, they would be rejected again with the next upload)
        st.session_state.upload_round = st.session_state.get("upload_round", 0) + 1
        st.rerun()

with table_tab:
    rows = [{"Name": d["name"], "Folder": d["collection"] or "(top)", "Type": d["type"],
             "Pages": str(d["pages"] or "—") + (f" ({len(d['ocr_pages'])} read by OCR)" if d.get("ocr_pages") else ""),
             "Passages": d["chunks"],
             "Status": "indexed, vectors pending" if d.get("vectors_pending") else d["status"],
             "Warnings / skip reason": d["reason"] or "; ".join(d["warnings"]),
             "Last indexed": when(d["indexed_at"])} for d in documents]
    st.dataframe(rows, hide_index=True, width="stretch")
    if st.button("Re-index now", icon=":material/refresh:"):
        reindex("reindex", "Re-indexed the documents folder")
        st.rerun()
    st.subheader("Delete a document")
    inside = [d for d in documents if Path(d["path"]).resolve().is_relative_to(docs_dir.resolve())]
    labels = {f"{d['collection'] + '/' if d['collection'] else ''}{d['name']}": d["path"] for d in inside}
    target = st.selectbox("Document", list(labels), index=None, placeholder="Choose a document", key="delete_doc")
    sure = st.checkbox("Yes, delete the file and remove it from search", key="delete_sure")
    if st.button("Delete", type="primary", disabled=not (target and sure), icon=":material/delete:"):
        try:
            delete_document(labels[target], s)
        except KBError as exc:
            flash("error", str(exc))
        else:
            reindex("delete", f"Deleted {target}")
            for key in ("delete_doc", "delete_sure"):
                st.session_state.pop(key, None)
        st.rerun()

with log_tab:
    entries = [{"When": when(e["at"]), "Who": e["user"] or "—", "Action": e["action"],
                "Result": "ok" if e["ok"] else "failed", "Details": e["detail"]} for e in store.recent_ingests(30)]
    try:
        from kb.sync.reindex import recent_reports

        for r in recent_reports(s, 20):
            counts = ", ".join(f"{v} {k}" for k, v in (r.get("counts") or {}).items() if v)
            entries.append({"When": str(r.get("started_at") or "").replace("T", " ")[:16], "Who": "kb service",
                            "Action": f"service {r.get('kind', 'reindex')}", "Result": str(r.get("status", "")),
                            "Details": r.get("error") or counts or str(r.get("report", ""))})
    except Exception as exc:  # the service module is optional (built in parallel); show our own log anyway
        log.info("no reindex reports: %s", exc)
    entries.sort(key=lambda e: e["When"], reverse=True)
    if entries:
        st.dataframe(entries, hide_index=True, width="stretch")
    else:
        st.caption("Nothing has been indexed from the app yet.")
