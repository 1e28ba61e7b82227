"""Tables in PDFs as tables: pdfplumber finds ruled tables, and each row becomes ``Header: value; …``.

PDFium gives a table's text as flattened lines ("London £180 £55"): a reader, the keyword index and the
judge lose which number belongs to which column. On pages with ruling lines (a quick count of path
objects), pdfplumber finds the tables; the lines inside a table's box are replaced by one line per row
that names every cell by its column header, the same shape the DOCX parser gives tables.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MIN_PATHS = 6  # fewer path objects (ruling lines, cell borders) on a page: no ruled table to look for
MAX_TABLE_PAGES = 400  # pdfplumber costs ~50 ms a page: beyond this many candidate pages, keep the flat text


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
