"""One ``kb tune`` run: gather the pairs, hold some out, train, gate, and adopt (see ``kb.tuning.tune``)."""

from __future__ import annotations

import json
import logging
import random
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from kb.answering.evaluate import GoldItem
from kb.embedding.protocol import Embedder
from kb.index.folder import IndexFolder
from kb.judge.model import Judge, probability
from kb.settings import Settings
from kb.tuning.embedder import reembed_version, train_embedder, triples
from kb.tuning.pairs import FeedbackRow, Search, TunePairs, document_pairs, feedback_pairs, gold_pairs
from kb.tuning.tune import REPORT, Progress, TuneReport, adopt, decide, pair_figures, train_and_gate
from kb.types import Chunk

log = logging.getLogger(__name__)

HELD_OUT_SHARE = 0.15  # of the document pairs, by query, when there is no gold file
# a person's 👍/👎 is scarcer and surer than a pair the documents imply: each feedback pair is seen this many
# times an epoch, so a handful of ratings is not drowned by thousands of document pairs
FEEDBACK_REPEATS = 8
GoldFigures = Callable[[Path, list[GoldItem]], dict]  # judge folder, held-out gold -> figures


@dataclass
class EmbedderStep:
    """What tuning the embedding model needs from the knowledge base (see ``kb.tuning.embedder``)."""

    model: str  # folder of the sentence-transformers model in use (the configured one or a version's tuned one)
    embedder_for: Callable[[Path], Embedder]  # a version folder -> the embedder its vectors were made with
    load: Callable[[Path], Embedder]  # a tuned model folder -> its embedder
    figures: Callable[[Path, Embedder, list[GoldItem]], dict]  # version, its embedder, held-out gold -> figures
    epochs: float = 2.0  # passes over the training triples (within the time budget)
    learning_rate: float = 2e-5


@dataclass
class TuneInputs:
    """What a tuning run learns from: the index's passages, a search over them, gold questions, feedback."""

    chunks: list[Chunk]
    search: Search
    gold: list[GoldItem] = field(default_factory=list)
    feedback: list[FeedbackRow] = field(default_factory=list)


def split_gold(items: list[GoldItem], seed: int) -> tuple[list[GoldItem], list[GoldItem]]:
    """Half the gold questions to learn from, half to judge the result by (follow-ups stay with theirs)."""
    ids = sorted({i.follow_up_of or i.id for i in items})
    random.Random(seed).shuffle(ids)
    held = set(ids[: len(ids) // 2])
    return [i for i in items if (i.follow_up_of or i.id) not in held], \
        [i for i in items if (i.follow_up_of or i.id) in held]


def run_tune(inputs: TuneInputs, folder: IndexFolder, settings: Settings, base_judge: Path,
             gold_figures: GoldFigures, budget_minutes: float = 30.0, work: Path | None = None,
             seed: int = 0, wait: bool | float = False, progress: Progress | None = None,
             embedder: EmbedderStep | None = None) -> TuneReport:
    """Tune, gate and (if it measures better) adopt the judge, then (with gold questions and ``embedder``)
    the embedding model; returns the report (also in each new version)."""
    report = TuneReport()
    current = folder.require_current()
    report.version_before = current.name
    rng = random.Random(seed)
    pairs = TunePairs()
    doc = document_pairs(inputs.chunks, inputs.search, rng, limit=settings.tune_max_document_pairs)
    train_gold, held_gold = split_gold(inputs.gold, seed) if inputs.gold else ([], [])
    held_pairs: list = []
    if held_gold:
        pairs.add("documents", doc)
    else:  # no gold file: the gate measures on a held-out slice of the document pairs
        groups = sorted({p.group for p in doc})
        rng.shuffle(groups)
        held = set(groups[: max(1, int(len(groups) * HELD_OUT_SHARE))])
        pairs.add("documents", [p for p in doc if p.group not in held])
        held_pairs = [p for p in doc if p.group in held]
    pairs.add("gold", gold_pairs(train_gold, inputs.search))
    feedback, comments = feedback_pairs(inputs.feedback)
    pairs.add("feedback", feedback * FEEDBACK_REPEATS)
    pairs.comments = comments
    report.held_out = {"gold_questions": len(held_gold), "document_pairs": len(held_pairs)}
    answerable = sum(1 for i in held_gold if i.answerable)
    n = answerable or len({p.group for p in held_pairs}) or 1
    min_gain = max(settings.tune_min_gain, 1.0 / n)

    def figures(judge_path: Path) -> dict:
        if held_gold:
            return gold_figures(judge_path, held_gold)
        scores = probability(Judge(judge_path, settings.device).score([(p.question, p.text) for p in held_pairs]))
        return pair_figures(np.asarray(scores), held_pairs)

    # the embedder is measured by retrieval on held-out gold questions: without them it is not tuned (see
    # kb.tuning.embedder); with them the budget is shared
    tune_embedder = embedder is not None and bool(held_gold) and settings.tune_embedder
    judge_minutes = budget_minutes / 2 if tune_embedder else budget_minutes
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kb-tune-") as scratch:
        run_dir = Path(work) if work else Path(scratch)
        report, tuned = train_and_gate(pairs, held_pairs, base_judge, run_dir, figures, judge_minutes, min_gain,
                                       seed, settings.device, report, progress)
        if tuned is not None:
            adopt(folder, tuned, report, settings.keep_versions, wait)
        if tune_embedder:
            # the budget is training time: measuring the judge before and after does not eat the embedder's half
            left = budget_minutes - (report.training.get("trained_seconds") or 0.0) / 60
            report.embedder = _tune_embedder(pairs, held_gold, folder, settings, embedder, max(left, 0.5), min_gain,
                                             run_dir, seed, wait, report, progress)
        elif settings.tune_embedder:
            report.embedder = {"status": "skipped", "reason": (
                f"embedding model {settings.embedding_model!r} is not a sentence-transformers model" if embedder is None
                else "the embedding model is tuned only with gold questions (--gold): retrieval on held-out "
                     "document queries cannot measure it")}
        report.training["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    report.seconds = round(time.monotonic() - started, 1)
    log.info("kb tune %s: %s", report.status, report.reason)
    return report


def _tune_embedder(pairs: TunePairs, held_gold: list[GoldItem], folder: IndexFolder, settings: Settings,
                   step: EmbedderStep, budget_minutes: float, min_gain: float, work: Path, seed: int,
                   wait: bool | float, report: TuneReport, progress: Progress | None) -> dict:
    """Train the embedder, re-embed the current version into a candidate, and publish it only if the held-out
    gold questions' retrieval improves by ``min_gain`` with no figure dropping."""
    data = triples(pairs.all)
    out: dict = {"status": "rejected", "triples": len(data), "base": step.model}
    if not data:
        out["reason"] = "no training pairs"
        return out
    model, out["training"] = train_embedder(step.model, data, work / "embedder-run", budget_minutes, seed,
                                            settings.device, progress, step.epochs, step.learning_rate)
    tuned = step.load(model)
    with folder.writer_lock(wait):  # the candidate is built from the current version: nobody may publish meanwhile
        current = folder.require_current()
        tmp = folder.new_tmp()
        try:
            if progress is not None:
                progress("measure embedder", 0, 2)
            out["before"] = step.figures(current, step.embedder_for(current), held_gold)
            reembed_version(current, tmp, tuned, model, settings, progress)
            if progress is not None:
                progress("measure embedder", 1, 2)
            out["after"] = step.figures(tmp, tuned, held_gold)
            adopted, out["reason"] = decide(out["before"], out["after"], min_gain)
            if not adopted:
                shutil.rmtree(tmp, ignore_errors=True)
                return out
            out["status"], out["version_before"] = "adopted", current.name
            report.embedder = out
            (tmp / REPORT).unlink(missing_ok=True)  # a link to the last version's report: write a new file
            (tmp / REPORT).write_text(json.dumps(report.to_json(), indent=1), encoding="utf-8")
            out["version_after"] = folder.publish(tmp, settings.keep_versions).name
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    log.info("tuned embedder adopted in %s (%s)", out["version_after"], out["reason"])
    return out
