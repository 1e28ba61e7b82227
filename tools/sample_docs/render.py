"""Render the sample documents from ``tools/sample_docs/source/`` into ``sample_docs/``.

* PDFs (reportlab): running header and footer on every page, bold section headings, PDF outline
  (bookmarks), real tables and lists, metadata title;
* DOCX (python-docx): Heading 1/Heading 2 styles, "Table Grid" tables with a header row,
  "List Bullet"/"List Number" lists, page header/footer, core-properties title;
* the Markdown and plain-text sources are copied unchanged.

The output is deterministic (byte for byte). reportlab is needed ONLY here, to regenerate the PDFs; it is a
development tool, not a runtime dependency of ``kb``. The files it produces are committed, and so are
``sample_docs/questions.jsonl`` and ``sample_docs/README.md``, which are edited by hand.

Usage::

    python tools/sample_docs/render.py            # rewrite the documents in sample_docs/
    python tools/sample_docs/check.py             # then verify them and every answer's page/section
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import io
import logging
import os
import re
import sys
import zipfile
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from xml.sax.saxutils import escape

from model import COMPANY, CONFIDENTIAL, CREATOR, FIXED_TIME, OUT, Doc, Library, load_library

log = logging.getLogger("render")

_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _rl_markup(text: str) -> str:
    return _BOLD.sub(r"<b>\1</b>", escape(text))


def _plain(text: str) -> str:
    return _BOLD.sub(r"\1", text)


# --- PDF (reportlab, imported lazily: check.py also runs without it) -------------------------------------


def render_pdf(doc: Doc) -> tuple[bytes, dict]:
    """Lay out ``doc`` twice (the second pass knows the page count for "Page N of M").

    Returns the PDF bytes and layout facts: ``pages``, ``flowed_paragraphs`` (numbers of the body
    paragraphs that continue on the next page) and ``free_space`` (points left at the bottom of each page).
    """
    with _source_date_epoch(FIXED_TIME):
        data, info = _render_pdf(doc, None)
        data, info2 = _render_pdf(doc, info["pages"])
    assert info2["pages"] == info["pages"]
    return data, info2


@contextmanager
def _source_date_epoch(when: dt.datetime):
    # reportlab's invariant mode makes the output byte-for-byte reproducible; SOURCE_DATE_EPOCH sets the
    # creation/modification date it records (instead of 1 January 2000)
    saved = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(int(when.replace(tzinfo=dt.UTC).timestamp()))
    try:
        yield
    finally:
        if saved is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = saved


def _render_pdf(doc: Doc, total_pages: int | None) -> tuple[bytes, dict]:
    st = _pdf_styles()
    buf = io.BytesIO()
    tpl = _pdf_classes().Template(buf, doc, total_pages, st)
    tpl.build(_pdf_story(doc, st, tpl.width))
    flowed = sorted(tag for tag, pages in tpl.fragments.items() if len(pages) > 1)
    return buf.getvalue(), {"pages": tpl.page, "flowed_paragraphs": flowed, "free_space": tpl.free_space}


def _pdf_styles() -> dict:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    # Bullets are drawn in Bitstream Vera (shipped with reportlab, embedded as a subset with a ToUnicode map)
    # because a "•" in the standard Helvetica encoding comes out of pypdf as the control character \x7f.
    if "Vera" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("Vera", "Vera.ttf"))
    teal = colors.HexColor("#0B5563")
    grey = colors.HexColor("#5A6570")
    body = ParagraphStyle("Body", fontName="Helvetica", fontSize=10, leading=14, spaceAfter=6, alignment=TA_LEFT,
                          allowWidows=0, allowOrphans=0)
    cell = ParagraphStyle("Cell", fontName="Helvetica", fontSize=9, leading=11.5)
    return {
        "teal": teal, "grey": grey, "zebra": colors.HexColor("#EEF4F5"), "body": body, "cell": cell,
        "h1": ParagraphStyle("H1", fontName="Helvetica-Bold", fontSize=15, leading=19, spaceBefore=14,
                             spaceAfter=6, textColor=teal),
        "h2": ParagraphStyle("H2", fontName="Helvetica-Bold", fontSize=11.5, leading=15, spaceBefore=9, spaceAfter=4),
        "title": ParagraphStyle("Title", fontName="Helvetica-Bold", fontSize=24, leading=29, textColor=teal,
                                spaceAfter=4),
        "subtitle": ParagraphStyle("Subtitle", fontName="Helvetica", fontSize=12, leading=16, textColor=grey,
                                   spaceAfter=12),
        "head_cell": ParagraphStyle("HeadCell", parent=cell, fontName="Helvetica-Bold", textColor=colors.white),
        "item": ParagraphStyle("Item", parent=body, spaceAfter=3),
    }


@functools.cache
def _pdf_classes() -> SimpleNamespace:
    """The reportlab subclasses, defined on first use (reportlab is imported lazily)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import cm
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph

    class TaggedParagraph(Paragraph):
        """A body paragraph whose fragments remember which paragraph they came from (to find page breaks)."""

        tag = None

        def split(self, availWidth, availHeight):
            parts = super().split(availWidth, availHeight)
            for part in parts:
                part.tag = self.tag
            return parts

    class Template(BaseDocTemplate):
        """A4 pages with the running header/footer; records outline entries and where paragraphs land."""

        def __init__(self, buf, doc: Doc, total_pages: int | None, st: dict):
            super().__init__(buf, pagesize=A4, leftMargin=2.2 * cm, rightMargin=2.2 * cm, topMargin=2.6 * cm,
                             bottomMargin=2.3 * cm, title=doc.title, author=COMPANY, subject=doc.subtitle,
                             creator=CREATOR, producer="ReportLab", invariant=1)
            self.doc, self.total_pages, self.st = doc, total_pages, st
            frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="body",
                          leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
            self.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=self.decorate)])
            self.outline_keys = 0
            self.fragments: dict[int, set[int]] = {}
            self.free_space: dict[int, int] = {}

        def decorate(self, canv, _doc):
            w, h = A4
            left, right = self.leftMargin, w - self.rightMargin
            teal, grey = self.st["teal"], self.st["grey"]
            canv.showOutline()  # open the bookmarks pane in viewers
            canv.saveState()
            canv.setStrokeColor(teal)
            canv.setLineWidth(0.6)
            canv.setFont("Helvetica-Bold", 8.5)
            canv.setFillColor(teal)
            canv.drawString(left, h - 1.5 * cm, COMPANY)
            canv.setFont("Helvetica", 8.5)
            canv.setFillColor(grey)
            canv.drawRightString(right, h - 1.5 * cm, self.doc.title)
            canv.line(left, h - 1.7 * cm, right, h - 1.7 * cm)
            canv.line(left, 1.6 * cm, right, 1.6 * cm)
            canv.drawString(left, 1.15 * cm, CONFIDENTIAL)
            total = self.total_pages if self.total_pages is not None else 0
            canv.drawRightString(right, 1.15 * cm, f"Page {canv.getPageNumber()} of {total}")
            canv.restoreState()

        def afterFlowable(self, flowable):
            level = getattr(flowable, "outline_level", None)
            if level is not None:
                self.outline_keys += 1
                key = f"sec{self.outline_keys}"
                self.canv.bookmarkPage(key)
                self.canv.addOutlineEntry(flowable.outline_text, key, level=level, closed=False)
            if self.frame is not None:
                self.free_space[self.page] = round(self.frame._y - self.bottomMargin)
            tag = getattr(flowable, "tag", None)
            if tag is not None:
                self.fragments.setdefault(tag, set()).add(self.page)

    return SimpleNamespace(Template=Template, TaggedParagraph=TaggedParagraph)


def _pdf_story(doc: Doc, st: dict, avail: float) -> list:
    """The flowables: title, subtitle, the meta table, then one or more per block."""
    from reportlab.platypus import Paragraph, Spacer

    story = [Paragraph(escape(doc.title), st["title"]), Paragraph(escape(doc.subtitle), st["subtitle"])]
    meta = _pdf_table([m[0] for m in doc.meta], [[m[1] for m in doc.meta]], None, avail, st)
    story += [meta, Spacer(1, 8)]
    n_par = 0
    for i, block in enumerate(doc.blocks):
        kind = block[0]
        if kind in ("h1", "h2"):
            nxt = doc.blocks[i + 1][0] if i + 1 < len(doc.blocks) else None
            story += _pdf_heading(block, nxt, st)
        elif kind == "p":
            n_par += 1
            story.append(_tagged_paragraph(_rl_markup(block[1]), st["body"], n_par))
        elif kind in ("bullets", "numbers"):
            story += [_pdf_list(kind, block[1], st), Spacer(1, 4)]
        elif kind == "table":
            story += [_pdf_table(block[1], block[2], block[3], avail, st), Spacer(1, 8)]
        else:
            raise ValueError(kind)
    return story


def _pdf_heading(block: tuple, next_kind: str | None, st: dict) -> list:
    from reportlab.platypus import CondPageBreak, Paragraph

    kind, text = block
    p = Paragraph(escape(text), st[kind])
    p.outline_level = 0 if kind == "h1" else 1
    p.outline_text = text
    # keep a heading (and a sub-heading right after it) with at least three lines of what follows,
    # but let long paragraphs split across pages
    need = st["h1"].leading + 3 * st["body"].leading + 26
    if next_kind in ("h1", "h2"):
        need += st["h2"].leading + 14
    return [CondPageBreak(need), p]


def _tagged_paragraph(markup: str, style, tag: int):
    p = _pdf_classes().TaggedParagraph(markup, style)
    p.tag = tag
    return p


def _pdf_list(kind: str, items: list[str], st: dict):
    from reportlab.platypus import ListFlowable, ListItem, Paragraph

    flow = [ListItem(Paragraph(_rl_markup(t), st["item"]), leftIndent=16) for t in items]
    if kind == "bullets":
        return ListFlowable(flow, bulletType="bullet", start="•", leftIndent=16, bulletFontName="Vera",
                            bulletFontSize=9)
    return ListFlowable(flow, bulletType="1", bulletFormat="%s.", leftIndent=16, bulletFontName="Helvetica",
                        bulletFontSize=10)


def _pdf_table(header, rows, widths, avail, st: dict):
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    data = [[Paragraph(_rl_markup(c), st["head_cell"]) for c in header]]
    data += [[Paragraph(_rl_markup(c), st["cell"]) for c in r] for r in rows]
    widths = widths or [1 / len(header)] * len(header)
    t = Table(data, colWidths=[avail * f for f in widths], repeatRows=1, hAlign="LEFT")
    t.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), st["teal"]),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, st["zebra"]]),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#9FB3B8")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 5), ("RIGHTPADDING", (0, 0), (-1, -1), 5),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]))
    return t


# --- DOCX (python-docx) ----------------------------------------------------------------------------------


def render_docx(doc: Doc) -> bytes:
    """The DOCX bytes of ``doc``, with fixed metadata dates and zip timestamps."""
    from docx import Document
    from docx.shared import Pt

    d = Document()
    d.styles["Normal"].font.name = "Calibri"
    d.styles["Normal"].font.size = Pt(11)
    _docx_page_furniture(d, doc)
    d.add_paragraph(doc.title, style="Title")
    d.add_paragraph(doc.subtitle, style="Subtitle")
    _docx_table(d, [m[0] for m in doc.meta], [[m[1] for m in doc.meta]])
    for block in doc.blocks:
        _docx_block(d, block)
    _docx_properties(d, doc)
    buf = io.BytesIO()
    d.save(buf)
    return _normalise_zip(buf.getvalue())


def _docx_page_furniture(d, doc: Doc) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt, RGBColor

    section = d.sections[0]
    hp = section.header.paragraphs[0]
    hp.text = f"{COMPANY} – {doc.title}"
    hp.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for r in hp.runs:
        r.font.size = Pt(8)
        r.font.color.rgb = RGBColor(0x5A, 0x65, 0x70)
    fp = section.footer.paragraphs[0]
    fp.add_run(f"{CONFIDENTIAL}    Page ")
    _add_field(fp.add_run(), "PAGE")
    fp.add_run(" of ")
    _add_field(fp.add_run(), "NUMPAGES")
    for r in fp.runs:
        r.font.size = Pt(8)


def _docx_block(d, block: tuple) -> None:
    kind = block[0]
    if kind == "h1":
        d.add_heading(block[1], level=1)
    elif kind == "h2":
        d.add_heading(block[1], level=2)
    elif kind == "p":
        _docx_runs(d.add_paragraph(), block[1])
    elif kind == "bullets":
        for t in block[1]:
            _docx_runs(d.add_paragraph(style="List Bullet"), t)
    elif kind == "numbers":
        _docx_numbered(d, block[1])
    elif kind == "table":
        _docx_table(d, block[1], block[2])
    else:
        raise ValueError(kind)


def _docx_numbered(d, items: list[str]) -> None:
    # each list gets its own numbering instance, or Word would continue the previous list's numbers
    num_id = _new_numbering(d)
    for t in items:
        p = d.add_paragraph(style="List Number")
        _docx_runs(p, t)
        num_pr = p._p.get_or_add_pPr().get_or_add_numPr()
        num_pr.get_or_add_ilvl().val = 0
        num_pr.get_or_add_numId().val = num_id


def _docx_properties(d, doc: Doc) -> None:
    cp = d.core_properties
    cp.title = doc.title
    cp.subject = doc.subtitle
    cp.author = COMPANY
    cp.last_modified_by = COMPANY
    cp.comments = f"Fictional sample document generated by {CREATOR}"
    cp.created = FIXED_TIME
    cp.modified = FIXED_TIME
    cp.last_printed = FIXED_TIME
    cp.revision = 1


def _docx_runs(paragraph, text: str) -> None:
    for i, part in enumerate(re.split(r"\*\*", text)):
        if part:
            paragraph.add_run(part).bold = bool(i % 2)


def _docx_table(d, header, rows) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    t = d.add_table(rows=1 + len(rows), cols=len(header))
    t.style = "Table Grid"
    for j, h in enumerate(header):
        c = t.rows[0].cells[j]
        c.text = ""
        c.paragraphs[0].add_run(h).bold = True
    # repeat the header row on every page
    tr_pr = t.rows[0]._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    tr_pr.append(el)
    for i, r in enumerate(rows, start=1):
        for j, v in enumerate(r):
            t.rows[i].cells[j].text = _plain(v)
    d.add_paragraph()


def _add_field(run, instr: str) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    text = OxmlElement("w:instrText")
    text.set(qn("xml:space"), "preserve")
    text.text = instr
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run._r.append(begin)
    run._r.append(text)
    run._r.append(end)


def _new_numbering(d) -> int:
    """A fresh numbering instance of the "List Number" definition, restarting at 1."""
    numbering = d.part.numbering_part.element
    style_num_id = d.styles["List Number"].element.pPr.numPr.numId.val
    num = numbering.num_having_numId(style_num_id)
    new = numbering.add_num(num.abstractNumId.val)
    new.add_lvlOverride(ilvl=0).add_startOverride(1)
    return new.numId


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite the DOCX zip with fixed timestamps so that regenerating gives identical bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, src.read(info.filename))
    return out.getvalue()


# --- writing ---------------------------------------------------------------------------------------------


def render_all(lib: Library, out: Path = OUT) -> list[Path]:
    """Write every document of ``lib`` under ``out``; prints one line per file and returns the paths."""
    written = []
    for doc in lib.of_kind("pdf"):
        data, info = render_pdf(doc)
        if not info["flowed_paragraphs"]:
            # each PDF should show the ingester a paragraph that a page break splits (Section.continues)
            log.warning("no paragraph of %s flows across a page break", doc.name)
        written.append(_write(out, doc.path, data))
        print(f"{doc.path}: {info['pages']} pages, paragraphs across page breaks: {info['flowed_paragraphs']}")
        log.debug("%s: free space (pt) at the bottom of each page: %s", doc.name, info["free_space"])
    for doc in lib.of_kind("docx"):
        written.append(_write(out, doc.path, render_docx(doc)))
        print(doc.path)
    for f in lib.files:
        written.append(_write(out, f.path, f.data))
        print(f.path)
    total = sum(p.stat().st_size for p in written)
    print(f"{len(written)} files, {total / 1024:.0f} KiB")
    return written


def _write(out: Path, rel: str, data: bytes) -> Path:
    path = out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line: render the sources into sample_docs/ (or ``--out``)."""
    ap = argparse.ArgumentParser(description="Render tools/sample_docs/source/ into sample_docs/ "
                                             "(PDF, DOCX, Markdown, text). Needs reportlab and python-docx.")
    ap.add_argument("--out", type=Path, default=OUT, help="folder to write into (default: sample_docs/)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="also log the free space at the bottom of each PDF page (to tune page breaks)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s: %(message)s")
    render_all(load_library(), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
