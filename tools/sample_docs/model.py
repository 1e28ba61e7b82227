"""The sample documents as data: the document model, the source-file reader and the questions.

The documents belong to Marlowe Sensor Systems Ltd, a fictional company invented for this project
(about 410 employees, head office in Leeds, engineering centre in Glasgow, assembly plant in Wakefield).
All text is original and lives in ``tools/sample_docs/source/``, one file per document in
``sample_docs/``, at the same relative path.

Source format
-------------
A source whose name ends in ``.md`` and whose first line is ``---`` is a *structured* document; it is
rendered to ``<same path>.<format>`` (PDF or DOCX). Any other source (the facilities guide, the holiday
calendar) is copied to ``sample_docs/`` byte for byte. A structured source looks like this::

    ---
    format: pdf
    title: Leave Policy
    subtitle: Annual leave, sickness, family leave and other time off
    meta:
      Version: 3.1
      Owner: People Team
    ---

    # 2 Annual leave

    ## 2.1 Entitlement

    A paragraph. Lines of one paragraph are joined with single spaces,
    and **bold** spans are kept as written (the renderers interpret them).

    - a bullet item; continuation lines are indented
      by two spaces
    - another item

    1. a numbered item (the renderers number the items themselves)
    2. another item

    <!-- widths: 0.6 0.4 -->
    | Header | Header |
    |---|---|
    | cell | cell |

``format`` is ``pdf`` or ``docx``; ``meta`` is the key-facts table under the title, in order. ``#`` is a
top-level heading (PDF outline level 0, DOCX "Heading 1") and ``##`` a sub-heading. The optional
``<!-- widths: ... -->`` line above a table gives relative PDF column widths (equal otherwise).
Blocks are separated by blank lines. There is no escaping: text cannot contain ``|`` in a table cell,
and a paragraph cannot start with ``#``, ``- ``, ``1. ``, ``|`` or ``<!--``.

Blocks are tuples, as the renderers use them::

    ("h1", text) ("h2", text) ("p", text) ("bullets", [items]) ("numbers", [items])
    ("table", [header], [[row], ...], [relative column widths] or None)

Questions
---------
``sample_docs/questions.jsonl`` is the one source of the evaluation questions. ``answer_keys.jsonl`` next
to this module holds what only the checker needs: for an answerable question, the phrases that must all
occur on each cited page/section (``key``; the answer itself when a question has no entry), and optional
per-source overrides (``source_keys``: file name -> phrases).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

TOOL_DIR = Path(__file__).resolve().parent
SOURCE_DIR = TOOL_DIR / "source"
KEYS_PATH = TOOL_DIR / "answer_keys.jsonl"
ROOT = TOOL_DIR.parent.parent
OUT = ROOT / "sample_docs"
QUESTIONS_PATH = OUT / "questions.jsonl"

COMPANY = "Marlowe Sensor Systems Ltd"
CONFIDENTIAL = "Confidential – Internal use"
FIXED_TIME = dt.datetime(2025, 10, 1, 9, 0, 0)  # stamped into PDF/DOCX metadata and zip entries
# Recorded as the PDF "Creator" and in the DOCX comments. It still names the script that first produced the
# committed files: changing it would rewrite every PDF and DOCX without changing a word a reader sees.
CREATOR = "tools/sample_docs/render.py"

FORMATS = ("pdf", "docx")
_HEADING = re.compile(r"(#{1,2}) (.+)")
_BULLET = re.compile(r"- ")
_NUMBERED = re.compile(r"\d+\. ")
_WIDTHS = re.compile(r"<!-- widths: ([0-9. ]+) -->")
_TABLE_RULE = re.compile(r"\|(\s*:?-+:?\s*\|)+")


class SourceError(ValueError):
    """A source file that does not follow the format (the message starts with ``path:line:``)."""


@dataclass
class Doc:
    """A structured document: front matter plus blocks, rendered to PDF or DOCX."""

    path: str  # output path, relative to sample_docs/
    title: str
    subtitle: str
    meta: list[tuple[str, str]]
    blocks: list[tuple]
    kind: str = field(init=False)

    def __post_init__(self):
        self.kind = Path(self.path).suffix.lstrip(".")

    @property
    def name(self) -> str:
        """The file name, which questions.jsonl uses to cite the document."""
        return Path(self.path).name


@dataclass
class TextFile:
    """A document copied verbatim (Markdown or plain text)."""

    path: str  # relative to sample_docs/
    data: bytes

    @property
    def name(self) -> str:
        """The file name, which questions.jsonl uses to cite the document."""
        return Path(self.path).name


@dataclass
class Library:
    """Every sample document, as read from the source folder."""

    docs: list[Doc]
    files: list[TextFile]

    def of_kind(self, kind: str) -> list[Doc]:
        """The structured documents rendered to ``kind`` ("pdf" or "docx")."""
        return [d for d in self.docs if d.kind == kind]

    def paths(self) -> dict[str, str]:
        """File name -> path relative to sample_docs/ (questions cite documents by file name)."""
        names = {d.name: d.path for d in [*self.docs, *self.files]}
        if len(names) != len(self.docs) + len(self.files):
            raise SourceError(f"{SOURCE_DIR}: two documents share a file name")
        return names


# --- reading sources ---------------------------------------------------------------------------------


def load_library(source_dir: Path = SOURCE_DIR) -> Library:
    """Read every source under ``source_dir`` (sorted, so the order never depends on the file system)."""
    docs, files = [], []
    for path in sorted(p for p in source_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(source_dir).as_posix()
        data = path.read_bytes()
        if path.suffix == ".md" and data.startswith(b"---\n"):
            docs.append(parse_doc(data.decode("utf-8"), rel))
        else:
            files.append(TextFile(rel, data))
    return Library(docs, files)


def parse_doc(text: str, rel: str) -> Doc:
    """Parse one structured source; ``rel`` is its path under the source folder (for the output path)."""
    lines = text.split("\n")
    end = _front_matter_end(lines, rel)
    front = _parse_front_matter(lines[1:end], rel)
    blocks = [_parse_block(chunk, rel, start) for start, chunk in _chunks(lines, end + 1)]
    out = Path(rel).with_suffix("." + front["format"]).as_posix()
    return Doc(out, front["title"], front["subtitle"], front["meta"], blocks)


def _front_matter_end(lines: list[str], rel: str) -> int:
    for i, line in enumerate(lines[1:], start=1):
        if line == "---":
            return i
    raise SourceError(f"{rel}:1: front matter not closed by a '---' line")


def _parse_front_matter(lines: list[str], rel: str) -> dict:
    front: dict = {"meta": []}
    in_meta = False
    for n, line in enumerate(lines, start=2):
        key, sep, value = line.strip().partition(": ")
        if line == "meta:":
            in_meta = True
        elif in_meta and line.startswith("  ") and sep:
            front["meta"].append((key, value))
        elif sep and not line.startswith(" "):
            in_meta = False
            front[key] = value
        else:
            raise SourceError(f"{rel}:{n}: expected 'key: value' in the front matter, got {line!r}")
    missing = {"format", "title", "subtitle"} - set(front)
    if missing:
        raise SourceError(f"{rel}:1: front matter lacks {', '.join(sorted(missing))}")
    if front["format"] not in FORMATS:
        raise SourceError(f"{rel}:1: format must be one of {', '.join(FORMATS)}, not {front['format']!r}")
    return front


def _chunks(lines: list[str], start: int):
    """(first line number, lines) of each run of non-blank lines from ``lines[start]`` on."""
    chunk: list[str] = []
    for n, line in enumerate(lines[start:], start=start + 1):
        if line.strip():
            if not chunk:
                first = n
            chunk.append(line)
        elif chunk:
            yield first, chunk
            chunk = []
    if chunk:
        yield first, chunk


def _parse_block(chunk: list[str], rel: str, n: int) -> tuple:
    head = chunk[0]
    heading = _HEADING.fullmatch(head)
    if heading:
        if len(chunk) > 1:
            raise SourceError(f"{rel}:{n + 1}: a heading is one line; leave a blank line after it")
        return H1(heading[2]) if len(heading[1]) == 1 else H2(heading[2])
    if _BULLET.match(head):
        return UL(*_items(chunk, _BULLET))
    if _NUMBERED.match(head):
        return OL(*_items(chunk, _NUMBERED))
    if head.startswith(("|", "<!--")):
        return _parse_table(chunk, rel, n)
    if head.startswith((" ", "#")):
        raise SourceError(f"{rel}:{n}: unexpected indentation or heading syntax: {head!r}")
    return P(" ".join(chunk))


def _items(chunk: list[str], marker: re.Pattern) -> list[str]:
    """List items: a line starting with ``marker`` opens an item, indented lines continue it."""
    items: list[list[str]] = []
    for line in chunk:
        mark = marker.match(line)
        if mark:
            items.append([line[mark.end():]])
        else:
            items[-1].append(line.strip())
    return [" ".join(parts) for parts in items]


def _parse_table(chunk: list[str], rel: str, n: int) -> tuple:
    widths = None
    match = _WIDTHS.fullmatch(chunk[0])
    if match:
        widths = [float(w) for w in match[1].split()]
        chunk, n = chunk[1:], n + 1
    elif chunk[0].startswith("<!--"):
        raise SourceError(f"{rel}:{n}: the only comment allowed is '<!-- widths: 0.5 0.5 -->' above a table")
    if len(chunk) < 3 or not _TABLE_RULE.fullmatch(chunk[1]):
        raise SourceError(f"{rel}:{n}: a table needs a header row, a '|---|' rule and at least one row")
    header = _cells(chunk[0])
    rows = [_cells(line) for line in chunk[2:]]
    for i, row in enumerate(rows, start=n + 2):
        if len(row) != len(header):
            raise SourceError(f"{rel}:{i}: {len(row)} cells, the header has {len(header)}")
    if widths is not None and len(widths) != len(header):
        raise SourceError(f"{rel}:{n - 1}: {len(widths)} widths for {len(header)} columns")
    return TABLE(header, rows, widths)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


# --- blocks --------------------------------------------------------------------------------------------


def H1(t):
    """A top-level heading block."""
    return ("h1", t)


def H2(t):
    """A sub-heading block."""
    return ("h2", t)


def P(t):
    """A paragraph block (may contain **bold** spans)."""
    return ("p", t)


def UL(*items):
    """A bulleted list block."""
    return ("bullets", list(items))


def OL(*items):
    """A numbered list block."""
    return ("numbers", list(items))


def TABLE(header, rows, widths=None):
    """A table block; ``widths`` are relative PDF column widths (None: equal)."""
    return ("table", list(header), [list(r) for r in rows], widths)


# --- questions -------------------------------------------------------------------------------------------


def load_questions(path: Path = QUESTIONS_PATH) -> list[dict]:
    """The rows of questions.jsonl, in file order."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_answer_keys(path: Path = KEYS_PATH) -> dict[str, dict]:
    """Question id -> {"key": [...], "source_keys": {file name: [...]}} from answer_keys.jsonl."""
    keys = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            keys[row.pop("id")] = row
    return keys
