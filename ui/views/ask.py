"""Ask: a chat over the documents; answers stream in with numbered, checkable sources; conversations are kept
per user (the sidebar lists them; the URL names the open one, so a reload reopens it).

A new question is answered before the conversation above it is drawn again: its bubble and first words do not
wait for the earlier answers' panels (the page keeps showing them meanwhile)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from pathlib import Path

import streamlit as st

from kb.activity.store import TITLE_CHARS
from kb.errors import InvalidQuestion, KBError
from kb.text.questions import check_question
from kb.types import Turn
from ui import auth, render, resources

log = logging.getLogger(__name__)

s = resources.settings()
kb = resources.knowledge_base(s)
store = resources.store(s)
user = auth.signed_in()
audit = auth.audit(s)
_CONVERSATION_ID = re.compile(r"[1-9][0-9]{0,17}")  # what a stored conversation's id looks like in the URL


def may_read(path: str) -> bool:
    """Whether the signed-in user may open ``path`` now; broken or refused rules open nothing (fail closed)."""
    try:
        return kb.can_read(path, user)
    except KBError:
        return False


access = render.Access(may_read=may_read, downloaded=lambda path: audit.record(user, "download", documents=[path]),
                       media=resources.media_registry())
state = st.session_state
state.setdefault("session_id", uuid.uuid4().hex)
state.setdefault("turns", [])  # the open conversation: [{"question", "answer": Answer, "qid", "rating", "comment"}]
state.setdefault("conversation", None)  # its id in the app store (None until its first question)


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


def open_conversation(conversation_id: int) -> None:
    """Show one of the user's stored conversations (the URL keeps its id, so a reload shows it again)."""
    turns = store.conversation_turns(user.username, conversation_id)
    state.turns = [{"question": t.answer.question, "answer": t.answer, "qid": t.question_id, "rating": t.rating,
                    "comment": t.comment} for t in turns]
    state.conversation = conversation_id
    st.query_params["c"] = str(conversation_id)


def new_conversation() -> None:
    state.turns, state.conversation = [], None
    st.query_params.pop("c", None)


def rename_conversation(conversation_id: int, key: str) -> None:
    store.rename_conversation(user.username, conversation_id, state.get(key, ""))


def delete_conversation(conversation_id: int) -> None:
    store.delete_conversation(user.username, conversation_id)
    if state.conversation == conversation_id:
        new_conversation()
    st.toast("Conversation deleted.", icon=":material/delete:")


def conversation_from_url() -> str:
    """After a reload (or a shared link of one's own), reopen the conversation named in the URL; returns a
    notice when the link opens nothing (another user's id, a deleted one, or not an id at all: the same words
    for each, so a link says nothing about other people's conversations)."""
    wanted = st.query_params.get("c")
    if not wanted or wanted == str(state.conversation):
        return ""
    if _CONVERSATION_ID.fullmatch(wanted) and store.conversation(user.username, int(wanted)) is not None:
        open_conversation(int(wanted))
        return ""
    st.query_params.pop("c", None)
    return "That link does not open one of your conversations (it may have been deleted): here is a new one."


def conversation_list() -> None:
    """The sidebar's conversations: open one, start a new one, rename or delete the open one."""
    with st.sidebar:
        st.markdown("**Conversations**")
        st.button("New conversation", icon=":material/add_comment:", key="conv-new", on_click=new_conversation,
                  disabled=not state.turns, width="stretch")
        conversations = store.conversations(user.username, s.conversations_listed)
        for c in conversations:
            st.button(c.title, key=f"conv-{c.id}", type="secondary" if c.id == state.conversation else "tertiary",
                      on_click=open_conversation, args=(c.id,), width="stretch",
                      help=f"{c.turns} question{'s' if c.turns != 1 else ''}, last {render.ago(time.time() - c.updated_at)}")
        current = next((c for c in conversations if c.id == state.conversation), None)
        if current is None:
            return
        key = f"conv-title-{current.id}"
        st.text_input("Name of the open conversation", value=current.title, key=key, on_change=rename_conversation,
                      args=(current.id, key), max_chars=TITLE_CHARS)
        with st.popover("Delete this conversation", icon=":material/delete:", width="stretch"):
            st.caption("It leaves your list for good (the questions stay in the usage reports).")
            st.button("Delete", type="primary", key=f"conv-delete-{current.id}", on_click=delete_conversation,
                      args=(current.id,), icon=":material/delete:")


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
    if not chosen and not kinds:
        return None, {}
    return kb.filter(collections=chosen, suffixes=kinds), {"collections": chosen, "types": kinds}


def reading_label(passages: list) -> str:
    """'Reading 3 passages from leave_policy.pdf and faq.docx…'."""
    names = list(dict.fromkeys(h.chunk.name for h in passages))
    where = " and ".join(names) if len(names) <= 2 else f"{', '.join(names[:2])} and {len(names) - 2} more"
    count = len(passages)
    return f"Reading {count} passage{'s' if count != 1 else ''} from {where}…" if count else "No passage came close…"


def draw_turn(turn: dict, latest: bool) -> None:
    """One question and its answer with sources, Copy and 👍/👎."""
    with st.chat_message("user"):
        st.markdown(turn["question"])
    with st.chat_message("assistant"):
        answer_parts(turn, latest)


def answer_parts(turn: dict, latest: bool) -> None:
    answer, key = turn["answer"], str(turn["qid"])
    render.answer_body(answer, key=key, expand_first=latest, access=access, ocr_page=kb.ocr_page)
    if not answer.refused:
        render.copy_button(render.redacted(answer, may_read), key)
    render.feedback(turn["qid"], key, store.record_feedback, turn.get("rating"), turn.get("comment", ""))


def ask(question: str, where, filters: dict, started: float) -> None:
    """Run one question: show each stage as it happens, stream verified sentences, store the answer (in the open
    conversation, or a new one titled by the question), draw it in place, then redraw the page. ``started`` is
    when this page run began, just after the person pressed Enter: the answer's ``waited`` time (its footer)
    counts from there, as the person waits, not from when the library started on it."""
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        warm = resources.warmup(s)  # started after the first page was drawn; starts now if it was not
        if not warm.done.is_set():
            with st.spinner("Loading the language model (only after a restart)…"):
                warm.wait()
        stage = st.status("Searching the documents…", expanded=False)
        shown: list[str] = []
        box = st.empty()

        def on_stage(name: str, passages: list) -> None:
            if name == "read":
                stage.update(label=reading_label(passages))

        def on_text(piece: str) -> None:
            if not shown:
                stage.update(label="Checking each sentence against the passages…")
            shown.append(piece)
            box.markdown(" ".join(shown) + " ▌")

        history = [Turn(t["question"], t["answer"].text) for t in state.turns]
        # the "Reading N passages" stage costs a second retrieval (with the judge's reranking: about as long as
        # the whole quoted answer), so it is shown only where generating makes the wait long enough to need it
        stages = on_stage if s.answer_mode == "generate" else None
        try:
            answer = kb.ask(question, history=history, on_text=on_text, where=where, user=user, on_stage=stages)
        except KBError as exc:
            stage.update(label="Could not answer", state="error")
            box.error(str(exc))
            return
        stage.update(label=render.status_label(answer), state="complete")
        answer.timings["waited"] = time.perf_counter() - started
        version = kb.reader().folder.name
        conversation = state.conversation or store.start_conversation(user.username, question)
        qid = store.record_answer(answer, session=state.session_id, filters=filters, index_version=version,
                                  username=user.username, conversation=conversation)
        turn = {"question": question, "answer": answer, "qid": qid, "rating": None, "comment": ""}
        with box.container():  # the finished answer where the words streamed: the redrawn page looks the same
            answer_parts(turn, latest=True)
    audit.record_answer(user, answer)
    state.conversation = conversation
    st.query_params["c"] = str(conversation)
    state.turns.append(turn)
    st.rerun()


notice = conversation_from_url()
conversation_list()
where, filters = sidebar_filters()
st.title("Ask the company knowledge base")
intro, earlier, current, warning = st.container(), st.container(), st.container(), st.empty()
prompt = st.chat_input("Ask about policies, benefits, IT, travel…", max_chars=s.max_question_chars)
question = prompt if prompt is not None else state.pop("pending", None)
if notice:
    warning.info(notice, icon=":material/link_off:")
if question is not None:
    try:  # blank, wordless or too long: refused before anything is searched or recorded, as kb ask refuses it
        question = check_question(question, s)
    except InvalidQuestion as exc:
        warning.warning(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", icon=":material/edit_note:")
    else:
        with current:
            ask(question, where, filters, state.get("run_started") or time.perf_counter())

if not state.turns:
    with intro:
        st.markdown("Ask a question in plain words. Every answer cites the company documents it comes from: "
                    "open a source to see the exact passage and page. If the documents do not cover it, "
                    "you will be told, with the closest passages.")
        examples = example_questions(Path(s.docs_dir))
        if examples:
            st.caption("Try one of these:")
            for i, example in enumerate(examples):  # a click is asked in the run it starts (callbacks go first)
                st.button(example, key=f"example-{i}", icon=":material/help:", on_click=state.update,
                          kwargs={"pending": example})

with earlier:
    for i, turn in enumerate(state.turns):
        draw_turn(turn, latest=i == len(state.turns) - 1)
