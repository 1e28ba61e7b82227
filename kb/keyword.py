"""BM25 keyword index on sparse matrices (bm25s), saved as plain files next to the dense index."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from kb.errors import ConfigError

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"\w+", re.UNICODE)
# English function words, including the question words and pronouns that employees' questions are full of
# ("how many days do I get"); bm25s's own English list (33 words) keeps them, which lets them match anything.
ENGLISH_STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing don down during each few for from further had has have having he her here
hers herself him himself his how i if in into is it its itself just me might more most must my myself no nor
not now of off on once only or other our ours ourselves out over own same shall she should so some such than
that the their theirs them themselves then there these they this those through to too under until up upon us
very was we were what when where which while who whom why will with would you your yours yourself yourselves
many much get got let also
""".split())


class Analyzer:
    """Lowercase, split on word characters, drop stopwords, Snowball-stem (language ``none``: no stemming)."""

    def __init__(self, language: str = "english"):
        self.language = language
        self._stem = None
        self._stopwords: frozenset[str] = frozenset()
        if language == "none":
            return
        import Stemmer
        from bm25s import stopwords

        if language not in Stemmer.algorithms():
            raise ConfigError(f"setting bm25_language={language!r} is not supported; use 'none' or one of "
                              f"{', '.join(Stemmer.algorithms())}")
        self._stem = Stemmer.Stemmer(language).stemWords
        key = "EN" if language == "english" else language.upper()
        self._stopwords = frozenset(getattr(stopwords, f"STOPWORDS_{key}", ()))
        if language == "english":
            self._stopwords |= ENGLISH_STOPWORDS

    def __call__(self, text: str) -> list[str]:
        words = [w for w in _TOKEN.findall(text.lower()) if w not in self._stopwords]
        return self._stem(words) if self._stem else words


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
