"""The read path: one loaded index version, searched by both retrievers and fused.

:class:`VersionReader` is what a searcher needs of a loaded version; :class:`IndexReader` (the FAISS + bm25s
files of the version folder) is the default, ``kb.retrieval.milvus.MilvusReader`` the one for
``index_backend = "milvus"``."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np

from kb.embedding.protocol import Embedder
from kb.index.dense import VectorIndex
from kb.index.manifest import Manifest
from kb.index.sparse import KeywordIndex
from kb.index.version import BM25_DIR, DENSE, fetch_chunks, load_ids, open_db
from kb.retrieval.filters import Filter
from kb.retrieval.fusion import Ranked, reciprocal_rank, weighted_scores
from kb.settings import Settings
from kb.text.analyzer import tokens
from kb.text.spelling import Speller, known_words
from kb.types import Hit

log = logging.getLogger(__name__)

# a word counts as readable when one of the passages a keyword search for it ranks best among those the reader
# may read uses it; at most this many are looked at (which bounds the work per word, whatever the index size)
WORD_CHECK_PASSAGES = 200
_WORD_CHECK_BATCH = 20


class VersionReader(Protocol):
    """One immutable index version, loaded for searching."""

    folder: Path  # the version folder (its manifest and chunk table)
    db: sqlite3.Connection  # its chunk table, read-only (``kb.index.version``)
    keyword: KeywordIndex  # how queries become terms, and the words of the passages

    def search(self, query: str, query_vector: np.ndarray, k: int, where: Filter | None = None) -> list[Hit]:
        """The ``k`` best allowed chunks for ``query`` (its text and its vector), dense and keyword fused."""

    def readable_words(self, words: Sequence[str], where: Filter) -> dict[str, int]:
        """For each of ``words`` (lower-case words of the documents), how many passages ``where`` allows use it
        (see :func:`readable_count`): what spelling may correct a restricted reader's question towards (see
        ``kb.text.spelling``)."""

    def close(self) -> None:
        """Release what the reader holds."""


class IndexReader:
    """An immutable index version loaded for searching (the FAISS + bm25s files of its folder)."""

    def __init__(self, folder: Path, settings: Settings):
        self.folder = folder
        self.settings = settings
        self.manifest = Manifest.read(folder)
        self.ids = load_ids(folder)
        self.dense = VectorIndex(self.manifest.dimension, settings.exact_search_max, settings.hnsw_m,
                                 settings.hnsw_ef_search)
        self.dense.load(folder / DENSE)
        self.keyword = KeywordIndex(self.manifest.bm25_language)
        self.keyword.load(folder / BM25_DIR, size=len(self.ids))
        self.db = open_db(folder)
        self._paths: np.ndarray | None = None
        self._last_mask: tuple[Filter, np.ndarray | None] | None = None  # a question's searches share one filter

    def close(self) -> None:
        self.db.close()

    def chunk_paths(self) -> np.ndarray:
        """The source path of every chunk, aligned with ``ids`` (loaded on the first filtered search)."""
        if self._paths is None:
            by_id = dict(self.db.execute("SELECT id, path FROM chunks"))
            self._paths = np.array([by_id.get(int(i), "") for i in self.ids], dtype=object)
        return self._paths

    def allowed(self, where: Filter | None) -> np.ndarray | None:
        """Boolean mask over chunk positions for ``where`` (None when everything is allowed)."""
        if where is None or where.empty:
            return None
        last = self._last_mask
        if last is not None and last[0] is where:  # the same filter object (not an equal one: a user's check
            return last[1]                           # is not part of a filter's equality)
        mask = where.mask(self.chunk_paths())
        self._last_mask = (where, mask)
        return mask

    def readable_words(self, words: Sequence[str], where: Filter) -> dict[str, int]:
        mask = self.allowed(where)
        return {word: readable_count(self.db, self.ids[self.keyword.search(word, WORD_CHECK_PASSAGES, mask)[0]],
                                     word) for word in words}

    def search(self, query: str, query_vector: np.ndarray, k: int, where: Filter | None = None) -> list[Hit]:
        """Hybrid search: each retriever's top candidates, fused, best ``k`` returned as Hits.

        ``where`` restricts both retrievers to the allowed chunks before they rank anything.
        """
        s = self.settings
        depth = max(s.candidates, k)
        mask = self.allowed(where)
        if mask is not None and not mask.any():
            return []
        allowed_ids = None if mask is None else self.ids[mask]
        dense = Ranked(*self.dense.search(query_vector, depth, allowed_ids))
        positions, scores = self.keyword.search(query, depth, mask)
        keyword = Ranked(self.ids[positions], scores)
        weights = [s.dense_weight, 1.0 - s.dense_weight]
        if s.fusion == "rrf":
            # RRF with weights scaled so that equal weights give the textbook sum of 1/(k + rank)
            fused = reciprocal_rank([dense, keyword], [2 * w for w in weights], s.rrf_k)
        else:
            fused = weighted_scores([dense, keyword], weights)
        best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
        chunks = fetch_chunks(self.db, [i for i, _ in best])
        dense_ranks, keyword_ranks = dense.ranks(), keyword.ranks()
        hits = []
        for rank, (chunk_id, score) in enumerate(best, start=1):
            d = dense_ranks.get(chunk_id, (None, None))
            w = keyword_ranks.get(chunk_id, (None, None))
            hits.append(Hit(chunk=chunks[chunk_id], score=score, rank=rank, dense_rank=d[0], dense_score=d[1],
                            keyword_rank=w[0], keyword_score=w[1]))
        return hits


class VersionSearcher:
    """Search one given version folder (not necessarily the current one), e.g. to evaluate it before publishing.

    ``reader`` is the loaded version to search (default: the folder's own FAISS + bm25s files)."""

    def __init__(self, folder: Path, settings: Settings, embedder: Embedder, reader: VersionReader | None = None,
                 known: Callable[[str, list[str]], Mapping[str, int]] = known_words):
        self.embedder = embedder
        self.reader: VersionReader = reader if reader is not None else IndexReader(folder, settings)
        # typos are corrected towards this version's words, never away from a word ``known(embedder's tokenizer
        # folder, the version's languages)`` has (see kb.text.spelling)
        words = self.reader.keyword.words if settings.spelling_correction else {}
        self.speller = Speller(words, known(embedder.tokenizer_path, self.reader.keyword.languages)) if words \
            else Speller()

    def spell(self, text: str, where: Filter | None = None) -> str:
        """``text`` with its typos corrected towards the words of the passages ``where`` allows (all of them
        when it allows everything)."""
        if where is None or where.empty:
            return self.speller.correct(text)
        return self.speller.correct(text, lambda words: self.reader.readable_words(words, where))

    def search(self, query: str, k: int = 5, where: Filter | None = None) -> list[Hit]:
        if not query.strip():
            return []
        return self.reader.search(query, self.embedder.encode_queries([query])[0], k, where)

    def close(self) -> None:
        self.reader.close()


def readable_count(db: sqlite3.Connection, ids: Sequence[int] | np.ndarray, word: str) -> int:
    """How many of the allowed chunks ``ids`` a keyword search found for ``word`` (by its stem: "dismissal"
    finds "dismissed") count as using it: all of them once one uses the word itself, else none. Both figures
    come from passages the reader may read; the chunks are read a few at a time until one has the word."""
    for start in range(0, len(ids), _WORD_CHECK_BATCH):
        chunks = fetch_chunks(db, [int(i) for i in ids[start:start + _WORD_CHECK_BATCH]])
        if any(word in tokens(c.embed_text) for c in chunks.values()):
            return len(ids)
    return 0
