"""Rerank the fused candidates with the judge: a blend of its probability and the fused ranking.

Each candidate is scored once, as its heading path and the window of whole sentences that shares the most
terms with the question (a passage is longer than the judge's window; scoring every window of 20 passages
costs about three times as much for little gain).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from kb.text.analyzer import Analyzer
from kb.types import Hit

if TYPE_CHECKING:  # pragma: no cover
    from kb.judge.model import Judge


def judged_text(hit: Hit, question_terms: set[str], analyzer: Analyzer) -> str:
    """What the judge reads of a passage: its heading path, then its best window for the question."""
    from kb.judge.model import text_windows

    windows = text_windows(hit.chunk.text) or [hit.chunk.text]
    best = max(windows, key=lambda w: (len(question_terms & set(analyzer(w))), -windows.index(w)))
    heading = hit.chunk.heading
    return f"{heading}\n{best}" if heading else best


class Reranker:
    """Reorders the top ``candidates`` hits by ``weight`` × judge probability + (1 − weight) × fused rank."""

    def __init__(self, judge: "Judge", candidates: int = 20, weight: float = 0.7,
                 analyzer: Analyzer | None = None):
        self.judge = judge
        self.candidates = candidates
        self.weight = weight
        self.analyzer = analyzer or Analyzer("english")

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        """The hits reordered (the first ``candidates`` of them; the rest keep their order after them),
        ranks renumbered, each judged hit carrying its ``judge_score``."""
        from kb.judge.model import probability

        head, tail = hits[:self.candidates], hits[self.candidates:]
        if not head:
            return hits
        terms = set(self.analyzer(query))
        probs = probability(self.judge.score([(query, judged_text(h, terms, self.analyzer)) for h in head]))
        fused = 1.0 - np.arange(len(head)) / max(1, len(head))  # 1 for the fused first, falling linearly
        blended = self.weight * probs + (1.0 - self.weight) * fused
        order = sorted(range(len(head)), key=lambda i: (-blended[i], i))
        out = [dataclasses.replace(head[i], score=float(blended[i]), judge_score=float(probs[i])) for i in order]
        out += tail
        for rank, hit in enumerate(out, start=1):
            hit.rank = rank
        return out
