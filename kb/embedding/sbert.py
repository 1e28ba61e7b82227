"""The default embedding backend: a sentence-transformers model, loaded on first use."""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from kb.embedding.packaged import resolve_model_path
from kb.embedding.protocol import ProgressFn
from kb.errors import ModelError

log = logging.getLogger(__name__)


class SentenceTransformerEmbedder:
    """sentence-transformers model, loaded on first use (``import`` of this module stays light)."""

    def __init__(self, model_id: str, device: str = "cpu", batch_size: int = 32):
        self.model_id = model_id
        self.device = device
        self.batch_size = batch_size
        self._model = None

    @property
    def model(self):
        if self._model is None:
            path = resolve_model_path(self.model_id)
            log.info("loading embedding model %s from %s", self.model_id, path)
            try:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(path, device=self.device)
            except Exception as exc:  # library errors vary: OSError, ValueError, HF errors
                raise ModelError(
                    f"cannot load embedding model {self.model_id!r} (from {path}): {exc}. "
                    "Set embedding_model to a local folder or a Hugging Face id available offline."
                ) from exc
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                   else self.model.get_sentence_embedding_dimension())

    @property
    def tokenizer_path(self) -> str:
        return resolve_model_path(self.model_id)

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def encode(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out = []
        step = self.batch_size * 8
        for start in range(0, len(texts), step):
            batch = list(texts[start:start + step])
            vectors = self.model.encode(batch, batch_size=self.batch_size, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=False)
            out.append(np.asarray(vectors, dtype=np.float32))
            if progress:
                progress(min(start + step, len(texts)), len(texts))
        return np.vstack(out)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)
