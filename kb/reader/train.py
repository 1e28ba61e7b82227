"""Train the reader from the bundled all-MiniLM-L6-v2 (or kb-judge's) weights: seeded, time-budgeted, resumable.

    python -m kb.reader.train --data ../shared/data/train --work runs/reader --budget-minutes 240
    python -m kb.reader.train --work runs/reader --export models/kb-reader   # after (or between) runs

The same loop as the judge's (``kb.judge.train``): a checkpoint and ``report.json`` in the work folder, a
deterministic example stream, so running the command again continues exactly where it stopped. Validation on
held-out SQuAD 2.0 dev articles: exact match and F1 (SQuAD's normalisation), answerable F1 and unanswerable
accuracy, at the no-answer threshold 0 and at the best one.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import random
import re
import string
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from kb.judge.train import BASE_MODEL, Trainer, TrainConfig, _initial_weights, add_mix_options, export
from kb.reader.data import ReaderData, ReaderExample
from kb.reader.model import MAX_LENGTH, encode_windows, predict

log = logging.getLogger(__name__)


@dataclass
class ReaderConfig(TrainConfig):
    """Everything that decides the reader's weights (saved in the report and the model card)."""

    batch_size: int = 16
    learning_rate: float = 5e-5
    planned_pairs: int = 150_000  # examples the schedule spans
    max_length: int = MAX_LENGTH
    eval_every: int = 500
    eval_limit: int = 300
    negative_windows: float = 0.5  # chance that an answerable long passage also gives a window without it
    order_seed: int | None = None  # the order examples are visited in (default: seed's); held-out articles: seed's


class ReaderTrainer(Trainer):
    """The judge's training loop with a span head: start/end cross-entropy, SQuAD-style validation."""

    config_class = ReaderConfig

    def _model(self):
        from transformers import AutoConfig, AutoModelForQuestionAnswering, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from kb.embedding.packaged import resolve_model_path

        hf_logging.set_verbosity_error()  # "newly initialised qa_outputs" is expected here
        path = resolve_model_path(self.config.base_model)
        cfg = AutoConfig.from_pretrained(path, num_labels=2, num_hidden_layers=self.config.layers)
        model = AutoModelForQuestionAnswering.from_pretrained(path, config=cfg)
        if self.config.init_from:
            weights = _initial_weights(Path(self.config.init_from))
            missing, unexpected = model.load_state_dict(weights, strict=False)
            # from the judge: its encoder, a fresh span head (its relevance head is not used)
            if [k for k in missing if not k.startswith("qa_outputs.")]:
                raise ValueError(f"{self.config.init_from} lacks encoder weights: {missing[:5]}")
            log.info("initialised from %s (fresh: %s; unused: %s)", self.config.init_from, missing, unexpected)
        model.base_model.embeddings.word_embeddings.weight.requires_grad_(False)
        return model.to(self.device), AutoTokenizer.from_pretrained(path)

    def _default_source(self):
        c = self.config
        extra = load_examples(Path(c.business)) if c.business else []
        return ReaderData(Path(c.data), c.validation_articles, c.seed, extra, c.extra_repeats, c.planted, c.order_seed,
                          c.planted_generation, c.situations)

    def _loss(self, model, tokenizer, batch: list[ReaderExample]):
        import torch

        features, starts, ends = [], [], []
        for example in batch:
            for window, (a, b) in self._windows(tokenizer, example):
                features.append(window)
                starts.append(a)
                ends.append(b)
        enc = tokenizer.pad(features, return_tensors="pt").to(self.device)
        with torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16, enabled=self.autocast):
            out = model(**enc)
        start = torch.tensor(starts, device=self.device)
        end = torch.tensor(ends, device=self.device)
        ce = torch.nn.functional.cross_entropy
        return (ce(out.start_logits.float(), start) + ce(out.end_logits.float(), end)) / 2

    def _windows(self, tokenizer, example: ReaderExample) -> list[tuple[dict, tuple[int, int]]]:
        """The windows one example trains on, with the answer's first and last token (0, 0: not here)."""
        enc = encode_windows(tokenizer, example.question, example.text, self.config.max_length)
        keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
        rng = random.Random(f"{self.config.seed}-{example.qid}-{example.question}")
        holding, lacking = [], []
        for w in range(len(enc["input_ids"])):
            place = _answer_tokens(enc, w, example) if example.answerable else None
            (holding if place else lacking).append((w, place or (0, 0)))
        chosen = []
        if holding:
            chosen.append(rng.choice(holding))
            if lacking and rng.random() < self.config.negative_windows:
                chosen.append(rng.choice(lacking))
        elif not example.answerable:
            chosen.append(rng.choice(lacking))
        return [({k: enc[k][w] for k in keys}, place) for w, place in chosen]

    def _figures(self, model, tokenizer, val: list[ReaderExample]) -> dict:
        return evaluate(model, tokenizer, val, self.device, self.autocast)

    def card(self, phases: list[dict], run_name: str, extra: str = "") -> str:
        from kb.reader.card import model_card

        return model_card(phases, run_name, extra)


def _answer_tokens(enc, window: int, example: ReaderExample) -> tuple[int, int] | None:
    """The first and last token of the answer in one window, or None when the window does not hold all of it."""
    sequence = enc.sequence_ids(window)
    offsets = enc["offset_mapping"][window]
    context = [t for t, sid in enumerate(sequence) if sid == 1]
    if not context:
        return None
    a, b = example.start, example.start + len(example.answer)
    if offsets[context[0]][0] > a or offsets[context[-1]][1] < b:
        return None
    first = next(t for t in context if offsets[t][1] > a)
    last = next(t for t in reversed(context) if offsets[t][0] < b)
    return (first, last) if first <= last else None


# ---------------------------------------------------------------- SQuAD 2.0 figures


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, articles or extra spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def f1_score(prediction: str, gold: str) -> float:
    p, g = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not p or not g:
        return float(p == g)
    common = sum((collections.Counter(p) & collections.Counter(g)).values())
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def squad_figures(examples: list[ReaderExample], texts: list[str], margins: np.ndarray) -> dict:
    """EM/F1 (in %), answerable F1 and unanswerable accuracy at threshold 0 and at the best threshold: a span is
    answered when its margin over no-answer exceeds the threshold."""
    golds = [list(e.golds) or [e.answer] if e.answerable else [""] for e in examples]
    em_span = np.array([max(float(normalize_answer(t) == normalize_answer(g)) for g in gs) for t, gs in zip(texts, golds)])
    f1_span = np.array([max(f1_score(t, g) for g in gs) for t, gs in zip(texts, golds)])
    has = np.array([e.answerable for e in examples])

    def at(threshold: float) -> dict:
        answered = margins > threshold
        em = np.where(answered, em_span, (~has).astype(float))
        f1 = np.where(answered, f1_span, (~has).astype(float))
        return {"em": round(100 * em.mean(), 2), "f1": round(100 * f1.mean(), 2),
                "has_ans_f1": round(100 * f1[has].mean(), 2) if has.any() else None,
                "no_ans_acc": round(100 * (~answered[~has]).mean(), 2) if (~has).any() else None}

    candidates = np.concatenate([[0.0], np.unique(margins)])
    best = max(candidates, key=lambda t: at(float(t))["f1"])
    return {**at(0.0), "best_threshold": round(float(best), 3),
            **{f"best_{k}": v for k, v in at(float(best)).items()}, "questions": len(examples)}


def evaluate(model, tokenizer, val: list[ReaderExample], device: str, autocast: bool, batch_size: int = 32) -> dict:
    spans = predict(model, tokenizer, [(e.question, e.text) for e in val], batch_size, MAX_LENGTH, device,
                    autocast=autocast)
    return squad_figures(val, [s.text for s in spans], np.array([s.margin for s in spans]))


def load_examples(path: Path) -> list[ReaderExample]:
    """Ready examples from a JSONL file of ``ReaderExample`` fields."""
    out = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                row["golds"] = tuple(row.get("golds") or ())
                out.append(ReaderExample(**row))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kb.reader.train", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=ReaderConfig.data, help="folder with the training data (shared/data/train)")
    add_mix_options(parser, "share of QA examples given a planted instruction that claims another answer")
    parser.add_argument("--work", default="runs/reader", help="checkpoint and report folder (resumes from it)")
    parser.add_argument("--budget-minutes", type=float, default=60.0, help="stop (with a checkpoint) after this long")
    parser.add_argument("--planned-examples", type=int, default=ReaderConfig.planned_pairs,
                        help="examples the learning-rate schedule spans; training ends there")
    parser.add_argument("--learning-rate", type=float, default=ReaderConfig.learning_rate)
    parser.add_argument("--batch-size", type=int, default=ReaderConfig.batch_size)
    parser.add_argument("--seed", type=int, default=ReaderConfig.seed)
    parser.add_argument("--order-seed", type=int, default=None, help="visit the examples in this seed's order "
                        "(a later phase sees others first); the held-out articles stay --seed's")
    parser.add_argument("--eval-every", type=int, default=ReaderConfig.eval_every, help="steps between validations")
    parser.add_argument("--eval-limit", type=int, default=ReaderConfig.eval_limit,
                        help="questions of each kind in the periodic validation")
    parser.add_argument("--stop-after-examples", type=int, default=0, help="end the run once this many examples "
                        "are seen (the schedule still spans --planned-examples)")
    parser.add_argument("--base-model", default=BASE_MODEL, help="the encoder to start from")
    parser.add_argument("--init-from", default="", help="start from this model folder or run folder (a reader's, "
                        "or the judge's encoder) instead of the base model")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: every core; 1 where "
                        "other work shares the machine)")
    parser.add_argument("--export", metavar="DIR", help="write the checkpoint as a model folder and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    work = Path(args.work)
    if args.export:
        print(export(work, Path(args.export), trainer_class=ReaderTrainer))
        return 0
    config = ReaderConfig(data=args.data, business=args.business, extra_repeats=args.extra_repeats,
                          planted=args.planted, order_seed=args.order_seed,
                          planted_generation=args.planted_generation, situations=args.situations,
                          seed=args.seed, batch_size=args.batch_size, learning_rate=args.learning_rate,
                          planned_pairs=args.planned_examples, eval_every=args.eval_every,
                          eval_limit=args.eval_limit, init_from=args.init_from, base_model=args.base_model,
                          stop_after_pairs=args.stop_after_examples)
    if (work / "checkpoint.pt").exists():
        import torch

        saved = torch.load(work / "checkpoint.pt", map_location="cpu", weights_only=False)
        trained_with = {**asdict(ReaderConfig()), **saved["config"], "stop_after_pairs": config.stop_after_pairs}
        if trained_with != asdict(config):
            changed = {k: (v, asdict(config)[k]) for k, v in trained_with.items() if asdict(config).get(k) != v}
            log.error("the checkpoint in %s was trained with other settings %s; use another --work", work, changed)
            return 2
    report = ReaderTrainer(config, work, args.device, threads=args.threads).run(args.budget_minutes)
    json.dump(report["evaluations"][-1], sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
