"""Fusion of ranked lists from several retrievers into one ranking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Ranked:
    """One retriever's candidates, best first."""

    ids: np.ndarray
    scores: np.ndarray

    def ranks(self) -> dict[int, tuple[int, float]]:
        return {int(i): (r + 1, float(s)) for r, (i, s) in enumerate(zip(self.ids, self.scores))}


def reciprocal_rank(lists: list[Ranked], weights: list[float], k: int = 60) -> dict[int, float]:
    """Weighted reciprocal rank fusion: sum of ``w / (k + rank)``."""
    fused: dict[int, float] = {}
    for ranked, weight in zip(lists, weights):
        for rank, doc in enumerate(ranked.ids, start=1):
            fused[int(doc)] = fused.get(int(doc), 0.0) + weight / (k + rank)
    return fused


def weighted_scores(lists: list[Ranked], weights: list[float]) -> dict[int, float]:
    """Convex combination of min-max normalised scores (a missing candidate scores 0 for that retriever)."""
    fused: dict[int, float] = {}
    for ranked, weight in zip(lists, weights):
        if len(ranked.scores) == 0:
            continue
        low, high = float(np.min(ranked.scores)), float(np.max(ranked.scores))
        span = high - low or 1.0
        for doc, score in zip(ranked.ids, ranked.scores):
            fused[int(doc)] = fused.get(int(doc), 0.0) + weight * (float(score) - low) / span
    return fused
