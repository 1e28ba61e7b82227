"""Rendering helpers: answers, citation chips, source panels, refusals, feedback, the copy button.

Colours come from the theme: text inherits the theme's text colour and tints are translucent, so the light
and dark themes (the browser's setting, or the one picked in the app menu's Settings) both stay readable.

How an answer looks is decided by its kind (:func:`kind_of`): a kind in :data:`BANNERS` gets a coloured box
with its title above the text (refusals show only the box and the closest passages); a new kind (say a
"likely" grade) needs one entry there and its colours in :data:`CSS`.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import streamlit as st

from kb.retrieval.filters import collection_of
from kb.types import Answer, Citation, Hit
from ui.media import ADMINS, MediaRegistry

MIME = {".pdf": "application/pdf", ".txt": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown",
        ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
REFUSAL_TITLE = "Not found in the documents"
NOT_STATED_TITLE = "Not stated in the documents"
HIDDEN = "(A passage from a document you can no longer open is hidden.)"


@dataclass(frozen=True)
class Banner:
    """The box an answer of one kind is shown in: its title and CSS class (colours in :data:`CSS`)."""

    title: str
    css: str
    refusal: bool = False  # a refusal shows the closest passages instead of sources


LIKELY_TITLE = "This passage may answer your question"
BANNERS = {"not_covered": Banner(REFUSAL_TITLE, "kb-not-covered", refusal=True),
           "not_stated": Banner(NOT_STATED_TITLE, "kb-not-stated", refusal=True),
           # the reader is unsure: the unit of the passage that probably answers, without the checked badge
           "likely": Banner(LIKELY_TITLE, "kb-likely")}
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
def _page_picture(path: str, page: int, quote: str, mtime: float, whole: bool, ocr_read: bool = False,
                  _ocr=None, span: str = "") -> bytes:
    """The page as PNG bytes, encoded once: ``st.image`` sends PNG bytes as they are (a picture object would be
    encoded again on every run, and as JPEG)."""
    from ui.pdf_preview import focus, render_page

    picture = render_page(path, page, quote, ocr=_ocr, span=span)
    image = picture.image if whole else focus(picture)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@dataclass(frozen=True)
class Access:
    """What the signed-in reader may open, the audit of what they download, and the registry that tells the
    download guard which document each picture and download came from (``ui.guard``)."""

    may_read: Callable[[str], bool]
    downloaded: Callable[[str], None]
    media: MediaRegistry | None = None

    def picture(self, png: bytes, path: str) -> None:
        if self.media is not None:
            self.media.register(png, "image/png", None, [path])


def _download(path: Path, mime: str, access: Access | None) -> Callable[[], bytes]:
    """The bytes of a download, read when it is clicked: the reader's access is checked again then, the
    download is audited, and the guard learns which document the bytes are."""
    def data() -> bytes:
        if access is not None and not access.may_read(str(path)):
            raise PermissionError(f"you no longer have access to {path.name}")
        content = path.read_bytes()
        if access is not None:
            if access.media is not None:
                access.media.register(content, mime, path.name, [str(path)])
            access.downloaded(str(path))
        return content
    return data


def admin_download(label: str, data: Callable[[], bytes], file_name: str, mime: str, media: MediaRegistry | None,
                   key: str) -> None:
    """A download only admins may fetch (the guard refuses its URL to anyone else), made when clicked."""
    def made() -> bytes:
        content = data()
        if media is not None:
            media.register(content, mime, file_name, [ADMINS])
        return content

    st.download_button(label, data=made, file_name=file_name, mime=mime, icon=":material/download:", key=key,
                       on_click="ignore")


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
                png = _page_picture(str(path), citation.page, citation.quote, path.stat().st_mtime, whole,
                                    ocr is not None, ocr, span=getattr(citation, "span", ""))
                if access is not None:
                    access.picture(png, str(path))
                st.image(png, caption=f"Page {citation.page} of {citation.name}, quote highlighted", width="stretch",
                         output_format="PNG",
                         alt=f"Page {citation.page} of {citation.name}, with the quoted passage marked in yellow")
            except Exception as exc:  # a damaged or changed PDF must not break the answer
                st.caption(f"Could not show page {citation.page}: {exc}")
    mime = MIME.get(path.suffix.lower(), "application/octet-stream")
    text_col.download_button(f"Download {citation.name}", data=_download(path, mime, access), file_name=path.name,
                             mime=mime, key=f"dl-{key}", icon=":material/download:", on_click="ignore")


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


def document_label(path: str | None, docs_dir: str | Path) -> str:
    """A document as admins name it (``hr/leave_policy.pdf``: its folder under docs_dir), never the server path."""
    if not path:
        return ""
    folder = collection_of(path, docs_dir)
    return f"{folder}/{Path(path).name}" if folder else Path(path).name


def gaps_csv(gaps: list, docs_dir: str | Path) -> bytes:
    """The knowledge-gaps report as CSV (asked_at in UTC); documents named by folder and file, not server path."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["asked_at", "question", "reason", "comment", "answer", "closest_document", "closest_page"])
    for g in gaps:
        writer.writerow([time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(g.asked_at)), g.question, g.reason,
                         g.comment, g.answer, document_label(g.closest_path, docs_dir),
                         "" if g.closest_page is None else g.closest_page])
    return out.getvalue().encode("utf-8")


def follow_up_note(answer: Answer) -> None:
    """Which earlier question a follow-up was read with, or what was searched for a question whose typos were
    corrected, so a wrong guess is visible."""
    earlier = getattr(answer, "follow_up_of", "")
    searched = getattr(answer, "retrieval_query", "")
    if earlier:
        st.caption(f":material/subdirectory_arrow_right: Taking this as a follow-up to “{_badge_text(earlier)}”")
    elif searched and searched != answer.question:
        st.caption(f":material/spellcheck: Searched for “{_badge_text(searched)}”")


def kind_of(answer: Answer) -> str:
    """How the answer is shown: "answer", or a key of :data:`BANNERS` ("not_covered", "not_stated"; a grade the
    answer carries, when it has one)."""
    grade = getattr(answer, "grade", "")
    if grade:
        return grade
    if not answer.refused:
        return "answer"
    return "not_stated" if getattr(answer, "refusal", "") == "not_stated" else "not_covered"


def status_label(answer: Answer) -> str:
    """The status line's last words over a finished answer (the same title its box shows)."""
    banner = BANNERS.get(kind_of(answer))
    return banner.title if banner else "Answer checked against the sources"


def banner_box(banner: Banner, text: str) -> None:
    """Orange when nothing in the documents is about the question; blue when passages are about it but none
    states the answer."""
    st.markdown(f"<div class='kb-refusal {banner.css}' role='status'><b>{banner.title}</b><br>{html.escape(text)}"
                "</div>", unsafe_allow_html=True)


def refusal_box(answer: Answer) -> None:
    """The refusal's box, coloured by its kind (``Answer.refusal``)."""
    banner_box(BANNERS.get(kind_of(answer), BANNERS["not_covered"]), answer.text)


def redacted(answer: Answer, may_read: Callable[[str], bool]) -> Answer:
    """The answer as this reader may see it now: sentences and quotes from a document they can no longer read
    (the access rules or their groups changed since) are replaced by a note; the rest is left as it was."""
    hidden = {c.n for c in answer.citations if not may_read(c.path)}
    if not hidden:
        return answer
    sentences = re.findall(r"\s*(.+?\[(\d+)\])", answer.text) or [(answer.text, "")]
    shown: list[str] = []
    for sentence, n in sentences:
        text = HIDDEN if (int(n) if n else None) in hidden or not n else sentence.strip()
        if not shown or shown[-1] != text:
            shown.append(text)
    citations = [dataclasses.replace(c, quote="") if c.n in hidden else c for c in answer.citations]
    return dataclasses.replace(answer, text=" ".join(shown), citations=citations)


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
            st.markdown(f"“{' '.join(c.quote.split())}” [{c.n}]" if c.quote else HIDDEN)
    flush()


def answer_body(answer: Answer, key: str, expand_first: bool, access: Access | None = None,
                ocr_page: Callable[[str, int], object] | None = None) -> None:
    """A finished answer: text, chips and a panel per source (``ocr_page``: see :func:`source_panel`); a refusal
    looks different. Text from documents the reader may no longer open is hidden (:func:`redacted`). The footer
    says how long the person waited (``timings["waited"]``, from Enter as the web app saw it; the library's own
    ``total`` for answers made elsewhere)."""
    if access is not None:
        answer = redacted(answer, access.may_read)
    follow_up_note(answer)
    banner = BANNERS.get(kind_of(answer))
    if banner is not None and banner.refusal:
        banner_box(banner, answer.text)
        closest_passages(answer.hits, key, access=access)
        return
    if banner is not None:
        banner_box(banner, "")
    answer_text(answer)
    extractive = answer.mode == "extractive"
    if extractive:
        st.caption(quoted_caption(answer.citations))
    chips(answer.citations)
    for c in answer.citations:
        with st.expander(f"[{c.n}] {where_label(c.name, c.page, c.heading)}", expanded=expand_first and c.n == 1):
            source_panel(c, answer.hits, f"{key}-{c.n}", access, show_row=not extractive, ocr_page=ocr_page)
    seconds = answer.timings.get("waited") or answer.timings.get("total")
    if seconds:
        st.caption(f"Answered in {seconds:.1f} s from {len(answer.citations)} source"
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
.kb-refusal.kb-likely {background: rgba(128, 128, 128, 0.10); border-color: rgba(128, 128, 128, 0.6);}
button.kb-copy {font: inherit; font-size: 0.85rem; color: inherit; background: transparent; cursor: pointer;
                border: 1px solid color-mix(in srgb, currentColor 25%, transparent); border-radius: 0.5rem;
                padding: 0.15rem 0.7rem;}
button.kb-copy:hover, button.kb-copy:focus-visible {border-color: currentColor;}
</style>
"""


def style() -> None:
    st.markdown(CSS, unsafe_allow_html=True)


# Streamlit keeps the theme picked in its menu in localStorage under a key named after the path the page was
# loaded at ("stActiveTheme-/insights-v2"), so a reload on another page of the app came back in the default
# theme. This mirrors every write of that key to the keys of all the app's pages (the base path kept).
THEME_MEMORY = r"""<script>(() => {
  if (window.__kbThemeMemory) return;
  window.__kbThemeMemory = true;
  const pages = %s;
  const here = window.location.pathname.replace(/\/+$/, "");
  const page = pages.find((p) => p && here.endsWith("/" + p)) || "";
  const base = page ? here.slice(0, here.length - page.length - 1) : here;
  const paths = pages.map((p) => (base + "/" + p).replace(/\/+$/, "") || "/").concat([base + "/"]);
  const store = window.localStorage, set = Storage.prototype.setItem, remove = Storage.prototype.removeItem;
  const theme = /^stActiveTheme-.*-(v[0-9]+)$/;
  const mirror = (key, write) => {
    const m = key.match(theme);
    if (m) for (const p of new Set(paths)) write("stActiveTheme-" + p + "-" + m[1]);
  };
  Storage.prototype.setItem = function (key, value) {
    set.call(this, key, value);
    if (this === store) mirror(String(key), (k) => set.call(store, k, value));
  };
  Storage.prototype.removeItem = function (key) {
    remove.call(this, key);
    if (this === store) mirror(String(key), (k) => remove.call(store, k));
  };
  const keys = Array.from({length: store.length}, (_, i) => store.key(i));
  for (const key of keys) {  // a theme picked on this page before this script ran
    if (theme.test(key) && key.startsWith("stActiveTheme-" + window.location.pathname + "-")) {
      const value = store.getItem(key);
      mirror(key, (k) => set.call(store, k, value));
    }
  }
})();</script>"""


def theme_memory(pages: list[str]) -> None:
    """Keep the theme picked in the app menu on every page of the app across reloads (``pages``: their URL
    paths, "" for the start page)."""
    import json

    st.html(THEME_MEMORY % json.dumps(pages), width="content", unsafe_allow_javascript=True)
