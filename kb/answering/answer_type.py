"""What kind of answer a question asks for, and whether a piece of text gives that kind of answer.

"How many employees work in Glasgow?" is answered by a count of employees, not by the office's street
number; "how long", "how much" and "what rate" need a number; "when" and "what time" need a date, a day or a
time. A passage that talks about the subject but gives no such value does not answer the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kb.text.analyzer import Analyzer
from kb.text.numbers import numbers, quantities

_WORD = r"[^\W\d_][\w'’-]*"
_COUNT = re.compile(rf"\bhow many\s+(?:more\s+|of\s+(?:the\s+|my\s+|our\s+)?)?({_WORD}(?:\s+{_WORD}){{0,2}})", re.I)
_ASKS_FOR_NUMBER = re.compile(
    r"\b(how (much|long|soon|quickly|often|far|old|big|large)|up to how|what (percentage|proportion)|"
    r"(what|which) (is|are|was) the (\w+ ){0,3}(rate|amount|cost|price|fee|limit|maximum|minimum|deadline|"
    r"percentage|salary|allowance|deductible)s?\b|(what|which) (\w+ ){0,2}(rate|percentage|amount)s?\b)", re.I)
_TIME = re.compile(r"(^|[.!?]\s+)\W*(when|by when)\b|\buntil when\b|\b(what|which) (time|date|day|days|month)\b|"
                   r"\bon what (day|date)\b", re.I)
_CALENDAR = re.compile(r"\b(mon|tues|wednes|thurs|fri|satur|sun)days?\b|\b(january|february|march|april|may|june|"
                       r"july|august|september|october|november|december|noon|midnight)\b", re.I)
# a section number before a heading ("3.2 Company sick pay") is not a value; "25 days of leave" is one
_LEADING_SECTION = re.compile(r"^\W*\d+(\.\d+)*\.?\s+(?=[A-Z])")


@dataclass(frozen=True)
class AnswerType:
    """The value a question asks for: ``count`` (of ``unit``), ``number`` or ``time``."""

    kind: str
    unit: str = ""  # the stem of what is counted ("employe" for "how many employees")
    noun: str = field(default="", compare=False)  # that word as the question writes it

    @property
    def describe(self) -> str:
        return {"count": f"number of {self.noun or self.unit}", "time": "date or time"}.get(self.kind, "number")

    def given_by(self, text: str, analyzer: Analyzer) -> bool:
        """True when ``text`` states a value of this type."""
        text = _LEADING_SECTION.sub("", text)
        if self.kind == "count":
            return any(unit == self.unit for _, unit in quantities(text, reach=3, analyzer=analyzer))
        if self.kind == "time":
            return bool(numbers(text) or _CALENDAR.search(text))
        return bool(numbers(text))


def expected(question: str, analyzer: Analyzer) -> AnswerType | None:
    """The answer type ``question`` asks for, or None when any statement may answer it (yes/no, who, how)."""
    count = _COUNT.search(question)
    if count:
        noun = _counted(count.group(1).split(), analyzer)
        stems = analyzer(noun) if noun else []
        return AnswerType("count", stems[0], noun) if stems else AnswerType("number")
    if _ASKS_FOR_NUMBER.search(question):
        return AnswerType("number")
    if _TIME.search(question):
        return AnswerType("time")
    return None


def _counted(words: list[str], analyzer: Analyzer) -> str:
    """The word a "how many" phrase counts: of the words before the first function word, the first plural
    ("holiday days" counts days, "employees work" employees), else the first ("people")."""
    phrase = []
    for word in words:
        if not analyzer(word):
            break
        phrase.append(word)
    plural = [w for w in phrase if len(w) > 3 and w.lower().endswith("s")
              and not w.lower().endswith(("ss", "us", "is"))]
    return (plural or phrase or [""])[0]
