"""One ``kb tune`` run: gather the pairs, hold some out, train, gate, and adopt (see ``kb.tuning.tune``)."""

from __future__ import annotations

import logging
import random
import resource
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from kb.answering.evaluate import GoldItem
from kb.index.folder import IndexFolder
from kb.judge.model import Judge, probability
from kb.settings import Settings
from kb.tuning.pairs import FeedbackRow, Search, TunePairs, document_pairs, feedback_pairs, gold_pairs
from kb.tuning.tune import Progress, TuneReport, adopt, pair_figures, train_and_gate
from kb.types import Chunk

log = logging.getLogger(__name__)

HELD_OUT_SHARE = 0.15  # of the document pairs, by query, when there is no gold file
# a person's 👍/👎 is scarcer and surer than a pair the documents imply: each feedback pair is seen this many
# times an epoch, so a handful of ratings is not drowned by thousands of document pairs
FEEDBACK_REPEATS = 8
GoldFigures = Callable[[Path, list[GoldItem]], dict]  # judge folder, held-out gold -> figures


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
             seed: int = 0, wait: bool | float = False, progress: Progress | None = None) -> TuneReport:
    """Tune, gate and (if it measures better) adopt; returns the report (also in the new version)."""
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

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kb-tune-") as scratch:
        run_dir = Path(work) if work else Path(scratch)
        report, tuned = train_and_gate(pairs, held_pairs, base_judge, run_dir, figures, budget_minutes, min_gain,
                                       seed, settings.device, report, progress)
        report.training["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        if tuned is not None:
            adopt(folder, tuned, report, settings.keep_versions, wait)
    report.seconds = round(time.monotonic() - started, 1)
    log.info("kb tune %s: %s", report.status, report.reason)
    return report
