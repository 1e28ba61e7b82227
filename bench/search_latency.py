"""Search latency at 10k / 100k / 1M chunks on synthetic data, through the real index code.

For each size a child process builds the product's own ``VectorIndex`` (random unit vectors, dim 384)
and ``KeywordIndex`` (synthetic ~150-word chunk texts drawn from a Zipf-distributed vocabulary of real
English words taken from the SciFact corpus) and writes them as a real index version (``kb.store``
layout: manifest, chunks.sqlite, vectors, dense.faiss, bm25/). A second, fresh child process opens it
with ``KnowledgeBase`` and times: dense search alone, BM25 search alone (both at the product's candidate
depth), the query embedding with the real model, ``IndexReader.search`` (both retrievers + fusion + chunk
fetch) and the full ``KnowledgeBase.search`` (embedding included). Memory: RSS growth while building each
index, and RSS growth of a fresh process when it loads the index (the serving cost), plus bytes on disk.
"""

from __future__ import annotations

import gc
import json
import logging
import re
import shutil
import sys
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from bench.common import (DATA, Column, Run, dir_size, latency_summary, make_parser, mib, peak_rss_bytes, print_table,
                          progress, rss_bytes, set_progress, setup_logging, stopwatch, time_calls)

log = logging.getLogger("bench.search_latency")

NAME = "search_latency"
SCIFACT = DATA / "retrieval" / "scifact" / "corpus.jsonl"
DIMENSION = 384
TARGET_P95_MS = 100.0
TARGET_SIZE = 100_000
_WORD = re.compile(r"[a-z]{2,}")


def parse_sizes(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        if not part:
            continue
        scale = 1
        if part.endswith("k"):
            part, scale = part[:-1], 1_000
        elif part.endswith("m"):
            part, scale = part[:-1], 1_000_000
        out.append(int(float(part) * scale))
    return out


def parse_args(argv: list[str] | None = None):
    parser = make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=None,
                        help="comma-separated chunk counts, e.g. 10k,100k,1m (default 10k,100k,1m; --quick: 10k)")
    parser.add_argument("--queries", type=int, default=None, help="timed queries per path (default 500; --quick 100)")
    parser.add_argument("--k", type=int, default=10, help="results asked of KnowledgeBase.search")
    parser.add_argument("--words-per-chunk", type=int, default=150, help="mean words per synthetic chunk (+-20%%)")
    parser.add_argument("--vocab-size", type=int, default=30_000, help="distinct SciFact words in the vocabulary")
    parser.add_argument("--zipf-s", type=float, default=1.0, help="Zipf exponent of word frequencies")
    parser.add_argument("--exact-search-max", type=int, default=None,
                        help="Settings.exact_search_max: flat index up to this size, HNSW above (default: product's)")
    parser.add_argument("--recall-queries", type=int, default=100,
                        help="queries used to measure HNSW recall@10 against exact search (HNSW sizes only)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where the synthetic indexes are written (default: a temporary folder)")
    parser.add_argument("--keep-index", action="store_true", help="keep the synthetic indexes after the run")
    parser.add_argument("--threads", type=int, default=None,
                        help="set faiss (OpenMP) and torch threads for the search phase (default: the libraries' "
                             "own default, i.e. what the product does); 1 avoids thread hand-off under CPU contention")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = [10_000] if args.quick else [10_000, 100_000, 1_000_000]
    if args.queries is None:
        args.queries = 100 if args.quick else 500
    return args


# ------------------------------------------------------------------------------------ synthetic data

def load_vocabulary(size: int) -> tuple[list[str], dict]:
    """The ``size`` most frequent words of the SciFact corpus, most frequent first."""
    counts: Counter[str] = Counter()
    with open(SCIFACT, encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            counts.update(_WORD.findall(f"{doc.get('title', '')} {doc.get('text', '')}".lower()))
    words = [w for w, _ in counts.most_common(size)]
    return words, {"source": str(SCIFACT), "distinct_words_in_source": len(counts), "vocabulary": len(words),
                   "top_words": words[:15]}


def zipf_cdf(n: int, s: float) -> np.ndarray:
    p = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** s
    cdf = np.cumsum(p / p.sum())
    cdf[-1] = 1.0
    return cdf


def synthetic_texts(n: int, vocab: list[str], mean_words: int, s: float, seed: int):
    """Yield ``n`` texts of Zipf-distributed words (lengths uniform in mean +- 20 %)."""
    rng = np.random.default_rng(seed)
    cdf = zipf_cdf(len(vocab), s)
    low, high = int(mean_words * 0.8), int(mean_words * 1.2) + 1
    batch = 5_000
    for start in range(0, n, batch):
        m = min(batch, n - start)
        lengths = rng.integers(low, high, size=m)
        words = np.searchsorted(cdf, rng.random(int(lengths.sum())))
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        for i in range(m):
            yield " ".join([vocab[j] for j in words[offsets[i]:offsets[i + 1]].tolist()])


def synthetic_queries(count: int, vocab: list[str], s: float, seed: int) -> list[str]:
    """2-6 word queries drawn from the same Zipf law, skipping the 50 commonest (function) words."""
    rng = np.random.default_rng(seed + 1)
    content = vocab[50:]
    cdf = zipf_cdf(len(content), s)
    out = []
    for _ in range(count):
        out.append(" ".join(content[j] for j in np.searchsorted(cdf, rng.random(int(rng.integers(2, 7))))))
    return out


def unit_vectors(n: int, seed: int, batch: int = 100_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIMENSION), dtype=np.float32)
    for start in range(0, n, batch):
        block = rng.standard_normal((min(batch, n - start), DIMENSION), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:start + len(block)] = block
    return out


# ------------------------------------------------------------------------- child 1: build the index

def build_index(n: int, root: str, cfg: dict) -> dict:
    """Build a real index version of ``n`` synthetic chunks under ``root``; runs in a fresh process."""
    setup_logging(cfg["verbose"])
    set_progress(cfg["progress"])
    from kb.embedding.sbert import SentenceTransformerEmbedder
    from kb.index.folder import IndexFolder
    from kb.index.version import BM25_DIR, CHUNKS_DB, insert_chunks
    from kb.index.writer import chunking_settings, open_chunk_db, write_dense, write_manifest, write_sparse
    from kb.settings import Settings
    from kb.types import Chunk

    settings = Settings(index_dir=Path(root), **cfg["overrides"])
    embedder = SentenceTransformerEmbedder(settings.embedding_model, settings.device)
    chunking = chunking_settings(settings, embedder)  # loads the model: done before the memory baseline
    folder = IndexFolder(Path(root))
    tmp = folder.new_tmp()
    out: dict = {"size": n}
    gc.collect()
    rss = {"baseline": rss_bytes()}

    # dense: random unit vectors -> the product's VectorIndex (flat or HNSW by exact_search_max)
    with stopwatch() as t:
        vectors = unit_vectors(n, cfg["seed"] + n)
        ids = np.arange(n, dtype=np.int64)
    out["generate_vectors_seconds"] = round(t(), 2)
    rss["vectors_generated"] = rss_bytes()
    log.info("size %d: building %s dense index", n, "HNSW" if n > settings.exact_search_max else "flat")
    with stopwatch() as t:  # the product's writer: build and save (saving is a small part)
        dense = write_dense(tmp, vectors, ids, settings)
    out["dense_build_seconds"] = round(t(), 2)
    out["dense_kind"] = dense.kind
    rss["dense_built"] = rss_bytes()
    out["dense_rss_bytes_per_chunk"] = round((rss["dense_built"] - rss["vectors_generated"]) / n, 1)
    write_seconds = 0.0
    del dense, vectors
    gc.collect()
    rss["dense_freed"] = rss_bytes()

    # keyword: synthetic Zipf texts -> the product's KeywordIndex (its analyzer, bm25s)
    with stopwatch() as t:
        texts = list(progress(synthetic_texts(n, cfg["vocab"], cfg["words"], cfg["zipf_s"], cfg["seed"] + n),
                              total=n, desc=f"texts {n}", unit="chunk", leave=False))
    out["generate_texts_seconds"] = round(t(), 2)
    out["mean_words_per_chunk"] = round(float(np.mean([t.count(" ") + 1 for t in texts[:10_000]])), 1)
    out["mean_chars_per_chunk"] = round(float(np.mean([len(t) for t in texts[:10_000]])), 1)
    rss["texts_generated"] = rss_bytes()
    log.info("size %d: building BM25 index", n)
    with stopwatch() as t:  # the product's writer: build and save
        keyword = write_sparse(tmp, texts, settings.bm25_language)
    out["bm25_build_seconds"] = round(t(), 2)
    rss["bm25_built"] = rss_bytes()
    out["bm25_rss_bytes_per_chunk_after_build"] = round((rss["bm25_built"] - rss["texts_generated"]) / n, 1)
    out["peak_rss_mb_during_build"] = mib(peak_rss_bytes())
    with stopwatch() as t:
        del keyword
        gc.collect()
        db = open_chunk_db(tmp)
        insert_chunks(db, ((i, Chunk(chunk_id=f"syn-{i:08d}", doc_id=f"doc-{i // 20:07d}",
                                     path=f"/synthetic/doc-{i // 20:07d}.txt", name=f"doc-{i // 20:07d}.txt",
                                     text=text, chunk_index=i % 20, char_start=0, char_end=len(text)))
                           for i, text in enumerate(texts)))
        db.commit()
        db.close()
        write_manifest(tmp, settings, DIMENSION, chunking, chunks=n, next_id=n, files={})
        version = folder.publish(tmp, keep=1)
    out["write_seconds"] = round(write_seconds + t(), 2)
    out["rss_mb"] = {k: mib(v) for k, v in rss.items()}
    files = {p.name: p.stat().st_size for p in version.iterdir() if p.is_file()}
    files[BM25_DIR + "/"] = dir_size(version / BM25_DIR)
    out["disk_bytes"] = files
    out["disk_bytes_total"] = sum(files.values())
    out["disk_bytes_per_chunk"] = round(out["disk_bytes_total"] / n, 1)
    index_only = sum(v for k, v in files.items() if k != CHUNKS_DB and k != "manifest.json")
    out["disk_bytes_per_chunk_without_text"] = round(index_only / n, 1)
    return out


# ------------------------------------------------------------------------- child 2: load and search

def measure_search(n: int, root: str, cfg: dict) -> dict:
    """Open the index with KnowledgeBase in a fresh process and time each search path."""
    setup_logging(cfg["verbose"])
    set_progress(cfg["progress"])
    from kb.index.version import load_vectors
    from kb.knowledge_base import KnowledgeBase
    from kb.settings import Settings

    settings = Settings(index_dir=Path(root), **{"rerank": False, **cfg["overrides"]})  # the judge: bench.judge_speed
    kb = KnowledgeBase(settings)
    kb.embedder.encode(["warm up the model"])
    import faiss
    import torch

    if cfg["threads"]:
        faiss.omp_set_num_threads(cfg["threads"])
        torch.set_num_threads(cfg["threads"])
    threads = {"faiss_omp": faiss.omp_get_max_threads(), "torch": torch.get_num_threads()}
    gc.collect()
    before = rss_bytes()
    with stopwatch() as t:
        reader = kb.reader()
    out: dict = {"size": n, "load_seconds": round(t(), 2), "dense_kind": reader.dense.kind, "threads": threads}
    gc.collect()
    after = rss_bytes()
    out["serving_rss_mb"] = mib(after - before)
    out["serving_rss_bytes_per_chunk"] = round((after - before) / n, 1)

    queries: list[str] = cfg["queries"]
    rng = np.random.default_rng(cfg["seed"] + 7)
    qvecs = rng.standard_normal((len(queries), DIMENSION), dtype=np.float32)
    qvecs /= np.linalg.norm(qvecs, axis=1, keepdims=True)
    depth = max(settings.candidates, cfg["k"])
    embedded = kb.embedder.encode(queries[:1])  # shape check
    assert embedded.shape[1] == DIMENSION
    real_vectors = {}

    def embed(q: str):
        real_vectors[q] = kb.embedder.encode_queries([q])[0]

    from kb.index.version import fetch_chunks

    fetch_ids = [sorted(int(i) for i in rng.choice(n, size=cfg["k"], replace=False)) for _ in queries]
    lat = {}
    lat["dense"] = time_calls(lambda v: reader.dense.search(v, depth), list(qvecs), desc=f"dense {n}")
    lat["bm25"] = time_calls(lambda q: reader.keyword.search(q, depth), queries, desc=f"bm25 {n}")
    lat["query_embedding"] = time_calls(embed, queries, desc=f"embed {n}")
    lat["dense_model_query"] = time_calls(lambda q: reader.dense.search(real_vectors[q], depth), queries,
                                          desc=f"dense (model vector) {n}")
    lat["chunk_fetch"] = time_calls(lambda ids: fetch_chunks(reader.db, ids), fetch_ids, desc=f"fetch {n}")
    lat["hybrid_reader"] = time_calls(lambda q: reader.search(q, real_vectors[q], cfg["k"]), queries,
                                      desc=f"reader.search {n}")
    lat["hybrid_full"] = time_calls(lambda q: kb.search(q, cfg["k"]), queries, desc=f"kb.search {n}")
    out["latency"] = {name: latency_summary(values) for name, values in lat.items()}
    out["candidate_depth"] = depth
    hits = [len(reader.keyword.search(q, depth)[0]) for q in queries[:50]]
    out["bm25_mean_candidates"] = round(float(np.mean(hits)), 1)

    if reader.dense.kind == "hnsw" and cfg["recall_queries"]:
        vectors = load_vectors(reader.folder)  # row i holds id reader.ids[i] (= i here)
        m = cfg["recall_queries"]
        # (a) random unit queries: recall@10 against exact search. Random vectors in 384 dimensions have no
        # structure (every neighbour is barely closer than any other point): a worst case for HNSW.
        q = qvecs[:m]
        exact = exact_top10(q, vectors)
        found = [set(reader.dense.search(v, 10)[0].tolist()) for v in q]
        out["hnsw_recall_at_10"] = round(float(np.mean(
            [len(f & set(reader.ids[e].tolist())) / 10 for f, e in zip(found, exact)])), 4)
        # (b) planted queries: a stored vector moved to cosine 0.8 from itself, so it has one clear nearest
        # neighbour, as a real query has a clearly relevant passage; hit@10 = that vector is in HNSW's top 10
        sources = rng.choice(n, size=m, replace=False)
        noise = rng.standard_normal((m, DIMENSION), dtype=np.float32)
        base = np.asarray(vectors[np.sort(sources)], dtype=np.float32)
        sources = np.sort(sources)
        noise -= (noise * base).sum(1, keepdims=True) * base  # orthogonal to the source
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        planted = 0.8 * base + 0.6 * noise
        out["hnsw_planted_hit_at_10"] = round(float(np.mean(
            [int(reader.ids[src]) in set(reader.dense.search(v, 10)[0].tolist())
             for v, src in zip(planted, sources)])), 4)
        out["hnsw_planted_hit_at_1"] = round(float(np.mean(
            [reader.dense.search(v, 1)[0][:1].tolist() == [int(reader.ids[src])]
             for v, src in zip(planted, sources)])), 4)
    out["peak_rss_mb"] = mib(peak_rss_bytes())
    return out


def exact_top10(queries: np.ndarray, vectors: np.ndarray, step: int = 200_000) -> np.ndarray:
    """Row positions of the exact top 10 by inner product, scanning ``vectors`` in blocks."""
    exact = np.full((len(queries), 10), 0, dtype=np.int64)
    best = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    for start in progress(range(0, len(vectors), step), desc="exact top-10", leave=False):
        block = np.asarray(vectors[start:start + step], dtype=np.float32)
        cand = np.concatenate([best, queries @ block.T], axis=1)
        cand_ids = np.concatenate([exact, np.broadcast_to(np.arange(start, start + len(block)),
                                                          (len(queries), len(block)))], axis=1)
        top = np.argpartition(-cand, 9, axis=1)[:, :10]
        best = np.take_along_axis(cand, top, 1)
        exact = np.take_along_axis(cand_ids, top, 1)
    return exact


def _in_fresh_process(fn, *args):
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


# ---------------------------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = Run.start(NAME, args)
    from kb.settings import Settings

    overrides = {} if args.exact_search_max is None else {"exact_search_max": args.exact_search_max}
    settings = Settings(**overrides)
    vocab, vocab_info = load_vocabulary(args.vocab_size)
    queries = synthetic_queries(args.queries, vocab, args.zipf_s, args.seed)
    cfg = {"vocab": vocab, "words": args.words_per_chunk, "zipf_s": args.zipf_s, "seed": args.seed,
           "overrides": overrides, "queries": queries, "k": args.k, "recall_queries": args.recall_queries,
           "threads": args.threads,
           "verbose": args.verbose, "progress": not args.no_progress}
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="kb-bench-latency-"))
    work.mkdir(parents=True, exist_ok=True)

    results = []
    for n in args.sizes:
        root = work / f"synthetic-{n}"
        if root.exists():
            shutil.rmtree(root)
        log.info("size %d: building (in a fresh process)", n)
        with stopwatch() as t:
            built = _in_fresh_process(build_index, n, str(root), cfg)
        built["build_total_seconds"] = round(t(), 1)
        log.info("size %d: built in %.0f s; measuring search (in a fresh process)", n, t())
        searched = _in_fresh_process(measure_search, n, str(root), cfg)
        results.append({"size": n, "build": built, "search": searched})
        if not args.keep_index:
            shutil.rmtree(root, ignore_errors=True)
        # write what we have after each size, so a long 1M run leaves the smaller results behind
        _report(run, args, settings, vocab_info, queries, results, final=False)
    _report(run, args, settings, vocab_info, queries, results, final=True)
    if args.work_dir is None and not args.keep_index:
        shutil.rmtree(work, ignore_errors=True)
    elif args.keep_index:
        print(f"indexes kept under {work}")
    return 0


def _report(run: Run, args, settings, vocab_info: dict, queries: list[str], results: list[dict],
            final: bool) -> None:
    paths = [("dense", f"dense: VectorIndex.search (depth {settings.candidates})"),
             ("dense_model_query", "dense, query vector from the model"),
             ("bm25", f"bm25: KeywordIndex.search (depth {settings.candidates})"),
             ("query_embedding", "query embedding (real model)"),
             ("chunk_fetch", f"chunk fetch: store.fetch_chunks ({args.k} ids)"),
             ("hybrid_reader", "hybrid: IndexReader.search (no embedding)"),
             ("hybrid_full", "hybrid: KnowledgeBase.search (full)")]
    latency_rows, build_rows, targets = [], [], []
    for r in results:
        b, s = r["build"], r["search"]
        for key, label in paths:
            if key not in s["latency"]:
                continue
            latency_rows.append({"size": r["size"], "index": s["dense_kind"], "path": label, **s["latency"][key]})
        build_rows.append({
            "size": r["size"], "kind": b["dense_kind"], "dense_build": b["dense_build_seconds"],
            "bm25_build": b["bm25_build_seconds"], "write": b["write_seconds"], "load": s["load_seconds"],
            "serve_mb": s["serving_rss_mb"], "serve_b_chunk": s["serving_rss_bytes_per_chunk"],
            "dense_b_chunk": b["dense_rss_bytes_per_chunk"], "bm25_b_chunk": b["bm25_rss_bytes_per_chunk_after_build"],
            "build_peak_mb": b["peak_rss_mb_during_build"],
            "disk_mb": mib(b["disk_bytes_total"]), "disk_b_chunk": b["disk_bytes_per_chunk"],
            "disk_b_chunk_idx": b["disk_bytes_per_chunk_without_text"], "recall": s.get("hnsw_recall_at_10"),
            "planted": s.get("hnsw_planted_hit_at_10")})
        if r["size"] == TARGET_SIZE:
            p95 = s["latency"]["hybrid_full"]["p95_ms"]
            targets.append({"size": r["size"], "hybrid_full_p95_ms": p95, "target_ms": TARGET_P95_MS,
                            "met": p95 < TARGET_P95_MS})
    if final:
        print_table(latency_rows, [Column("size", "chunks"), Column("index", "dense"), Column("path", "path", align="<"),
                                   Column("n", "n"), Column("p50_ms", "p50 ms", ".2f"),
                                   Column("p95_ms", "p95 ms", ".2f"), Column("p99_ms", "p99 ms", ".2f"),
                                   Column("mean_ms", "mean ms", ".2f"), Column("max_ms", "max ms", ".1f")],
                    title=f"Search latency (k={args.k}, {len(queries)} queries per path, threads "
                          f"{results[-1]['search']['threads'] if results else '-'}, "
                          f"load {run.machine['load_average_start'][0]})")
        print_table(build_rows, [Column("size", "chunks"), Column("kind", "dense"),
                                 Column("dense_build", "dense build s", ".1f"),
                                 Column("bm25_build", "bm25 build s", ".1f"), Column("write", "write s", ".1f"),
                                 Column("load", "load s", ".2f"), Column("serve_mb", "serving RSS MB", ".1f"),
                                 Column("serve_b_chunk", "serving B/chunk", ".0f"),
                                 Column("dense_b_chunk", "dense build B/chunk", ".0f"),
                                 Column("bm25_b_chunk", "bm25 build B/chunk", ".0f"),
                                 Column("build_peak_mb", "build peak MB", ".0f"),
                                 Column("disk_mb", "disk MB", ".1f"), Column("disk_b_chunk", "disk B/chunk", ".0f"),
                                 Column("disk_b_chunk_idx", "disk B/chunk w/o text", ".0f"),
                                 Column("recall", "HNSW recall@10 random q", ".3f"),
                                 Column("planted", "HNSW planted hit@10", ".3f")],
                    title="Index build, memory and disk")
        for t in targets:
            print(f"target: full hybrid search p95 < {TARGET_P95_MS:.0f} ms at {t['size']:,} chunks: "
                  f"{'MET' if t['met'] else 'NOT MET'} (p95 {t['hybrid_full_p95_ms']:.1f} ms)")
    run.finish(args.results_dir, settings=settings.to_dict(), vocabulary=vocab_info,
               sample_queries=queries[:10], complete=final, targets=targets, results=results)


if __name__ == "__main__":
    sys.exit(main())
