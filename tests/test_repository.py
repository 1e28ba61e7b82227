"""Guards on what the repository ships: one trained model folder under models/, small, with its card."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = "models/kb-judge"
WEIGHT_SUFFIXES = (".safetensors", ".onnx", ".gguf", ".pt", ".bin", ".pth", ".ckpt")


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if (ROOT / line).is_file()]


def test_weights_live_only_in_the_one_model_folder():
    weights = [p for p in _tracked() if p.endswith(WEIGHT_SUFFIXES)]
    assert all(p.startswith(MODEL_DIR + "/") for p in weights), weights
    assert {p.split("/")[1] for p in _tracked() if p.startswith("models/")} <= {"kb-judge"}


def test_the_model_folder_is_small_and_explains_itself():
    folder = ROOT / MODEL_DIR
    files = [p for p in _tracked() if p.startswith(MODEL_DIR + "/")]
    if not files:
        return  # no trained weights shipped (yet): nothing to check
    total = sum((ROOT / p).stat().st_size for p in files)
    assert total <= 50 * 1024 * 1024, f"{MODEL_DIR} is {total / 1e6:.1f} MB (limit 50 MB)"
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "python -m kb.judge.train" in card and "CC BY-SA 4.0" in card
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def test_no_other_large_file_is_committed():
    large = [p for p in _tracked() if not p.startswith(MODEL_DIR + "/") and (ROOT / p).stat().st_size > 2_000_000]
    assert not large, large
