"""BM25 keyword index on sparse matrices (bm25s), saved as plain files next to the dense index."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from kb.text.analyzer import Analyzer

log = logging.getLogger(__name__)

class KeywordIndex:
    """BM25 over chunk texts; row ``i`` of the index is position ``i`` of the chunk table."""

    def __init__(self, language: str = "english", method: str = "lucene", k1: float = 1.2, b: float = 0.75):
        self.analyzer = Analyzer(language)
        self.method, self.k1, self.b = method, k1, b
        self._bm25 = None
        self.size = 0

    def build(self, texts: Sequence[str]) -> None:
        import bm25s

        self._bm25 = bm25s.BM25(method=self.method, k1=self.k1, b=self.b)
        # bm25s needs a token per document and at least one document; an empty index keeps size 0.
        tokens = [self.analyzer(t) or ["\u2400"] for t in texts] or [["\u2400"]]
        self._bm25.index(tokens, show_progress=False)
        self.size = len(texts)

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (positions, scores) with positive score; ``mask`` (bool per row) limits the rows."""
        if self._bm25 is None or self.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ids = self._bm25.get_tokens_ids(self.analyzer(query))
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self._bm25.get_scores_from_ids(ids)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return top.astype(np.int64), scores[top].astype(np.float32)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False)

    def load(self, folder: Path, size: int) -> None:
        import bm25s

        self._bm25 = bm25s.BM25.load(str(folder), mmap=False, show_progress=False)
        self.size = size
