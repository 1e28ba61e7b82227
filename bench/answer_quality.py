"""Answer quality and speed: ``kb eval`` on the sample questions, everyday rewordings and JURA, plus generation speed.

Reports retrieval hit@1/@5 and MRR@10, answer hit@5, the share of answerable questions answered right (gold
value in the answer and a gold source cited), answered wrong and refused, token F1 / containment, citation
precision, refusal precision/recall, time to first token and total answer time p50/p95 (models warmed up
first, as in a running app), and the default generator's tokens per second. ``--variants`` runs the same
questions with the judge's stages on and off (``baseline`` = no judge, ``judge`` = every stage, ``no-rerank``,
``no-decide``, ``no-quote``, ``no-verify`` = every stage but that one).
"""

from __future__ import annotations

import time

from bench.common import CACHE, DATA, ROOT, Column, Run, make_parser, print_table, progress

NAME = "answer_quality"
SETS = {"sample": (ROOT / "sample_docs", ROOT / "sample_docs" / "questions.jsonl"),
        "everyday": (ROOT / "sample_docs", ROOT / "tests" / "data" / "everyday_questions.jsonl"),
        "jura": (DATA / "qa" / "jura-manuals" / "pdfs", DATA / "qa" / "jura-manuals" / "ground_truth.jsonl")}
COLUMNS = [Column("set", "set", align="<"), Column("variant", "variant", align="<"), Column("questions", "n"),
           Column("answered_right", "right", ".3f"), Column("answered_wrong", "wrong", ".3f"),
           Column("false_refusals", "false ref", ".3f"),
           Column("retrieval_hit@5", "ret@5", ".3f"), Column("answer_hit@5", "ans@5", ".3f"),
           Column("retrieval_mrr@10", "mrr@10", ".3f"), Column("contains_answer", "contains", ".3f"),
           Column("token_f1", "F1", ".3f"), Column("citation_precision", "cite prec", ".3f"),
           Column("refusal_recall", "refuse rec", ".3f"), Column("refusal_precision", "refuse prec", ".3f"),
           Column("extractive_share", "extractive", ".2f"), Column("first_text_p50_s", "text p50", ".2f"),
           Column("first_text_p95_s", "text p95", ".2f"), Column("first_token_p50_s", "TTFT p50", ".2f"),
           Column("first_token_p95_s", "TTFT p95", ".2f"), Column("latency_p50_s", "total p50", ".2f"),
           Column("latency_p95_s", "total p95", ".2f")]


def parse_args(argv=None):
    parser = make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--sets", default="sample,everyday,jura", help="comma-separated: sample, everyday, jura")
    parser.add_argument("--variants", default="default", help="comma-separated: default (the settings as they "
                        "are), baseline, judge, no-rerank, no-decide, no-quote, no-verify")
    parser.add_argument("--judge", default="", help="judge model folder for the judge variants (default: setting)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many questions per set")
    parser.add_argument("--rebuild", action="store_true", help="re-ingest even if a cached index exists")
    return parser.parse_args(argv)


def generation_speed(kb, tokens: int = 96) -> dict:
    """Tokens per second of the default generator on a realistic prompt (after warm-up)."""
    generator = kb.answerer().generator
    prompt = [{"role": "user", "content": "Write a short paragraph about office safety rules for new staff."}]
    started, first, pieces = time.perf_counter(), None, []
    for piece in generator.stream(prompt, tokens):
        first = first or time.perf_counter() - started
        pieces.append(piece)
    total = time.perf_counter() - started
    generated = generator.count_tokens("".join(pieces))
    return {"tokens": generated, "seconds": round(total, 3), "first_token_s": round(first or 0, 3),
            "tokens_per_s": round(generated / max(total - (first or 0), 1e-9), 1)}


def main(argv=None) -> int:
    args = parse_args(argv)
    run = Run.start(NAME, args)
    from kb import KnowledgeBase, Settings
    from kb.answering.evaluate import evaluate, load_gold, stage_variant

    rows, details = [], {}
    generator = None
    for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        docs, gold = SETS[name]
        index = CACHE / f"answers-{docs.name}"
        built = KnowledgeBase(Settings.load(index_dir=index))
        if args.rebuild or not (index / "CURRENT").exists():
            built.ingest([docs], rebuild=args.rebuild)
        items = load_gold(gold)[: (10 if args.quick else args.limit)]
        for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
            settings = built.settings.replace(judge_model=args.judge) if args.judge else built.settings
            settings = settings if variant == "default" else stage_variant(settings, variant)
            kb = KnowledgeBase(settings, embedder=built.embedder, generator=generator)
            kb.warm_up()
            generator = kb.answerer().generator  # loaded once, shared by every variant
            bar = progress(total=len(items), desc=f"{name} {variant}")
            report = evaluate(items, kb.search, lambda q, history: kb.ask(q, history), kb.answerer().retrieval_query,
                              progress=lambda done, total: bar.update(1))
            bar.close()
            rows.append({"set": name, "variant": variant, **report["summary"]})
            details[f"{name}/{variant}"] = report
        details[f"{name}_generation"] = generation_speed(kb)
    print_table(rows, COLUMNS, title="Answers: retrieval, correctness, citations, refusals, latency (seconds)")
    speed = [{"set": n.removesuffix("_generation"), **v} for n, v in details.items() if n.endswith("_generation")]
    print_table(speed, [Column("set", "set", align="<"), Column("tokens", "tokens"),
                        Column("first_token_s", "first token s", ".2f"), Column("seconds", "seconds", ".2f"),
                        Column("tokens_per_s", "tokens/s", ".1f")],
                title="Generation speed (default generator, 96 new tokens)")
    run.finish(args.results_dir, rows=rows, details=details)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
