"""Rendering helpers: answers, citation chips, source panels, refusals, feedback, the copy button.

Colours come from the theme: text inherits the theme's text colour and tints are translucent, so the light
and dark themes (the browser's setting, or the one picked in the app menu's Settings) both stay readable.
"""

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
NOT_STATED_TITLE = "Not stated in the documents"
# a table row as the parsers give it ("Header: value; Header: value"): a short capitalised header, then its value
_PAIR = re.compile(r"^([A-Z0-9\u00c0-\u024f][^:;.!?\n]{0,60}?):\s+(\S.*)$", re.S)
_CITE_MARK = re.compile(r"\s*\[\d+\]\s*$")


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


def table_row(text: str) -> tuple[list[str], list[str]] | None:
    """(headers, values) when ``text`` is a table row given as ``Header: value; Header: value`` pairs (one per
    line also works); None for ordinary text. A part that is not a pair continues the value before it, so a
    value may hold a semicolon ("Issued by IT; keep it separate")."""
    text = _CITE_MARK.sub("", text.strip()).strip().strip("“”\"").strip()
    headers: list[str] = []
    values: list[str] = []
    for part in re.split(r";\s+|\s*\n\s*", text):
        pair = _PAIR.match(part.strip())
        if pair and len(pair.group(1).split()) <= 8:
            headers.append(pair.group(1).strip())
            values.append(pair.group(2).strip())
        elif values:
            values[-1] += "; " + part.strip()
        else:
            return None
    if len(headers) < 2:
        return None
    seen: dict[str, int] = {}
    for i, header in enumerate(headers):  # a table needs distinct column names
        seen[header] = seen.get(header, 0) + 1
        headers[i] = header if seen[header] == 1 else f"{header} ({seen[header]})"
    return headers, values


def row_table(rows: list[tuple[list[str], list[str]]], where: str, sources: list[int] | None = None) -> None:
    """Quoted table rows (of the same headers) as one small table under their column headers; ``sources``
    adds the citation number of each row."""
    headers = rows[0][0]
    data = {h: [values[i] for _, values in rows] for i, h in enumerate(headers)}
    if sources:
        data = {"Source": [f"[{n}]" for n in sources], **data}
    st.table(data, hide_index=True, alt=f"Table rows quoted from {where}")


def quoted_caption(citations: list[Citation]) -> str:
    """What an extractive answer is, in plain words: 'Quoted from leave_policy.pdf, page 2'."""
    names = list(dict.fromkeys(c.name for c in citations))
    if len(names) == 1:
        pages = sorted({c.page for c in citations if c.page})
        where = names[0] + (f", page {pages[0]}" if len(pages) == 1 else "")
        return f":material/format_quote: Quoted from {_badge_text(where)}: the document's own words."
    if names:
        return f":material/format_quote: Quoted from {', '.join(_badge_text(n) for n in names)}: the documents' own words."
    return ":material/format_quote: Quoted from the policy: the document's own words."


def chips(citations: list[Citation]) -> None:
    """The answer's sources as a row of numbered chips."""
    st.markdown(" ".join(f":blue-badge[**{c.n}** {_badge_text(where_label(c.name, c.page, ''))}]"
                         for c in citations))


def _badge_text(text: str) -> str:
    return text.replace("[", "(").replace("]", ")")


@st.cache_data(show_spinner=False, max_entries=64)
def _page_picture(path: str, page: int, quote: str, mtime: float, whole: bool, ocr_read: bool = False, _ocr=None):
    from ui.pdf_preview import focus, render_page

    picture = render_page(path, page, quote, ocr=_ocr)
    return picture.image if whole else focus(picture)


@dataclass(frozen=True)
class Access:
    """What the signed-in reader may open, and the audit of what they download."""

    may_read: Callable[[str], bool]
    downloaded: Callable[[str], None]


def source_panel(citation: Citation, hits: list[Hit], key: str, access: Access | None = None,
                 show_row: bool = True, ocr_page: Callable[[str, int], object] | None = None) -> None:
    """File, page and heading; a quoted table row as a table; the passage with the quote highlighted; the page
    picture; a download.

    ``access`` re-checks the reader's rights when the panel is drawn (rules may have changed since the answer)
    and audits downloads; ``ocr_page(path, page)`` gives a scanned page's OCR words (``KnowledgeBase.ocr_page``),
    where the page picture finds the quote when the page has no text layer."""
    if access is not None and not access.may_read(citation.path):
        st.caption("You no longer have access to this document.")
        return
    chunk = next((h.chunk for h in hits if h.chunk.chunk_id == citation.chunk_id), None)
    st.markdown(f"**{citation.name}**" + (f" — page {citation.page}" if citation.page else "") +
                (f"  \n{citation.heading}" if citation.heading else ""))
    passage = chunk.text if chunk else citation.quote
    row = table_row(citation.quote) if show_row else None
    if row:
        row_table([row], citation.name)
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
                ocr = ocr_page(str(path), citation.page) if ocr_page is not None else None
                st.image(_page_picture(str(path), citation.page, citation.quote, path.stat().st_mtime, whole,
                                       ocr is not None, ocr),
                         caption=f"Page {citation.page} of {citation.name}, quote highlighted", width="stretch",
                         alt=f"Page {citation.page} of {citation.name}, with the quoted passage marked in yellow")
            except Exception as exc:  # a damaged or changed PDF must not break the answer
                st.caption(f"Could not show page {citation.page}: {exc}")
    if path.is_file():
        text_col.download_button(f"Download {citation.name}", data=path.read_bytes(), file_name=path.name,
                                 mime=MIME.get(path.suffix.lower(), "application/octet-stream"), key=f"dl-{key}",
                                 icon=":material/download:",
                                 on_click=access.downloaded if access else None, args=(str(path),))


def closest_passages(hits: list[Hit], key: str, limit: int = 3, access: Access | None = None) -> None:
    """What a refusal shows instead of an answer: the nearest passages, so the user can judge (only those the
    reader may still open: a reopened conversation's rules may have changed)."""
    if access is not None:
        hits = [h for h in hits if access.may_read(h.chunk.path)]
    if not hits:
        st.caption("No passage came close.")
        return
    st.markdown("**Closest passages**")
    for i, hit in enumerate(hits[:limit]):
        c = hit.chunk
        with st.expander(where_label(c.name, c.page, c.heading)):
            st.markdown(f"<div class='kb-passage'>{html.escape(c.text)}</div>", unsafe_allow_html=True)


def follow_up_note(answer: Answer) -> None:
    """Which earlier question a follow-up was read with, or what was searched for a question whose typos were
    corrected, so a wrong guess is visible."""
    earlier = getattr(answer, "follow_up_of", "")
    searched = getattr(answer, "retrieval_query", "")
    if earlier:
        st.caption(f":material/subdirectory_arrow_right: Taking this as a follow-up to “{_badge_text(earlier)}”")
    elif searched and searched != answer.question:
        st.caption(f":material/spellcheck: Searched for “{_badge_text(searched)}”")


def refusal_box(answer: Answer) -> None:
    """Orange when nothing in the documents is about the question; blue when passages are about it but none
    states the answer (``Answer.refusal``)."""
    stated = getattr(answer, "refusal", "") == "not_stated"
    kind, title = ("kb-not-stated", NOT_STATED_TITLE) if stated else ("kb-not-covered", REFUSAL_TITLE)
    st.markdown(f"<div class='kb-refusal {kind}' role='status'><b>{title}</b><br>{html.escape(answer.text)}</div>",
                unsafe_allow_html=True)


def answer_text(answer: Answer) -> None:
    """The answer's words; quoted table rows as small tables under their headers (rows of one table together)."""
    rows = [(c, table_row(c.quote)) for c in answer.citations] if answer.mode == "extractive" else []
    if not any(row for _, row in rows):
        st.markdown(answer.text)
        return
    group: list[tuple[Citation, tuple[list[str], list[str]]]] = []

    def flush() -> None:
        if group:
            row_table([row for _, row in group], group[0][0].name, [c.n for c, _ in group])
            group.clear()

    for c, row in rows:
        if row and (not group or group[0][1][0] == row[0]):
            group.append((c, row))
            continue
        flush()
        if row:
            group.append((c, row))
        else:
            st.markdown(f"“{' '.join(c.quote.split())}” [{c.n}]")
    flush()


def answer_body(answer: Answer, key: str, expand_first: bool, access: Access | None = None,
                ocr_page: Callable[[str, int], object] | None = None) -> None:
    """A finished answer: text, chips and a panel per source (``ocr_page``: see :func:`source_panel`); a refusal
    looks different."""
    follow_up_note(answer)
    if answer.refused:
        refusal_box(answer)
        closest_passages(answer.hits, key, access=access)
        return
    answer_text(answer)
    extractive = answer.mode == "extractive"
    if extractive:
        st.caption(quoted_caption(answer.citations))
    chips(answer.citations)
    for c in answer.citations:
        with st.expander(f"[{c.n}] {where_label(c.name, c.page, c.heading)}", expanded=expand_first and c.n == 1):
            source_panel(c, answer.hits, f"{key}-{c.n}", access, show_row=not extractive, ocr_page=ocr_page)
    total = answer.timings.get("total")
    if total:
        st.caption(f"Answered in {total:.1f} s from {len(answer.citations)} source"
                   f"{'s' if len(answer.citations) != 1 else ''}.")


def copy_text(answer: Answer) -> str:
    """What the copy button puts on the clipboard: the answer and where it comes from."""
    lines = [answer.text] + [f"[{c.n}] {where_label(c.name, c.page, c.heading)}" for c in answer.citations]
    return "\n".join(lines)


def copy_button(answer: Answer, key: str) -> None:
    """A button that copies the answer with its sources (the browser's clipboard: only a script can reach it;
    the text is an escaped attribute, the script is fixed)."""
    element = "kb-copy-" + re.sub(r"[^A-Za-z0-9_-]", "-", key)
    st.html(f"""<button type="button" class="kb-copy" id="{element}" aria-label="Copy the answer"
title="Copy the answer and its sources" data-text="{html.escape(copy_text(answer), quote=True)}">Copy</button>
<script>(() => {{
  const button = document.getElementById("{element}");
  if (!button || button.dataset.ready) return;
  button.dataset.ready = "1";
  button.addEventListener("click", async () => {{
    const text = button.dataset.text;
    try {{ await navigator.clipboard.writeText(text); }}
    catch (error) {{  // no clipboard API outside a secure context (plain http to another host)
      const area = document.createElement("textarea");
      area.value = text; document.body.appendChild(area); area.select(); document.execCommand("copy"); area.remove();
    }}
    button.textContent = "Copied";
    setTimeout(() => {{ button.textContent = "Copy"; }}, 2000);
  }});
}})();</script>""", width="content", unsafe_allow_javascript=True)


def feedback(question_id: int, key: str, save: Callable[[int, int, str], None], rating: int | None = None,
             comment: str = "") -> None:
    """👍/👎 with an optional comment; both stored as soon as they are given (the comment when it changes: on
    Enter or leaving the field, no button). ``rating``/``comment`` are what was stored before (a reopened
    conversation)."""
    rating_key, comment_key = f"fb-{key}", f"fbc-{key}"
    state = st.session_state
    if rating is not None and rating_key not in state:
        state[rating_key] = 1 if rating == 1 else 0
        state.setdefault(comment_key, comment)

    def stored(value) -> int:
        return 1 if value == 1 else -1

    def on_rating() -> None:
        value = state.get(rating_key)
        if value is not None:
            save(question_id, stored(value), state.get(comment_key, ""))

    def on_comment() -> None:
        value = state.get(rating_key)
        if value is not None:
            save(question_id, stored(value), state.get(comment_key, ""))
            st.toast("Thanks, your comment was saved.", icon=":material/check:")

    value = st.feedback("thumbs", key=rating_key, on_change=on_rating)
    if value is not None:
        st.text_input("Anything to add? (optional, saved when you press Enter or leave the field)", key=comment_key,
                      placeholder="What was wrong or missing?" if value == 0 else "", on_change=on_comment)


# No fixed text colours: text inherits the theme's, borders and tints mix with it or are translucent, so
# they sit on either theme's background. The highlight is the one fixed pair (dark text on yellow).
CSS = """
<style>
.kb-passage {border-left: 3px solid color-mix(in srgb, currentColor 30%, transparent); padding: 0.4rem 0.8rem;
             margin: 0.3rem 0 0.8rem 0; white-space: pre-wrap; font-size: 0.92rem; color: inherit;
             max-height: 26rem; overflow-y: auto;}
mark.kb-quote {background: #ffe36e; color: #1a1a1a; padding: 0 2px; border-radius: 2px;}
.kb-refusal {border: 1px solid; border-radius: 0.5rem; padding: 0.7rem 1rem; margin-bottom: 0.6rem; color: inherit;}
.kb-refusal.kb-not-covered {background: rgba(239, 138, 23, 0.14); border-color: rgba(239, 138, 23, 0.75);}
.kb-refusal.kb-not-stated {background: rgba(28, 131, 225, 0.12); border-color: rgba(28, 131, 225, 0.65);}
button.kb-copy {font: inherit; font-size: 0.85rem; color: inherit; background: transparent; cursor: pointer;
                border: 1px solid color-mix(in srgb, currentColor 25%, transparent); border-radius: 0.5rem;
                padding: 0.15rem 0.7rem;}
button.kb-copy:hover, button.kb-copy:focus-visible {border-color: currentColor;}
</style>
"""


def style() -> None:
    st.markdown(CSS, unsafe_allow_html=True)
