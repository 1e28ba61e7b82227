"""Numbers in text, normalised, and numbers bound to the word they count ("12 days" -> ("12", "day"))."""

from __future__ import annotations

import functools
import re

from kb.text.analyzer import Analyzer

_NUMBER = re.compile(r"(?<![\w])\d+(?:[.,:/]\d+)*")
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS.update({"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70",
                      "eighty": "80", "ninety": "90", "hundred": "100"})
_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
_NUMBER_WORD = re.compile(r"\b(?:(" + _TENS + r")[- ](one|two|three|four|five|six|seven|eight|nine)|("
                          + "|".join(_NUMBER_WORDS) + r"))\b", re.I)


@functools.lru_cache(maxsize=1)
def _default_analyzer() -> Analyzer:
    return Analyzer("english")


def numbers(text: str) -> set[str]:
    """Numbers in ``text``, normalised (thousands separators, trailing zeros, number words)."""
    found = set()
    for raw in _NUMBER.findall(text):
        found.add(_normalise_number(raw))
    for tens, unit, single in _NUMBER_WORD.findall(text):
        if tens:
            found.add(str(int(_NUMBER_WORDS[tens.lower()]) + int(_NUMBER_WORDS[unit.lower()])))
        else:
            found.add(_NUMBER_WORDS[single.lower()])
    return found


_QUANTITY_TOKEN = re.compile(r"\d+(?:[.,:/]\d+)*|[^\W\d_][\w'’-]*")


def quantities(text: str, reach: int = 1, analyzer: Analyzer | None = None) -> set[tuple[str, str]]:
    """(number, unit stem) pairs: each number with the stems of the next ``reach`` words ("12 days" ->
    ("12", "day")), so that a number cannot be borrowed from another quantity of the same source."""
    analyzer = analyzer or _default_analyzer()
    tokens = _QUANTITY_TOKEN.findall(text)
    pairs = set()
    for i, token in enumerate(tokens):
        value = _token_number(token)
        if value is None:
            continue
        for word in tokens[i + 1:i + 1 + reach]:
            if _token_number(word) is not None:
                break
            stems = analyzer(word)
            if stems:
                pairs.add((value, stems[0]))
    return pairs


def _token_number(token: str) -> str | None:
    if token[0].isdigit():
        return _normalise_number(token)
    found = numbers(token) if _NUMBER_WORD.fullmatch(token) else set()
    return next(iter(found)) if found else None


def _normalise_number(raw: str) -> str:
    plain = raw.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", raw) else raw
    if re.fullmatch(r"\d+\.\d+", plain):
        plain = plain.rstrip("0").rstrip(".")
    return plain.lstrip("0") or "0"
