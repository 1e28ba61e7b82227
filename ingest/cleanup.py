"""Text helpers shared by the parsers: whitespace, hyphenation, paragraphs, page furniture.

PDF text arrives as visual lines. These helpers turn lines back into paragraphs (separated by exactly
one blank line), join words hyphenated across line breaks, and find running headers, footers and
page numbers so they can be dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence

PARAGRAPH_SEP = "\n\n"
EDGE_LINES = 6  # how deep into a page running headers and footers are looked for

# C0/C1 controls except tab and newline; PDF fonts with broken encodings emit them as garbage
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# unicode spaces (no-break, thin, ideographic...) that should read as a plain space
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")
_LIGATURES = {code: unicodedata.normalize("NFKC", chr(code)) for code in range(0xFB00, 0xFB07)}  # ﬁ -> fi
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")

_BULLETS = "•●▪◦○■□◆◇►▸‣⁃∙·\uf0a7\uf0b7\uf076\uf0d8\uf0fc"
_LIST_ITEM = re.compile(
    rf"""^(?:
        [{_BULLETS}\-–—*]\s+                 # bullet
      | \(?\d{{1,3}}[.)]\s+(?=\S)            # 1. 1) (1)
      | \(?[a-zA-Z][.)]\s+(?=[A-Z(\"“])      # a) (b) A. -- only before a capital, not "e. g."
      | \([ivxlc]{{1,5}}\)\s+                # (iv)
    )""",
    re.X,
)
_ROMAN = re.compile(r"^(?=[ivxlcdm]+$)m{0,3}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")
_PAGE_NUMBER = re.compile(
    r"""^(?:
        (?:page|pg\.?|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?   # Page 3, Page 3 of 10
      | [-–—]?\s*\d{1,4}\s*[-–—]?                               # 3, - 3 -
      | \d{1,4}\s*(?:of|/)\s*\d{1,4}                            # 3 of 10, 3 / 10
      | \d{1,4}\s*\|\s*page | page\s*\|\s*\d{1,4}               # 3 | Page
    )$""",
    re.I | re.X,
)
_SENTENCE_END = tuple(".!?:;\"”’')]")
# a line ending in one of these words is cut mid-sentence, whatever the next line looks like
_FUNCTION_WORDS = frozenset(
    "a an the of to in on at by for from with and or nor but as than that which who whose whom if when "
    "while is are was were be been being has have had will would shall should may might can could must "
    "not our your their its his her this these those such into onto upon under over between among "
    "about against within without through during before after per via".split())


def normalize_whitespace(text: str, keep_layout: bool = False) -> str:
    """Unify line endings, drop control characters, keep at most one blank line in a row.

    By default runs of spaces collapse and lines are stripped; ``keep_layout`` only strips line ends,
    so indentation and aligned columns (Markdown code, plain-text tables) survive.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = _CONTROL.sub("", _ZERO_WIDTH.sub("", text))
    if keep_layout:
        lines = (line.replace("\u00a0", " ").rstrip() for line in text.split("\n"))
    else:
        lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines))
    return text.strip("\n") if keep_layout else text.strip()


def clean_line(line: str) -> str:
    """One line with normalised spaces and no control characters."""
    line = _ZERO_WIDTH.sub("", _CONTROL.sub("", line.translate(_LIGATURES)))
    return _SPACES.sub(" ", line).strip()


def is_list_item(line: str) -> bool:
    """Whether a line starts a bullet or numbered list item."""
    return bool(_LIST_ITEM.match(line))


def is_page_number(line: str) -> bool:
    """Whether a line is only a page number: "3", "Page 3 of 10", "- 3 -", "3 / 10", "iv"."""
    line = line.strip()
    return bool(line) and (bool(_PAGE_NUMBER.match(line)) or bool(_ROMAN.match(line)))


def furniture_key(line: str) -> str:
    """A line with digits and spacing normalised, so "Page 3" and "Page 4" compare equal."""
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", line)).strip().lower()


def find_repeated_edge_lines(pages: Sequence[Sequence[str]], edge: int = EDGE_LINES, min_share: float = 0.4,
                             min_pages: int = 3, min_run: int = 4) -> set[str]:
    """Keys of lines that recur among the first or last ``edge`` lines of pages (headers/footers).

    A key qualifies when it is found on at least ``max(min_pages, min_share * pages with text)`` pages,
    or on ``min_run`` consecutive pages (a running header that changes with each chapter).
    """
    seen: dict[str, list[int]] = {}
    with_text = 0
    for number, lines in enumerate(pages):
        if not lines:
            continue
        with_text += 1
        candidates = list(lines[:edge]) + list(lines[-edge:])
        for key in {furniture_key(line) for line in candidates if line.strip()}:
            seen.setdefault(key, []).append(number)
    needed = max(min_pages, min_share * with_text)
    return {key for key, numbers in seen.items()
            if key and (len(numbers) >= needed or _longest_run(numbers) >= min_run)}


def _longest_run(numbers: list[int]) -> int:
    best = run = 1
    for a, b in zip(numbers, numbers[1:]):
        run = run + 1 if b == a + 1 else 1
        best = max(best, run)
    return best if numbers else 0


def furniture_indices(lines: Sequence[str], repeated: Collection[str], edge: int = EDGE_LINES) -> set[int]:
    """Indices of header/footer and page-number lines at the top or bottom of one page.

    Only lines connected to the page edge go: a run of furniture lines counted from the first (or last)
    line, at most ``edge`` deep, so repeated lines inside the body and figures in tables survive.
    """
    drop: set[int] = set()
    n = len(lines)
    for order in (range(n), range(n - 1, -1, -1)):
        for depth, i in enumerate(order):
            if depth >= edge or i in drop:
                break
            if furniture_key(lines[i]) in repeated or (depth < 3 and is_page_number(lines[i])):
                drop.add(i)
            else:
                break
    return drop


def strip_furniture_affix(line: str, repeated: Collection[str], min_chars: int = 12) -> str:
    """Cut a repeated header/footer text (without digits) glued to the start or end of a line."""
    lowered = line.lower()
    for key in repeated:
        if len(key) < min_chars or "#" in key or len(key) >= len(lowered):
            continue
        if lowered.endswith(key):
            return line[: len(line) - len(key)].rstrip()
        if lowered.startswith(key):
            return line[len(key):].lstrip()
    return line


def typical_line_length(lines: Iterable[str]) -> int:
    """A long-line length (80th percentile): lines much shorter than this end a paragraph or stand alone."""
    lengths = sorted(len(line) for line in lines if line.strip())
    if len(lengths) < 5:
        return 0
    return lengths[int(0.8 * (len(lengths) - 1))]


def rebuild_paragraphs(lines: Sequence[str], breaks_before: Collection[int] = (),
                       line_length: int | None = None) -> str:
    """Turn visual lines into paragraphs separated by one blank line.

    Lines of a paragraph are joined with a space (a lowercase hyphenated break is joined without one).
    A new paragraph starts at an empty line, at an index in ``breaks_before`` (e.g. a vertical gap seen
    in the layout), at a list item, and after a short line that ends a sentence. Short lines that do not
    end a sentence (headings, table rows, addresses) are kept on their own line inside the paragraph.
    """
    long_line = line_length if line_length is not None else typical_line_length(lines)
    short = 0.6 * long_line
    paragraphs: list[list[str]] = []  # each paragraph is a list of output lines
    current: list[str] = []
    prev = ""
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            if current:
                paragraphs.append(current)
            current, prev = [], ""
            continue
        starts_item = is_list_item(line)
        # a layout gap inside an unfinished sentence (e.g. around a figure) does not end the paragraph
        gap = i in breaks_before and not _mid_sentence(prev, line)
        new_paragraph = not current or gap or starts_item or (
            len(prev) < short and prev.endswith(_SENTENCE_END))
        if new_paragraph:
            if current:
                paragraphs.append(current)
            current = [line]
        elif prev.endswith("-") and len(prev) > 1 and prev[-2].isalnum():
            # "manage-" + "ment" -> "management"; "2023-" + "0379" and "Lucene-" + "BM25" keep the hyphen
            joined_word = prev[-2].islower() and line[0].islower()
            current[-1] = (current[-1][:-1] if joined_word else current[-1]) + line
        elif _soft_wrap(prev, line, long_line):
            current[-1] = current[-1] + " " + line
        else:
            current.append(line)
        prev = line
    if current:
        paragraphs.append(current)
    return PARAGRAPH_SEP.join("\n".join(p) for p in paragraphs)


def _soft_wrap(prev: str, line: str, long_line: int) -> bool:
    """Whether ``line`` continues the sentence of ``prev`` (rather than being a new short line)."""
    if _mid_sentence(prev, line) or prev.endswith((",", "–", "(", "/", "&")):
        return True
    if not long_line:
        return True  # too few lines to judge lengths: trust the text flow
    # a capitalised line after a clearly shorter one is a new line (heading, row), not a wrap
    return len(prev) >= 0.7 * max(long_line, len(line))


def _mid_sentence(prev: str, line: str) -> bool:
    """Whether ``line`` must continue the sentence ``prev`` left unfinished."""
    if not prev or prev.endswith(_SENTENCE_END):
        return False
    return line[0].islower() or prev.rsplit(" ", 1)[-1] in _FUNCTION_WORDS


def ends_sentence(text: str) -> bool:
    """Whether text ends like a finished sentence (or a list/table line that needs no continuation)."""
    return text.rstrip().endswith(_SENTENCE_END)
