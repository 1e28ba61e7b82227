"""Plain text (``.txt``) and Markdown (``.md``, ``.markdown``) parsing.

Text files become one Section. Markdown files get one Section per heading (ATX ``#`` and setext
underlined headings; ``#`` lines inside fenced code blocks are code, not headings), with the heading
stack as ``heading_path``. Heading lines themselves live in ``heading_path``, not in the section text.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from pathlib import Path

from ingest.cleanup import normalize_whitespace
from ingest.limits import ParseLimits
from kb.errors import UnreadableFile
from kb.types import Document, Section

_BLANK_RUN = re.compile(r"\n{3,}")
_TEXT_SAMPLE_CHARS = 1 << 20
_ENCODING_SAMPLE_BYTES = 1 << 16
_MAX_ODD_SHARE = 0.05
_NOT_TEXT = frozenset({"Cc", "Co", "Cn", "Cs"})
_TEXT_CONTROLS = frozenset("\t\n\r\f\v")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_NOT_SETEXT_TEXT = re.compile(r"^\s*(?:[-*+>|]|\d+[.)]\s|#|`{3}|~{3})")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(.+?)\1")


def parse_text(path: Path, limits: ParseLimits, data: bytes | None = None) -> Document:
    """A plain text file: one Section, paragraphs separated by a blank line."""
    text, warnings = decode_text(path.read_bytes() if data is None else data)
    text = normalize_whitespace(text, keep_layout=True)
    if not text:
        raise UnreadableFile("no text found in document")
    return Document(path=path, title=path.stem, sections=[Section(text=text)], kind="text", warnings=warnings)


def parse_markdown(path: Path, limits: ParseLimits, data: bytes | None = None) -> Document:
    """A Markdown file: one Section per heading, with the heading stack as its path."""
    text, warnings = decode_text(path.read_bytes() if data is None else data)
    lines = normalize_whitespace(text, keep_layout=True).split("\n")
    front_title, lines = _strip_front_matter(lines)
    sections, first_h1 = _split_sections(lines)
    if not sections:
        raise UnreadableFile("no text found in document")
    title = front_title or first_h1 or path.stem
    return Document(path=path, title=title, sections=sections, kind="markdown", warnings=warnings)


def decode_text(data: bytes) -> tuple[str, list[str]]:
    """Decode bytes as UTF-8 (BOM allowed), UTF-16 with a BOM, else cp1252/latin-1 with a warning.

    The result must read as text (see :func:`check_text`): binary data named ``.txt`` or ``.md`` is refused
    rather than cut into garbage passages."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UnreadableFile(f"invalid UTF-16 text ({exc.reason} at byte {exc.start})") from exc
        check_text(text)
        return text, []
    if b"\x00" in data:
        raise UnreadableFile("binary content in a text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        where = exc.start
    else:
        check_text(text)
        return text, []
    _check_some_encoding_fits(data)
    for encoding in ("cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        check_text(text)
        return text, [f"not valid UTF-8 (first bad byte at offset {where}): decoded as {encoding}"]
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def check_text(text: str) -> None:
    """Raise UnreadableFile unless ``text`` is mostly printable: at most 5 % control, private-use or
    unassigned characters (random bytes decoded as cp1252 or latin-1 have 10-15 %)."""
    sample = text[:_TEXT_SAMPLE_CHARS]
    if not sample:
        return
    odd = sum(1 for ch in sample if ch not in _TEXT_CONTROLS and unicodedata.category(ch) in _NOT_TEXT)
    if odd > _MAX_ODD_SHARE * len(sample):
        raise UnreadableFile(f"not text: {odd / len(sample):.0%} of its characters are control or unassigned "
                             f"characters (binary data with a text file's extension?)")


def _check_some_encoding_fits(data: bytes) -> None:
    """Bytes that are not UTF-8 must at least look like text in some legacy encoding (charset-normalizer)."""
    from charset_normalizer import from_bytes

    if from_bytes(data[:_ENCODING_SAMPLE_BYTES]).best() is None:
        raise UnreadableFile("not text: no text encoding fits its bytes (binary data with a text file's "
                             "extension?)")


def _strip_front_matter(lines: list[str]) -> tuple[str, list[str]]:
    """Remove a leading YAML front matter block; return its ``title:`` if any."""
    if not lines or lines[0].strip() != "---":
        return "", lines
    for end in range(1, min(len(lines), 200)):
        if lines[end].strip() in ("---", "..."):
            title = ""
            for line in lines[1:end]:
                match = re.match(r"^title:\s*(.+)$", line.strip(), re.I)
                if match:
                    title = match.group(1).strip().strip("'\"")
            return title, lines[end + 1:]
    return "", lines


def _split_sections(lines: list[str]) -> tuple[list[Section], str]:
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    first_h1 = ""
    fence = ""

    def flush() -> None:
        text = _BLANK_RUN.sub("\n\n", "\n".join(body)).strip()
        if text:
            sections.append(Section(text=text, heading_path=tuple(t for _, t in stack)))
        body.clear()

    for line in lines:
        if fence:
            body.append(line)
            if line.strip().startswith(fence):
                fence = ""
            continue
        fence_match = _FENCE.match(line)
        if fence_match:
            fence = fence_match.group(1)[:3]
            body.append(line)
            continue
        heading = _heading(line, body)
        if heading is None:
            body.append(line)
            continue
        level, text, setext = heading
        if setext:
            body.pop()  # the underlined text line belongs to the heading
        flush()
        while stack and stack[-1][0] >= level:
            stack.pop()
        if text:
            stack.append((level, text))
            if level == 1 and not first_h1:
                first_h1 = text
    flush()
    return sections, first_h1


def _heading(line: str, body: list[str]) -> tuple[int, str, bool] | None:
    """(level, text, is_setext) when ``line`` is a heading, given the paragraph lines before it."""
    atx = _ATX.match(line)
    if atx:
        return len(atx.group(1)), _plain(atx.group(2) or ""), False
    setext = _SETEXT.match(line)
    underlined = body[-1] if body else ""
    if setext and underlined.strip() and not _NOT_SETEXT_TEXT.match(underlined) and not underlined.startswith("    "):
        if setext.group(1).startswith("-") and len(setext.group(1)) < 2:
            return None  # a lone "-" is an empty list item
        return (1 if setext.group(1).startswith("=") else 2), _plain(underlined), True
    return None


def _plain(heading: str) -> str:
    """Heading text without Markdown links and emphasis markers."""
    text = _LINK.sub(r"\1", heading.strip())
    text = _EMPHASIS.sub(r"\2", text)
    return " ".join(text.split())
