"""The judge: a cross-encoder that scores how well a text answers a question (a logit; >0 leans yes).

Loaded on first use from a folder (the shipped ``models/kb-judge`` by default, or any Hugging Face
sequence-classification folder with one output). On the CPU its linear layers are quantised to int8
(dynamic quantisation): 30 pairs of 128 tokens took 340 ms instead of 783 ms in fp32 on 2 cores.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from kb.errors import ModelError
from kb.text.sentences import sentence_spans

log = logging.getLogger(__name__)

SHIPPED_JUDGE = "kb-judge"  # the weights trained by kb.judge.train and shipped in models/kb-judge
MAX_LENGTH = 160
WINDOW_WORDS = 90
WINDOW_SENTENCES = 4


def window_ranges(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """For each sentence, the run of sentences [i, j) from it that fits the judge's window."""
    out = []
    for i in range(len(spans)):
        words, j = 0, i
        while j < len(spans) and j - i < WINDOW_SENTENCES:
            n = len(text[spans[j][0]:spans[j][1]].split())
            if j > i and words + n > WINDOW_WORDS:
                break
            words += n
            j += 1
        out.append((i, j))
    return out


def text_windows(text: str) -> list[str]:
    """Overlapping runs of whole sentences that fit the judge's window (at least one per text)."""
    spans = sentence_spans(text)
    if not spans:
        return [text] if text.strip() else []
    out: list[tuple[int, int]] = []
    for i, j in window_ranges(text, spans):
        if out and j <= out[-1][1]:
            continue  # a window inside the previous one adds nothing
        out.append((i, j))
        if j == len(spans):
            break
    return [text[spans[i][0]:spans[j - 1][1]] for i, j in out]


def resolve_judge_path(model_id: str, shipped: str = SHIPPED_JUDGE) -> Path:
    """The folder of a judge (or another of our models named ``shipped``): the shipped one under models/, an
    existing folder, or a Hugging Face id (its cache)."""
    if model_id == shipped:
        return Path(__file__).resolve().parents[2] / "models" / shipped
    path = Path(model_id).expanduser()
    return path.resolve() if path.exists() else Path(model_id)


def probability(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def load_quantized(path: Path, auto_class: str, device: str, quantize: bool, what: str, fix: str):
    """(model, tokenizer) of the transformers ``auto_class`` saved in ``path``, in eval mode on ``device``,
    its linear layers int8 when ``quantize``; a ModelError that says ``fix`` when it cannot be loaded."""
    if Path(path).is_absolute() and not Path(path).is_dir():  # a folder, not a Hugging Face id
        raise ModelError(f"cannot load the {what} model: no folder {path}. {fix}")
    try:
        import torch
        import transformers

        tokenizer = transformers.AutoTokenizer.from_pretrained(path)
        model = getattr(transformers, auto_class).from_pretrained(path, dtype=torch.float32)
    except Exception as exc:  # OSError, ValueError, HF errors
        raise ModelError(f"cannot load the {what} model from {path}: {exc}. {fix}") from exc
    model.eval().to(device)
    if quantize:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao's deprecation notice; the API still works
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    log.info("%s model loaded from %s (%s%s)", what, path, device, ", int8" if quantize else "")
    return model, tokenizer


class Judge:
    """Scores (question, text) pairs; thread-safe, loads the model on first use."""

    def __init__(self, path: str | Path, device: str = "cpu", quantize: bool = True, batch_size: int | None = None,
                 max_length: int = MAX_LENGTH, threads: int | None = None):
        self.path = Path(path)
        self.device = device
        self.quantize = quantize and device == "cpu"
        # int8 dynamic quantisation scales activations over the whole padded batch, so in a batch a pair's score
        # moved with its neighbours (by up to 0.94 logits on the sample documents); one pair at a time it is
        # the same wherever it is scored, and measured faster on 2 cores (30 windows p50 670 vs 874 ms).
        self.batch_size = batch_size or (1 if self.quantize else 32)
        self.max_length = max_length
        self.threads = threads
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):
        if self._model is not None:
            return
        with self._lock:
            if self._model is None:
                self._model, self._tokenizer = load_quantized(
                    self.path, "AutoModelForSequenceClassification", self.device, self.quantize, "judge",
                    "Set judge_model to a folder with a trained cross-encoder (the shipped one is models/kb-judge).")

    def warm_up(self) -> None:
        self.score([("warm up", "warm up")])

    def score(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """One logit per (question, text) pair."""
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        self._load()
        return score_pairs(self._model, self._tokenizer, pairs, self.batch_size, self.max_length, self.device,
                           self.threads)

    def passage_scores(self, question: str, passages: Sequence[str]) -> np.ndarray:
        """Each passage's score: the best of its sentence windows."""
        windows = [text_windows(p) or [p] for p in passages]
        flat = [(question, w) for ws in windows for w in ws]
        scores = self.score(flat)
        out, k = [], 0
        for ws in windows:
            out.append(float(scores[k:k + len(ws)].max()))
            k += len(ws)
        return np.asarray(out, dtype=np.float32)


def score_pairs(model, tokenizer, pairs: Sequence[tuple[str, str]], batch_size: int, max_length: int,
                device: str = "cpu", threads: int | None = None, autocast: bool = False) -> np.ndarray:
    """Logits of ``model`` for ``pairs``, batched by length so padding stays small."""
    import torch

    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    out = np.zeros(len(pairs), dtype=np.float32)
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with torch.inference_mode(), torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=autocast):
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                enc = tokenizer([pairs[i][0] for i in idx], [pairs[i][1] for i in idx], truncation="longest_first",
                                max_length=max_length, padding=True, return_tensors="pt").to(device)
                logits = model(**enc).logits.float().reshape(len(idx), -1)[:, 0]
                out[idx] = logits.cpu().numpy()
    finally:
        if threads:
            torch.set_num_threads(previous)
    return out
