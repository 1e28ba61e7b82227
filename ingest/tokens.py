"""Count text length in an embedding model's own tokens, without loading the model itself."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

TokenCounter = Callable[[Sequence[str]], list[int]]


def load_token_counter(model_path: str) -> TokenCounter:
    """A function that returns the token count (no special tokens) of each text in a batch."""
    tokenizer_file = Path(model_path) / "tokenizer.json"
    if tokenizer_file.is_file():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.no_truncation()
        tokenizer.no_padding()

        def count(texts: Sequence[str]) -> list[int]:
            return [len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]

        return count

    from transformers import AutoTokenizer

    auto = AutoTokenizer.from_pretrained(model_path)

    def count_auto(texts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in auto(list(texts), add_special_tokens=False)["input_ids"]]

    return count_auto

