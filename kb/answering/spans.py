"""Answers built on the reader's span: which passage answers, how sure, and the unit of text that is shown.

The reader (``kb.reader``) reads the question with each of the best passages (title, headings and text, as
they were indexed) and returns each one's best span and no-answer score. The span with the largest margin
over "no answer" is the answer; a calibration (``Calibration``: logistic, fitted on several collections and
shipped next to the reader's weights) turns its margin and the judge's passage score into a probability,
and two thresholds on that probability grade it: ``answer`` (shown as a checked answer), ``likely`` (the
passage probably answers: shown as such, without the checked badge) or nothing (a refusal).

The text shown is the unit that holds the span: its sentence, its table row (rows are indexed as "Header:
value; Header: value", so a row carries its column headers), or its list item with the line that leads into
the list ("If your laptop is stolen:"), with the span itself marked.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from kb.text.sentences import sentence_spans
from kb.types import Hit

ANSWER, LIKELY = "answer", "likely"
CALIBRATION_FILE = "calibration.json"
_ITEM = re.compile(r"^\s*(?:[•\-–*▪◦]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s")


@dataclass(frozen=True)
class Calibration:
    """P(right) of a span (``Found``) = sigmoid(margin_weight * margin + judge_weight * passage judge logit +
    unit_weight * unit judge logit + first_weight * [its passage ranks first] + agree_weight * [spans of other
    passages that say the same, at most 2] + similarity_weight * cosine(question, its unit) + top_weight * [the
    judge's best sentence holds it] + bias); graded by two floors. The weights are fitted on several collections
    at once (``kb.tuning.calibrate``); a file without the later weights reads them as 0."""

    margin_weight: float = 0.35
    judge_weight: float = 0.5
    bias: float = -0.5
    unit_weight: float = 0.0
    answer_floor: float = 0.6
    likely_floor: float = 0.35
    fitted_on: str = "defaults"  # what the figures were fitted on (the collections and the command)
    first_weight: float = 0.0
    agree_weight: float = 0.0
    similarity_weight: float = 0.0
    top_weight: float = 0.0

    WEIGHTS = ("margin_weight", "judge_weight", "unit_weight", "first_weight", "agree_weight", "similarity_weight",
               "top_weight")  # in the order of ``features``, the bias last

    @classmethod
    def load(cls, folder: Path) -> "Calibration":
        """The calibration shipped next to a reader's weights, or the defaults."""
        path = Path(folder) / CALIBRATION_FILE
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    @staticmethod
    def features(found: "Found") -> list[float]:
        return [found.margin, logit(found.judge), logit(found.unit), float(found.passage == 1),
                float(min(found.agree, 2)), found.similarity or 0.0, float(found.top)]

    def probability(self, found: "Found") -> float:
        z = sum(getattr(self, w) * x for w, x in zip(self.WEIGHTS, self.features(found))) + self.bias
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def with_weights(self, weights: Sequence[float], **floors) -> "Calibration":
        """This calibration with ``weights`` (``WEIGHTS``' order, then the bias) and the given floors."""
        return replace(self, **dict(zip(self.WEIGHTS, map(float, weights))), bias=float(weights[-1]), **floors)

    def grade(self, probability: float) -> str:
        """``answer``, ``likely`` or '' (refuse)."""
        if probability >= self.answer_floor:
            return ANSWER
        return LIKELY if probability >= self.likely_floor else ""


@dataclass(frozen=True)
class Found:
    """The reader's answer in one passage (``passage`` 1-based, as cited, in the order of ranking), in the
    passage's shown text, with what the calibration weighs."""

    passage: int
    start: int  # the span, in ``hit.chunk.text``
    end: int
    margin: float  # span score - no-answer score
    judge: float | None  # the judge's probability for the passage (reranking), None without it
    unit: float | None = None  # the judge's probability for the unit that holds the span, None without it
    agree: int = 0  # how many other passages' spans say the same (one holds the other's words)
    similarity: float | None = None  # the closeness in meaning (cosine) of its unit's sentences to the question
    top: bool = False  # the judge's best quotable sentence of all passages holds the span

    def span(self, hit: Hit) -> str:
        return hit.chunk.text[self.start:self.end]


def reader_input(hit: Hit, hidden: Sequence[tuple[int, int]] = ()) -> tuple[str, int]:
    """What the reader reads for a passage (its indexed text: title, heading path, text) and where the shown
    text starts in it; ``hidden`` ranges of the text (planted instructions) are blanked, offsets kept."""
    full, text = hit.chunk.embed_text, hit.chunk.text
    base = len(full) - len(text) if full.endswith(text) else 0
    full = full if base or full == text else text
    for a, b in hidden:
        full = full[:base + a] + " " * (b - a) + full[base + b:]
    return full, base


def heading_context(hit: Hit, base: int) -> list[tuple[int, int]]:
    """The ranges of a passage's indexed text that give context, never answers: the title and heading path
    before its text, and the text's first line when it repeats the passage's heading ("5.2 Working abroad")."""
    ranges = [(0, base)] if base else []
    text, heading = hit.chunk.text, hit.chunk.heading_path[-1] if hit.chunk.heading_path else ""
    first = text.split("\n", 1)[0]
    if heading and first.strip() == heading.strip():
        ranges.append((base, base + len(first)))
    return ranges


def find_spans(read, question: str, hits: Sequence[Hit],
               hidden: Sequence[Sequence[tuple[int, int]]] | None = None,
               asking: Sequence[Sequence[tuple[int, int]]] | None = None) -> list[Found]:
    """Each passage's best span (``read(question, texts, context)`` is ``Reader.read``), never in its title or
    headings. ``hidden`` gives, per passage, the ranges of its text the reader must not see (instructions
    planted in the document); ``asking`` the ranges it reads but never answers from (questions the document
    asks, ``Verifier.asking``)."""
    inputs = [reader_input(h, hidden[i] if hidden else ()) for i, h in enumerate(hits)]
    context = [heading_context(h, base) + [(base + a, base + b) for a, b in (asking[i] if asking else ())]
               for i, (h, (_, base)) in enumerate(zip(hits, inputs))]
    out = []
    for n, (span, (_, base)) in enumerate(zip(read(question, [t for t, _ in inputs], context), inputs), start=1):
        if span.end <= base or span.start < base:
            continue
        out.append(Found(n, span.start - base, span.end - base, span.margin, hits[n - 1].judge_score))
    return out


def unit_of(text: str, start: int, end: int) -> tuple[int, int, str]:
    """(start, end) of the unit of ``text`` that holds the span [start, end) — its sentence, row or item, or
    the run of them the span crosses — and the lead-in line of a list item ('' when it stands alone)."""
    spans = sentence_spans(text) or [(0, len(text))]
    inside = [i for i, (a, b) in enumerate(spans) if a < end and b > start] or \
        [min(range(len(spans)), key=lambda i: abs(spans[i][0] - start))]
    first, last = inside[0], inside[-1]
    lead = ""
    if _ITEM.match(text[spans[first][0]:spans[first][1]]):
        i = first - 1
        while i >= 0 and _ITEM.match(text[spans[i][0]:spans[i][1]]):
            i -= 1
        if i >= 0 and text[spans[i][0]:spans[i][1]].rstrip().endswith(":"):
            lead = text[spans[i][0]:spans[i][1]]
    return spans[first][0], spans[last][1], lead


def marked(unit: str, start: int, end: int) -> str:
    """``unit`` with [start, end) marked as the answer (Markdown bold), on one line."""
    inner = unit[start:end].strip()
    if not inner or len(inner) >= len(unit.strip()) - 2:
        return " ".join(unit.split())
    return " ".join(f"{unit[:start]}**{inner}**{unit[end:]}".split())


def logit(p: float | None) -> float:
    """log(p / (1 - p)), 0 for an unknown probability."""
    if p is None:
        return 0.0
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def judged_units(judge, question: str, hits: Sequence[Hit], found: Sequence[Found]) -> list[Found]:
    """``found`` with the judge's probability that each span's unit (under its heading) answers: the judge
    tells an answer sentence from its neighbours better than it ranks passages."""
    from kb.judge.model import probability

    units = []
    for f in found:
        chunk = hits[f.passage - 1].chunk
        a, b, lead = unit_of(chunk.text, f.start, f.end)
        units.append((question, "\n".join(p for p in (chunk.heading, lead, chunk.text[a:b]) if p)))
    scores = probability(judge.score(units)) if units else []
    return [replace(f, unit=float(p)) for f, p in zip(found, scores)]


def agreement(found: Sequence[Found], hits: Sequence[Hit]) -> list[Found]:
    """``found`` with each span's ``agree``: how many spans of other passages hold its words or it theirs."""
    words = [" ".join(re.findall(r"\w+", f.span(hits[f.passage - 1]).lower())) for f in found]
    return [replace(f, agree=sum(1 for j, o in enumerate(words) if j != k and o and w and (o in w or w in o)))
            for k, (f, w) in enumerate(zip(found, words))]


def choose(found: Sequence[Found], calibration: Calibration) -> tuple[Found | None, float]:
    """The span to answer with and its probability of being right."""
    best, best_p = None, 0.0
    for f in found:
        p = calibration.probability(f)
        if best is None or p > best_p:
            best, best_p = f, p
    return best, best_p
