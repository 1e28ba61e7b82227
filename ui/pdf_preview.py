"""A picture of a cited PDF page with the supporting quote highlighted on it (pypdfium2)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

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


def render_page(path: str | Path, page: int, quote: str = "", scale: float = 1.5) -> PagePicture:
    """Render 1-based ``page`` of the PDF at ``path`` with the boxes of ``quote`` painted in translucent yellow."""
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
            if span is not None:
                start, end = span
                for i in range(textpage.count_rects(start, end - start)):
                    left, bottom, right, top = textpage.get_rect(i)
                    boxes.append((left * scale, (height - top) * scale, right * scale, (height - bottom) * scale))
            else:
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
