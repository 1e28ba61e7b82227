"""PDF parsing: one Section per page, with running headers, footers and page numbers removed.

Text comes from PDFium (pypdfium2): it orders words, spaces and lines far better than pypdf's plain
extraction on Google-Docs/Skia and wkhtmltopdf output (pypdf returns one word per line or splits
numbers such as "$1.7\\n63 billion" there) and is 15-25x faster. PDFium also reports where each line
sits, which gives real paragraph breaks (vertical gaps, font-size changes). pypdf is the fallback for
files PDFium refuses to open (it decrypts some files whose owner password is empty, and repairs other
damage differently).

Pages without a text layer (no text, or only a stamped header over a picture) are read by OCR
(:mod:`ingest.ocr`), page by page, unless ``ParseLimits.ocr`` is off.
"""

from __future__ import annotations

import ctypes
import io
import logging
import re
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest import cleanup
from ingest.limits import ParseLimits
from ingest.ocr import LOW_CONFIDENCE, OcrPage
from ingest.pdf_tables import Table, TableFinder, compose, has_ruled_grid
from kb.errors import UnreadableFile
from kb.types import Document, Section

try:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c
except ImportError:  # pragma: no cover - without PDFium, pypdf reads every PDF (with poorer line breaks)
    pdfium = pdfium_c = None


log = logging.getLogger(__name__)

PASSWORD_REQUIRED = "encrypted PDF: a password is required to open it"
_MAX_LISTED_PAGES = 20
_FEW_LINES = 3  # a page with this few lines may be a scan with a stamped header: look for images
# bullets a PDF writer put on the same text line as the previous sentence
_INLINE_BULLET = re.compile(r"\s+(?=[•●▪■►]\s)")
_FILENAME_LIKE = re.compile(r"^\S+\.(?:pdf|docx?|rtf|odt|txt|html?|indd|xlsx?|pptx?|qxd|pages)$", re.I)
_MEANINGLESS_TITLES = frozenset({"untitled", "untitled document", "document", "title", "no title", "microsoft word",
                                 "slide 1", "pdf", "none", "unknown", "contents", "table of contents", "index"})


@dataclass
class _Page:
    """Raw lines of one page, the lines a layout gap or font change separates, and line heights."""

    lines: list[str] = field(default_factory=list)
    breaks: set[int] = field(default_factory=set)
    heights: list[float] = field(default_factory=list)
    error: str | None = None
    has_images: bool = False  # only looked at on pages with little or no text
    hidden: dict[str, int] = field(default_factory=dict)  # why text was dropped as not drawn -> characters
    dropped: set[int] = field(default_factory=set)  # text indices of those characters (PDFium's text page)
    baselines: list[float | None] = field(default_factory=list)  # each line's baseline y (PDF coordinates)


@dataclass
class _OutlineEntry:
    level: int
    title: str
    page_index: int


class _Source:
    """What the parser needs from a PDF library."""

    page_count = 0

    def page(self, index: int) -> _Page:
        raise NotImplementedError

    def outline(self) -> list[_OutlineEntry]:
        raise NotImplementedError

    def metadata_title(self) -> str:
        raise NotImplementedError

    def ocr(self, index: int) -> OcrPage | None:
        """The page read by OCR; None where this library cannot render pages."""
        return None

    def close(self) -> None:
        """Release the library's resources."""


@dataclass
class _OcrOutcome:
    """What OCR did for the pages without a text layer (0-based page indices)."""

    read: dict[int, OcrPage] = field(default_factory=dict)  # pages it found text on
    empty: list[int] = field(default_factory=list)  # read, but no text found
    failed: list[tuple[int, str]] = field(default_factory=list)
    unread: list[int] = field(default_factory=list)  # not reached before the time limit
    unavailable: str = ""  # why no page could be read at all (the PDF library cannot render)


def parse_pdf(path: Path, limits: ParseLimits, data: bytes | None = None) -> Document:
    """Parse a PDF (its bytes ``data``, read from ``path`` when None) into one Section per page that has text;
    pages without a text layer are read by OCR."""
    started = time.monotonic()
    source = _open(path.read_bytes() if data is None else data)
    try:
        count = source.page_count
        if count > limits.max_pages:
            raise UnreadableFile(f"too many pages: {count} (limit {limits.max_pages}, setting max_pages)")
        pages = [_read_page(source, i) for i in range(count)]
        outline = _safe_outline(source)
        meta_title = _safe_meta_title(source)
        ocr = _read_textless_pages(source, pages, limits, started) if limits.ocr else None
    finally:
        source.close()
    return _build_document(path, pages, outline, meta_title, ocr)


def _textless(pages: list[_Page]) -> list[int]:
    """Indices of the pages without a text layer: no text, or only a stamped header over a picture."""
    candidates = [i for i, p in enumerate(pages) if p.error is None and (not p.lines or p.has_images)]
    if not candidates:  # the usual case: no page to look at twice
        return []
    repeated = cleanup.find_repeated_edge_lines([p.lines for p in pages])
    line_length = cleanup.typical_line_length(line for p in pages for line in p.lines)
    return [i for i in candidates if not _page_text(pages[i], repeated, line_length)]


def _read_textless_pages(source: _Source, pages: list[_Page], limits: ParseLimits, started: float) -> _OcrOutcome:
    """OCR the pages without a text layer that show a picture, each page's lines replacing its own; stops
    (keeping what it read) when the next page would run past ``limits.ocr_seconds``."""
    outcome = _OcrOutcome()
    wanted = [i for i in _textless(pages) if pages[i].has_images]
    spent: list[float] = []
    for n, index in enumerate(wanted):
        if limits.ocr_seconds > 0:
            typical = max(spent) if spent else 0.0
            if time.monotonic() - started + typical > limits.ocr_seconds:
                outcome.unread = wanted[n:]
                break
        t0 = time.monotonic()
        try:
            page = source.ocr(index)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - one page OCR cannot read must not cost the document
            log.debug("OCR of page %d failed: %s", index + 1, exc, exc_info=True)
            outcome.failed.append((index, _brief(exc)))
            continue
        finally:
            spent.append(time.monotonic() - t0)
        if page is None:
            outcome.unavailable = "OCR needs PDFium, which could not open this file"
            break
        if not page.lines:
            outcome.empty.append(index)
            continue
        outcome.read[index] = page
        pages[index] = _ocr_page(page)
    return outcome


def ocr_pages_text(pages: list[OcrPage], name: str) -> tuple[list[str], str]:
    """The text of pages read by OCR as a scanned PDF's pages give it (paragraphs rebuilt, lines repeated at the
    edges of every page dropped unless that is all there is), and a title from the first page ('' for none)."""
    raw = [_ocr_page(page) for page in pages]
    repeated = cleanup.find_repeated_edge_lines([p.lines for p in raw])
    line_length = cleanup.typical_line_length(line for p in raw for line in p.lines)
    texts = [_page_text(p, repeated, line_length) for p in raw]
    if not any(texts):  # every line repeats on every page (copies of one page): that is the text
        repeated = set()
        texts = [_page_text(p, repeated, line_length) for p in raw]
    return texts, _title("", [], raw, _title_candidates(raw, repeated, line_length)) or name


def _ocr_page(page: OcrPage) -> _Page:
    lines, breaks, heights, baselines = [], set(), [], []
    for line in page.lines:
        text = cleanup.clean_line(line.text)
        if not text:
            continue
        if line.block_start:
            breaks.add(len(lines))
        lines.append(text)
        heights.append(line.height)
        baselines.append(None)  # the upright page's lines, not PDF coordinates: tables are not looked for
    return _Page(lines=lines, breaks=breaks, heights=heights, has_images=True, baselines=baselines)


def _open(data: bytes) -> _Source:
    pdfium_error: Exception | None = None
    if pdfium is not None:
        try:
            return _PdfiumSource(data)
        except pdfium.PdfiumError as exc:
            pdfium_error = exc
        log.debug("pdfium could not open the file (%s); trying pypdf", pdfium_error)
    try:
        return _PypdfSource(data)
    except UnreadableFile:
        raise
    except Exception as exc:  # noqa: BLE001 - any pypdf failure is reported with pdfium's
        code = getattr(pdfium_error, "err_code", None)
        if pdfium_error is not None and code == pdfium_c.FPDF_ERR_PASSWORD:
            raise UnreadableFile(PASSWORD_REQUIRED) from exc
        if pdfium_error is not None and code == pdfium_c.FPDF_ERR_SECURITY:
            raise UnreadableFile("encrypted PDF: unsupported security handler") from exc
        if pdfium_error is None:
            raise UnreadableFile(f"corrupt PDF: pypdf could not read it ({_brief(exc)})") from exc
        raise UnreadableFile(f"corrupt PDF: neither pdfium nor pypdf could read it "
                             f"(pdfium: {_pdfium_reason(pdfium_error)}; pypdf: {_brief(exc)})") from exc


def _read_page(source: _Source, index: int) -> _Page:
    try:
        return source.page(index)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - one bad page must not cost the document
        log.debug("page %d: %s", index + 1, exc, exc_info=True)
        return _Page(error=_brief(exc))


def _safe_outline(source: _Source) -> list[_OutlineEntry]:
    try:
        return source.outline()
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken outline only costs heading paths
        log.debug("outline unreadable: %s", exc)
        return []


def _safe_meta_title(source: _Source) -> str:
    try:
        return source.metadata_title()
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. undecodable metadata
        log.debug("metadata unreadable: %s", exc)
        return ""


def _build_document(path: Path, pages: list[_Page], outline: list[_OutlineEntry], meta_title: str,
                    ocr: _OcrOutcome | None = None) -> Document:
    count = len(pages)
    failed = [(i + 1, p.error) for i, p in enumerate(pages) if p.error is not None]
    if len(failed) == count:
        raise UnreadableFile(f"text extraction failed on all {count} pages ({failed[0][1]})")
    repeated = cleanup.find_repeated_edge_lines([p.lines for p in pages])
    line_length = cleanup.typical_line_length(line for p in pages for line in p.lines)
    texts = [_page_text(p, repeated, line_length) for p in pages]
    if ocr and ocr.read and not any(texts):
        # every line OCR read repeats on every page (copies of one page): that is the text, not furniture
        texts = [_page_text(p, set(), line_length) if i in ocr.read else t
                 for i, (p, t) in enumerate(zip(pages, texts))]
    # a page is "without a text layer" when it has no text, or only a stamped header over a scan
    textless = [i + 1 for i, (p, t) in enumerate(zip(pages, texts))
                if p.error is None and not t and (not p.lines or p.has_images)]
    sections = _sections_under_headings(texts, outline)
    if not sections:
        raise UnreadableFile(_no_text_reason(pages, ocr))
    _mark_continuations(sections)
    warnings = []
    hidden = [(i + 1, p.hidden) for i, p in enumerate(pages) if p.hidden]
    if hidden:
        reasons: dict[str, int] = {}
        for _, counts in hidden:
            for why, n in counts.items():
                reasons[why] = reasons.get(why, 0) + n
        detail = "; ".join(f"{n} characters {why}" for why, n in sorted(reasons.items()))
        warnings.append(f"hidden text dropped on {_page_list([n for n, _ in hidden])} (a PDF viewer would not show "
                        f"it: {detail})")
    warnings += _textless_warnings(textless, ocr)
    if failed:
        warnings.append(f"text extraction failed on {_page_list([n for n, _ in failed])} ({failed[0][1]})")
    title = _title(meta_title, outline, pages, _title_candidates(pages, repeated, line_length)) or path.stem
    read = {i + 1: page for i, page in (ocr.read.items() if ocr else ())}
    return Document(path=path, title=title, sections=sections, kind="pdf", pages=count, warnings=warnings, ocr=read)


def _textless_warnings(textless: list[int], ocr: _OcrOutcome | None) -> list[str]:
    """What a document's warnings say about pages without a text layer and what OCR made of them."""
    if ocr is None:
        return [f"no text layer on {_page_list(textless)}"] if textless else []
    out = low_confidence_warnings({i + 1: page for i, page in ocr.read.items()})
    empty = {i + 1 for i in ocr.empty}
    failed = {i + 1: why for i, why in ocr.failed}
    unread = {i + 1 for i in ocr.unread}
    other = [n for n in textless if n not in empty and n not in failed and n not in unread]
    if empty:
        out.append(f"no text layer on {_page_list(sorted(empty))}, and OCR found no text there")
    if failed:
        out.append(f"no text layer on {_page_list(sorted(failed))}, and OCR failed ({next(iter(failed.values()))})")
    if unread:
        out.append(f"no text layer on {_page_list(sorted(unread))}: not read by OCR, which stopped at the parse "
                   f"time limit (setting parse_timeout_s)")
    if other:
        note = f" ({ocr.unavailable})" if ocr.unavailable else ""
        out.append(f"no text layer on {_page_list(other)}{note}")
    return out


def low_confidence_warnings(read: dict[int, OcrPage]) -> list[str]:
    """The warning about pages (1-based numbers) OCR read with low confidence, if any."""
    low = sorted((n, page.confidence) for n, page in read.items() if page.confidence < LOW_CONFIDENCE)
    if not low:
        return []
    shown = ", ".join(f"{n} ({c:.2f})" for n, c in low[:_MAX_LISTED_PAGES])
    return [f"OCR confidence low on {'page' if len(low) == 1 else 'pages'} {shown}: its text may be misread"]


def _no_text_reason(pages: list[_Page], ocr: _OcrOutcome | None = None) -> str:
    """Why a PDF whose pages all came out empty (after removing headers and page numbers) is skipped."""
    count = len(pages)
    where = "its only page" if count == 1 else f"any of {count} pages"
    stamped = any(p.lines for p in pages)
    if any(p.has_images for p in pages):
        besides = " besides running headers/page numbers" if stamped else ""
        scanned = f"no text layer on {where}{besides}: looks like a scanned or image-only PDF"
        if ocr is None:
            return f"{scanned} (OCR is off: setting ocr)"
        if ocr.unavailable:
            return f"{scanned} ({ocr.unavailable})"
        if ocr.unread:
            return f"{scanned}, and OCR ran out of time before reading it (setting parse_timeout_s)"
        if ocr.failed and not ocr.empty:
            return f"{scanned}, and OCR failed ({ocr.failed[0][1]})"
        return f"{scanned}, and OCR found no text in it (a picture without words, or too faint or small to read)"
    if stamped:
        return "no body text: the only text is page numbers and running headers/footers (lines repeated across pages)"
    return f"no text on {where}: blank, or vector drawings only (no images to OCR)"


def _page_text(page: _Page, repeated: set[str], line_length: int) -> str:
    drop = cleanup.furniture_indices(page.lines, repeated)
    kept = [i for i in range(len(page.lines)) if i not in drop]
    lines = [page.lines[i] for i in kept]
    if lines:  # a watermark or running head glued to the first or last text line
        lines[0] = cleanup.strip_furniture_affix(lines[0], repeated)
        lines[-1] = cleanup.strip_furniture_affix(lines[-1], repeated)
    breaks = {n for n, i in enumerate(kept) if i in page.breaks}
    return cleanup.rebuild_paragraphs(lines, breaks, line_length)


def _sections_under_headings(texts: list[str], outline: list[_OutlineEntry]) -> list[Section]:
    """Each page's text cut where an outline heading is printed on it, so every piece carries the heading it
    sits under; text before a page's first heading stays under the heading it continues from the page
    before. A heading that cannot be found in the page text applies from the top of its page."""
    count = len(texts)
    by_page: dict[int, list[_OutlineEntry]] = {}
    for entry in outline:
        if 0 <= entry.page_index < count:
            by_page.setdefault(entry.page_index, []).append(entry)
    stack: list[tuple[int, str]] = []  # (level, title) of the headings in effect
    sections: list[Section] = []
    for index, text in enumerate(texts):
        cuts = sorted(((_heading_position(text, e.title), n, e) for n, e in enumerate(by_page.get(index, []))),
                      key=lambda c: (c[0], c[1]))
        start = 0
        for position, _, entry in cuts:
            if position > start:
                _add_section(sections, text[start:position], index + 1, stack)
            start = max(start, position)
            while stack and stack[-1][0] >= entry.level:
                stack.pop()
            stack.append((entry.level, entry.title))
        _add_section(sections, text[start:], index + 1, stack)
    return sections


def _add_section(sections: list[Section], text: str, page: int, stack: list[tuple[int, str]]) -> None:
    text = text.strip()
    if not text or (stack and " ".join(text.split()) == " ".join(stack[-1][1].split())):
        return  # nothing, or only a heading followed at once by its first subheading
    sections.append(Section(text=text, page=page, heading_path=tuple(t for _, t in stack)))


def _heading_position(text: str, title: str) -> int:
    """Where a heading is printed in a page's text: the start of a line that reads like the title (0 when
    it cannot be found: the heading then applies from the top of the page)."""
    words = [re.escape(w) for w in title.split()]
    if not words:
        return 0
    match = re.search(r"(?m)^[ \t]*" + r"\s+".join(words) + r"[ \t]*$", text)
    return match.start() if match else 0


def _mark_continuations(sections: list[Section]) -> None:
    for this, nxt in zip(sections, sections[1:]):
        if nxt.page != (this.page or 0) + 1 or nxt.heading_path != this.heading_path:
            continue  # only a paragraph cut by a page break runs on (a new heading starts a new one)
        last = this.text.rsplit(cleanup.PARAGRAPH_SEP, 1)[-1]
        # "...services for" + "Google to follow": a long paragraph cut after a lowercase word runs on too
        cut_mid_sentence = last[-1:].islower() or last.endswith(",")
        this.continues = not cleanup.ends_sentence(last) and (
            nxt.text[:1].islower() or (cut_mid_sentence and len(last) > 200 and nxt.text[:1].isalnum()))


def _title(meta_title: str, outline: list[_OutlineEntry], pages: list[_Page], first_lines: list[str]) -> str:
    """Metadata title if meaningful, else the first page's largest or first short line, else the outline."""
    meta_title = cleanup.clean_line(meta_title)
    if _meaningful_title(meta_title):
        return meta_title
    if first_lines:
        return first_lines[0]
    return outline[0].title if outline else ""


def _title_candidates(pages: list[_Page], repeated: set[str], line_length: int) -> list[str]:
    """Title-like text of the first page with text: its largest lines, else a short heading-like line."""
    first = next((p for p in pages if p.lines), None)
    if first is None:
        return []
    heights = first.heights or [0.0] * len(first.lines)
    usable = [i for i, line in enumerate(first.lines)
              if cleanup.furniture_key(line) not in repeated and not cleanup.is_page_number(line)]
    body = statistics.median([h for p in pages for h in p.heights if h] or [0.0])
    tallest = max((heights[i] for i in usable), default=0.0)
    big: list[int] = []
    if body and tallest > 1.3 * body:
        # a big title often wraps over two or three lines
        big = [i for i in usable if heights[i] >= 0.95 * tallest]
        big = [i for i in big if i - big[0] < 3]
        title = " ".join(first.lines[i] for i in big)
        if _meaningful_title(title) and len(title) <= 150:
            return [title]
    # a line clearly shorter than the body's lines stands alone, like a heading; a long one is prose
    limit = min(100, int(0.7 * line_length)) if line_length else 60
    return [first.lines[i] for i in usable if i not in big and _heading_like(first.lines[i], limit)][:1]


def _heading_like(line: str, limit: int) -> bool:
    return (len(line) <= limit and _meaningful_title(line) and not line[:1].islower()
            and not line.endswith((".", ",", ";", ":")))


def _meaningful_title(title: str) -> bool:
    normal = " ".join(title.lower().split())
    return (sum(ch.isalpha() for ch in title) >= 3 and normal not in _MEANINGLESS_TITLES
            and not _FILENAME_LIKE.match(normal) and not normal.startswith(("microsoft word -", "untitled")))


def _meaningful_outline_title(title: str) -> bool:
    return bool(title) and not title.lower().startswith("untitled")


def _page_list(numbers: list[int]) -> str:
    label = "page" if len(numbers) == 1 else "pages"
    shown = ", ".join(str(n) for n in numbers[:_MAX_LISTED_PAGES])
    more = f" and {len(numbers) - _MAX_LISTED_PAGES} more" if len(numbers) > _MAX_LISTED_PAGES else ""
    return f"{label} {shown}{more}"


def _brief(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _pdfium_reason(exc: BaseException) -> str:
    code = getattr(exc, "err_code", None)
    known = {pdfium_c.FPDF_ERR_FORMAT: "not a valid PDF structure", pdfium_c.FPDF_ERR_FILE: "file access error",
             pdfium_c.FPDF_ERR_PAGE: "page tree damaged", pdfium_c.FPDF_ERR_PASSWORD: "password required"}
    return known.get(code, _brief(exc))


class _PdfiumSource(_Source):
    def __init__(self, data: bytes):
        self._doc = pdfium.PdfDocument(data)
        self.page_count = len(self._doc)
        self._tables = TableFinder()

    def page(self, index: int) -> _Page:
        page = self._doc[index]
        try:
            objects = _page_objects(page)  # read once for the hidden-text, scan and ruled-table checks
            textpage = page.get_textpage()
            try:
                result = _pdfium_page(textpage, page, objects)
                if len(result.lines) <= _FEW_LINES:
                    result.has_images = objects.images
                elif has_ruled_grid(objects.rules):
                    _put_tables(result, self._tables.tables(index, textpage, objects.paths,
                                                            [(t.raw, t.bounds) for t in objects.texts],
                                                            page.get_height(), result.dropped))
            finally:
                textpage.close()
            return result
        finally:
            page.close()

    def outline(self) -> list[_OutlineEntry]:
        entries = []
        for mark in self._doc.get_toc():
            dest = mark.get_dest()
            index = dest.get_index() if dest is not None else None
            title = cleanup.clean_line(mark.get_title())
            if index is not None and _meaningful_outline_title(title):
                entries.append(_OutlineEntry(mark.level, title, index))
        return entries

    def metadata_title(self) -> str:
        return self._doc.get_metadata_value("Title") or ""

    def ocr(self, index: int) -> OcrPage | None:
        from ingest.ocr import read_page  # the OCR models load on the first page that needs them

        page = self._doc[index]
        try:
            return read_page(page, index + 1)
        finally:
            page.close()

    def close(self) -> None:
        self._doc.close()


def _put_tables(page: _Page, tables: list[Table]) -> None:
    """Replace the lines inside each table's box by the table's rows, each row a block of its own."""
    if not tables or len(page.baselines) != len(page.lines):
        return
    lines, breaks, heights, baselines = [], set(), [], []
    placed: set[int] = set()
    for i, (line, y) in enumerate(zip(page.lines, page.baselines)):
        table = next((n for n, t in enumerate(tables) if y is not None and t.bottom - 1 <= y <= t.top + 1), None)
        if table is None:
            if i in page.breaks or (lines and baselines and baselines[-1] is None and lines[-1] in tables_rows(tables)):
                breaks.add(len(lines))
            lines.append(line)
            heights.append(page.heights[i] if i < len(page.heights) else 0.0)
            baselines.append(y)
            continue
        if table in placed:
            continue
        placed.add(table)
        for row in tables[table].rows:
            breaks.add(len(lines))
            lines.append(row)
            heights.append(page.heights[i] if i < len(page.heights) else 0.0)
            baselines.append(None)
        breaks.add(len(lines))  # the text after a table starts a new block
    page.lines, page.breaks, page.heights, page.baselines = lines, breaks, heights, baselines


def tables_rows(tables: list[Table]) -> set[str]:
    return {row for t in tables for row in t.rows}


def _pdfium_page(textpage: pdfium.PdfTextPage, page: "pdfium.PdfPage", objects: _Objects) -> _Page:
    """A page's lines in PDFium's reading order, with layout breaks and line heights; text a viewer would not
    draw (see :func:`_hidden_text`; ``objects``: the page's, read once) is left out and counted in ``hidden``."""
    text = textpage.get_text_range()
    if not text.strip():
        return _Page()
    dropped, hidden = _hidden_text(textpage, page, objects)
    lines: list[str] = []
    metrics: list[tuple[float, float] | None] = []
    geometry = max(text) <= "\uffff"  # pdfium indexes UTF-16 units; surrogates would shift them
    for match in re.finditer(r"[^\r\n]+", text):
        raw = match.group()
        if dropped:
            raw = "".join(ch for k, ch in enumerate(raw, start=match.start()) if k not in dropped)
            visible = [k for k in range(match.start(), match.end()) if k not in dropped and not text[k].isspace()]
            if not visible:
                continue
            start, end = visible[0], visible[-1] + 1
        else:
            start = match.start() + len(raw) - len(raw.lstrip())
            end = match.start() + len(raw.rstrip())
        line = cleanup.clean_line(_soft_hyphens(raw))
        if not line:
            continue
        metric = _line_metrics(textpage, text, start, end) if geometry else None
        for part in _INLINE_BULLET.split(line):
            lines.append(part)
            metrics.append(metric)
    heights = [m[1] if m else 0.0 for m in metrics]
    return _Page(lines=lines, breaks=_layout_breaks(metrics), heights=heights, hidden=hidden, dropped=dropped,
                 baselines=[m[0] if m else None for m in metrics])


# text render modes that paint nothing: 3 invisible (the OCR layer of a scan), 7 clip only
_INVISIBLE_MODES = frozenset({3, 7})
_STROKE_ONLY_MODES = frozenset({1, 5})
_MIN_FONT_PT = 0.5  # smaller is no text a reader sees ("zero-size" hidden text); tiny diagram labels are ~0.8 pt
_SAME_COLOUR = 12  # channel distance (0-255) under which text and what is behind it look the same
_WHITE = (255, 255, 255, 255)
_SAME_COLOUR_REASON = "in the colour of the background"
_MAX_RENDER_PX = 1600  # the confirming render of a page with suspects: enough to see glyphs, bounded memory


@dataclass(frozen=True)
class _Shape:
    """A filled path or an image on the page, in painting order."""

    order: int
    bounds: tuple[float, float, float, float]  # left, bottom, right, top
    fill: tuple[int, int, int, int] | None  # None: an image (its colours are unknown here)


def _hidden_text(textpage: pdfium.PdfTextPage, page: "pdfium.PdfPage",
                 objects: "_Objects") -> tuple[set[int], dict[str, int]]:
    """Text indices of characters a PDF viewer would not draw, and how many were dropped for which reason.

    Decided per text object (mode, size, colours and position are properties of the object): render mode 3 or
    7 unless over an image (a scan's OCR layer is invisible text over the picture of the same words), an
    effective size under 0.5 pt, entirely outside the crop box, fully transparent, or the colour of what is
    certainly behind it (see :func:`_background`) -- the last only when the rendered page confirms that its box
    shows one flat colour, since PDFium's reported colours can mislead (pattern fills, Type 3 glyphs).
    """
    if not objects.texts:
        return set(), {}
    crop = page.get_cropbox()
    reasons, suspects = _why_hidden(objects, crop)
    for text in _blank_when_drawn(page, suspects, crop):
        reasons[_address(text.raw)] = _SAME_COLOUR_REASON
    if not reasons:
        return set(), {}
    dropped: set[int] = set()
    counts: dict[str, int] = {}
    for char in range(pdfium_c.FPDFText_CountChars(textpage)):
        why = reasons.get(_address(pdfium_c.FPDFText_GetTextObject(textpage, char)))
        if why is None:
            continue
        index = pdfium_c.FPDFText_GetTextIndexFromCharIndex(textpage, char)
        if index >= 0:
            dropped.add(index)
            if not chr(pdfium_c.FPDFText_GetUnicode(textpage, char) or 32).isspace():
                counts[why] = counts.get(why, 0) + 1
    return dropped, {why: n for why, n in counts.items() if n}


@dataclass(frozen=True)
class _Text:
    """A text object: its handle, painting order, bounds on the page and the scale its forms' matrices apply."""

    raw: object
    order: int
    bounds: tuple[float, float, float, float]
    scale: float


@dataclass
class _Objects:
    """What one walk over a page's objects finds, for the hidden-text, scan and table checks alike."""

    texts: list[_Text] = field(default_factory=list)
    shapes: list[_Shape] = field(default_factory=list)  # filled paths and images, in painting order
    images: bool = False  # an image within _SHALLOW form levels (a scan under a stamped header)
    rules: list[tuple[float, float, float, float]] = field(default_factory=list)  # paths within _SHALLOW levels
    paths: list[tuple[object, _Matrix]] = field(default_factory=list)  # every path object, with its forms' matrix


_Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: _Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_MAX_FORM_DEPTH = 15
# the image and ruling checks look this many form levels deep, with each object's bounds in its form's own space
# (what pypdfium2's get_objects(max_depth=4) gave them)
_SHALLOW = 4


def _page_objects(page: "pdfium.PdfPage") -> _Objects:
    """One walk over the page's objects (form XObjects included): text objects and filled shapes/images in
    painting order with bounds in page space, whether it shows an image, and its path objects' bounds for the
    ruled-table check. Raw PDFium calls: pages can hold hundreds of thousands of objects."""
    out = _Objects()
    texts, shapes, rules, paths = out.texts, out.shapes, out.rules, out.paths
    TEXT, PATH, IMAGE, FORM = (pdfium_c.FPDF_PAGEOBJ_TEXT, pdfium_c.FPDF_PAGEOBJ_PATH, pdfium_c.FPDF_PAGEOBJ_IMAGE,
                               pdfium_c.FPDF_PAGEOBJ_FORM)
    get_type, get_bounds = pdfium_c.FPDFPageObj_GetType, pdfium_c.FPDFPageObj_GetBounds
    page_object, form_object = pdfium_c.FPDFPage_GetObject, pdfium_c.FPDFFormObj_GetObject
    scratch = _Scratch()
    left, bottom, right, top = scratch.floats
    order = 0
    stack: list[tuple[object, int, int, _Matrix, int]] = [(page.raw, 0, pdfium_c.FPDFPage_CountObjects(page.raw),
                                                            _IDENTITY, 0)]
    while stack:
        parent, i, count, matrix, depth = stack.pop()
        if i >= count:
            continue
        stack.append((parent, i + 1, count, matrix, depth))
        obj = (form_object if depth else page_object)(parent, i)
        if not obj:
            continue
        kind = get_type(obj)
        order += 1
        if kind == FORM:
            if depth + 1 < _MAX_FORM_DEPTH:
                inner = compose(_object_matrix(obj), matrix)  # the form's placement on the page
                stack.append((obj, 0, pdfium_c.FPDFFormObj_CountObjects(obj), inner, depth + 1))
            continue
        if kind != TEXT and kind != PATH and kind != IMAGE:
            continue
        if not get_bounds(obj, left, bottom, right, top):
            continue
        box = (left.value, bottom.value, right.value, top.value)
        if kind == PATH:
            paths.append((obj, matrix))
        if depth < _SHALLOW:
            if kind == PATH:
                rules.append(box)
            elif kind == IMAGE:
                out.images = True
        if matrix is not _IDENTITY:
            box = _transform(box, matrix)
        if kind == TEXT:
            a, b, c, d = matrix[:4]
            texts.append(_Text(obj, order, box, abs(a * d - b * c) ** 0.5))
        elif kind == IMAGE:
            shapes.append(_Shape(order, box, None))
        else:
            fill = _path_fill(obj, scratch)
            if fill is not None:
                shapes.append(_Shape(order, box, fill))
    return out


class _Scratch:
    """ctypes out-parameters reused across the many objects of a page (allocating them costs more than the call)."""

    def __init__(self):
        self.floats = tuple(ctypes.c_float() for _ in range(4))
        self.uints = tuple(ctypes.c_uint() for _ in range(4))
        self.ints = (ctypes.c_int(), ctypes.c_int())
        self.size = ctypes.c_float()
        self.matrix = pdfium_c.FS_MATRIX()


def _why_hidden(objects: _Objects, crop: tuple[float, ...]) -> tuple[dict[int, str], list[_Text]]:
    """Why each text object a viewer would not draw is hidden (by its address), and the objects in the colour of
    a background they may lie on (suspects until the rendered page confirms it). One tight loop of raw calls:
    a 10-K page holds thousands of text objects."""
    shapes = objects.shapes
    # colours a text could hide in: the page's, and those of shapes big enough to lie behind text (not rules)
    palette = [_WHITE] + list(dict.fromkeys(s.fill for s in shapes if s.fill is not None
                                            and min(s.bounds[2] - s.bounds[0], s.bounds[3] - s.bounds[1]) >= 4))
    images = [s for s in shapes if s.fill is None]
    get_mode, get_size = pdfium_c.FPDFTextObj_GetTextRenderMode, pdfium_c.FPDFTextObj_GetFontSize
    get_matrix, get_fill, get_stroke = (pdfium_c.FPDFPageObj_GetMatrix, pdfium_c.FPDFPageObj_GetFillColor,
                                        pdfium_c.FPDFPageObj_GetStrokeColor)
    scratch = _Scratch()
    size, m = scratch.size, scratch.matrix
    r, g, b, a = scratch.uints
    crop_left, crop_bottom, crop_right, crop_top = crop
    near = _SAME_COLOUR
    reasons: dict[int, str] = {}
    suspects: list[_Text] = []
    for text in objects.texts:
        raw = text.raw
        left, bottom, right, top = text.bounds
        mode = get_mode(raw)
        if mode in _INVISIBLE_MODES:
            x, y = (left + right) / 2, (bottom + top) / 2
            if not any(s.order < text.order and s.bounds[0] <= x <= s.bounds[2] and s.bounds[1] <= y <= s.bounds[3]
                       for s in images):
                reasons[_address(raw)] = "in invisible render mode"
            continue
        if right < crop_left or left > crop_right or top < crop_bottom or bottom > crop_top:
            reasons[_address(raw)] = "outside the page"
            continue
        if get_size(raw, size):  # a negative size (mirrored text) is still drawn
            points = abs(size.value) * (abs(m.a * m.d - m.b * m.c) ** 0.5 if get_matrix(raw, m) else 1.0)
        else:
            points = _MIN_FONT_PT  # unknown: taken as the smallest size a reader sees
        if points * text.scale < _MIN_FONT_PT:
            reasons[_address(raw)] = "set at zero size"
            continue
        if not (get_stroke if mode in _STROKE_ONLY_MODES else get_fill)(raw, r, g, b, a):
            continue
        if a.value == 0:
            reasons[_address(raw)] = "fully transparent"
            continue
        red, green, blue = r.value, g.value, b.value
        if not any(abs(red - c[0]) <= near and abs(green - c[1]) <= near and abs(blue - c[2]) <= near
                   for c in palette):
            continue  # the usual case: no background could have this colour
        background = _background(text.order, text.bounds, shapes)
        if background is not None and _same((red, green, blue, a.value), background):
            suspects.append(text)  # PDFium's colours can mislead (patterns, Type 3 glyphs): the render decides
    return reasons, suspects


def _background(order: int, box: tuple[float, float, float, float], shapes: list[_Shape]):
    """The colour behind a text box when it is certain: the last filled shape painted before it that covers the
    whole box, or the white page when no shape or image touches the box at all; None when unsure (an image,
    a shape painted after it, one that covers the box only in part: PDFium does not say how those blend)."""
    touching = [s for s in shapes if _overlaps(s.bounds, box)]
    if not touching:
        return _WHITE
    under = [s for s in touching if s.order < order]
    if len(under) != len(touching) or not under:
        return None
    last = under[-1]
    return last.fill if last.fill is not None and _covers(last.bounds, box) else None


def _blank_when_drawn(page: "pdfium.PdfPage", suspects: list[_Text], crop: tuple[float, ...]) -> list[_Text]:
    """The suspects whose box is one flat colour in the rendered page: drawn, they would show nothing."""
    if not suspects or page.get_rotation() % 360:
        return []
    width, height = crop[2] - crop[0], crop[3] - crop[1]
    scale = min(2.0, _MAX_RENDER_PX / max(width, height, 1.0))
    pixels = page.render(scale=scale, may_draw_forms=False).to_numpy().astype("int16")
    blank = []
    for text in suspects:
        left, bottom, right, top = text.bounds
        x0, x1 = int((left - crop[0]) * scale), int((right - crop[0]) * scale) + 1
        y0, y1 = int((crop[3] - top) * scale), int((crop[3] - bottom) * scale) + 1
        region = pixels[max(0, y0):max(0, y1), max(0, x0):max(0, x1), :3]
        if region.size and int((region.max(axis=(0, 1)) - region.min(axis=(0, 1))).max()) <= 2 * _SAME_COLOUR:
            blank.append(text)
    return blank


def _address(handle) -> int:
    return ctypes.cast(handle, ctypes.c_void_p).value or 0


def _object_matrix(obj, m=None) -> _Matrix:
    m = m if m is not None else pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFPageObj_GetMatrix(obj, m):
        return _IDENTITY
    return (m.a, m.b, m.c, m.d, m.e, m.f)


def _transform(box: tuple[float, float, float, float], matrix: _Matrix) -> tuple[float, float, float, float]:
    """The page-space bounds of a box in a form's space."""
    a, bb, c, d, e, f = matrix
    xs = [a * x + c * y + e for x, y in ((box[0], box[1]), (box[0], box[3]), (box[2], box[1]), (box[2], box[3]))]
    ys = [bb * x + d * y + f for x, y in ((box[0], box[1]), (box[0], box[3]), (box[2], box[1]), (box[2], box[3]))]
    return min(xs), min(ys), max(xs), max(ys)


def _colour(obj, scratch: "_Scratch", stroke: bool = False) -> tuple[int, int, int, int] | None:
    r, g, b, a = scratch.uints
    get = pdfium_c.FPDFPageObj_GetStrokeColor if stroke else pdfium_c.FPDFPageObj_GetFillColor
    if not get(obj, r, g, b, a):
        return None
    return r.value, g.value, b.value, a.value


def _path_fill(obj, scratch: "_Scratch") -> tuple[int, int, int, int] | None:
    """The fill colour of a filled path; None for a path that is only stroked."""
    fillmode, stroke = scratch.ints
    if not pdfium_c.FPDFPath_GetDrawMode(obj, fillmode, stroke) or fillmode.value == 0:
        return None
    return _colour(obj, scratch)


def _same(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return abs(a[0] - b[0]) <= _SAME_COLOUR and abs(a[1] - b[1]) <= _SAME_COLOUR and abs(a[2] - b[2]) <= _SAME_COLOUR


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _covers(outer: tuple[float, float, float, float], inner: tuple[float, float, float, float]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def _soft_hyphens(line: str) -> str:
    # pdfium marks a hyphen that breaks a word at a line end as U+FFFE (sometimes without the newline)
    return re.sub(r"(?<=[a-z])\ufffe(?=[a-z])", "", line).replace("\ufffe", "-")


def _line_metrics(textpage: pdfium.PdfTextPage, text: str, start: int, end: int) -> tuple[float, float] | None:
    """Baseline y of a line's first character and the line's height (median font box of a few chars)."""
    char_index = pdfium_c.FPDFText_GetCharIndexFromTextIndex(textpage, start)
    if char_index < 0 or pdfium_c.FPDFText_GetUnicode(textpage, char_index) != ord(text[start]):
        return None
    x, y = ctypes.c_double(), ctypes.c_double()
    if not pdfium_c.FPDFText_GetCharOrigin(textpage, char_index, x, y):
        return None
    heights = []
    for text_index in sorted({start + (end - 1 - start) * k // 2 for k in range(3)}):
        if text[text_index].isspace():
            continue
        index = pdfium_c.FPDFText_GetCharIndexFromTextIndex(textpage, text_index)
        if index >= 0:
            _, bottom, _, top = textpage.get_charbox(index, loose=True)
            heights.append(max(0.0, top - bottom))
    return y.value, statistics.median(heights) if heights else 0.0


def _layout_breaks(metrics: list[tuple[float, float] | None]) -> set[int]:
    """Indices of lines that start a new block: a larger gap than usual, a size change, a jump upwards."""
    pairs = [(i, a, b) for i, (a, b) in enumerate(zip(metrics, metrics[1:]), start=1) if a and b and a[1] and b[1]]
    pitches = [a[0] - b[0] for _, a, b in pairs if abs(a[1] - b[1]) < 0.1 * a[1] and 0 < a[0] - b[0] < 2.5 * a[1]]
    if len(pitches) < 3 or len(pitches) < len(pairs) / 3:
        return set()  # rotated or scattered text: the layout says nothing reliable
    usual = statistics.median(pitches)
    breaks = set()
    for i, (y0, h0), (y1, h1) in pairs:
        pitch = y0 - y1
        if abs(h1 - h0) > 0.2 * max(h0, h1) or pitch < -0.5 * h1 or pitch > 1.3 * usual + 0.1 * h1:
            breaks.add(i)
    return breaks


class _PypdfSource(_Source):
    def __init__(self, data: bytes):
        from pypdf import PdfReader  # only needed for the few files PDFium refuses

        self._reader = PdfReader(io.BytesIO(data))
        if self._reader.is_encrypted:
            try:
                opened = self._reader.decrypt("")
            except Exception as exc:  # noqa: BLE001 - e.g. an unsupported algorithm
                raise UnreadableFile(f"encrypted PDF: cannot decrypt it ({_brief(exc)})") from exc
            if not opened:
                raise UnreadableFile(PASSWORD_REQUIRED)
        self.page_count = len(self._reader.pages)

    def page(self, index: int) -> _Page:
        page = self._reader.pages[index]
        text = page.extract_text()
        lines = [part for raw in text.splitlines() for part in _INLINE_BULLET.split(cleanup.clean_line(raw)) if part]
        return _Page(lines=lines, has_images=len(lines) <= _FEW_LINES and _pypdf_has_images(page))

    def outline(self) -> list[_OutlineEntry]:
        return list(self._walk(self._reader.outline, 0))

    def _walk(self, items, level: int) -> Iterator[_OutlineEntry]:
        for item in items:
            if isinstance(item, list):
                yield from self._walk(item, level + 1)
                continue
            index = self._reader.get_destination_page_number(item)
            title = cleanup.clean_line(str(item.title or ""))
            if index is not None and index >= 0 and _meaningful_outline_title(title):
                yield _OutlineEntry(level, title, index)

    def metadata_title(self) -> str:
        meta = self._reader.metadata
        return str(meta.title or "") if meta else ""


def _pypdf_has_images(page) -> bool:
    try:
        return len(page.images) > 0
    except Exception:  # noqa: BLE001 - unknown: assume a scan rather than claim a blank page
        return True
