"""DOCX parsing: the body in document order, one Section per heading, tables as header/value text.

python-docx opens the package; the body XML is walked directly so paragraphs, tables, content controls
and text boxes come out in document order. Headers, footers, comments and deleted text are left out.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docx
from docx.opc.exceptions import PackageNotFoundError
from lxml import etree

from ingest.limits import ParseLimits
from kb.errors import UnreadableFile
from kb.types import Document, Section

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_M = "http://schemas.openxmlformats.org/officeDocument/2006/math"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_STRICT_MARK = b"purl.oclc.org/ooxml"
_UNPACK_FACTOR = 10
# zip bombs: deflate tops out near 1032:1; real Office parts compress 3-30:1 (repetitive XML up to ~100:1)
_MAX_RATIO = 200
_RATIO_MIN_BYTES = 1 << 20  # tiny parts may compress absurdly well without harm
_MAX_MEMBERS = 10_000
_MAX_HEADING_CHARS = 200  # a longer "heading" is a body paragraph in a heading style
_LIST_STYLE = re.compile(r"^list(?: (?:paragraph|bullet|number)(?: \d)?)?$")  # not "listing"
_NUMERIC = re.compile(r"^[\d\s.,%$€£()+\-–/]*$")


def _w(tag: str) -> str:
    return f"{{{_W}}}{tag}"


_TEXT_TAGS = frozenset({_w("t"), f"{{{_M}}}t"})
_BREAK_TAGS = frozenset({_w("br"), _w("cr")})
# deleted/moved-away text, field instructions, and the duplicate fallback rendering of drawings
_SKIP_TAGS = frozenset({_w("del"), _w("moveFrom"), _w("instrText"), _w("delText"), f"{{{_MC}}}Fallback",
                        _w("footnoteReference"), _w("endnoteReference"), _w("commentReference")})
_CONTAINER_TAGS = frozenset({_w("customXml"), _w("ins"), _w("moveTo"), _w("smartTag"), _w("sdtContent")})


@dataclass
class _Block:
    kind: str  # "heading", "paragraph", "list" or "table"
    text: str
    level: int = 0
    title_style: bool = False


@dataclass
class _Style:
    name: str = ""
    based_on: str = ""
    outline_level: int | None = None
    numbered: bool = False


@dataclass
class _Styles:
    """Paragraph styles of one document, by style id, with inheritance resolved on demand."""

    by_id: dict[str, _Style] = field(default_factory=dict)
    default_id: str = ""

    def chain(self, style_id: str) -> Iterator[_Style]:
        """The style and the styles it is based on, nearest first."""
        seen = set()
        while style_id and style_id in self.by_id and style_id not in seen:
            seen.add(style_id)
            style = self.by_id[style_id]
            yield style
            style_id = style.based_on


def parse_docx(path: Path, limits: ParseLimits, data: bytes | None = None) -> Document:
    """Parse a .docx file (its bytes ``data``, read from ``path`` when None) into Sections split at headings."""
    document = _open(path.read_bytes() if data is None else data, limits)
    styles = _read_styles(document)
    blocks = list(_blocks(document.element.body, styles))
    sections = _sections(blocks)
    if not sections:
        raise UnreadableFile("no text found in document")
    return Document(path=path, title=_title(document, blocks, path), sections=sections, kind="docx")


def _open(data: bytes, limits: ParseLimits):
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            names = set(archive.namelist())
            # every member is checked from its header before any member is inflated (a bomb can be any part,
            # _rels/.rels included); a small file can unpack to gigabytes, and python-docx would load it all
            unpacked = sum(info.file_size for info in infos)
            if unpacked > _UNPACK_FACTOR * limits.max_file_mb * 1024 * 1024:
                raise UnreadableFile(f"DOCX unpacks to {unpacked / 1024 / 1024:.0f} MB, over {_UNPACK_FACTOR}x "
                                     f"the {limits.max_file_mb:g} MB limit (setting max_file_mb)")
            _check_bomb(infos)
            rels = archive.read("_rels/.rels") if "_rels/.rels" in names else b""
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise UnreadableFile("corrupt DOCX: not a valid ZIP archive") from exc
    if _STRICT_MARK in rels:
        raise UnreadableFile("Strict Open XML DOCX is not supported: re-save it as a standard Word document")
    if "word/document.xml" not in names:
        raise UnreadableFile(f"extension .docx but the ZIP holds no Word document ({_zip_kind(names)})")
    try:
        return docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, etree.XMLSyntaxError, zipfile.BadZipFile) as exc:
        message = " ".join(str(exc).split())[:160]
        raise UnreadableFile(f"corrupt DOCX: python-docx could not read it ({type(exc).__name__}: {message})") from exc


def _check_bomb(infos: list[zipfile.ZipInfo]) -> None:
    """Refuse archives built to exhaust memory, from the declared sizes alone (nothing is inflated).

    zipfile never inflates a member past its declared size (it stops and fails the CRC check), so a lying
    header cannot get round these checks.
    """
    if len(infos) > _MAX_MEMBERS:
        raise UnreadableFile(f"DOCX holds {len(infos)} files (limit {_MAX_MEMBERS}): not a normal Word document")
    for info in infos:
        if info.file_size >= _RATIO_MIN_BYTES and info.file_size > _MAX_RATIO * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise UnreadableFile(f"DOCX part {info.filename[:80]} inflates {ratio}-fold to "
                                 f"{info.file_size / 1024 / 1024:.0f} MB (limit {_MAX_RATIO}x): looks like a zip bomb")


def _zip_kind(names: set[str]) -> str:
    if "xl/workbook.xml" in names:
        return "looks like an Excel .xlsx workbook"
    if "ppt/presentation.xml" in names:
        return "looks like a PowerPoint .pptx presentation"
    if "mimetype" in names and "content.xml" in names:
        return "looks like an OpenDocument file"
    return "no word/document.xml inside"


def _read_styles(document) -> _Styles:
    styles = _Styles()
    try:
        root = document.styles.element
    except (KeyError, ValueError):  # a package without a styles part
        return styles
    for el in root.iterchildren(_w("style")):
        if el.get(_w("type")) != "paragraph":
            continue
        style_id = el.get(_w("styleId")) or ""
        name = el.find(_w("name"))
        based = el.find(_w("basedOn"))
        ppr = el.find(_w("pPr"))
        level = ppr.find(_w("outlineLvl")) if ppr is not None else None
        styles.by_id[style_id] = _Style(
            name=(name.get(_w("val")) or "").strip().lower() if name is not None else "",
            based_on=based.get(_w("val")) or "" if based is not None else "",
            outline_level=_int(level.get(_w("val"))) if level is not None else None,
            numbered=_has_numbering(ppr.find(_w("numPr")) if ppr is not None else None),
        )
        if el.get(_w("default")) in ("1", "true"):
            styles.default_id = style_id
    return styles


def _blocks(container, styles: _Styles) -> Iterator[_Block]:
    """Paragraph, list, heading and table blocks of a body, cell or text box, in document order."""
    for child in container:
        tag = child.tag
        if tag == _w("p"):
            yield from _paragraph_blocks(child, styles)
        elif tag == _w("tbl"):
            text = _table_text(child, styles)
            if text:
                yield _Block("table", text)
        elif tag == _w("sdt"):
            content = child.find(_w("sdtContent"))
            if content is not None:
                yield from _blocks(content, styles)
        elif tag in _CONTAINER_TAGS:
            yield from _blocks(child, styles)
        elif tag == f"{{{_MC}}}AlternateContent":
            choice = child.find(f"{{{_MC}}}Choice")
            if choice is not None:
                yield from _blocks(choice, styles)


def _paragraph_blocks(p, styles: _Styles) -> Iterator[_Block]:
    boxes: list = []
    text = _clean(_inline_text(p, boxes))
    if text:
        yield _classify(p, text, styles)
    for box in boxes:  # text boxes anchored in this paragraph
        yield from _blocks(box, styles)


def _inline_text(el, boxes: list) -> str:
    parts: list[str] = []
    for child in el:
        tag = child.tag
        if not isinstance(tag, str) or tag in _SKIP_TAGS:
            continue
        if tag in _TEXT_TAGS:
            parts.append(child.text or "")
        elif tag == _w("tab"):
            parts.append(" ")
        elif tag in _BREAK_TAGS:
            parts.append("\n")
        elif tag == _w("noBreakHyphen"):
            parts.append("-")
        elif tag == _w("txbxContent"):
            boxes.append(child)
        elif tag != _w("pPr") and tag != _w("rPr"):
            parts.append(_inline_text(child, boxes))
    return "".join(parts)


def _clean(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.replace("\u00a0", " ").split("\n"))
    return "\n".join(line for line in lines if line)


def _classify(p, text: str, styles: _Styles) -> _Block:
    ppr = p.find(_w("pPr"))
    style_el = ppr.find(_w("pStyle")) if ppr is not None else None
    style_id = (style_el.get(_w("val")) or "") if style_el is not None else styles.default_id
    chain = list(styles.chain(style_id))
    level = _heading_level(ppr, chain)
    if level is not None and len(text) <= _MAX_HEADING_CHARS:
        title_style = bool(chain) and chain[0].name == "title"
        return _Block("heading", " ".join(text.split()), level=level, title_style=title_style)
    num = ppr.find(_w("numPr")) if ppr is not None else None
    # numId 0 on the paragraph switches off numbering inherited from its style
    if _has_numbering(num) or (num is None and any(s.numbered or _LIST_STYLE.match(s.name) for s in chain)):
        return _Block("list", "- " + text.replace("\n", " "))
    return _Block("paragraph", text)


def _has_numbering(num_pr) -> bool:
    """Whether a ``w:numPr`` attaches a numbering (a bare ``w:ilvl``, as in Word's Subtitle style, does not)."""
    num_id = num_pr.find(_w("numId")) if num_pr is not None else None
    return num_id is not None and num_id.get(_w("val")) not in (None, "0")


def _heading_level(ppr, chain: list[_Style]) -> int | None:
    """1-based heading level from the style name or the outline level (paragraph, then style chain)."""
    for style in chain:
        match = re.fullmatch(r"heading\s*([1-9])", style.name)
        if match:
            return int(match.group(1))
        if style.name == "title":
            return 1
    own = ppr.find(_w("outlineLvl")) if ppr is not None else None
    levels = [_int(own.get(_w("val")))] if own is not None else []
    levels += [s.outline_level for s in chain]
    for value in levels:
        if value is not None:
            return value + 1 if 0 <= value <= 8 else None  # 9 means body text
    return None


def _table_text(tbl, styles: _Styles) -> str:
    rows = _table_rows(tbl, styles)
    rows = [row for row in rows if any(text for _, _, text in row)]
    if not rows:
        return ""
    if all(sum(1 for _, _, text in row if text) <= 1 for row in rows):
        # a one-column (layout) table: its cells hold ordinary paragraphs, lists and tables
        cells = [tc for tr in _children(tbl, _w("tr")) for tc in _children(tr, _w("tc"))]
        return "\n\n".join(s.text for tc in cells for s in _sections(list(_blocks(tc, styles))))
    if _has_header(rows, tbl):
        return "\n".join(line for line in (_pairs(rows[0], row) for row in rows[1:]) if line)
    return "\n".join(" | ".join(_dedupe(text for _, _, text in row if text)) for row in rows)


def _table_rows(tbl, styles: _Styles) -> list[list[tuple[int, int, str]]]:
    """Rows of (grid column, column span, text); a vertically merged cell repeats the text above it."""
    rows = []
    above: dict[int, str] = {}
    for tr in _children(tbl, _w("tr")):
        trpr = tr.find(_w("trPr"))
        before = trpr.find(_w("gridBefore")) if trpr is not None else None
        col = _int(before.get(_w("val"))) or 0 if before is not None else 0
        row = []
        for tc in _children(tr, _w("tc")):
            tcpr = tc.find(_w("tcPr"))
            span_el = tcpr.find(_w("gridSpan")) if tcpr is not None else None
            span = max(1, _int(span_el.get(_w("val"))) or 1) if span_el is not None else 1
            vmerge = tcpr.find(_w("vMerge")) if tcpr is not None else None
            if vmerge is not None and vmerge.get(_w("val")) in (None, "continue"):
                text = above.get(col, "")
            else:
                text = _cell_text(tc, styles)
                above[col] = text
            row.append((col, span, text))
            col += span
        rows.append(row)
    return rows


def _children(el, tag: str) -> Iterator:
    """Child elements with ``tag``, looking through content controls and custom XML wrappers."""
    for child in el:
        if child.tag == tag:
            yield child
        elif child.tag in (_w("sdt"), _w("customXml")):
            content = child.find(_w("sdtContent")) if child.tag == _w("sdt") else child
            if content is not None:
                yield from _children(content, tag)


def _cell_text(tc, styles: _Styles) -> str:
    parts = []
    for block in _blocks(tc, styles):
        separator = "; " if block.kind == "table" else " "
        parts.append(separator.join(line for line in block.text.split("\n") if line))
    return " ".join(parts).strip()


def _has_header(rows: list[list[tuple[int, int, str]]], tbl) -> bool:
    header = rows[0]
    texts = [text for _, _, text in header]
    if len(rows) < 2 or len(texts) < 2 or not all(texts) or len(set(texts)) < len(texts):
        return False
    if any(len(text) > 60 or _NUMERIC.match(text) for text in texts):
        return False
    return len(texts) > 2 or _marked_header(tbl)


def _marked_header(tbl) -> bool:
    """Whether the first row is a repeating header row or set in bold."""
    first = next(_children(tbl, _w("tr")), None)
    if first is None:
        return False
    if first.find(f"{_w('trPr')}/{_w('tblHeader')}") is not None:
        return True
    runs = [r for r in first.iter(_w("r")) if "".join(t.text or "" for t in r.iter(_w("t"))).strip()]
    return bool(runs) and all(_bold(r) for r in runs)


def _bold(run) -> bool:
    b = run.find(f"{_w('rPr')}/{_w('b')}")
    return b is not None and b.get(_w("val")) not in ("0", "false", "off")


def _pairs(header: list[tuple[int, int, str]], row: list[tuple[int, int, str]]) -> str:
    """'Header: value; Header: value' for one data row."""
    if [t for _, _, t in row] == [t for _, _, t in header]:
        return ""  # a header row repeated further down
    parts = []
    for col, _, text in row:
        if not text:
            continue
        name = next((h for start, span, h in header if start <= col < start + span), "")
        parts.append(f"{name}: {text}" if name and name != text else text)
    return "; ".join(_dedupe(parts))


def _dedupe(items) -> list[str]:
    out: list[str] = []
    for item in items:
        if not out or out[-1] != item:
            out.append(item)
    return out


def _sections(blocks: list[_Block]) -> list[Section]:
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    parts: list[str] = []
    previous = ""

    def flush() -> None:
        if parts:
            sections.append(Section(text="\n\n".join(parts), heading_path=tuple(t for _, t in stack)))
            parts.clear()

    for block in blocks:
        if block.kind == "heading":
            flush()
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, block.text))
        elif block.kind == "list" and previous == "list" and parts:
            parts[-1] += "\n" + block.text
        else:
            parts.append(block.text)
        previous = block.kind
    flush()
    return sections


def _title(document, blocks: list[_Block], path: Path) -> str:
    try:
        core = " ".join((document.core_properties.title or "").split())
    except (KeyError, ValueError, etree.XMLSyntaxError):
        core = ""
    if sum(ch.isalpha() for ch in core) >= 2:
        return core
    headings = [b for b in blocks if b.kind == "heading"]
    for block in headings:
        if block.title_style:
            return block.text
    for block in headings:
        if block.level == 1:
            return block.text
    return path.stem


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
