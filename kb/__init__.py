"""kb: a private, local company knowledge base.

``import kb`` stays light (no torch, faiss or streamlit): public names load on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__all__ = [
    "Chunk", "ConfigError", "Document", "Hit", "IncompatibleIndex", "IndexLocked", "IndexNotFound",
    "IndexUnusable", "IngestReport", "KBError", "KnowledgeBase", "ModelError", "Section", "Settings",
    "SkippedFile", "UnreadableFile",
]

_HOME = {
    "KnowledgeBase": "kb.knowledge_base",
    "Settings": "kb.settings",
    **{name: "kb.types" for name in ("Chunk", "Document", "Hit", "IngestReport", "Section", "SkippedFile")},
    **{name: "kb.errors" for name in ("ConfigError", "IncompatibleIndex", "IndexLocked", "IndexNotFound",
                                      "IndexUnusable", "KBError", "ModelError", "UnreadableFile")},
}

if TYPE_CHECKING:  # pragma: no cover
    from kb.errors import (ConfigError, IncompatibleIndex, IndexLocked, IndexNotFound, IndexUnusable, KBError,
                           ModelError, UnreadableFile)
    from kb.knowledge_base import KnowledgeBase
    from kb.settings import Settings
    from kb.types import Chunk, Document, Hit, IngestReport, Section, SkippedFile


def __getattr__(name: str):
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'kb' has no attribute {name!r}")
