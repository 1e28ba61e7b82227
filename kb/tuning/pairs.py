"""Training pairs from a company's own index: its documents (no labels needed) and its people's signal.

From the documents:
- a heading (an FAQ question above all) with the text under it;
- a document's title with its first section;
- a sentence with the rest of its passage (inverse cloze: the passage a sentence was taken from answers it);
- a table row's column headers with the row (``Header: value; …`` lines).
Each positive gets a hard negative from the index itself: a passage the retrievers rank high for the same
query but from another document or section.

From people:
- gold questions with the passages on their gold pages (positives) and the best-ranked other passages
  (negatives);
- 👍 answers: the question with each passage it cited (positive); 👎: the same, as negatives (the comment is
  kept for the report).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

from kb.answering.evaluate import GoldItem
from kb.judge.data import Pair
from kb.judge.model import text_windows
from kb.text.sentences import sentence_spans
from kb.types import Chunk, Hit

Search = Callable[[str, int], list[Hit]]
_TABLE_ROW = re.compile(r"^[^:;\n]{1,60}: [^;\n]+(?:; [^:;\n]{1,60}: [^;\n]+)+$")
_MIN_WORDS = 4


@dataclass
class FeedbackRow:
    """One rated answer: the question, the passages it cited, 👍 (1) or 👎 (-1), and the comment."""

    question: str
    chunks: list[Chunk]
    rating: int
    comment: str = ""


@dataclass
class TunePairs:
    """Pairs by source, and the questions kept back for the gate."""

    by_source: dict[str, list[Pair]] = field(default_factory=dict)
    comments: list[dict] = field(default_factory=list)  # 👎 comments, for the report

    def add(self, source: str, pairs: Iterable[Pair]) -> None:
        self.by_source.setdefault(source, []).extend(pairs)

    @property
    def all(self) -> list[Pair]:
        return [p for pairs in self.by_source.values() for p in pairs]

    def counts(self) -> dict[str, int]:
        return {source: len(pairs) for source, pairs in self.by_source.items()}


def _section(chunk: Chunk) -> tuple[str, str]:
    return chunk.path, chunk.heading


def document_queries(chunks: list[Chunk], rng: random.Random, per_chunk: int = 1) -> list[tuple[str, str, Chunk]]:
    """(kind, query, the chunk that answers it) for each self-supervised pair of the documents."""
    out: list[tuple[str, str, Chunk]] = []
    first_of: dict[str, Chunk] = {}
    for chunk in chunks:
        first_of.setdefault(chunk.path, chunk)
        heading = chunk.heading_path[-1] if chunk.heading_path else ""
        if heading and len(heading.split()) >= 2:
            out.append(("faq" if heading.rstrip().endswith("?") else "heading", heading, chunk))
        rows = [line for line in chunk.text.splitlines() if _TABLE_ROW.match(line.strip())]
        for row in rng.sample(rows, min(len(rows), per_chunk)):
            headers = " ".join(part.split(":", 1)[0] for part in row.split("; "))
            first_value = row.split("; ")[0].split(":", 1)[1].strip()
            out.append(("table", f"{first_value} {headers}", chunk))
        spans = [(a, b) for a, b in sentence_spans(chunk.text) if len(chunk.text[a:b].split()) >= 8]
        for a, b in rng.sample(spans, min(len(spans), per_chunk)) if len(spans) > 1 else []:
            out.append(("inverse-cloze", chunk.text[a:b], _without(chunk, a, b)))
    for chunk in first_of.values():
        if chunk.title and len(chunk.title.split()) >= 2:
            out.append(("title", chunk.title, chunk))
    return out


def _without(chunk: Chunk, start: int, end: int) -> Chunk:
    """The chunk with one sentence taken out (what an inverse-cloze query must find its way back to)."""
    from dataclasses import replace

    return replace(chunk, text=(chunk.text[:start] + chunk.text[end:]).strip())


def judged_text(chunk: Chunk) -> str:
    """What the judge reads of a passage in training: its heading, then its first window."""
    windows = text_windows(chunk.text) or [chunk.text]
    return f"{chunk.heading}\n{windows[0]}" if chunk.heading else windows[0]


def document_pairs(chunks: list[Chunk], search: Search, rng: random.Random, limit: int = 4000) -> list[Pair]:
    """Positive and hard-negative pairs from the documents themselves (see the module docstring)."""
    queries = document_queries(chunks, rng)
    rng.shuffle(queries)
    pairs = []
    for kind, query, answer in queries[:limit]:
        if len(query.split()) < 2 or len(answer.text.split()) < _MIN_WORDS:
            continue
        group = f"{kind}:{answer.chunk_id}"
        pairs.append(Pair(query, judged_text(answer), 1.0, f"doc-{kind}", group))
        negative = next((h.chunk for h in search(query, 10) if _section(h.chunk) != _section(answer)), None)
        if negative is not None:
            pairs.append(Pair(query, judged_text(negative), 0.0, f"doc-{kind}-negative", group))
    return pairs


def gold_pairs(items: list[GoldItem], search: Search) -> list[Pair]:
    """Each answerable gold question with its best passage on a gold page, against the best other ones."""
    pairs = []
    for item in items:
        if not item.answerable:
            continue
        hits = search(item.question, 20)
        right = [h.chunk for h in hits if any(s.matches(h.chunk) for s in item.sources)]
        wrong = [h.chunk for h in hits if not any(s.matches(h.chunk) for s in item.sources)]
        for chunk in right[:1]:
            pairs.append(Pair(item.question, judged_text(chunk), 1.0, "gold", item.id))
        for chunk in wrong[:2]:
            pairs.append(Pair(item.question, judged_text(chunk), 0.0, "gold-negative", item.id))
    return pairs


def feedback_pairs(rows: list[FeedbackRow]) -> tuple[list[Pair], list[dict]]:
    """👍 citations as positives, 👎 as negatives; and the 👎 comments for the report."""
    pairs, comments = [], []
    for n, row in enumerate(rows):
        label = 1.0 if row.rating > 0 else 0.0
        kind = "feedback-up" if row.rating > 0 else "feedback-down"
        for chunk in row.chunks:
            pairs.append(Pair(row.question, judged_text(chunk), label, kind, f"feedback-{n}"))
        if row.rating < 0 and row.comment:
            comments.append({"question": row.question, "comment": row.comment,
                             "passages": [c.name + (f" p.{c.page}" if c.page else "") for c in row.chunks]})
    return pairs, comments
