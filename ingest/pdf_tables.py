"""Tables in PDFs as tables: pdfplumber's table finder reads ruled tables, and each row becomes ``Header: value; …``.

PDFium gives a table's text as flattened lines ("London £180 £55"): a reader, the keyword index and the
judge lose which number belongs to which column. On pages whose ruling lines form a grid (a quick check of
PDFium's path objects, :func:`has_ruled_grid`), pdfplumber's table finder finds the tables in the paths and
characters PDFium has read (:class:`TableFinder`); the lines inside a table's box are replaced by one line per
row that names every cell by its column header, the same shape the DOCX parser gives tables. Pages without a
grid, such as the unruled or shaded-band statements of a 10-K filing, keep their flat text without being looked
at.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAX_TABLE_PAGES = 400  # beyond this many candidate pages in one file, keep the flat text
_TOLERANCE = 3.0  # points; pdfplumber's own snap/join/intersection tolerance


@dataclass(frozen=True)
class Table:
    """One table: its box in PDF coordinates (origin bottom left) and its rows as text lines."""

    bottom: float
    top: float
    rows: tuple[str, ...]


def row_lines(cells: list[list[str | None]]) -> list[str]:
    """Rows under a header row as ``Header: value; Header: value`` (empty cells left out); [] when the
    "table" has no header row of two or more names over at least one row (shaded bands of a financial
    statement, a boxed paragraph): its flat text reads better than a guess at its columns."""
    clean = [[" ".join((c or "").split()) for c in row] for row in cells if any((c or "").strip() for c in row)]
    if len(clean) < 2 or sum(1 for h in clean[0] if h) < 2:
        return []
    header, body = clean[0], clean[1:]
    out = []
    for row in body:
        pairs = [f"{h}: {c}" if h else c for h, c in zip(header, row) if c]
        if pairs:
            out.append("; ".join(pairs))
    return out


def has_ruled_grid(paths: list[tuple[float, float, float, float]]) -> bool:
    """Whether a page's path objects hold at least three vertical rules that each cross three horizontal ones
    (a header row and a row under it, two columns): the smallest table pdfplumber's "lines" strategy reads with
    its headers. Rectangles count by their four edges, as pdfplumber counts them.

    ``paths``: the (left, bottom, right, top) bounds of the page's path objects, which the PDF parser's one walk
    over the page collects. Bounds of paths inside form objects are the form's own, which a quick check can live
    with."""
    vertical, horizontal = [], []
    for left, bottom, right, top in paths:
        width, height = right - left, top - bottom
        if width < _TOLERANCE and height > _TOLERANCE:
            vertical.append(((left + right) / 2, bottom, top))
        elif height < _TOLERANCE and width > _TOLERANCE:
            horizontal.append(((bottom + top) / 2, left, right))
        elif width >= _TOLERANCE and height >= _TOLERANCE:
            vertical += [(left, bottom, top), (right, bottom, top)]
            horizontal += [(bottom, left, right), (top, left, right)]
    vertical, horizontal = _joined(vertical), _joined(horizontal)
    if len(vertical) < 3 or len(horizontal) < 3:
        return False
    crossing = 0
    for x, low, high in vertical:
        crosses = sum(1 for y, x0, x1 in horizontal
                      if x0 - _TOLERANCE <= x <= x1 + _TOLERANCE and low - _TOLERANCE <= y <= high + _TOLERANCE)
        crossing += crosses >= 3
        if crossing >= 3:
            return True
    return False


def _joined(segments: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """Collinear segments (same position within the tolerance) that touch or overlap, merged into one."""
    out: list[tuple[float, float, float]] = []
    for position, start, end in sorted(segments):
        if out and abs(out[-1][0] - position) <= _TOLERANCE and start <= out[-1][2] + _TOLERANCE:
            out[-1] = (out[-1][0], out[-1][1], max(out[-1][2], end))
        else:
            out.append((position, start, end))
    return out


class TableFinder:
    """Finds the ruled tables of a PDF's pages with pdfplumber's table finder, fed with what PDFium has read of
    the page already: the path objects' segments as pdfplumber's edges and the text page's characters as its
    chars. pdfplumber would re-parse the page with pdfminer for them, 3-4 s a dense 10-K page against ~0.1 s.

    The edges follow pdfminer's reading of paths (one subpath at a time, a curve by its end points, a two-point
    subpath a line), so pdfplumber meets the same edges and finds the same cells; characters a viewer would not
    draw (hidden text) are left out of the cells as they are out of the page's text."""

    def __init__(self):
        self._pages_looked_at = 0

    def tables(self, index: int, textpage, paths: list, texts: list, page_height: float,
               hidden: set[int] = frozenset()) -> list[Table]:
        """The tables on page ``index`` (0-based), or [] when there are none or looking is too costly.

        ``paths``: (raw path object, matrix of the forms it lies in) for each path object of the page; ``texts``:
        (raw text object, bounds on the page) for each text object, in painting order; ``hidden``: text indices
        of the characters left out of the page's text."""
        if self._pages_looked_at >= MAX_TABLE_PAGES:
            return []
        self._pages_looked_at += 1
        try:
            from pdfplumber.table import TableFinder as Finder

            found = Finder(_PageData(_edges(paths, page_height), _chars(textpage, texts, page_height, hidden),
                                     page_height)).tables
            out = []
            for table in found:
                rows = row_lines(table.extract())
                if rows:
                    x0, top, x1, bottom = table.bbox  # measured from the top of the page, as pdfplumber does
                    out.append(Table(bottom=page_height - bottom, top=page_height - top, rows=tuple(rows)))
            return out
        except Exception as exc:  # noqa: BLE001 - a table we cannot read keeps its flat text
            log.debug("tables of page %d unreadable: %s", index + 1, exc)
            return []


class _PageData:
    """The parts of a pdfplumber page its table finder reads."""

    def __init__(self, edges: list[dict], chars: list[dict], height: float):
        self.edges, self.chars = edges, chars
        self.bbox = (0.0, 0.0, 0.0, height)


def _edges(paths: list, height: float) -> list[dict]:
    """pdfplumber's edges of the page's paths, in its frame (y down from the top of the page)."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    moveto, bezier = pdfium_c.FPDF_SEGMENT_MOVETO, pdfium_c.FPDF_SEGMENT_BEZIERTO
    count, segment = pdfium_c.FPDFPath_CountSegments, pdfium_c.FPDFPath_GetPathSegment
    point, kind_of, closes = (pdfium_c.FPDFPathSegment_GetPoint, pdfium_c.FPDFPathSegment_GetType,
                              pdfium_c.FPDFPathSegment_GetClose)
    x, y = ctypes.c_float(), ctypes.c_float()
    m = pdfium_c.FS_MATRIX()
    edges: list[dict] = []
    for obj, outer in paths:
        a, b, c, d, e, f = compose((m.a, m.b, m.c, m.d, m.e, m.f) if pdfium_c.FPDFPageObj_GetMatrix(obj, m)
                                    else (1.0, 0.0, 0.0, 1.0, 0.0, 0.0), outer)
        subpaths: list[list[tuple[float, float]]] = []
        curves = 0
        for i in range(max(0, count(obj))):
            seg = segment(obj, i)
            if not seg or not point(seg, x, y):
                continue
            px, py = x.value, y.value
            here = (a * px + c * py + e, height - (b * px + d * py + f))
            kind = kind_of(seg)
            if kind == moveto:
                subpaths.append([here])
                curves = 0
            elif subpaths:  # pdfminer skips a path that does not start with a move
                if kind == bezier:  # pdfminer keeps a curve's end point only (of its three points)
                    curves += 1
                    if curves % 3:
                        continue
                subpaths[-1].append(here)
            if subpaths and closes(seg) and subpaths[-1][-1] != subpaths[-1][0]:
                subpaths[-1].append(subpaths[-1][0])
        for points in subpaths:
            if len(points) == 2 or (len(points) == 3 and points[2] == points[0]):  # a line ("ml", "mlh")
                edges.append(_edge(points[0], points[1], "h" if points[0][1] == points[1][1] else "v"))
            else:
                edges += [_edge(p, q, "v" if p[0] == q[0] else ("h" if p[1] == q[1] else None))
                          for p, q in zip(points, points[1:])]
    return edges


def _edge(p: tuple[float, float], q: tuple[float, float], orientation: str | None) -> dict:
    top, bottom = min(p[1], q[1]), max(p[1], q[1])
    return {"object_type": "curve_edge", "x0": min(p[0], q[0]), "x1": max(p[0], q[0]), "top": top, "doctop": top,
            "bottom": bottom, "width": abs(p[0] - q[0]), "height": bottom - top, "orientation": orientation}


def _chars(textpage, texts: list, height: float, hidden: set[int]) -> list[dict]:
    """pdfplumber's chars of the page: the glyphs the PDF draws, each in its box of font ascent and advance, in
    pdfplumber's frame.

    PDFium's text page has no space glyphs: it drops them and puts spaces of its own where it sees word breaks
    (also where the PDF has none: in front of a footnote mark set apart, "Florida(3)"; at a jump to the next
    column). pdfminer keeps the space glyphs, and they split a cell's words, so they are put back: a space PDFium
    made between two glyphs of one text object whose text has spaces, and a text object of its own (``texts``:
    (raw object, bounds) in painting order) that PDFium reads no text from and whose box is its origin alone (no
    ink), on the line of the glyph painted before it."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    raw = textpage.raw
    unicode, box, made = pdfium_c.FPDFText_GetUnicode, pdfium_c.FPDFText_GetLooseCharBox, pdfium_c.FPDFText_IsGenerated
    angle, size, text_index = pdfium_c.FPDFText_GetCharAngle, pdfium_c.FPDFText_GetFontSize, \
        pdfium_c.FPDFText_GetTextIndexFromCharIndex
    object_of, get_text = pdfium_c.FPDFText_GetTextObject, pdfium_c.FPDFTextObj_GetText
    rect = pdfium_c.FS_RECTF()
    chars: list[dict] = []
    last_of: dict[int, dict] = {}  # text object (address) -> its last glyph
    spaced: dict[int, bool] = {}  # text object (address) -> whether its text has a space
    made_space, before = False, 0
    for i in range(pdfium_c.FPDFText_CountChars(raw)):
        code = unicode(raw, i)
        if code == 32 and made(raw, i) == 1:
            made_space = True
            continue
        if code in _HYPHENS:  # a hyphen that breaks a word at a line end, as PDFium marks it
            code = 0x2D
        if code < 32 or (hidden and text_index(raw, i) in hidden) or not box(raw, i, ctypes.byref(rect)):
            continue
        top, bottom = height - rect.top, height - rect.bottom
        char = {"text": chr(code), "x0": rect.left, "x1": rect.right, "top": top, "doctop": top, "bottom": bottom,
                "upright": abs(angle(raw, i)) < 1e-3, "size": size(raw, i)}
        obj = object_of(raw, i)
        address = ctypes.cast(obj, ctypes.c_void_p).value or 0
        if made_space and address and address == before and chars:
            if address not in spaced:
                spaced[address] = " " in _object_text(get_text, obj, raw)
            if spaced[address]:
                chars.append({**chars[-1], "text": " ", "x0": chars[-1]["x1"],
                              "x1": max(chars[-1]["x1"], char["x0"])})
        made_space, before = False, address
        chars.append(char)
        last_of[address] = char
    line = None  # the last glyph painted before the object in hand
    for obj, (left, bottom, right, top) in texts:
        address = ctypes.cast(obj, ctypes.c_void_p).value or 0
        if address in last_of:
            line = last_of[address]
        elif line is not None and right - left < 1e-3 and top - bottom < 1e-3 and get_text(obj, raw, None, 0) <= 2 \
                and line["top"] <= height - bottom <= line["bottom"]:
            chars.append({**line, "text": " ", "x0": left, "x1": left})
    return chars


def _object_text(get_text, obj, textpage) -> str:
    import ctypes

    import pypdfium2.raw as pdfium_c

    size = get_text(obj, textpage, None, 0)
    buffer = ctypes.create_string_buffer(max(size, 2))
    get_text(obj, textpage, ctypes.cast(buffer, ctypes.POINTER(pdfium_c.FPDF_WCHAR)), size)
    return buffer.raw[:size].decode("utf-16-le", errors="ignore")


_HYPHENS = frozenset({0x02, 0xFFFE})


def compose(inner: tuple, outer: tuple) -> tuple:
    """``inner`` then ``outer`` (PDF row-vector convention)."""
    a, b, c, d, e, f = inner
    A, B, C, D, E, F = outer
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)
