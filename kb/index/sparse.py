"""BM25 keyword index on sparse matrices (bm25s), saved as plain files next to the dense index."""

from __future__ import annotations

import json
import logging
from array import array
from pathlib import Path
from typing import Sequence

import numpy as np

from kb.text.analyzer import Analyzer, tokens
from kb.text.spelling import count_words

log = logging.getLogger(__name__)

AUTO = "auto"  # each passage analysed in its own detected language (Chunk.language), English when unknown
FALLBACK_LANGUAGE = "english"
LANGUAGES_FILE = "languages.json"
WORDS_FILE = "words.json"  # each word of the passages -> how many use it (what questions' typos are corrected to)


class KeywordIndex:
    """BM25 over chunk texts; row ``i`` of the index is position ``i`` of the chunk table.

    With ``language="auto"`` every text is analysed with its own language's stemmer and stopwords, and a query
    with each language the index holds (its terms are the union), so an English question still meets English
    passages stemmed the English way and German ones the German way.
    """

    def __init__(self, language: str = AUTO, method: str = "lucene", k1: float = 1.2, b: float = 0.75):
        self.language = language
        self._analyzers: dict[str, Analyzer] = {}
        self.languages: list[str] = [] if language == AUTO else [language]
        self.analyzer(FALLBACK_LANGUAGE if language == AUTO else language)  # a bad setting fails here, at once
        self.method, self.k1, self.b = method, k1, b
        self._bm25 = None
        self.size = 0
        self.words: dict[str, int] = {}

    def analyzer(self, language: str = "") -> Analyzer:
        """The analyzer for a text in ``language`` (the fixed one unless the index is "auto")."""
        if self.language != AUTO:
            language = self.language
        language = language or FALLBACK_LANGUAGE
        if language not in self._analyzers:
            self._analyzers[language] = Analyzer(language)
        return self._analyzers[language]

    def build(self, texts: Sequence[str], languages: Sequence[str] | None = None) -> None:
        """Index ``texts``; ``languages[i]`` is text ``i``'s language (used when the index is "auto")."""
        import bm25s

        languages = languages or [""] * len(texts)
        self._bm25 = bm25s.BM25(method=self.method, k1=self.k1, b=self.b)
        # bm25s needs a token per document and at least one document; an empty index keeps size 0. Terms become
        # ids as they come (4 bytes each in an array), not lists of strings: a big drop's terms held as strings
        # cost ~10 KB per passage at the peak of a build
        vocabulary: dict[str, int] = {}
        ids = []
        self.words = {}
        for text, language in zip(texts, languages):
            words = tokens(text)
            count_words(self.words, words)
            terms = self.analyzer(language).terms(words) or ["\u2400"]
            ids.append(array("i", [vocabulary.setdefault(term, len(vocabulary)) for term in terms]))
        ids = ids or [array("i", [vocabulary.setdefault("\u2400", 0)])]
        self._bm25.index((ids, vocabulary), show_progress=False)
        self.size = len(texts)
        if self.language == AUTO:
            self.languages = sorted({lang or FALLBACK_LANGUAGE for lang in languages}) or [FALLBACK_LANGUAGE]

    def query_terms(self, query: str) -> list[str]:
        """The query's terms as the index's first language analyses them (a repeated word counts twice, as
        BM25 has it), plus the terms only the other languages of the index make of it."""
        first, *others = self.languages or [FALLBACK_LANGUAGE]
        terms = self.analyzer(first)(query)
        for language in others:
            terms += [t for t in dict.fromkeys(self.analyzer(language)(query)) if t not in terms]
        return terms

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (positions, scores) with positive score; ``mask`` (bool per row) limits the rows."""
        if self._bm25 is None or self.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ids = self._bm25.get_tokens_ids(self.query_terms(query))
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
        (folder / LANGUAGES_FILE).write_text(json.dumps(self.languages), encoding="utf-8")
        (folder / WORDS_FILE).write_text(json.dumps(self.words, ensure_ascii=False, separators=(",", ":")),
                                         encoding="utf-8")

    def load(self, folder: Path, size: int) -> None:
        import bm25s

        self._bm25 = bm25s.BM25.load(str(folder), mmap=False, show_progress=False)
        self.size = size
        self.load_analysis(folder)

    def load_analysis(self, folder: Path) -> None:
        """What queries need besides the BM25 matrices (a backend that scores BM25 itself loads only this): the
        languages an "auto" index holds, and the passages' words ({} for a version built before them)."""
        if self.language == AUTO:
            saved = folder / LANGUAGES_FILE
            self.languages = json.loads(saved.read_text(encoding="utf-8")) if saved.is_file() else []
        saved = folder / WORDS_FILE
        self.words = json.loads(saved.read_text(encoding="utf-8")) if saved.is_file() else {}
