"""A picture of a cited PDF page with the supporting quote highlighted on it (pypdfium2).

The quote is found in the page's text layer; on a scanned page (no text layer) it is found in the words OCR
read at ingest, whose boxes the index keeps (``kb.index.ocr``)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ingest.ocr import OcrPage

log = logging.getLogger(__name__)

_SKIP = re.compile(r"[\s\-\u00ad\u2010\u2011]")  # whitespace and hyphens: line breaks differ from the parsed text
_FOLD = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "\ufb01": "fi", "\ufb02": "fl"})


@dataclass
class PagePicture:
    """A rendered page; ``boxes`` are the highlighted rectangles in image pixels (empty: quote not found)."""

    image: object  # PIL.Image.Image
    boxes: list[tuple[float, float, float, float]]


def _normalise(text: str) -> tuple[str, list[int]]:
    """Text without whitespace/hyphens, case-folded, with each kept character's index in the original."""
    chars, where = [], []
    for i, ch in enumerate(text):
        if _SKIP.match(ch):
            continue
        for folded in ch.translate(_FOLD).lower():
            chars.append(folded)
            where.append(i)
    return "".join(chars), where


def find_quote(page_text: str, quote: str) -> tuple[int, int] | None:
    """(start, end) character range of ``quote`` in ``page_text``, ignoring line breaks, hyphens and case.

    Falls back to the longest of the quote's first/last halves so a quote that crosses a removed page
    header still gets most of its text highlighted.
    """
    haystack, where = _normalise(page_text)
    needle, _ = _normalise(quote)
    candidates = [needle]
    if len(needle) > 40:
        half = len(needle) // 2
        candidates += [needle[:half], needle[half:]]
    for candidate in candidates:
        if not candidate:
            continue
        at = haystack.find(candidate)
        if at >= 0:
            return where[at], where[at + len(candidate) - 1] + 1
    return None


def ocr_boxes(ocr: "OcrPage", quote: str) -> list[tuple[float, float, float, float]]:
    """Boxes (left, bottom, right, top, page points) covering ``quote`` on a page read by OCR: one per line,
    around the words the quote spans (matched like :func:`find_quote`, ignoring line breaks and hyphens)."""
    text, spans = [], []  # the page's words joined by spaces, and where each word sits in that text
    at = 0
    for n, line in enumerate(ocr.lines):
        for word in line.words:
            spans.append((at, at + len(word.text), n, word.box))
            text.append(word.text)
            at += len(word.text) + 1
    found = find_quote(" ".join(text), quote)
    if found is None:
        return []
    start, end = found
    lines: dict[int, list[float]] = {}
    for first, last, n, (left, bottom, right, top) in spans:
        if first < end and last > start:
            box = lines.setdefault(n, [left, bottom, right, top])
            box[:] = [min(box[0], left), min(box[1], bottom), max(box[2], right), max(box[3], top)]
    return [tuple(box) for _, box in sorted(lines.items())]


def row_cells(quote: str) -> list[str]:
    """The cell values of a table row as the index writes rows ("Header: value; Header: value"), or [] when the
    quote is not such a row (its last line counts: a lead-in may stand above it)."""
    line = quote.strip().splitlines()[-1] if quote.strip() else ""
    cells = [c.split(": ", 1) for c in line.split("; ")]
    if len(cells) < 2 or any(len(c) != 2 or not c[1].strip() for c in cells):
        return []
    return [c[1].strip() for c in cells if c[1].strip() not in ("–", "-")]


def find_row(page_text: str, cells: list[str]) -> list[tuple[int, int]]:
    """Ranges of a row's cell values on the page: the first cell where it occurs, each other cell at its
    occurrence nearest to it (the same row of the printed table, not a look-alike further down)."""
    haystack, where = _normalise(page_text)
    needles = [_normalise(c)[0] for c in cells]
    if not needles or not needles[0]:
        return []
    out = []
    for anchor in _occurrences(haystack, needles[0]):
        ranges = [(anchor, anchor + len(needles[0]))]
        for needle in needles[1:]:
            places = _occurrences(haystack, needle)
            if not places:
                break
            near = min(places, key=lambda at: abs(at - anchor))
            ranges.append((near, near + len(needle)))
        else:
            spread = max(b for _, b in ranges) - min(a for a, _ in ranges)
            out.append((spread, ranges))
    if not out:
        return []
    _, ranges = min(out)
    return [(where[a], where[b - 1] + 1) for a, b in ranges]


def _occurrences(haystack: str, needle: str) -> list[int]:
    out, at = [], haystack.find(needle)
    while needle and at >= 0:
        out.append(at)
        at = haystack.find(needle, at + 1)
    return out


def render_page(path: str | Path, page: int, quote: str = "", scale: float = 1.5,
                ocr: "OcrPage | None" = None, span: str = "") -> PagePicture:
    """Render 1-based ``page`` of the PDF at ``path`` with the boxes of ``quote`` painted in translucent yellow
    (found in the page's text, or else in ``ocr``: the page as OCR read it at ingest). A table row quoted as
    "Header: value; ..." is marked by its cells, as printed; ``span`` (the answer inside the quote) is outlined
    more strongly."""
    import pypdfium2 as pdfium
    from PIL import ImageDraw

    pdf = pdfium.PdfDocument(str(path))
    try:
        pdf_page = pdf[page - 1]
        width, height = pdf_page.get_size()
        image = pdf_page.render(scale=scale).to_pil().convert("RGB")
        boxes, strong = [], []

        def to_image(rects):
            return [(left * scale, (height - top) * scale, right * scale, (height - bottom) * scale)
                    for left, bottom, right, top in rects]

        if quote:
            textpage = pdf_page.get_textpage()
            text = textpage.get_text_range(0, textpage.count_chars())

            def rects_of(start: int, end: int) -> list:
                return [textpage.get_rect(i) for i in range(textpage.count_rects(start, end - start))]

            found = find_quote(text, quote)
            ranges = [found] if found is not None else find_row(text, row_cells(quote))
            rects = [r for a, b in ranges for r in rects_of(a, b)]
            if not rects and ocr is not None:
                rects = ocr_boxes(ocr, quote)  # page coordinates of the page as displayed, like get_rect's
            boxes = to_image(rects)
            if not rects:
                log.info("quote not found on page %d of %s", page, path)
            elif span and ranges:
                lo, hi = min(a for a, _ in ranges), max(b for _, b in ranges)
                inner = find_quote(text[lo:hi], span)
                strong = to_image(rects_of(lo + inner[0], lo + inner[1])) if inner else []
        # drawing in "RGBA" mode on an RGB image blends the translucent fill over the text
        draw = ImageDraw.Draw(image, "RGBA")
        for left, top, right, bottom in boxes:
            draw.rectangle((left - 2, top - 2, right + 2, bottom + 2), fill=(255, 214, 0, 90),
                           outline=(230, 160, 0, 255), width=2)
        for left, top, right, bottom in strong:
            draw.rectangle((left - 3, top - 3, right + 3, bottom + 3), outline=(200, 60, 0, 255), width=3)
        return PagePicture(image=image, boxes=boxes)
    finally:
        pdf.close()


def focus(picture: PagePicture, margin: int = 160):
    """The part of the page around the highlighted quote (the whole page when nothing is highlighted)."""
    image = picture.image
    if not picture.boxes:
        return image
    top = max(0, int(min(b[1] for b in picture.boxes)) - margin)
    bottom = min(image.height, int(max(b[3] for b in picture.boxes)) + margin)
    return image.crop((0, top, image.width, bottom))
