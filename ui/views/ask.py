"""Ask: a chat over the documents; answers stream in with numbered, checkable sources."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import streamlit as st

from kb.errors import KBError
from kb.types import Turn
from ui import auth, render, resources

log = logging.getLogger(__name__)

s = resources.settings()
kb = resources.knowledge_base(s)
store = resources.store(s)
user = auth.signed_in()
audit = auth.audit(s)


def may_read(path: str) -> bool:
    """Whether the signed-in user may open ``path`` now; broken or refused rules open nothing (fail closed)."""
    try:
        return kb.can_read(path, user)
    except KBError:
        return False


access = render.Access(may_read=may_read, downloaded=lambda path: audit.record(user, "download", documents=[path]))
state = st.session_state
state.setdefault("session_id", uuid.uuid4().hex)
state.setdefault("turns", [])  # [{"question", "answer": Answer, "qid"}]


def example_questions(docs_dir: Path, limit: int = 3) -> list[str]:
    """A few example questions shipped with the documents (questions.jsonl), if any."""
    path = docs_dir / "questions.jsonl"
    out = []
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line) if line.strip() else {}
            if item.get("answerable", True) and not item.get("follow_up_of") and item.get("question"):
                out.append(item["question"])
            if len(out) >= limit:
                break
    except (OSError, ValueError):
        return []
    return out


def sidebar_filters():
    """Folder/collection and file-type filters (of the documents this user may read); retrieval applies them."""
    try:
        docs = [d for d in kb.documents() if d["status"] == "indexed" and kb.can_read(d["path"], user)]
    except KBError:
        docs = []
    collections = sorted({d["collection"] for d in docs if d["collection"]})
    types = sorted({d["type"] for d in docs})
    with st.sidebar:
        st.markdown("**Search only in**")
        chosen = st.multiselect("Folders", collections, key="filter_collections", placeholder="All folders")
        kinds = st.multiselect("File types", types, key="filter_types", placeholder="All file types")
        if state.turns and st.button("New conversation", icon=":material/add_comment:"):
            state.turns = []
            st.rerun()
    if not chosen and not kinds:
        return None, {}
    return kb.filter(collections=chosen, suffixes=kinds), {"collections": chosen, "types": kinds}


def ask(question: str, where, filters: dict) -> None:
    """Run one question: stream verified sentences, then store the answer and redraw the conversation."""
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        warm = resources.warmup(s)  # started after the first page was drawn; starts now if it was not
        if not warm.done.is_set():
            with st.spinner("Loading the language model (only after a restart)…"):
                warm.wait()
        shown: list[str] = []
        box = st.empty()
        box.caption("Searching the documents…")

        def on_text(piece: str) -> None:
            shown.append(piece)
            box.markdown(" ".join(shown) + " ▌")

        history = [Turn(t["question"], t["answer"].text) for t in state.turns]
        try:
            answer = kb.ask(question, history=history, on_text=on_text, where=where, user=user)
        except KBError as exc:
            box.error(str(exc))
            return
        version = kb.reader().folder.name
    qid = store.record_answer(answer, session=state.session_id, filters=filters, index_version=version)
    audit.record_answer(user, answer)
    state.turns.append({"question": question, "answer": answer, "qid": qid})
    st.rerun()


where, filters = sidebar_filters()
st.title("Ask the company knowledge base")

if not state.turns:
    st.markdown("Ask a question in plain words. Every answer cites the company documents it comes from: "
                "open a source to see the exact passage and page. If the documents do not cover it, "
                "you will be told, with the closest passages.")
    examples = example_questions(Path(s.docs_dir))
    if examples:
        st.caption("Try one of these:")
        for i, example in enumerate(examples):
            if st.button(example, key=f"example-{i}", icon=":material/help:"):
                state.pending = example

for i, turn in enumerate(state.turns):
    latest = i == len(state.turns) - 1
    with st.chat_message("user"):
        st.markdown(turn["question"])
    with st.chat_message("assistant"):
        render.answer_body(turn["answer"], key=str(turn["qid"]), expand_first=latest, access=access)
        render.feedback(turn["qid"], str(turn["qid"]), store.record_feedback)

prompt = st.chat_input("Ask about policies, benefits, IT, travel…")
pending = state.pop("pending", None)
if prompt or pending:
    ask(prompt or pending, where, filters)
