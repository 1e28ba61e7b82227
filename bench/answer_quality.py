"""Answer quality and speed: ``kb eval`` on the sample questions and the JURA manuals, plus raw generation speed.

Reports retrieval hit@1/@5 and MRR@10, answer hit@5, token F1 / containment, citation precision, refusal
precision/recall, time to first token and total answer time p50/p95 (models warmed up first, as in a running
app), and the default generator's tokens per second.
"""

from __future__ import annotations

import time

from bench.common import CACHE, DATA, ROOT, Column, Run, make_parser, print_table, progress

NAME = "answer_quality"
SETS = {"sample": (ROOT / "sample_docs", ROOT / "sample_docs" / "questions.jsonl"),
        "jura": (DATA / "qa" / "jura-manuals" / "pdfs", DATA / "qa" / "jura-manuals" / "ground_truth.jsonl")}
COLUMNS = [Column("set", "set", align="<"), Column("questions", "n"),
           Column("retrieval_hit@5", "ret@5", ".3f"), Column("answer_hit@5", "ans@5", ".3f"),
           Column("retrieval_mrr@10", "mrr@10", ".3f"), Column("contains_answer", "contains", ".3f"),
           Column("token_f1", "F1", ".3f"), Column("citation_precision", "cite prec", ".3f"),
           Column("refusal_recall", "refuse rec", ".3f"), Column("refusal_precision", "refuse prec", ".3f"),
           Column("extractive_share", "extractive", ".2f"), Column("first_token_p50_s", "TTFT p50", ".2f"),
           Column("first_token_p95_s", "TTFT p95", ".2f"), Column("latency_p50_s", "total p50", ".2f"),
           Column("latency_p95_s", "total p95", ".2f")]


def parse_args(argv=None):
    parser = make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--sets", default="sample,jura", help="comma-separated: sample, jura")
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
    from kb.answering.evaluate import evaluate, load_gold

    rows, details = [], {}
    for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        docs, gold = SETS[name]
        index = CACHE / f"answers-{name}"
        kb = KnowledgeBase(Settings(index_dir=index))
        if args.rebuild or not (index / "CURRENT").exists():
            kb.ingest([docs], rebuild=args.rebuild)
        kb.warm_up()
        items = load_gold(gold)[: (10 if args.quick else args.limit)]
        bar = progress(total=len(items), desc=f"{name} questions")
        report = evaluate(items, kb.search, lambda q, history: kb.ask(q, history), kb.answerer().retrieval_query,
                          progress=lambda done, total: bar.update(1))
        bar.close()
        rows.append({"set": name, **report["summary"]})
        details[name] = report
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
