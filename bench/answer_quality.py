"""Answer quality on every collection at once: ``python -m bench.answer_quality`` prints one table.

Collections: the sample questions, the everyday rewordings of them, ``../shared/data/qa/policies`` (real
codes of conduct and security policies; formal, casual, near-miss and outside questions; its documents split
in two halves, A and B, so thresholds tuned on one half are reported on the other), the JURA manuals and
held-out SQuAD 2.0 dev articles (the articles the judge and the reader never train on, one text file per
paragraph). Each collection is broken down by the style of its questions.

Per row: right (answerable questions answered with a gold value and a gold source cited, any grade but a
refusal), wrong (answerable, shown, not right), confident wrong (shown as a checked answer, grade
``answer``, and not right; of all the row's questions, so an unanswerable question answered counts), refused
although answerable, unanswerable refused, retrieval hit@1/@5 and first visible text p50 (models warmed up
first, as in a running app). ``--variants`` runs the same questions with the judge's stages on and off.
"""

from __future__ import annotations

import json
import lzma
import random
import re
import time
from pathlib import Path

from bench.common import CACHE, DATA, ROOT, Column, Run, make_parser, print_table, progress

NAME = "answer_quality"
POLICIES = DATA / "docs" / "policies"
SETS = {"sample": (ROOT / "sample_docs", ROOT / "sample_docs" / "questions.jsonl", "formal"),
        "everyday": (ROOT / "sample_docs", ROOT / "tests" / "data" / "everyday_questions.jsonl", "casual"),
        "policies": (POLICIES, DATA / "qa" / "policies" / "questions.jsonl", ""),
        "jura": (DATA / "qa" / "jura-manuals" / "pdfs", DATA / "qa" / "jura-manuals" / "ground_truth.jsonl",
                 "formal"),
        "squad": (CACHE / "squad-heldout" / "docs", CACHE / "squad-heldout" / "questions.jsonl", "")}
COLUMNS = [Column("set", "set", align="<"), Column("style", "style", align="<"),
           Column("variant", "variant", align="<"), Column("questions", "n"),
           Column("answered_right", "right", ".3f"), Column("answered_wrong", "wrong", ".3f"),
           Column("confident_wrong", "conf wrong", ".3f"), Column("false_refusals", "refused ans", ".3f"),
           Column("refusal_recall", "unans refused", ".3f"), Column("likely_share", "likely", ".2f"),
           Column("retrieval_hit@1", "ret@1", ".3f"), Column("retrieval_hit@5", "ret@5", ".3f"),
           Column("first_text_p50_s", "text p50", ".2f"), Column("first_text_p95_s", "text p95", ".2f")]


def parse_args(argv=None):
    parser = make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of: {', '.join(SETS)}")
    parser.add_argument("--variants", default="default", help="comma-separated: default (the settings as they "
                        "are), baseline, judge, no-rerank, no-decide, no-quote, no-verify, no-types")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for this run (e.g. answer_mode=generate); repeatable")
    parser.add_argument("--judge", default="", help="judge model folder for the judge variants (default: setting)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many questions per set (the first)")
    parser.add_argument("--sample", type=int, default=None, help="a seeded random subset of this many questions "
                        "per set (follow-ups keep the question they follow), for quick comparisons")
    parser.add_argument("--squad-questions", type=int, default=60, help="held-out SQuAD questions (2/3 answerable)")
    parser.add_argument("--rebuild", action="store_true", help="re-ingest even if a cached index exists")
    parser.add_argument("--label", default="", help="a name for this run in the table (e.g. before, after)")
    parser.add_argument("--confirm-margins", default="", metavar="M,M,...", help="also the rows each of these "
                        "reader_confirm_margin values would give (answers the reader confirmed at or under one are "
                        "shown as likely; read off the same run)")
    parser.add_argument("--prepare", action="store_true", help="only write the derived gold files (held-out SQuAD, "
                        "the policies questions of each half) under bench/results/cache, for kb.cli.calibrate")
    return parser.parse_args(argv)


def policy_half(name: str) -> str:
    """Half "A" or "B" of the policies documents (alternating in name order): tune on one, report both."""
    names = sorted(p.name for p in POLICIES.iterdir() if p.is_file())
    return "AB"[names.index(name) % 2] if name in names else ""


def question_half(item) -> str:
    """The half of a policies question: its first source's; an unanswerable one by the document it names
    (its company), else by its id."""
    if item.sources:
        return policy_half(item.sources[0].name)
    words = set(re.findall(r"[a-z]+", item.question.lower()))
    for path in sorted(POLICIES.iterdir()):
        if re.split(r"[_\-.]", path.name.lower())[0] in words:
            return policy_half(path.name)
    return "AB"[sum(map(ord, item.id)) % 2]


def squad_heldout(folder: Path, questions: int, seed: int = 0) -> None:
    """Write the held-out SQuAD 2.0 dev articles (the ones the judge and reader never train on) as one text
    file per paragraph, and a gold file of ``questions`` of their questions, two in three answerable."""
    from kb.reader.data import load_reader_corpus

    if (folder / "questions.jsonl").exists():
        return
    corpus = load_reader_corpus(DATA / "train", seed=seed)
    docs = folder / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    for e in corpus.validation:
        if e.context not in names:
            stem = re.sub(r"\W+", "_", e.article).strip("_")[:40]
            names[e.context] = f"{stem}-{sum(1 for n in names.values() if n.startswith(stem + '-')):03d}.txt"
            (docs / names[e.context]).write_text(e.context + "\n", encoding="utf-8")
    rng = random.Random(seed)
    answerable = [e for e in corpus.validation if e.answerable]
    unanswerable = [e for e in corpus.validation if not e.answerable]
    chosen = rng.sample(answerable, questions * 2 // 3) + rng.sample(unanswerable, questions - questions * 2 // 3)
    with (folder / "questions.jsonl").open("w", encoding="utf-8") as out:
        for e in chosen:
            row = {"id": e.qid, "question": e.question, "answerable": e.answerable,
                   "style": "formal" if e.answerable else "near_miss"}
            if e.answerable:
                row.update(answer=e.answers[0], value=list(dict.fromkeys(a.strip() for a in e.answers)),
                           sources=[{"name": names[e.context]}])
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_halves(folder: Path) -> None:
    """The policies questions of each half as gold files (``A.jsonl``, ``B.jsonl``): calibrate on one."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = (DATA / "qa" / "policies" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    from kb.answering.evaluate import load_gold

    halves = {item.id: question_half(item) for item in load_gold(DATA / "qa" / "policies" / "questions.jsonl")}
    for half in "AB":
        chosen = [line for line in lines if line.strip() and halves.get(json.loads(line)["id"]) == half]
        (folder / f"{half}.jsonl").write_text("\n".join(chosen) + "\n", encoding="utf-8")


def regraded(report: dict, margin: float) -> dict:
    """``report`` as it would be with ``reader_confirm_margin = margin`` (at least the run's): an answer the reader
    confirmed with a margin at or under it is shown as likely instead; nothing else changes."""
    from kb.answering.evaluate import ItemResult, report_of

    results = [ItemResult(**r) for r in report["items"]]
    for result in results:
        if result.grade == "answer" and result.reader_margin is not None and result.reader_margin <= margin:
            result.grade = "likely"
    return report_of(results)


def rows_for(name: str, variant: str, label: str, report: dict, items) -> list[dict]:
    """The set's rows: all its questions, each style, and for the policies each half."""
    from kb.answering.evaluate import ItemResult, summarise

    head = {"set": name, "variant": label or variant}
    out = [{**head, "style": "all", **report["summary"]}]
    out += [{**head, "style": style, **figures} for style, figures in report.get("by_style", {}).items()]
    if name == "policies":
        results = [ItemResult(**r) for r in report["items"]]
        halves = {item.id: question_half(item) for item in items}
        for half in "AB":
            out.append({**head, "set": f"policies-{half}", "style": "all",
                        **summarise([r for r in results if halves.get(r.id) == half])})
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    run = Run.start(NAME, args)
    from kb import KnowledgeBase, Settings
    from kb.answering.evaluate import evaluate, load_gold, stage_variant

    overrides = dict(o.split("=", 1) for o in args.overrides)
    if args.prepare:
        squad_heldout(CACHE / "squad-heldout", args.squad_questions)
        write_halves(CACHE / "policies-halves")
        return 0
    rows, details = [], {}
    generator = None
    for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        docs, gold, style = SETS[name]
        if name == "squad":
            squad_heldout(gold.parent, args.squad_questions)
        index = CACHE / f"answers-{name if name == 'squad' else docs.name}"
        built = KnowledgeBase(Settings.load(index_dir=index, **overrides))
        if args.rebuild or not (index / "CURRENT").exists():
            built.ingest([docs], rebuild=args.rebuild)
        items = load_gold(gold)[: (10 if args.quick else args.limit)]
        if args.sample and args.sample < len(items):
            keep = {i.id for i in random.Random(0).sample(items, args.sample)}
            keep |= {i.follow_up_of for i in items if i.id in keep and i.follow_up_of}
            items = [i for i in items if i.id in keep]
        for item in items:
            item.style = item.style or style or ("formal" if item.answerable else "outside")
        for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
            settings = built.settings.replace(judge_model=args.judge) if args.judge else built.settings
            settings = settings if variant == "default" else stage_variant(settings, variant)
            kb = KnowledgeBase(settings, embedder=built.embedder, generator=generator)
            kb.warm_up()
            generator = kb.answerer().generator  # loaded once, shared by every variant
            bar = progress(total=len(items), desc=f"{name} {variant}")
            started = time.perf_counter()
            report = evaluate(items, kb.search, lambda q, history: kb.ask(q, history), kb.answerer().retrieval_query,
                              progress=lambda done, total: bar.update(1))
            bar.close()
            report["seconds"] = round(time.perf_counter() - started, 1)
            rows += rows_for(name, variant, args.label, report, items)
            details[f"{name}/{variant}"] = report
            for margin in [float(m) for m in args.confirm_margins.split(",") if m.strip()]:
                rows += rows_for(name, f"{args.label or variant} confirm>{margin:g}", "", regraded(report, margin),
                                 items)
    print_table(rows, COLUMNS, title="Answers on every collection (right/wrong/refused: shares of answerable "
                "questions; conf wrong: of all; text: seconds)")
    run.finish(args.results_dir, rows=rows, details=details)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
