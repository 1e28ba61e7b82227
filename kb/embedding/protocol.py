"""The embedder protocol: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

from typing import Callable, Protocol, Sequence

import numpy as np

ProgressFn = Callable[[int, int], None]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    model_id: str

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    @property
    def tokenizer_path(self) -> str:
        """Folder of the tokenizer whose tokens chunk sizes are measured in."""
        ...

    def encode(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        """Passages (and sentences compared with each other)."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Search queries: the same as ``encode`` except for models trained with a query prefix (E5)."""
        ...
