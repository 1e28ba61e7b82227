"""``kb eval``: measure retrieval, answers, citations and refusals against a gold file."""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from kb.errors import ConfigError
from kb.judge.model import SHIPPED_JUDGE
from kb.settings import Settings
from kb.types import Answer, Chunk, Citation, Hit, Turn

log = logging.getLogger(__name__)

_TRUTH_CITATION = re.compile(r"\[([^\[\]#]+?)#page=(\d+)\]")
_WORD = re.compile(r"\w+")


@dataclass
class GoldSource:
    name: str
    page: int | None = None
    heading: str = ""

    def matches(self, where: Chunk | Citation) -> bool:
        """Whether a passage (or a citation of one) is this source: same file, and page or heading."""
        if where.name.lower() != self.name.lower():
            return False
        if self.page is not None:
            return where.page == self.page
        return not self.heading or self.heading.lower() in where.heading.lower()


@dataclass
class GoldItem:
    id: str
    question: str
    answer: str
    sources: list[GoldSource]
    answerable: bool = True
    follow_up_of: str | None = None
    values: list[str] = field(default_factory=list)  # short forms of the answer; one must be in a right answer
    style: str = ""  # how the question is put: "formal", "casual", "near_miss", "outside" (gold files may say)

    def answered_right(self, answer: Answer) -> bool:
        """The gold value is in the shown answer and a citation points at a gold source."""
        if answer.refused or not self.answerable:
            return False
        values = self.values or [self.answer]
        return any(contains(answer.text, v) for v in values) and any(
            s.matches(c) for c in answer.citations for s in self.sources)


@dataclass
class ItemResult:
    id: str
    question: str
    answerable: bool
    retrieval_rank: int | None
    refused: bool
    mode: str
    answer: str
    f1: float
    contains: bool
    answer_hit5: bool
    citations: int
    correct_citations: int
    right: bool = False  # gold value shown and a gold source cited
    timings: dict = field(default_factory=dict)
    cited: list[dict] = field(default_factory=list)  # the answer's citations, as in ``kb ask --json``
    dropped: list[str] = field(default_factory=list)
    style: str = ""
    grade: str = ""  # the answer's grade: "answer", "likely", "not_stated", "not_covered"
    reader_margin: float | None = None  # the reader's margin on the quoted passage (``Answer.reader_margin``)


def load_gold(path: Path) -> list[GoldItem]:
    """Read either gold format: ``{question, answer, sources, answerable}`` or ``{question, truth}``."""
    items = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                question = raw["question"]
            except (ValueError, KeyError, TypeError):
                raise ConfigError(f"{path}:{number} is not a JSON object with a \"question\"") from None
            qid = str(raw.get("id", number))
            if "truth" in raw:
                truth = raw["truth"]
                sources = [GoldSource(name.strip(), int(page)) for name, page in _TRUTH_CITATION.findall(truth)]
                answer = _TRUTH_CITATION.sub("", truth).strip()
                items.append(GoldItem(qid, question, answer, sources, answerable=bool(sources)))
                continue
            sources = [GoldSource(s["name"], s.get("page"), s.get("heading") or "") for s in raw.get("sources", [])]
            items.append(GoldItem(qid, question, raw.get("answer", ""), sources,
                                  answerable=raw.get("answerable", True), follow_up_of=raw.get("follow_up_of"),
                                  values=[str(v) for v in raw.get("value", [])], style=str(raw.get("style", ""))))
    if not items:
        raise ConfigError(f"gold file {path} has no questions")
    return items


def normalise(text: str) -> list[str]:
    return _WORD.findall(re.sub(r"\[\d+\]", " ", text.lower()))


def token_f1(predicted: str, gold: str) -> float:
    p, g = normalise(predicted), normalise(gold)
    common = sum((Counter(p) & Counter(g)).values())
    if not p or not g or not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def contains(predicted: str, gold: str) -> bool:
    g = " ".join(normalise(gold))
    return bool(g) and g in " ".join(normalise(predicted))


Search = Callable[[str, int], list[Hit]]
Ask = Callable[[str, Sequence[Turn]], Answer]
FollowUp = Callable[[str, Sequence[Turn]], str]
ProgressFn = Callable[[int, int], None]


def evaluate(items: list[GoldItem], search: Search, ask: Ask | None = None, follow_up: FollowUp | None = None,
             progress: ProgressFn | None = None) -> dict:
    """Search for (and, with ``ask``, answer) every gold question; returns {"summary", "items"}.

    ``search(query, k)`` ranks passages; ``ask(question, history)`` answers; ``follow_up(question, history)``
    is the query retrieval runs for a follow-up question. Without ``ask`` only retrieval is measured (no
    generator is loaded) and the summary holds the retrieval metrics.
    """
    if ask is None:
        return _evaluate_retrieval(items, search, progress)
    answers: dict[str, Answer] = {}
    results: list[ItemResult] = []
    for done, item in enumerate(items, start=1):
        history = []
        if item.follow_up_of and item.follow_up_of in answers:
            previous = answers[item.follow_up_of]
            history = [Turn(previous.question, previous.text)]
        query = follow_up(item.question, history) if follow_up else item.question
        rank = _gold_rank(item, search(query, 10))
        answer = ask(item.question, history)
        answers[item.id] = answer
        correct = sum(1 for c in answer.citations if any(
            s.name.lower() == c.name.lower() and (s.page is None or s.page == c.page) for s in item.sources))
        shown = answer.text if not answer.refused else ""
        results.append(ItemResult(
            id=item.id, question=item.question, answerable=item.answerable, retrieval_rank=rank,
            refused=answer.refused, mode=answer.mode, answer=answer.text,
            f1=token_f1(shown, item.answer) if item.answerable else 0.0,
            contains=contains(shown, item.answer) if item.answerable else False,
            answer_hit5=not answer.refused and any(any(s.matches(h.chunk) for s in item.sources)
                                                   for h in answer.hits[:5]),
            citations=len(answer.citations), correct_citations=correct, right=item.answered_right(answer),
            timings=answer.timings,
            cited=[c.to_json() for c in answer.citations], dropped=answer.dropped, style=item.style,
            grade=grade_of(answer), reader_margin=answer.reader_margin))
        if progress:
            progress(done, len(items))
    return report_of(results)


def report_of(results: list[ItemResult]) -> dict:
    """The summary of ``results``, the items, and a summary per question style."""
    styles = sorted({r.style for r in results if r.style})
    return {"summary": summarise(results), "items": [r.__dict__ for r in results],
            "by_style": {style: summarise([r for r in results if r.style == style]) for style in styles}}


def grade_of(answer: Answer) -> str:
    """An answer's grade; answers from before grades existed count a shown answer as confident."""
    return getattr(answer, "grade", "") or (answer.refusal or "not_covered" if answer.refused else "answer")


def _gold_rank(item: GoldItem, hits: list[Hit]) -> int | None:
    return next((h.rank for h in hits if any(s.matches(h.chunk) for s in item.sources)), None)


def _evaluate_retrieval(items: list[GoldItem], search: Search, progress: ProgressFn | None) -> dict:
    results = []
    for done, item in enumerate(items, start=1):
        rank = _gold_rank(item, search(item.question, 10))
        results.append(ItemResult(id=item.id, question=item.question, answerable=item.answerable,
                                  retrieval_rank=rank, refused=False, mode="", answer="", f1=0.0, contains=False,
                                  answer_hit5=False, citations=0, correct_citations=0))
        if progress:
            progress(done, len(items))
    summary = {k: v for k, v in summarise(results).items()
               if k in ("questions", "answerable", "unanswerable") or k.startswith("retrieval_")}
    return {"summary": summary, "items": [{"id": r.id, "question": r.question, "answerable": r.answerable,
                                           "retrieval_rank": r.retrieval_rank} for r in results]}


def summarise(results: list[ItemResult]) -> dict:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    refused = [r for r in results if r.refused]
    ranks = [r.retrieval_rank for r in answerable]

    def mean(values) -> float | None:
        values = list(values)
        return round(float(np.mean(values)), 4) if values else None

    def pct(key: str, q: float) -> float | None:
        values = [r.timings[key] for r in results if key in r.timings]
        return round(float(np.percentile(values, q)), 3) if values else None

    cited = [r for r in results if r.citations]
    return {
        "questions": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "retrieval_hit@1": mean(r is not None and r <= 1 for r in ranks),
        "retrieval_hit@5": mean(r is not None and r <= 5 for r in ranks),
        "retrieval_mrr@10": mean(1.0 / r if r is not None and r <= 10 else 0.0 for r in ranks),
        "answer_hit@5": mean(r.answer_hit5 for r in answerable),
        "answered": mean(not r.refused for r in answerable),
        "answered_right": mean(r.right for r in answerable),
        "answered_wrong": mean(not r.refused and not r.right for r in answerable),
        # shown as a checked answer (grade "answer") and wrong; an unanswerable question answered counts too
        "confident_wrong": mean(not r.refused and not r.right and r.grade == "answer" for r in results),
        "likely_share": mean(r.grade == "likely" for r in results),
        "false_refusals": mean(r.refused for r in answerable),
        "token_f1": mean(r.f1 for r in answerable),
        "contains_answer": mean(r.contains for r in answerable),
        "citation_precision": (round(sum(r.correct_citations for r in cited) / sum(r.citations for r in cited), 4)
                               if cited else None),
        "refusal_recall": mean(r.refused for r in unanswerable),
        "refusal_precision": (round(sum(1 for r in refused if not r.answerable) / len(refused), 4)
                              if refused else None),
        "extractive_share": mean(r.mode == "extractive" for r in results if not r.refused),
        "latency_p50_s": pct("total", 50),
        "latency_p95_s": pct("total", 95),
        "first_text_p50_s": pct("first_text", 50),
        "first_text_p95_s": pct("first_text", 95),
        "first_token_p50_s": pct("first_token", 50),
        "first_token_p95_s": pct("first_token", 95),
        "retrieve_p50_s": pct("retrieve", 50),
    }


JUDGE_STAGES = ("decide", "quote", "verify")
VARIANTS = ("baseline", "judge", "no-rerank", "no-decide", "no-quote", "no-verify", "no-types")


def stage_variant(settings: Settings, variant: str) -> Settings:
    """The settings of one variant of the judge's stages: ``baseline`` (no judge), ``judge`` (every stage:
    rerank, decide, quote, verify), ``no-STAGE`` (every stage but that one), or ``no-types`` (every stage,
    without the answer-type rule)."""
    judged = settings.replace(judge_model=settings.judge_model or SHIPPED_JUDGE)
    every = ",".join(JUDGE_STAGES)
    if variant == "baseline":
        return settings.replace(judge_model="")
    if variant == "judge":
        return judged.replace(rerank=True, judge_stages=every)
    if variant == "no-rerank":
        return judged.replace(rerank=False, judge_stages=every)
    if variant == "no-types":
        return judged.replace(rerank=True, judge_stages=every, answer_types=False)
    if variant.startswith("no-") and variant[3:] in JUDGE_STAGES:
        return judged.replace(rerank=True, judge_stages=",".join(s for s in JUDGE_STAGES if s != variant[3:]))
    raise ConfigError(f"unknown evaluation variant {variant!r}; choose from {', '.join(VARIANTS)}")


def format_table(summary: dict) -> str:
    width = max(len(k) for k in summary)
    return "\n".join(f"{k.ljust(width)}  {'-' if v is None else v}" for k, v in summary.items())


def format_variants(variants: dict[str, dict]) -> str:
    """One row per summary figure, one column per variant."""
    names = list(variants)
    keys = list(next(iter(variants.values()))) if variants else []
    width = max((len(k) for k in keys), default=0)
    head = " " * width + "  " + "  ".join(f"{n:>10}" for n in names)
    rows = [f"{k.ljust(width)}  " + "  ".join(f"{'-' if variants[n].get(k) is None else variants[n][k]:>10}"
                                              for n in names) for k in keys]
    return "\n".join([head, *rows])


def run_eval(gold: Path, search: Search, ask: Ask | None = None, follow_up: FollowUp | None = None,
             settings: dict | None = None, output: Path | None = None, progress: ProgressFn | None = None) -> dict:
    """Evaluate the questions of ``gold`` (see :func:`evaluate`) and optionally write the full report as JSON.

    Models should already be loaded: loading is not answer latency.
    """
    started = time.perf_counter()
    report = evaluate(load_gold(gold), search, ask, follow_up, progress)
    report["gold"] = str(gold)
    report["seconds"] = round(time.perf_counter() - started, 2)
    report["settings"] = settings or {}
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    return report
