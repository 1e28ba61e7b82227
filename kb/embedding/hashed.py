"""A deterministic embedder with no model: hashed bag of analysed words (for tests about plumbing).

It implements the embedder protocol for real (normalised vectors, the same tokenizer for chunking as the
default model, so chunks come out identical), in milliseconds and without torch. Texts that share words
are close; it knows nothing of meaning, so answer quality is not what it is for. Select it with
``embedding_model = "kb-hashed-bow"``.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from kb.embedding.packaged import PACKAGED_MODELS, packaged_path
from kb.embedding.protocol import ProgressFn
from kb.text.analyzer import Analyzer

HASHED_MODEL = "kb-hashed-bow"


class HashedEmbedder:
    """Each analysed word adds ±1 to one of ``dimension`` buckets, chosen by a stable hash."""

    model_id = HASHED_MODEL

    def __init__(self, dimension: int = 256, max_tokens: int = 256):
        self._dimension = dimension
        self._max_tokens = max_tokens
        self._analyzer = Analyzer("english")

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    @property
    def tokenizer_path(self) -> str:
        return str(packaged_path(*PACKAGED_MODELS["sentence-transformers/all-MiniLM-L6-v2"]))

    def encode(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in self._analyzer(text):
                digest = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
                out[row, digest % self._dimension] += 1.0 if digest >> 63 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
            else:
                out[row, 0] = 1.0  # a text with no words still gets a unit vector
        if progress:
            progress(len(texts), len(texts))
        return out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)
