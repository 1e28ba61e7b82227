"""Judge and reader speed on the CPU: reranking fused candidates, scoring the sentences of an answer's passages,
and reading the best passages for the answer span.

Real passages: the sample documents' index and the sample questions. For each question, hybrid search
gives the candidates; the product's ``Reranker`` scores the top N (one window each), the judge's answer step
scores every sentence of the top 3 passages, and the reader reads the top 3 passages (their indexed text, in
windows of at most 224 tokens), as ``kb ask`` does with each. Timed in int8 (the product's default on the CPU)
and fp32, after 3 warm-up questions; the table gives p50/p95 per call.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from bench.common import CACHE, ROOT, Column, Run, latency_summary, make_parser, print_table, progress

log = logging.getLogger("bench.judge_speed")

NAME = "judge_speed"
COLUMNS = [Column("stage", "stage", align="<"), Column("precision", "weights", align="<"),
           Column("pairs", "pairs/call", ".0f"), Column("p50", "p50 ms", ".0f"), Column("p95", "p95 ms", ".0f"),
           Column("mean", "mean ms", ".0f")]


def parse_args(argv=None):
    parser = make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--judge", default="kb-judge", help="judge model (default: the shipped one)")
    parser.add_argument("--reader", default="kb-reader", help="reader model (default: the shipped one; '' skips it)")
    parser.add_argument("--candidates", default="20,30", help="comma-separated rerank depths to time")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the product uses all cores)")
    return parser.parse_args(argv)


def _ms(seconds: list[float]) -> dict:
    summary = latency_summary(seconds)
    return {"p50": summary["p50_ms"], "p95": summary["p95_ms"], "mean": summary["mean_ms"]}


def main(argv=None) -> int:
    args = parse_args(argv)
    run = Run.start(NAME, args)
    import torch

    from kb import KnowledgeBase, Settings
    from kb.answering.evaluate import load_gold
    from kb.answering.verify import Verifier
    from kb.answering.spans import reader_input
    from kb.judge.model import Judge, resolve_judge_path
    from kb.reader.model import Reader, resolve_reader_path
    from kb.retrieval.rerank import Reranker

    torch.set_num_threads(args.threads)
    index = CACHE / "answers-sample_docs"
    kb = KnowledgeBase(Settings.load(index_dir=index, judge_model="", rerank=False))
    if kb.folder.current() is None:
        kb.ingest([ROOT / "sample_docs"])
    questions = [item.question for item in load_gold(ROOT / "sample_docs" / "questions.jsonl")]
    questions = questions[:10] if args.quick else questions
    depths = [int(d) for d in args.candidates.split(",") if d.strip()]
    hits = {q: kb.search(q, k=max(depths)) for q in questions}
    rows = []
    for quantize in (True, False):
        judge = Judge(resolve_judge_path(args.judge), quantize=quantize)
        precision = "int8" if quantize else "fp32"
        for q in questions[:3]:
            judge.score([(q, h.chunk.text) for h in hits[q][:10]])  # warm-up
        for depth in depths:
            reranker = Reranker(judge, depth, 0.7)
            times = []
            for q in progress(questions, desc=f"rerank {depth} {precision}"):
                t0 = time.perf_counter()
                reranker.rerank(q, hits[q][:depth])
                times.append(time.perf_counter() - t0)
            rows.append({"stage": f"rerank top {depth}", "precision": precision, "pairs": depth,
                         **_ms(times)})
        times, counts = [], []
        for q in progress(questions, desc=f"sentences {precision}"):
            passages = hits[q][:3]
            verifier = Verifier([h.chunk.text for h in passages], kb.embedder.encode, kb.answerer().analyzer)
            pairs = [(q, s.text) for s in verifier.sentences]
            t0 = time.perf_counter()
            judge.score(pairs)
            times.append(time.perf_counter() - t0)
            counts.append(len(pairs))
        rows.append({"stage": "answer sentences (top 3 passages)", "precision": precision,
                     "pairs": float(np.mean(counts)),
                     **_ms(times)})
        if args.reader:
            reader = Reader(resolve_reader_path(args.reader), quantize=quantize)
            texts = {q: [reader_input(h)[0] for h in hits[q][:3]] for q in questions}
            for q in questions[:3]:
                reader.read(q, texts[q])  # warm-up
            times = []
            for q in progress(questions, desc=f"reader {precision}"):
                t0 = time.perf_counter()
                reader.read(q, texts[q])
                times.append(time.perf_counter() - t0)
            rows.append({"stage": "reader (top 3 passages)", "precision": precision, "pairs": 3.0, **_ms(times)})
    print_table(rows, COLUMNS, title=f"Judge and reader speed ({args.threads} threads, {len(questions)} questions)")
    run.finish(args.results_dir, rows=rows, questions=len(questions), threads=args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
