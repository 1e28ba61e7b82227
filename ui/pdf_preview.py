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


def render_page(path: str | Path, page: int, quote: str = "", scale: float = 1.5,
                ocr: "OcrPage | None" = None) -> PagePicture:
    """Render 1-based ``page`` of the PDF at ``path`` with the boxes of ``quote`` painted in translucent yellow
    (found in the page's text, or else in ``ocr``: the page as OCR read it at ingest)."""
    import pypdfium2 as pdfium
    from PIL import ImageDraw

    pdf = pdfium.PdfDocument(str(path))
    try:
        pdf_page = pdf[page - 1]
        width, height = pdf_page.get_size()
        image = pdf_page.render(scale=scale).to_pil().convert("RGB")
        boxes = []
        if quote:
            textpage = pdf_page.get_textpage()
            count = textpage.count_chars()
            span = find_quote(textpage.get_text_range(0, count), quote)
            rects = []
            if span is not None:
                start, end = span
                rects = [textpage.get_rect(i) for i in range(textpage.count_rects(start, end - start))]
            elif ocr is not None:
                rects = ocr_boxes(ocr, quote)  # page coordinates of the page as displayed, like get_rect's
            for left, bottom, right, top in rects:
                boxes.append((left * scale, (height - top) * scale, right * scale, (height - bottom) * scale))
            if not rects:
                log.info("quote not found on page %d of %s", page, path)
        # drawing in "RGBA" mode on an RGB image blends the translucent fill over the text
        draw = ImageDraw.Draw(image, "RGBA")
        for left, top, right, bottom in boxes:
            draw.rectangle((left - 2, top - 2, right + 2, bottom + 2), fill=(255, 214, 0, 90),
                           outline=(230, 160, 0, 255), width=2)
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
