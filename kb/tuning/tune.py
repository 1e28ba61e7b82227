"""``kb tune``: fine-tune the judge on a company's own pairs, and adopt it only if held-out figures say so.

The judge continues from the one in use (the shipped weights, or an earlier tuning), trains for a time
budget on the pairs of ``kb.tuning.pairs``, and is then measured against the judge in use on questions it
never saw: the held-out half of the gold questions (retrieval hit@5 and MRR@10 with reranking, refusal
recall, false refusals, answered right), or, without a gold file, a held-out slice of the document pairs
(the judge's AUC on them and how often their passage is reranked into the top 5). The tuned judge is
adopted only if no figure drops and at least one improves by the margin (``tune_min_gain``, and at least
one question's worth: 1/n on n held-out questions), so noise on a handful of questions cannot swap models.
An adopted judge becomes part of a new index version (``models/judge`` in the version folder, with the
report), which ``kb rollback`` undoes like any other version.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from kb.index.folder import IndexFolder
from kb.index.version import MODELS_DIR, TUNE_REPORT
from kb.judge.data import Pair, ValidationSet
from kb.judge.train import TrainConfig, Trainer, auc, export
from kb.tuning.pairs import TunePairs

log = logging.getLogger(__name__)

TUNED_JUDGE = f"{MODELS_DIR}/judge"  # inside a version folder
REPORT = TUNE_REPORT
BLOCK = 1024

Evaluate = Callable[[Path], dict]  # judge folder -> held-out figures (higher is better for every key)
Progress = Callable[[str, int, int], None]


class ListSource:
    """A judge training source over pairs in memory: shuffled blocks, epoch after epoch (seeded)."""

    def __init__(self, train: list[Pair], held_out: list[Pair], seed: int = 0, name: str = "company pairs"):
        self.train, self.held_out, self.seed, self.name = train, held_out, seed, name

    def blocks(self, start: int = 0) -> Iterator[tuple[int, list[Pair]]]:
        per_epoch = max(1, -(-len(self.train) // BLOCK))
        index = start
        while True:
            epoch, b = divmod(index, per_epoch)
            order = list(self.train)
            random.Random(self.seed * 7919 + epoch).shuffle(order)
            yield index, order[b * BLOCK:(b + 1) * BLOCK]
            index += 1

    def validation(self, limit: int | None = None) -> ValidationSet:
        return ValidationSet(sentences=self.held_out[:limit] if limit else list(self.held_out), paragraphs=[])

    def describe(self) -> str:
        return f"{len(self.train)} {self.name}; validating on {len(self.held_out)} held-out pairs"


@dataclass
class TuneReport:
    """What one tuning run learned from, how it measured, and whether its judge was adopted."""

    status: str = "running"  # adopted | rejected | failed
    reason: str = ""
    started_at: float = field(default_factory=time.time)
    seconds: float = 0.0
    pairs: dict[str, int] = field(default_factory=dict)  # training pairs by source
    held_out: dict[str, int] = field(default_factory=dict)
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)
    min_gain: float = 0.0
    training: dict = field(default_factory=dict)
    comments: list[dict] = field(default_factory=list)
    embedder: dict = field(default_factory=dict)  # the embedding model's run: status, reason, before, after, training
    version_before: str | None = None
    version_after: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


def decide(before: dict[str, float], after: dict[str, float], min_gain: float) -> tuple[bool, str]:
    """Adopt only if no figure drops and one rises by ``min_gain``; the reason names the figures."""
    drops = {k: after[k] - before[k] for k in before if k in after and after[k] < before[k] - 1e-9}
    if drops:
        return False, "; ".join(f"{k} would drop {before[k]:.3f} -> {after[k]:.3f}" for k in drops)
    gains = {k: after[k] - before[k] for k in before if k in after and after[k] - before[k] >= min_gain - 1e-9}
    if not gains:
        best = max(before, key=lambda k: after.get(k, before[k]) - before[k]) if before else ""
        return False, (f"no figure improves by {min_gain:.3f} or more (best: {best} "
                       f"{before.get(best, 0):.3f} -> {after.get(best, 0):.3f})" if best else "nothing to compare")
    return True, "; ".join(f"{k} {before[k]:.3f} -> {after[k]:.3f}" for k in gains)


def pair_figures(scores: np.ndarray, held_out: list[Pair]) -> dict[str, float]:
    """Held-out document pairs: the judge's AUC, and how often a query's own passage outscores its negative."""
    labels = np.array([p.label for p in held_out])
    wins, groups = [], {}
    for pair, score in zip(held_out, scores):
        groups.setdefault(pair.group, []).append((pair.label, float(score)))
    for items in groups.values():
        pos = [s for label, s in items if label == 1.0]
        neg = [s for label, s in items if label == 0.0]
        if pos and neg:
            wins.append(float(max(pos) > max(neg)))
    return {"held_out_pair_auc": round(auc(labels, scores), 4),
            "held_out_pair_win_rate": round(float(np.mean(wins)), 4) if wins else 0.0}


def train_and_gate(pairs: TunePairs, held_out: list[Pair], base_judge: Path, work: Path, evaluate: Evaluate,
                   budget_minutes: float, min_gain: float, seed: int = 0, device: str = "cpu",
                   report: TuneReport | None = None, progress: Progress | None = None
                   ) -> tuple[TuneReport, Path | None]:
    """Train from ``base_judge`` on ``pairs``, measure both judges with ``evaluate``, decide.

    Returns the report and the tuned model folder (None when rejected). ``work`` keeps the checkpoint, so
    the same call resumes an interrupted run.
    """
    report = report or TuneReport()
    train = pairs.all
    report.pairs, report.min_gain = pairs.counts(), round(min_gain, 4)
    report.comments = pairs.comments
    started = time.monotonic()
    if not train:
        report.status, report.reason = "rejected", "no training pairs: the index is empty and there is no feedback"
        return report, None
    config = TrainConfig(init_from=str(base_judge), seed=seed, batch_size=16, learning_rate=2e-5, warmup=0.1,
                         planned_pairs=max(len(train) * 3, 256), eval_every=10 ** 9, eval_limit=0,
                         final_eval_limit=0)
    trainer = Trainer(config, work / "run", device=device, source=ListSource(train, held_out, seed))
    trained = trainer.run(budget_minutes, progress)
    report.training = {k: trained.get(k) for k in ("step", "pairs", "trained_seconds", "loss_curve")}
    tuned = export(work / "run", work / "model")
    if progress is not None:
        progress("measure", 0, 2)
    report.before = evaluate(base_judge)
    if progress is not None:
        progress("measure", 1, 2)
    report.after = evaluate(tuned)
    adopt, report.reason = decide(report.before, report.after, min_gain)
    report.status = "adopted" if adopt else "rejected"
    report.seconds = round(time.monotonic() - started, 1)
    return report, tuned if adopt else None


def adopt(folder: IndexFolder, tuned: Path, report: TuneReport, keep: int, wait: bool | float = False) -> Path:
    """Publish a new index version: the current one's files (hard links) plus the tuned judge and report."""
    with folder.writer_lock(wait):
        current = folder.require_current()
        tmp = folder.new_tmp()
        for path in current.rglob("*"):
            relative = path.relative_to(current).as_posix()
            if path.is_dir() or relative.startswith(TUNED_JUDGE) or relative == REPORT:
                continue
            target = tmp / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)  # versions are immutable: sharing the bytes is safe
            except OSError:
                shutil.copy2(path, target)
        shutil.copytree(tuned, tmp / TUNED_JUDGE)
        report.version_before = current.name
        (tmp / REPORT).write_text(json.dumps(report.to_json(), indent=1), encoding="utf-8")
        published = folder.publish(tmp, keep)
    report.version_after = published.name
    log.info("tuned judge adopted in %s (%s)", published.name, report.reason)
    return published


def tuned_judge(version: Path) -> Path | None:
    """The tuned judge a version carries, if any."""
    path = version / TUNED_JUDGE
    return path if (path / "config.json").is_file() else None
