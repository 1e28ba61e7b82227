"""Guards on what the repository ships: our trained model folders under models/ (100 MB in all), each with its
card and the command that reproduces it; no other large file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# folder -> what its model card must name: the command that made it
MODEL_DIRS = {"models/kb-judge": "python -m kb.judge.train", "models/kb-reader": "scripts/train_reader.sh",
              "models/kb-directives": "python -m kb.tuning.directives"}
WEIGHT_SUFFIXES = (".safetensors", ".onnx", ".gguf", ".pt", ".bin", ".pth", ".ckpt")
BUDGET = 100 * 1024 * 1024


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if (ROOT / line).is_file()]


def _in_model_dir(path: str) -> bool:
    return any(path.startswith(folder + "/") for folder in MODEL_DIRS)


def test_weights_live_only_in_the_model_folders_within_the_budget():
    weights = [p for p in _tracked() if p.endswith(WEIGHT_SUFFIXES)]
    assert all(_in_model_dir(p) for p in weights), weights
    assert {"/".join(p.split("/")[:2]) for p in _tracked() if p.startswith("models/")} <= set(MODEL_DIRS)
    total = sum((ROOT / p).stat().st_size for p in _tracked() if p.startswith("models/"))
    assert total <= BUDGET, f"models/ is {total / 1e6:.1f} MB (limit 100 MB)"


@pytest.mark.parametrize("folder", sorted(MODEL_DIRS))
def test_each_model_folder_explains_itself(folder):
    files = [p for p in _tracked() if p.startswith(folder + "/")]
    if not files:
        return  # not shipped (yet): nothing to check
    card = (ROOT / folder / "README.md").read_text(encoding="utf-8")
    assert MODEL_DIRS[folder] in card, f"{folder}/README.md does not say how it was made"
    if (ROOT / folder / "model.safetensors").is_file():
        assert "CC BY-SA 4.0" in card and (ROOT / folder / "config.json").is_file()


def test_no_other_large_file_is_committed():
    large = [p for p in _tracked() if not _in_model_dir(p) and (ROOT / p).stat().st_size > 2_000_000]
    assert not large, large
