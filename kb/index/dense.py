"""Dense vector index in FAISS: exact inner product up to a size, HNSW beyond it; ids are stable chunk ids."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


class VectorIndex:
    """Normalised vectors searched by inner product (= cosine similarity)."""

    def __init__(self, dimension: int, exact_max: int = 200_000, hnsw_m: int = 32, ef_search: int = 128):
        self.dimension = dimension
        self.exact_max = exact_max
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self._index = None

    @property
    def kind(self) -> str:
        return "hnsw" if self._hnsw() is not None else "flat"

    @property
    def size(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    def build(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(vectors) > self.exact_max:
            inner = faiss.IndexHNSWFlat(self.dimension, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = 80
            log.info("building HNSW index over %d vectors", len(vectors))
        else:
            inner = faiss.IndexFlatIP(self.dimension)
        index = faiss.IndexIDMap2(inner)
        if len(vectors):
            index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))
        self._index = index
        self._tune()

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (ids, cosine scores) for one normalised query vector, among ``allowed`` ids if given."""
        if self.size == 0 or (allowed is not None and len(allowed) == 0):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        vector = np.asarray(query, dtype=np.float32).reshape(1, -1)
        if allowed is None:
            scores, ids = self._index.search(vector, min(k, self.size))
        else:
            import faiss

            # the selector filters inside the search (IndexIDMap translates it to our ids), so the top k are
            # the best allowed vectors, not the allowed survivors of an unfiltered top k
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=self.ef_search) if self._hnsw() is not None \
                else faiss.SearchParameters(sel=selector)
            scores, ids = self._index.search(vector, min(k, len(allowed)), params=params)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    def load(self, path: Path) -> None:
        import faiss

        self._index = faiss.read_index(str(path))
        self._tune()

    def _hnsw(self):
        import faiss

        inner = faiss.downcast_index(self._index.index) if self._index is not None else None
        return inner if isinstance(inner, faiss.IndexHNSW) else None

    def _tune(self) -> None:
        hnsw = self._hnsw()
        if hnsw is not None:
            hnsw.hnsw.efSearch = self.ef_search
