"""Rendering helpers: answers, citation chips, source panels, refusals, feedback."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import streamlit as st

from kb.types import Answer, Citation, Hit

MIME = {".pdf": "application/pdf", ".txt": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown",
        ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
REFUSAL_TITLE = "Not found in the documents"


def where_label(name: str, page: int | None, heading: str) -> str:
    """'leave_policy.pdf · page 2 · 2 Annual leave > 2.1 Entitlement'."""
    return " · ".join(p for p in (name, f"page {page}" if page else "", heading) if p)


def ago(seconds: float) -> str:
    """A short human age: 'just now', '5 min ago', '3 h ago', '2 days ago'."""
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def highlight(text: str, quote: str, context: int = 350) -> str:
    """HTML of ``text`` with ``quote`` marked (whitespace-insensitive), trimmed to ``context`` characters
    either side of it; plain escaped text if the quote is not found."""
    words = quote.split()
    match = re.search(r"\s+".join(re.escape(w) for w in words), text) if words else None
    if not match:
        return html.escape(text)
    start, end = match.start(), match.end()
    before, after = text[max(0, start - context):start], text[end:end + context]
    if start > context:  # cut at a line or word boundary, and say so
        cut = max(before.find("\n"), before.find(" "))
        before = "…" + before[cut + 1:] if cut >= 0 else "…" + before
    if end + context < len(text):
        cut = max(after.rfind("\n"), after.rfind(" "))
        after = (after[:cut] if cut > 0 else after) + "…"
    return (html.escape(before) + "<mark class='kb-quote'>" + html.escape(match.group(0)) + "</mark>" +
            html.escape(after))


def chips(citations: list[Citation]) -> None:
    """The answer's sources as a row of numbered chips."""
    st.markdown(" ".join(f":blue-badge[**{c.n}** {_badge_text(where_label(c.name, c.page, ''))}]"
                         for c in citations))


def _badge_text(text: str) -> str:
    return text.replace("[", "(").replace("]", ")")


@st.cache_data(show_spinner=False, max_entries=64)
def _page_picture(path: str, page: int, quote: str, mtime: float, whole: bool):
    from ui.pdf_preview import focus, render_page

    picture = render_page(path, page, quote)
    return picture.image if whole else focus(picture)


@dataclass(frozen=True)
class Access:
    """What the signed-in reader may open, and the audit of what they download."""

    may_read: Callable[[str], bool]
    downloaded: Callable[[str], None]


def source_panel(citation: Citation, hits: list[Hit], key: str, access: Access | None = None) -> None:
    """File, page and heading; the passage with the quote highlighted; the page picture; a download.

    ``access`` re-checks the reader's rights when the panel is drawn (rules may have changed since the answer)
    and audits downloads."""
    if access is not None and not access.may_read(citation.path):
        st.caption("You no longer have access to this document.")
        return
    chunk = next((h.chunk for h in hits if h.chunk.chunk_id == citation.chunk_id), None)
    st.markdown(f"**{citation.name}**" + (f" — page {citation.page}" if citation.page else "") +
                (f"  \n{citation.heading}" if citation.heading else ""))
    passage = chunk.text if chunk else citation.quote
    path = Path(citation.path)
    is_pdf = path.suffix.lower() == ".pdf" and citation.page and path.is_file()
    text_col, page_col = st.columns([4, 5]) if is_pdf else (st.container(), None)
    text_col.markdown(f"<div class='kb-passage'>{highlight(passage, citation.quote)}</div>",
                      unsafe_allow_html=True)
    if not path.is_file():
        st.caption("The original file is no longer in the documents folder.")
        return
    if is_pdf:
        with page_col:
            whole = st.toggle("Whole page", key=f"whole-{key}")
            try:
                st.image(_page_picture(str(path), citation.page, citation.quote, path.stat().st_mtime, whole),
                         caption=f"Page {citation.page} of {citation.name}, quote highlighted", width="stretch")
            except Exception as exc:  # a damaged or changed PDF must not break the answer
                st.caption(f"Could not show page {citation.page}: {exc}")
    if path.is_file():
        text_col.download_button(f"Download {citation.name}", data=path.read_bytes(), file_name=path.name,
                                 mime=MIME.get(path.suffix.lower(), "application/octet-stream"), key=f"dl-{key}",
                                 icon=":material/download:",
                                 on_click=access.downloaded if access else None, args=(str(path),))


def closest_passages(hits: list[Hit], key: str, limit: int = 3) -> None:
    """What a refusal shows instead of an answer: the nearest passages, so the user can judge."""
    if not hits:
        st.caption("No passage came close.")
        return
    st.markdown("**Closest passages**")
    for i, hit in enumerate(hits[:limit]):
        c = hit.chunk
        with st.expander(where_label(c.name, c.page, c.heading)):
            st.markdown(f"<div class='kb-passage'>{html.escape(c.text)}</div>", unsafe_allow_html=True)


def answer_body(answer: Answer, key: str, expand_first: bool, access: Access | None = None) -> None:
    """A finished answer: text, chips and a panel per source; a refusal looks different."""
    if answer.refused:
        st.markdown(f"<div class='kb-refusal'><b>{REFUSAL_TITLE}</b><br>{html.escape(answer.text)}</div>",
                    unsafe_allow_html=True)
        closest_passages(answer.hits, key)
        return
    st.markdown(answer.text)
    if answer.mode == "extractive":
        st.caption("Quoted word for word from the source: the model's own wording could not be verified.")
    chips(answer.citations)
    for c in answer.citations:
        with st.expander(f"[{c.n}] {where_label(c.name, c.page, c.heading)}", expanded=expand_first and c.n == 1):
            source_panel(c, answer.hits, f"{key}-{c.n}", access)
    total = answer.timings.get("total")
    if total:
        st.caption(f"Answered in {total:.1f} s from {len(answer.citations)} source"
                   f"{'s' if len(answer.citations) != 1 else ''}.")


def feedback(question_id: int, key: str, save: Callable[[int, int, str], None]) -> None:
    """👍/👎 with an optional comment; stored as soon as it is given."""
    rating_key, comment_key = f"fb-{key}", f"fbc-{key}"

    def on_rating() -> None:
        value = st.session_state.get(rating_key)
        if value is not None:
            save(question_id, 1 if value == 1 else -1, st.session_state.get(comment_key, ""))

    value = st.feedback("thumbs", key=rating_key, on_change=on_rating)
    if value is not None:
        cols = st.columns([5, 1], vertical_alignment="bottom")
        comment = cols[0].text_input("Anything to add? (optional)", key=comment_key,
                                     placeholder="What was wrong or missing?" if value == 0 else "")
        if cols[1].button("Send", key=f"fbs-{key}"):
            save(question_id, 1 if value == 1 else -1, comment)
            st.toast("Thanks, your feedback was saved.")


CSS = """
<style>
.kb-passage {border-left: 3px solid #c9d3df; padding: 0.4rem 0.8rem; margin: 0.3rem 0 0.8rem 0;
             white-space: pre-wrap; font-size: 0.92rem; color: #31333f; max-height: 26rem; overflow-y: auto;}
mark.kb-quote {background: #ffe36e; padding: 0 2px; border-radius: 2px;}
.kb-refusal {background: #fff4e5; border: 1px solid #f0b46a; border-radius: 0.5rem; padding: 0.7rem 1rem;
             margin-bottom: 0.6rem;}
</style>
"""


def style() -> None:
    st.markdown(CSS, unsafe_allow_html=True)
