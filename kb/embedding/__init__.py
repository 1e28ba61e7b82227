"""Dense embedding backends behind one protocol (``kb.embedding.protocol.Embedder``), chosen by settings.

Importing this package loads no model library: backends import theirs when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kb.embedding.hashed import HASHED_MODEL
from kb.embedding.protocol import Embedder

if TYPE_CHECKING:  # pragma: no cover
    from kb.settings import Settings

__all__ = ["HASHED_MODEL", "Embedder", "make_embedder"]


def make_embedder(settings: "Settings", model_id: str | None = None) -> Embedder:
    """The embedder for ``settings`` (or for another ``model_id``, e.g. an older index version's)."""
    model_id = model_id or settings.embedding_model
    if model_id == HASHED_MODEL:
        from kb.embedding.hashed import HashedEmbedder

        return HashedEmbedder()
    from kb.embedding.sbert import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(model_id, settings.device, settings.embedding_batch_size)
