"""Train the judge from the bundled all-MiniLM-L6-v2 weights: seeded, time-budgeted, resumable.

    python -m kb.judge.train --data ../shared/data/train --work runs/judge --budget-minutes 120
    python -m kb.judge.train --work runs/judge --export models/kb-judge   # after (or between) runs

The work folder keeps a checkpoint (weights, optimiser, schedule, position in the data stream) and
``report.json`` (loss curve, pairs/s, validation AUCs per pair kind on held-out SQuAD articles). Running
the same command again continues where the last run stopped; the data stream is deterministic, so a
resumed run trains on exactly the pairs an uninterrupted one would have. A CUDA device is used when
present. Word embeddings stay frozen (they are the base model's; measured 35% faster on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol

import numpy as np

from kb.judge.data import Decoys, Pair, PublicData, ValidationSet, load_ready
from kb.judge.model import MAX_LENGTH, score_pairs, text_windows
from kb.text.sentences import sentence_spans

log = logging.getLogger(__name__)

BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass
class TrainConfig:
    """Everything that decides the trained weights (saved in the report and the model card)."""

    data: str = "../shared/data/train"
    base_model: str = BASE_MODEL
    layers: int = 6
    seed: int = 0
    batch_size: int = 32
    learning_rate: float = 4e-5
    weight_decay: float = 0.01
    warmup: float = 0.05
    planned_pairs: int = 400_000
    max_length: int = MAX_LENGTH
    validation_articles: int = 12
    eval_every: int = 1000
    eval_limit: int = 400
    final_eval_limit: int = 0  # questions of each kind in the last validation (0: every held-out question)
    unanswerable_repeats: int = 1
    stop_after_pairs: int = 0  # end the run early (before the schedule ends) once this many pairs are seen
    init_from: str = ""  # a model folder or checkpoint.pt to start from instead of the base model
    business: str = ""  # a JSONL file of questions over business documents (kb.reader.business), extra_repeats an epoch
    extra_repeats: int = 1
    planted: float = 0.0  # share of questions with an instruction to the answerer as a negative (or in the passage)
    planted_generation: int = 1  # 2: more phrasings of planted instructions, half of them German or French
    restated: float = 0.0  # share of questions with the question itself as a document line, a negative
    answerless: float = 0.0  # share of answerable questions with the answer cut out of its sentence, a negative
    situations: float = 0.0  # share of questions told with a situation around them (kb.text.situations)


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (ties count half); nan when a class is missing."""
    labels = np.asarray(labels, dtype=bool)
    pos, neg = scores[labels], scores[~labels]
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    values = np.concatenate([pos, neg])[order]
    # average ranks over ties
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def evaluate(model, tokenizer, val: ValidationSet, device: str, autocast: bool, batch_size: int = 64) -> dict:
    """Validation AUCs: answer vs near-miss sentence, answerable vs unanswerable paragraph."""
    sent = val.sentences
    s_scores = score_pairs(model, tokenizer, [(p.question, p.text) for p in sent], batch_size, MAX_LENGTH,
                           device, autocast=autocast)
    def best(parts: list[list[str]]) -> np.ndarray:
        flat = [(p.question, x) for p, xs in zip(val.paragraphs, parts) for x in xs]
        scores = score_pairs(model, tokenizer, flat, batch_size, MAX_LENGTH, device, autocast=autocast)
        out, k = [], 0
        for xs in parts:
            out.append(scores[k:k + len(xs)].max())
            k += len(xs)
        return np.array(out)

    p_scores = best([text_windows(p.text) or [p.text] for p in val.paragraphs])
    # the answer decision reads the best sentence, so its paragraph figure is reported too
    p_sentence_scores = best([[p.text[a:b] for a, b in sentence_spans(p.text)] or [p.text] for p in val.paragraphs])
    p_labels = np.array([p.label for p in val.paragraphs])
    s_labels = np.array([p.label for p in sent])
    # per-question ranking: is the answer sentence the paragraph's top sentence?
    top, groups = 0, {}
    for p, s in zip(sent, s_scores):
        groups.setdefault(p.group, []).append((s, p.label))
    for items in groups.values():
        top += max(items)[1] == 1.0
    return {
        "answer_vs_near_miss_sentence_auc": _rounded(auc(s_labels, s_scores)),
        "answer_sentence_top1": round(top / max(1, len(groups)), 4),
        "answerable_vs_unanswerable_paragraph_auc": _rounded(auc(p_labels, p_scores)),
        "answerable_vs_unanswerable_paragraph_auc_best_sentence": _rounded(auc(p_labels, p_sentence_scores)),
        "sentence_pairs": len(sent), "paragraphs": len(val.paragraphs),
    }


class PairSource(Protocol):
    """Where a training run's pairs come from: blocks of training pairs and a held-out validation set."""

    def blocks(self, start: int = 0) -> Iterator[tuple[int, list[Pair]]]: ...

    def validation(self, limit: int | None = None) -> ValidationSet: ...

    def describe(self) -> str: ...


def _rounded(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


class Trainer:
    """One training run in ``work``; ``run`` trains until the budget or the planned pairs are spent."""

    config_class = TrainConfig

    def __init__(self, config: TrainConfig, work: Path, device: str | None = None, source: PairSource | None = None,
                 threads: int | None = None):
        """``source`` gives the pairs (default: the public QA data under ``config.data``); ``threads`` caps the
        CPU threads (1 on a machine shared with other work: waiting at each parallel region's barrier for a
        descheduled thread measured 3x slower than one thread)."""
        import torch

        self.config = config
        self.source = source
        self.work = work
        self.threads = threads
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.autocast = self.device == "cpu" and _cpu_has_bf16() or self.device.startswith("cuda")
        self.checkpoint = work / "checkpoint.pt"
        self.report_path = work / "report.json"
        self._stop = False

    def _model(self):
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from kb.embedding.packaged import resolve_model_path

        hf_logging.set_verbosity_error()  # "newly initialised classifier" is expected here
        path = resolve_model_path(self.config.base_model)
        cfg = AutoConfig.from_pretrained(path, num_labels=1, num_hidden_layers=self.config.layers)
        model = AutoModelForSequenceClassification.from_pretrained(path, config=cfg)
        if self.config.init_from:
            model.load_state_dict(_initial_weights(Path(self.config.init_from)))
        model.base_model.embeddings.word_embeddings.weight.requires_grad_(False)
        return model.to(self.device), AutoTokenizer.from_pretrained(path)

    def run(self, budget_minutes: float, progress: Callable[[str, int, int], None] | None = None) -> dict:
        """Train; ``progress("train", step, total_steps)`` after each step (the web app's bar)."""
        import torch

        c = self.config
        random.seed(c.seed)
        np.random.seed(c.seed)
        torch.manual_seed(c.seed)
        if self.device == "cpu":
            torch.set_num_threads(self.threads or os.cpu_count() or 1)
        model, tokenizer = self._model()
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=c.learning_rate, weight_decay=c.weight_decay)
        total_steps = max(1, c.planned_pairs // c.batch_size)
        warmup = max(1, int(total_steps * c.warmup))
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / (total_steps - warmup))))
        state = {"step": 0, "block": 0, "batch_in_block": 0, "pairs": 0, "seconds": 0.0,
                 "loss_curve": [], "evaluations": []}
        if self.checkpoint.exists():
            saved = torch.load(self.checkpoint, map_location=self.device, weights_only=False)
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            schedule.load_state_dict(saved["schedule"])
            state = saved["state"]
            torch.set_rng_state(saved["torch_rng"])
            log.info("resumed at step %d (%d pairs, %.0f s trained)", state["step"], state["pairs"],
                     state["seconds"])
        source = self.source or self._default_source()
        val = source.validation(c.eval_limit)
        log.info("training on %s (%s)", source.describe(), self.device)

        # a stop signal ends the run with a checkpoint; only the main thread may take signals (the web app
        # trains in its script thread), and the caller's handlers come back afterwards
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            handlers = {sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            return self._train(model, tokenizer, optimizer, schedule, state, source, val, total_steps,
                               budget_minutes, progress)
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)

    def _train(self, model, tokenizer, optimizer, schedule, state, source, val, total_steps, budget_minutes,
               progress) -> dict:
        c = self.config
        deadline = time.monotonic() + budget_minutes * 60
        from tqdm import tqdm

        bar = tqdm(total=total_steps, initial=state["step"], unit="step", disable=None, dynamic_ncols=True)
        window_loss, window_n, started, pairs_at_start = 0.0, 0, time.monotonic(), state["pairs"]
        model.train()
        for block_index, block in source.blocks(state["block"]):
            batches = _length_batches(block, c.batch_size, random.Random(f"{c.seed}-batches-{block_index}"))
            for b in range(state["batch_in_block"] if block_index == state["block"] else 0, len(batches)):
                if self._stop or time.monotonic() > deadline or state["step"] >= total_steps or (
                        c.stop_after_pairs and state["pairs"] >= c.stop_after_pairs):
                    break
                loss = self._step(model, tokenizer, batches[b], optimizer, schedule)
                state["step"] += 1
                state["pairs"] += len(batches[b])
                state["block"], state["batch_in_block"] = block_index, b + 1
                window_loss, window_n = window_loss + loss, window_n + 1
                bar.update(1)
                if progress is not None:
                    progress("train", state["step"], total_steps)
                if state["step"] % 100 == 0:
                    state["loss_curve"].append([state["step"], round(window_loss / window_n, 4)])
                    bar.set_postfix(loss=f"{window_loss / window_n:.3f}")
                    if bar.disable:  # not a terminal: a log line instead of the bar
                        log.info("step %d/%d: loss %.3f, %.1f pairs/s", state["step"], total_steps,
                                 window_loss / window_n,
                                 (state["pairs"] - pairs_at_start) / max(1e-9, time.monotonic() - started))
                    window_loss, window_n = 0.0, 0
                if state["step"] % c.eval_every == 0:
                    self._evaluate(model, tokenizer, val, state, started, pairs_at_start)
                    self._save(model, optimizer, schedule, state, started)
                    model.train()
            else:
                state["block"], state["batch_in_block"] = block_index + 1, 0
                continue
            break
        bar.close()
        finished = state["step"] >= total_steps
        full = source.validation(c.final_eval_limit or None) if finished else val
        self._evaluate(model, tokenizer, full, state, started, pairs_at_start, final=finished)
        self._save(model, optimizer, schedule, state, started)
        return self.report()

    def _default_source(self) -> PairSource:
        c = self.config
        extra = load_ready(Path(c.business)) if c.business else []
        return PublicData(Path(c.data), c.validation_articles, c.seed, c.unanswerable_repeats, extra, c.extra_repeats,
                          Decoys(c.planted, c.planted_generation, c.restated, c.answerless, c.situations))

    def _step(self, model, tokenizer, batch: list, optimizer, schedule) -> float:
        import torch

        loss = self._loss(model, tokenizer, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    def _loss(self, model, tokenizer, batch: list[Pair]):
        import torch

        enc = tokenizer([p.question for p in batch], [p.text for p in batch], truncation="longest_first",
                        max_length=self.config.max_length, padding=True, return_tensors="pt").to(self.device)
        labels = torch.tensor([p.label for p in batch], device=self.device)
        with torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16, enabled=self.autocast):
            logits = model(**enc).logits.float().reshape(-1)
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)

    def _figures(self, model, tokenizer, val) -> dict:
        return evaluate(model, tokenizer, val, self.device, self.autocast)

    def _evaluate(self, model, tokenizer, val, state, started, pairs_at_start, final: bool = False) -> None:
        model.eval()
        t = time.monotonic()
        figures = self._figures(model, tokenizer, val)
        elapsed = state["seconds"] + (time.monotonic() - started)
        figures.update(step=state["step"], pairs=state["pairs"], final=final,
                       eval_seconds=round(time.monotonic() - t, 1),
                       pairs_per_second=round((state["pairs"] - pairs_at_start) / max(1e-9, time.monotonic() - started), 1),
                       trained_seconds=round(elapsed))
        state["evaluations"].append(figures)
        log.info("validation at step %d: %s", state["step"], json.dumps(figures))

    def _save(self, model, optimizer, schedule, state, started) -> None:
        import torch

        state = dict(state)
        state["seconds"] = state["seconds"] + (time.monotonic() - started)
        self.work.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(), "state": state, "torch_rng": torch.get_rng_state(),
                    "config": asdict(self.config)}, tmp)
        os.replace(tmp, self.checkpoint)
        report = {"config": asdict(self.config), "device": self.device, "bf16_autocast": self.autocast,
                  **{k: state[k] for k in ("step", "pairs", "loss_curve", "evaluations")},
                  "trained_seconds": round(state["seconds"])}
        self.report_path.write_text(json.dumps(report, indent=1))

    def report(self) -> dict:
        return json.loads(self.report_path.read_text())

    def card(self, phases: list[dict], run_name: str, extra: str = "") -> str:
        """The model card of exported weights, from the training reports of each phase (oldest first)."""
        from kb.judge.card import model_card

        return model_card(phases, run_name, extra)

    def _request_stop(self, *_):
        log.warning("stop requested: saving a checkpoint after this step")
        self._stop = True


def _initial_weights(source: Path) -> dict:
    """The weights to continue from: another run's checkpoint, or an exported model folder."""
    import torch

    if source.is_dir() and (source / "checkpoint.pt").exists():
        source = source / "checkpoint.pt"
    if source.suffix == ".pt":
        return torch.load(source, map_location="cpu", weights_only=False)["model"]
    from safetensors.torch import load_file

    return {k: v.float() for k, v in load_file(source / "model.safetensors").items()}


def _length_batches(block: list[Pair], size: int, rng: random.Random) -> list[list[Pair]]:
    """Batches of similar length (less padding), in random order."""
    ordered = sorted(block, key=lambda p: len(p.question) + len(p.text))
    batches = [ordered[i:i + size] for i in range(0, len(ordered), size)]
    rng.shuffle(batches)
    return batches


def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def export(work: Path, out: Path, card_extra: str = "", trainer_class: type[Trainer] = Trainer) -> Path:
    """Write the checkpoint's weights as an fp16 safetensors model folder with its model card."""
    import torch

    saved = torch.load(work / "checkpoint.pt", map_location="cpu", weights_only=False)
    config = trainer_class.config_class(**saved["config"])
    trainer = trainer_class(config, work, device="cpu")
    model, tokenizer = trainer._model()
    model.load_state_dict(saved["model"])
    out.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    phases = _phase_reports(work)
    # the phases before travel with the weights, so a phase started from this folder can name them all
    (out / "training_report.json").write_text(json.dumps({**phases[-1], "earlier_phases": phases[:-1]}, indent=1))
    (out / "README.md").write_text(trainer.card(phases, work.name, card_extra))
    return out


def _phase_reports(work: Path) -> list[dict]:
    """This run's report after those of the runs it started from (``--init-from`` run folders, or an exported
    model folder with the phases it names), oldest first."""
    phases: list[dict] = []
    folder: Path | None = work
    while folder is not None and len(phases) < 10:
        if not (folder / "report.json").is_file():
            if (folder / "training_report.json").is_file():
                report = json.loads((folder / "training_report.json").read_text())
                phases[:0] = [*report.pop("earlier_phases", []), report]
            break
        report = json.loads((folder / "report.json").read_text())
        phases.insert(0, report)
        parent = report["config"].get("init_from") or ""
        folder = Path(parent) if parent else None
    return phases


def add_mix_options(parser: argparse.ArgumentParser, planted_help: str) -> None:
    """The options that add business-document questions and planted instructions to the public data (the judge's
    and the reader's trainers)."""
    parser.add_argument("--business", default="", help="JSONL of questions over business documents "
                        "(python -m kb.reader.business)")
    parser.add_argument("--extra-repeats", type=int, default=1, help="visit each business question this many "
                        "times an epoch")
    parser.add_argument("--planted", type=float, default=0.0, help=planted_help)
    parser.add_argument("--planted-generation", type=int, default=1, choices=(1, 2), help="how planted "
                        "instructions are phrased: 2 draws from more phrasings, half of them German or French")
    parser.add_argument("--situations", type=float, default=0.0, help="share of questions, answerable or not, told "
                        "with a situation around them (\"I left my laptop on the train. ...\"; kb.text.situations)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kb.judge.train", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=TrainConfig.data, help="folder with the training data (shared/data/train)")
    parser.add_argument("--work", default="runs/judge", help="checkpoint and report folder (resumes from it)")
    parser.add_argument("--budget-minutes", type=float, default=60.0, help="stop (with a checkpoint) after this long")
    parser.add_argument("--planned-pairs", type=int, default=TrainConfig.planned_pairs,
                        help="pairs the learning-rate schedule spans; training ends there")
    parser.add_argument("--layers", type=int, default=TrainConfig.layers, help="transformer layers kept from the base")
    parser.add_argument("--learning-rate", type=float, default=TrainConfig.learning_rate)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--eval-every", type=int, default=TrainConfig.eval_every, help="steps between validations")
    parser.add_argument("--eval-limit", type=int, default=TrainConfig.eval_limit,
                        help="questions of each kind in the periodic validation")
    parser.add_argument("--unanswerable-repeats", type=int, default=TrainConfig.unanswerable_repeats,
                        help="visit each unanswerable question this many times an epoch")
    parser.add_argument("--stop-after-pairs", type=int, default=0, help="end the run once this many pairs are "
                        "seen (the schedule still spans --planned-pairs)")
    parser.add_argument("--init-from", default="", help="start from this model folder or run folder (its "
                        "checkpoint) instead of the base model")
    add_mix_options(parser, "share of questions that also get an instruction to the answerer as a negative")
    parser.add_argument("--restated", type=float, default=TrainConfig.restated, help="share of questions that "
                        "also get the question itself, written as a document's FAQ line, as a negative")
    parser.add_argument("--answerless", type=float, default=TrainConfig.answerless, help="share of answerable "
                        "questions that also get their answer sentence with the answer cut out as a negative")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: every core; 1 where "
                        "other work shares the machine)")
    parser.add_argument("--export", metavar="DIR", help="write the checkpoint as a model folder and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    work = Path(args.work)
    if args.export:
        print(export(work, Path(args.export)))
        return 0
    config = TrainConfig(data=args.data, layers=args.layers, seed=args.seed, batch_size=args.batch_size,
                         learning_rate=args.learning_rate, planned_pairs=args.planned_pairs,
                         eval_every=args.eval_every, eval_limit=args.eval_limit,
                         unanswerable_repeats=args.unanswerable_repeats, init_from=args.init_from,
                         stop_after_pairs=args.stop_after_pairs, business=args.business,
                         extra_repeats=args.extra_repeats, planted=args.planted,
                         planted_generation=args.planted_generation, restated=args.restated,
                         situations=args.situations,
                         answerless=args.answerless)
    if (work / "checkpoint.pt").exists():
        import torch

        saved = torch.load(work / "checkpoint.pt", map_location="cpu", weights_only=False)
        # settings added since take their defaults; where a run stops does not change what it learns
        trained_with = {**asdict(TrainConfig()), **saved["config"], "stop_after_pairs": config.stop_after_pairs}
        if trained_with != asdict(config):
            changed = {k: (v, asdict(config)[k]) for k, v in trained_with.items() if asdict(config).get(k) != v}
            log.error("the checkpoint in %s was trained with other settings %s; use another --work", work, changed)
            return 2
    report = Trainer(config, work, args.device, threads=args.threads).run(args.budget_minutes)
    json.dump(report["evaluations"][-1], sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
