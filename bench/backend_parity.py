"""Index backends side by side: the same SciFact index searched as FAISS + bm25s and as a Milvus collection.

The SciFact index is the one ``bench.retrieval_quality`` builds (and caches) through the real pipeline; the
Milvus backend (milvus-lite, a file next to the cached index) loads the same published version into its
collection, so both backends search exactly the same passages and vectors. For each fusion, every query runs
the version's reader on both with the same query vector (``IndexReader.search`` and ``MilvusReader.search``,
the code behind ``KnowledgeBase.search``; judge off: the index is what is compared). The table gives nDCG@10
over documents for each backend, the mean top-10 overlap of chunk ids and the per-query latency.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import numpy as np

from bench import retrieval_quality as rq
from bench.common import Column, Run, make_parser, paired_bootstrap, print_table, progress

log = logging.getLogger("bench.backend_parity")

NAME = "backend_parity"


def parse_args(argv: list[str] | None = None):
    parser = make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--fusions", type=rq.fusions, default=[("rrf", 0.5), ("weighted", 0.3)],
                        help="fusion:dense_weight pairs, comma-separated")
    parser.add_argument("--limit-queries", type=int, default=None, help="only the first N SciFact queries")
    parser.add_argument("--cache-dir", type=Path, default=rq.CACHE, help="bench.retrieval_quality's index cache")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap rounds for the 95%% intervals")
    args = parser.parse_args(argv)
    if args.quick and args.limit_queries is None:
        args.limit_queries = 50
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = Run.start(NAME, args)
    from kb.access.rules import milvus_access_keys
    from kb.retrieval.milvus import MilvusStore
    from kb.retrieval.reader import IndexReader

    corpus, queries, qrels = rq.load_scifact(args.limit_queries)
    cache = args.cache_dir / "scifact"
    rq.write_scifact_docs(corpus, cache / "docs")
    kb, ingest = rq.open_index(cache / rq.index_name([]), [cache / "docs"], rebuild=False)
    base = kb.settings.replace(judge_model="", rerank=False)
    milvus_db = cache / "milvus" / "kb.db"
    milvus_db.parent.mkdir(parents=True, exist_ok=True)

    store = MilvusStore(str(milvus_db), base, access_keys=milvus_access_keys(base))
    version = kb.folder.require_current()
    t0 = time.perf_counter()
    store.ensure(version)  # the collection is built from the published version folder on first use
    load_seconds = time.perf_counter() - t0
    vectors = {qid: kb.embedder.encode_queries([q])[0] for qid, q in
               progress(queries.items(), total=len(queries), desc="query vectors", unit="q")}

    rows: list[dict] = []
    for fusion, weight in args.fusions:
        settings = base.replace(fusion=fusion, dense_weight=weight)
        readers = {"faiss": IndexReader(version, settings), "milvus": store.reader(version, settings)}
        ndcg = {"faiss": [], "milvus": []}
        ms = {"faiss": [], "milvus": []}
        overlap = []
        try:
            for qid, query in progress(queries.items(), total=len(queries), desc=f"{fusion} {weight:g}", unit="q"):
                ranked = {}
                for name, reader in readers.items():
                    t0 = time.perf_counter()
                    hits = reader.search(query, vectors[qid], 50)  # 50: the product's candidate depth
                    ms[name].append(1000 * (time.perf_counter() - t0))
                    ranked[name] = hits
                    ndcg[name].append(rq.ndcg_at(rq.unique([Path(h.chunk.name).stem for h in hits]), qrels[qid], 10))
                a, b = ({h.chunk.chunk_id for h in ranked[n][:10]} for n in ("faiss", "milvus"))
                overlap.append(len(a & b) / max(1, len(a), len(b)))
        finally:
            for reader in readers.values():
                reader.close()
        ci = paired_bootstrap(ndcg["milvus"], ndcg["faiss"], args.bootstrap)
        rows.append({"fusion": f"{fusion} w_dense={weight:g}", "ndcg@10_faiss": round(float(np.mean(ndcg["faiss"])), 4),
                     "ndcg@10_milvus": round(float(np.mean(ndcg["milvus"])), 4), "delta": ci["delta"],
                     "ci95": [ci["ci_low"], ci["ci_high"]], "top10_overlap": round(float(np.mean(overlap)), 4),
                     "ms_faiss_p50": round(float(np.median(ms["faiss"])), 1),
                     "ms_milvus_p50": round(float(np.median(ms["milvus"])), 1),
                     "milvus_open_s": round(load_seconds, 1)})
        log.info("%s", rows[-1])

    for r in rows:
        r["ci"] = f"{r['delta']:+.4f} [{r['ci95'][0]:+.3f}, {r['ci95'][1]:+.3f}]"
    print_table(rows, [Column("fusion", "fusion", align="<"), Column("ndcg@10_faiss", "nDCG@10 faiss", ".4f"),
                       Column("ndcg@10_milvus", "nDCG@10 milvus", ".4f"),
                       Column("ci", "milvus - faiss [95% CI]", align="<"),
                       Column("top10_overlap", "top-10 overlap", ".4f"), Column("ms_faiss_p50", "faiss ms p50", ".1f"),
                       Column("ms_milvus_p50", "milvus ms p50", ".1f"),
                       Column("milvus_open_s", "milvus open s", ".1f")],
                title=f"SciFact: {len(queries)} queries, {ingest.get('chunks')} chunks, faiss vs milvus-lite "
                      f"(load {run.machine['load_average_start'][0]})")
    store.close()
    run.finish(args.results_dir, ingest=ingest, milvus_uri=str(milvus_db), rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
