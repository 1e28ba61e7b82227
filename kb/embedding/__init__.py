"""Dense embedding backends behind one protocol (``kb.embedding.protocol.Embedder``), chosen by settings.

Importing this package loads no model library: backends import theirs when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kb.embedding.e5 import E5_MODEL
from kb.embedding.hashed import HASHED_MODEL
from kb.embedding.protocol import Embedder
from kb.errors import ConfigError
from kb.settings import split_embedding_model

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from kb.settings import Settings

__all__ = ["E5_MODEL", "HASHED_MODEL", "Embedder", "VersionEmbedders", "make_embedder"]


def make_embedder(settings: "Settings", model_id: str | None = None) -> Embedder:
    """The embedder for ``settings`` (or for another ``model_id``, e.g. an older index version's).

    The id may carry a backend tag (``<model>#onnx-int8``, what ``embedding_backend = "onnx"`` makes of
    ``embedding_model``): the embedder it returns has that id as its ``model_id``.
    """
    model_id, backend = split_embedding_model(model_id or settings.embedding_model)
    if backend == "onnx":
        if model_id in (HASHED_MODEL, E5_MODEL):
            raise ConfigError(f"embedding_backend 'onnx' runs sentence-transformers models; {model_id!r} has its own "
                              "engine: set embedding_backend = 'torch'")
        from kb.embedding.onnx import OnnxEmbedder

        return OnnxEmbedder(model_id, settings.embedding_batch_size)
    if model_id == HASHED_MODEL:
        from kb.embedding.hashed import HashedEmbedder

        return HashedEmbedder()
    if model_id == E5_MODEL:
        from kb.embedding.e5 import E5Embedder

        return E5Embedder(settings.embedding_batch_size)
    from kb.embedding.sbert import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(model_id, settings.device, settings.embedding_batch_size)


class VersionEmbedders:
    """The embedder of each index version: the configured one, or the tuned model a version carries (``kb
    tune``), whose vectors only that model may extend or query. Keeps the last tuned model loaded."""

    def __init__(self, settings: "Settings", base: Embedder):
        self.settings = settings
        self.base = base
        self._tuned: Embedder | None = None

    def get(self, tuned: "Path | None") -> Embedder:
        """``tuned``: the tuned model folder of the version (``kb.index.version.tuned_embedder``), or None."""
        if tuned is None:
            return self.base
        if self._tuned is None or self._tuned.model_id != str(tuned):
            from kb.embedding.sbert import SentenceTransformerEmbedder

            self._tuned = SentenceTransformerEmbedder(str(tuned), self.settings.device,
                                                      self.settings.embedding_batch_size)
        return self._tuned
