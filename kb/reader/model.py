"""The reader: a span-extraction model that finds the answer inside a passage, or says it is not there.

It reads ``[CLS] question [SEP] passage [SEP]`` (the whole passage: heading, table header and rows, list
lead-in and items) and gives every token a start and an end logit; the best span is the answer, and the
``[CLS]`` token's start + end is the no-answer score (SQuAD 2.0's convention). Passages longer than one window
are read in overlapping windows; a span's score is comparable across windows and passages.

Loaded on first use from a folder (the shipped ``models/kb-reader`` by default, or any Hugging Face
question-answering folder). On the CPU its linear layers are quantised to int8, and windows are read one at a
time (dynamic int8 scales over the whole batch, so a batch would make a window's scores depend on its
neighbours).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from kb.judge.model import load_quantized, resolve_judge_path

log = logging.getLogger(__name__)

SHIPPED_READER = "kb-reader"  # the weights trained by kb.reader.train and shipped in models/kb-reader
MAX_LENGTH = 224
STRIDE = 64  # tokens two windows of one passage share
MAX_ANSWER_TOKENS = 40


@dataclass(frozen=True)
class Span:
    """The reader's best answer in one passage: character offsets into it, and its scores (logits)."""

    passage: int  # index of the passage in the list read
    start: int
    end: int
    text: str
    score: float  # start + end logit of the span
    no_answer: float  # start + end logit of [CLS]: how strongly the passage does not answer

    @property
    def margin(self) -> float:
        """How much the span beats "no answer here" (> 0: the reader answers from this passage)."""
        return self.score - self.no_answer


def resolve_reader_path(model_id: str) -> Path:
    """The folder of a reader model: the shipped one, an existing folder, or a Hugging Face id."""
    return resolve_judge_path(model_id, SHIPPED_READER)


def best_span(start: np.ndarray, end: np.ndarray, allowed: np.ndarray, max_tokens: int = MAX_ANSWER_TOKENS,
              lines: np.ndarray | None = None) -> tuple[int, int, float]:
    """(first token, last token, start + end logit) of the best span within ``allowed`` tokens; with ``lines``
    (each token's line number), a span never crosses a line break: an answer is one row, item or paragraph."""
    s = np.where(allowed, start, -np.inf)
    e = np.where(allowed, end, -np.inf)
    n = len(s)
    # scores[i, j] = s[i] + e[j] for i <= j < i + max_tokens
    scores = s[:, None] + e[None, :]
    i, j = np.indices((n, n))
    valid = (j >= i) & (j - i < max_tokens)
    if lines is not None:
        valid &= lines[:, None] == lines[None, :]
    scores = np.where(valid, scores, -np.inf)
    flat = int(np.argmax(scores))
    a, b = divmod(flat, n)
    return a, b, float(scores[a, b])


def encode_windows(tokenizer, question: str, passage: str, max_length: int = MAX_LENGTH, stride: int = STRIDE):
    """The passage's windows with the question: the tokenizer's encoding with offsets and sequence ids."""
    return tokenizer(question, passage, truncation="only_second", max_length=max_length, stride=stride,
                     return_overflowing_tokens=True, return_offsets_mapping=True, padding=False)


_ROW_LINE = re.compile(r"^[^:;\n]{1,80}: [^;\n]*(?:; [^:;\n]{1,80}: [^;\n]*)+$", re.M)


def _segment_breaks(passage: str) -> list[bool]:
    """Where an answer may not run on: line breaks, and in a table row indexed as "Header: value; Header: value"
    the "; " between its cells (an answer is one cell, not a cell and the next header)."""
    out = [ch == "\n" for ch in passage]
    for row in _ROW_LINE.finditer(passage):
        for cut in re.finditer(r"; ", row.group(0)):
            out[row.start() + cut.start()] = True
    return out


def spans_from_logits(encoding, window: int, start: np.ndarray, end: np.ndarray, passage: str,
                      context: Sequence[tuple[int, int]] = ()) -> tuple[int, int, float, float]:
    """(char start, char end, span score, no-answer score) of one window's logits over ``passage``; a span lies
    in the ``context`` ranges of the passage only (a title or heading line gives context, not answers)."""
    sequence = encoding.sequence_ids(window)
    offsets = encoding["offset_mapping"][window]
    allowed = np.array([sid == 1 and not any(a <= lo < b for a, b in context) for sid, (lo, _) in
                        zip(sequence, offsets)])
    if not allowed.any():  # this window holds only context (a heading, text around the part asked about)
        return 0, 0, float("-inf"), float(start[0] + end[0])
    breaks = np.cumsum(_segment_breaks(passage))
    # a question token's offsets point into the question, not the passage (and it is never allowed anyway)
    lines = np.array([breaks[a - 1] if sid == 1 and a > 0 else 0 for sid, (a, _) in zip(sequence, offsets)])
    a, b, score = best_span(start, end, allowed, lines=lines)
    return offsets[a][0], offsets[b][1], score, float(start[0] + end[0])


class Reader:
    """Reads (question, passages) and returns each passage's best span; thread-safe, loads on first use."""

    def __init__(self, path: str | Path, device: str = "cpu", quantize: bool = True, max_length: int = MAX_LENGTH,
                 threads: int | None = None):
        self.path = Path(path)
        self.device = device
        self.quantize = quantize and device == "cpu"
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
                    self.path, "AutoModelForQuestionAnswering", self.device, self.quantize, "reader",
                    'Set reader_model to a folder with a question-answering model (the shipped one is '
                    'models/kb-reader), or to "" to answer without it.')

    def warm_up(self) -> None:
        self.read("warm up", ["warm up"])

    def read(self, question: str, passages: Sequence[str],
             context: Sequence[Sequence[tuple[int, int]]] | None = None) -> list[Span]:
        """Each passage's best span (best over its windows) and its no-answer score (the lowest of its
        windows': the window that sees most of the answer's context speaks for the passage). ``context`` gives,
        per passage, character ranges the reader reads but never answers from (its title and headings)."""
        if not passages:
            return []
        self._load()
        return predict(self._model, self._tokenizer, [(question, p) for p in passages], 1, self.max_length,
                       self.device, self.threads, context=context)


def predict(model, tokenizer, items: Sequence[tuple[str, str]], batch_size: int, max_length: int = MAX_LENGTH,
            device: str = "cpu", threads: int | None = None, autocast: bool = False,
            context: Sequence[Sequence[tuple[int, int]]] | None = None) -> list[Span]:
    """The best span of each (question, passage) item; windows of similar length are batched together."""
    import torch

    encodings = [encode_windows(tokenizer, q, p, max_length) for q, p in items]
    windows = [(i, w) for i, enc in enumerate(encodings) for w in range(len(enc["input_ids"]))]
    windows.sort(key=lambda iw: len(encodings[iw[0]]["input_ids"][iw[1]]))
    found: dict[int, tuple[int, int, float]] = {}
    no_answer = [np.inf] * len(items)
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with torch.inference_mode(), torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=autocast):
            for at in range(0, len(windows), batch_size):
                batch = windows[at:at + batch_size]
                features = [{k: encodings[i][k][w] for k in ("input_ids", "token_type_ids", "attention_mask")
                             if k in encodings[i]} for i, w in batch]
                enc = tokenizer.pad(features, return_tensors="pt").to(device)
                result = model(**enc)
                starts = result.start_logits.float().cpu().numpy()
                ends = result.end_logits.float().cpu().numpy()
                for row, (i, w) in enumerate(batch):
                    n = len(encodings[i]["input_ids"][w])
                    a, b, score, null = spans_from_logits(encodings[i], w, starts[row, :n], ends[row, :n],
                                                          items[i][1], context[i] if context else ())
                    no_answer[i] = min(no_answer[i], null)
                    if i not in found or score > found[i][2]:
                        found[i] = (a, b, score)
    finally:
        if threads:
            torch.set_num_threads(previous)
    out = []
    for i, (_, passage) in enumerate(items):
        a, b, score = found[i]
        out.append(Span(i, a, b, passage[a:b], score, float(no_answer[i])))
    return out
