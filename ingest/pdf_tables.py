"""Tables in PDFs as tables: pdfplumber finds ruled tables, and each row becomes ``Header: value; …``.

PDFium gives a table's text as flattened lines ("London £180 £55"): a reader, the keyword index and the
judge lose which number belongs to which column. On pages whose ruling lines form a grid (a quick check of
PDFium's path objects, :func:`has_ruled_grid`), pdfplumber finds the tables; the lines inside a table's box are
replaced by one line per row that names every cell by its column header, the same shape the DOCX parser gives
tables. pdfplumber re-parses the page with pdfminer (~0.2 s a dense page), so pages without a grid, such as the
unruled or shaded-band statements of a 10-K filing, keep their flat text without being looked at.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MAX_TABLE_PAGES = 400  # pdfplumber costs 50-250 ms a page: beyond this many candidate pages, keep the flat text
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


def has_ruled_grid(page) -> bool:
    """Whether a PDFium page's path objects hold at least three vertical rules that each cross three
    horizontal ones (a header row and a row under it, two columns): the smallest table pdfplumber's "lines"
    strategy reads with its headers. Rectangles count by their four edges, as pdfplumber counts them.
    Bounds of paths inside form objects are the form's own, which a quick check can live with."""
    import pypdfium2.raw as pdfium_c

    vertical, horizontal = [], []
    for obj in page.get_objects([pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=4):
        left, bottom, right, top = obj.get_bounds()
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
    """Finds the ruled tables of a PDF's pages, opening the file with pdfplumber only when a page needs it."""

    def __init__(self, path: Path):
        self.path = path
        self._pdf = None
        self._pages_looked_at = 0

    def tables(self, index: int, page_height: float) -> list[Table]:
        """The tables on page ``index`` (0-based), or [] when there are none or looking is too costly."""
        if self._pages_looked_at >= MAX_TABLE_PAGES:
            return []
        self._pages_looked_at += 1
        try:
            if self._pdf is None:
                import pdfplumber

                self._pdf = pdfplumber.open(str(self.path))
            page = self._pdf.pages[index]
            found = page.find_tables()
            out = []
            for table in found:
                rows = row_lines(table.extract())
                if rows:
                    x0, top, x1, bottom = table.bbox  # pdfplumber measures from the top of the page
                    out.append(Table(bottom=page_height - bottom, top=page_height - top, rows=tuple(rows)))
            page.close()
            return out
        except Exception as exc:  # noqa: BLE001 - a table we cannot read keeps its flat text
            log.debug("tables of page %d unreadable: %s", index + 1, exc)
            return []

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()
            self._pdf = None
