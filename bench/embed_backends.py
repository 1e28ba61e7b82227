"""Embedding backends side by side: torch fp32 and ONNX Runtime int8 (fp32 too) on 10-K chunks and SciFact.

Every backend embeds the same chunks: the first ``--chunks`` passages of the 10-K filings in
``../shared/data/corpus/filings-10k/``, parsed and chunked by the product's own parser and chunker (the texts
are cached under ``bench/results/cache/``). Timing is interleaved: the chunks are cut into ``--rounds`` slices
and every backend embeds each slice in turn (order rotating), so a change in machine load hits all of them
alike. Reported per backend:

* chunks/s and tokens/s; the share of the fp32 FLOP bound (``2 * non-embedding params * tokens`` per chunk)
  at the machine's measured fp32 GEMM rate (numpy, all usable cores, best of the start and end of the run),
  and at the issue's nominal 256 GFLOP/s (its "~47 chunks/s at 256 tokens");
* peak RSS of a fresh process that only loads that backend and embeds 64 of the longest chunks;
* mean / min cosine of its vectors to torch fp32's (and int8 to ONNX fp32);
* chunk-token limit 128 vs 256: the same filing text chunked both ways, embedded by each backend;
* SciFact: the first ``--scifact-queries`` test queries, dense retrieval over their relevant abstracts plus
  ``--scifact-pool`` others (corpus order): nDCG@10 per backend and top-10 overlap with torch fp32.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import (CACHE, DATA, Column, Run, make_parser, mib, paired_bootstrap, peak_rss_bytes, print_table,
                          progress, rss_bytes)

log = logging.getLogger("bench.embed_backends")

NAME = "embed_backends"
CORPUS = DATA / "corpus" / "filings-10k"
SCIFACT = DATA / "retrieval" / "scifact"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BACKENDS = ("torch", "onnx-int8", "onnx-fp32")
PARTS = ("throughput", "limits", "scifact")
DEFAULT_BACKENDS = ("torch", "onnx-int8")  # onnx-fp32 (separates ONNX Runtime from int8) costs another full pass
ISSUE_PEAK_GFLOPS = 256.0  # issue 17's ~47 chunks/s at 256 tokens = 256 GFLOP/s / (2 * 10.6M params * 256)
_RSS_PROBE_CHUNKS = 64


def parse_args(argv: list[str] | None = None):
    parser = make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=None,
                        help="10-K chunks each backend embeds (default 400, --quick 100)")
    parser.add_argument("--backends", default=",".join(DEFAULT_BACKENDS),
                        help=f"comma-separated, of {', '.join(BACKENDS)}")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved timing slices")
    parser.add_argument("--batch-size", type=int, default=32, help="texts per model batch (the product default)")
    parser.add_argument("--limit-chunks", type=int, default=None,
                        help="256-token chunks whose text the 128-vs-256 run re-chunks (default 3/8 of --chunks)")
    parser.add_argument("--scifact-queries", type=int, default=None,
                        help="first N SciFact test queries (default 100, --quick 30; 0: skip)")
    parser.add_argument("--scifact-pool", type=int, default=None,
                        help="other SciFact abstracts added to the queries' relevant ones (default 200, --quick 100)")
    parser.add_argument("--quality-backends", default="torch,onnx-int8",
                        help="backends SciFact and the token-limit comparison run (each costs a full pass)")
    parser.add_argument("--onnx-cache", type=Path, default=CACHE / "onnx", help="ONNX export cache folder")
    # internal: the child process that measures one backend's peak RSS
    parser.add_argument("--probe-rss", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--probe-texts", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # the defaults fit about 10 minutes on 2 busy cores (torch ~4 chunks/s at load 3); --chunks 1000 for more
    args.chunks = args.chunks or (100 if args.quick else 400)
    args.limit_chunks = args.limit_chunks or max(32, args.chunks * 3 // 8)
    if args.scifact_queries is None:
        args.scifact_queries = 30 if args.quick else 100
    if args.scifact_pool is None:
        args.scifact_pool = 100 if args.quick else 200
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if set(args.parts) - set(PARTS):
        parser.error(f"unknown part(s) {sorted(set(args.parts) - set(PARTS))} (choose from {', '.join(PARTS)})")
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    args.quality_backends = [b.strip() for b in args.quality_backends.split(",") if b.strip()]
    for b in args.backends + args.quality_backends:
        if b not in BACKENDS:
            parser.error(f"unknown backend {b!r} (choose from {', '.join(BACKENDS)})")
    if "torch" not in args.backends:
        parser.error("the backends are compared with torch fp32: keep torch in --backends")
    args.quality_backends = [b for b in args.quality_backends if b in args.backends]
    return args


# ------------------------------------------------------------------------------------ backends

def make_backend(name: str, cache: Path, batch_size: int):
    if name == "torch":
        from kb.embedding.sbert import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(MODEL, "cpu", batch_size)
    from kb.embedding.onnx import OnnxEmbedder

    return OnnxEmbedder(MODEL, batch_size, quantize=name == "onnx-int8", cache_dir=cache)


def probe_rss(name: str, texts_file: Path, cache: Path, batch_size: int) -> int:
    """Child process: load one backend, embed the given texts, print peak RSS (and whether torch was imported)."""
    texts = json.loads(texts_file.read_text(encoding="utf-8"))
    before = rss_bytes()
    backend = make_backend(name, cache, batch_size)
    backend.encode(texts)
    print(json.dumps({"backend": name, "rss_start": before, "peak_rss": _high_water_mark(),
                      "torch_imported": "torch" in sys.modules}))
    return 0


def _high_water_mark() -> int:
    """Peak RSS of this process image: getrusage's ru_maxrss survives exec (a child would report its parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return peak_rss_bytes()


def measure_rss(names: list[str], texts: list[str], cache: Path, batch_size: int) -> dict[str, dict]:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(texts, fh)
    out = {}
    try:
        for name in names:
            cmd = [sys.executable, "-m", "bench.embed_backends", "--probe-rss", name, "--probe-texts", fh.name,
                   "--onnx-cache", str(cache), "--batch-size", str(batch_size)]
            proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
            if proc.returncode != 0:
                log.warning("RSS probe of %s failed: %s", name, proc.stderr[-2000:])
                continue
            out[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        os.unlink(fh.name)
    return out


# ------------------------------------------------------------------------------------ data

def filing_chunks(n: int, cache_dir: Path) -> dict:
    """The embed texts of 10-K chunks at 256 and 128 tokens, from the first filings (by name) that give ``n``."""
    path = cache_dir / "embed_backends_chunks.json"
    if path.is_file():
        cached = json.loads(path.read_text(encoding="utf-8"))
        if len(cached["chunks"]["256"]) >= n:
            return cached
    from ingest.chunker import ChunkingConfig, chunk_document
    from ingest.registry import parse_file
    from ingest.tokens import load_token_counter
    from kb.embedding.packaged import resolve_model_path

    count = load_token_counter(resolve_model_path(MODEL))
    files = sorted(p for p in CORPUS.glob("*.pdf"))
    out: dict = {"files": [], "chunks": {"256": [], "128": []}}
    for pdf in progress(files, desc="parse filings", unit="file"):
        t0 = time.perf_counter()
        doc = parse_file(pdf)
        for limit in (256, 128):
            for c in chunk_document(doc, count, ChunkingConfig(max_tokens=limit, overlap_tokens=40)):
                out["chunks"][str(limit)].append({"doc": pdf.name, "start": c.char_start, "end": c.char_end,
                                                  "text": c.embed_text})
        out["files"].append(pdf.name)
        log.info("parsed %s in %.1f s: %d chunks so far", pdf.name, time.perf_counter() - t0,
                 len(out["chunks"]["256"]))
        if len(out["chunks"]["256"]) >= n:
            break
    cache_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out), encoding="utf-8")
    return out


def same_text(chunks: dict, k: int) -> tuple[list[str], list[str]]:
    """The first ``k`` 256-token chunks and the 128-token chunks that cover the same stretch of the filings."""
    long = chunks["256"][:k]
    reach: dict[str, int] = {}
    for c in long:
        reach[c["doc"]] = max(reach.get(c["doc"], 0), c["end"])
    short = [c for c in chunks["128"] if c["doc"] in reach and c["start"] < reach[c["doc"]]]
    return [c["text"] for c in long], [c["text"] for c in short]


def scifact_subset(queries: int, pool: int) -> tuple[list[tuple[str, str]], dict[str, str], dict[str, dict[str, int]]]:
    """(doc ids, {query id: text}, qrels) for the first ``queries`` test queries over their relevant
    abstracts plus ``pool`` others."""
    qrels: dict[str, dict[str, int]] = {}
    for line in (SCIFACT / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        qid, did, score = line.split("\t")
        qrels.setdefault(qid, {})[did] = int(score)
    chosen = list(qrels)[:queries]
    qrels = {q: qrels[q] for q in chosen}
    texts = {}
    with open(SCIFACT / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["_id"] in qrels:
                texts[row["_id"]] = row["text"]
    relevant = {d for rel in qrels.values() for d in rel}
    docs: dict[str, str] = {}
    others = 0
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["_id"] in relevant or others < pool:
                others += row["_id"] not in relevant
                docs[row["_id"]] = f"{row['title']} {row['text']}".strip()
    return list(docs.items()), texts, qrels


# ------------------------------------------------------------------------------------ measurements

def gemm_gflops(size: int = 1536, repeats: int = 5) -> float:
    """The machine's fp32 matrix-multiply rate now (numpy's BLAS on all usable cores), best of ``repeats``."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * size ** 3 / best / 1e9


def non_embedding_params() -> int:
    """Parameters the per-token FLOPs come from (the encoder layers; embeddings are lookups)."""
    from safetensors import safe_open

    from kb.embedding.packaged import resolve_model_path

    total = 0
    with safe_open(str(Path(resolve_model_path(MODEL)) / "model.safetensors"), "np") as fh:
        for key in fh.keys():
            if "embeddings" not in key:
                total += int(np.prod(fh.get_slice(key).get_shape()))
    return total


def token_counts(texts: list[str], max_tokens: int = 256) -> np.ndarray:
    """Tokens each text is embedded with (special tokens included, truncated like the model)."""
    from tokenizers import Tokenizer

    from kb.embedding.packaged import resolve_model_path

    tokenizer = Tokenizer.from_file(str(Path(resolve_model_path(MODEL)) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_tokens)
    return np.array([len(e.ids) for e in tokenizer.encode_batch(texts)])


def interleaved(backends: dict, texts: list[str], rounds: int, desc: str) -> tuple[dict, dict, list]:
    """Seconds and vectors per backend over ``texts``, cut into ``rounds`` slices embedded in rotating order."""
    names = list(backends)
    seconds = {n: 0.0 for n in names}
    parts: dict[str, list] = {n: [] for n in names}
    per_round = []
    slices = [s for s in np.array_split(np.arange(len(texts)), max(1, rounds)) if len(s)]
    bar = progress(total=len(slices) * len(names), desc=desc, unit="pass")
    for r, rows in enumerate(slices):
        batch = [texts[i] for i in rows]
        timings = {}
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            parts[name].append(backends[name].encode(batch))
            timings[name] = time.perf_counter() - t0
            seconds[name] += timings[name]
            bar.update(1)
        per_round.append({"chunks": len(rows), "load_average": round(os.getloadavg()[0], 2),
                          **{f"{n}_chunks_per_s": round(len(rows) / t, 2) for n, t in timings.items()}})
    bar.close()
    return seconds, {n: np.vstack(v) for n, v in parts.items()}, per_round


def cosines(a: np.ndarray, b: np.ndarray) -> dict:
    c = np.sum(a * b, axis=1)
    return {"mean": round(float(c.mean()), 4), "min": round(float(c.min()), 4),
            "p01": round(float(np.percentile(c, 1)), 4)}


def scifact_quality(backends: dict, queries: int, pool: int) -> dict:
    from bench.retrieval_quality import ndcg_at

    docs, texts, qrels = scifact_subset(queries, pool)
    doc_ids = [d for d, _ in docs]
    qids = list(qrels)
    out: dict = {"queries": len(qids), "documents": len(doc_ids), "per_backend": {}}
    rankings = {}
    for name, backend in backends.items():
        t0 = time.perf_counter()
        doc_vectors = backend.encode([t for _, t in docs])
        query_vectors = backend.encode_queries([texts[q] for q in qids])
        scores = query_vectors @ doc_vectors.T
        top = np.argsort(-scores, axis=1)[:, :10]
        rankings[name] = [[doc_ids[i] for i in row] for row in top]
        ndcg = [ndcg_at(rankings[name][i], qrels[q]) for i, q in enumerate(qids)]
        out["per_backend"][name] = {"ndcg@10": round(float(np.mean(ndcg)), 4), "per_query": ndcg,
                                    "seconds": round(time.perf_counter() - t0, 1)}
        log.info("SciFact %s: nDCG@10 %.4f (%d queries, %d docs)", name, np.mean(ndcg), len(qids), len(doc_ids))
    base = rankings["torch"]
    for name in backends:
        row = out["per_backend"][name]
        row["top10_overlap_with_torch"] = round(float(np.mean([len(set(a) & set(b)) / 10
                                                               for a, b in zip(rankings[name], base)])), 4)
        row["ndcg_delta_vs_torch"] = paired_bootstrap(row["per_query"], out["per_backend"]["torch"]["per_query"])
    return out


# ------------------------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.probe_rss:
        return probe_rss(args.probe_rss, args.probe_texts, args.onnx_cache, args.batch_size)
    run = Run.start(NAME, args)
    results: dict = {"model": MODEL}
    backends = {name: make_backend(name, args.onnx_cache, args.batch_size) for name in args.backends}
    setup = {}
    for name, backend in backends.items():
        t0 = time.perf_counter()
        if hasattr(backend, "ensure_exported"):
            backend.ensure_exported()
        export_s = time.perf_counter() - t0
        backend.encode(["warm up"] * args.batch_size)  # load and warm up outside the timed passes
        setup[name] = {"export_seconds": round(export_s, 1) if getattr(backend, "exported", False) else 0.0,
                       "load_and_warmup_seconds": round(time.perf_counter() - t0 - export_s, 1)}
    results["setup"] = setup
    needs_chunks = {"throughput", "limits"} & set(args.parts)
    data = filing_chunks(max(args.chunks, args.limit_chunks), CACHE) if needs_chunks else None
    if "throughput" in args.parts:
        results.update(throughput(args, backends, data))
        run_partial(run, args, results)
    quality = {n: backends[n] for n in args.quality_backends}
    if "limits" in args.parts:
        results["token_limits"] = token_limits(quality, data, args.limit_chunks)
        run_partial(run, args, results)
    if "scifact" in args.parts and args.scifact_queries:
        results["scifact"] = scifact_table(scifact_quality(quality, args.scifact_queries, args.scifact_pool))
    results["verdict"] = decide(results.get("backends", []), results.get("scifact"))
    print(results["verdict"] + "\n")
    run.finish(args.results_dir, **results)
    return 0


def run_partial(run: Run, args, results: dict) -> None:
    """Write what is measured so far (a long run stopped later keeps its first parts)."""
    run.finish(args.results_dir, **results, partial=True)


def throughput(args, backends: dict, data: dict) -> dict:
    texts = [c["text"] for c in data["chunks"]["256"][:args.chunks]]
    tokens = token_counts(texts)
    params = non_embedding_params()
    log.info("%d chunks from %d filings, %.0f tokens each on average; %.1fM non-embedding params",
             len(texts), len(data["files"]), tokens.mean(), params / 1e6)
    gflops_start = gemm_gflops()
    seconds, vectors, per_round = interleaved(backends, texts, args.rounds, "embed 10-K chunks")
    gflops = max(gflops_start, gemm_gflops())
    flops_per_chunk = 2 * params * float(tokens.mean())
    bound = gflops * 1e9 / flops_per_chunk
    issue_bound = ISSUE_PEAK_GFLOPS * 1e9 / flops_per_chunk
    longest = [texts[i] for i in np.argsort(-tokens)[:_RSS_PROBE_CHUNKS]]
    rss = measure_rss(list(backends), longest, args.onnx_cache, args.batch_size)
    rows = []
    for name in backends:
        rate = len(texts) / seconds[name]
        rows.append({"backend": name, "model_id": backends[name].model_id, "chunks_per_s": round(rate, 2),
                     "tokens_per_s": round(rate * float(tokens.mean()), 0),
                     "speedup_vs_torch": round(seconds["torch"] / seconds[name], 2),
                     "flop_bound_share": round(rate / bound, 3), "issue_bound_share": round(rate / issue_bound, 3),
                     "peak_rss_mb": mib(rss.get(name, {}).get("peak_rss")),
                     "torch_loaded": rss.get(name, {}).get("torch_imported"),
                     "cosine_to_torch": cosines(vectors[name], vectors["torch"])})
    print_table([{**r, "cos_mean": r["cosine_to_torch"]["mean"], "cos_min": r["cosine_to_torch"]["min"]}
                 for r in rows],
                [Column("backend", "backend", align="<"), Column("chunks_per_s", "chunks/s", ".1f"),
                 Column("speedup_vs_torch", "x torch", ".2f"), Column("flop_bound_share", "FLOP bound", ".0%"),
                 Column("issue_bound_share", "of 256 GFLOP/s", ".0%"), Column("peak_rss_mb", "peak RSS MB", ".0f"),
                 Column("cos_mean", "cos mean", ".4f"), Column("cos_min", "cos min", ".4f")],
                f"{len(texts)} 10-K chunks ({tokens.mean():.0f} tokens avg), fp32 GEMM {gflops:.0f} GFLOP/s -> "
                f"bound {bound:.1f} chunks/s")
    both = "onnx-int8" in vectors and "onnx-fp32" in vectors
    return {"chunks": len(texts), "filings": data["files"],
            "tokens_per_chunk": {"mean": round(float(tokens.mean()), 1), "max": int(tokens.max())},
            "non_embedding_params": params, "gemm_gflops": round(gflops, 1),
            "flop_bound_chunks_per_s": round(bound, 2), "issue_bound_chunks_per_s": round(issue_bound, 2),
            "backends": rows, "rounds": per_round,
            "int8_vs_onnx_fp32": cosines(vectors["onnx-int8"], vectors["onnx-fp32"]) if both else None}


def token_limits(backends: dict, data: dict, k: int) -> list[dict]:
    """The same filing text chunked at 256 and at 128 tokens: chunks/s and the time for the whole text."""
    long_texts, short_texts = same_text(data["chunks"], k)
    limits = []
    for limit, chunk_texts in (("256", long_texts), ("128", short_texts)):
        seconds, _, _ = interleaved(backends, chunk_texts, 2, f"embed at {limit} tokens")
        for name, s in seconds.items():
            limits.append({"chunk_tokens": int(limit), "backend": name, "chunks": len(chunk_texts),
                           "tokens_avg": round(float(token_counts(chunk_texts).mean()), 1),
                           "chunks_per_s": round(len(chunk_texts) / s, 2), "seconds_for_the_text": round(s, 1)})
    for row in limits:
        same = next(r for r in limits if r["backend"] == row["backend"] and r["chunk_tokens"] == 256)
        row["text_time_vs_256"] = round(row["seconds_for_the_text"] / same["seconds_for_the_text"], 2)
    print_table(limits, [Column("chunk_tokens", "chunk tokens"), Column("backend", "backend", align="<"),
                         Column("chunks", "chunks"), Column("tokens_avg", "tokens avg", ".0f"),
                         Column("chunks_per_s", "chunks/s", ".1f"),
                         Column("seconds_for_the_text", "s for the text", ".1f"),
                         Column("text_time_vs_256", "time vs 256", ".2f")],
                f"chunk token limit: the same {len(long_texts)} x 256-token stretch of filing text")
    return limits


def scifact_table(scifact: dict) -> dict:
    print_table([{"backend": n, **{k: v for k, v in r.items() if k != "per_query"},
                  "delta": r["ndcg_delta_vs_torch"]["delta"],
                  "ci": f"[{r['ndcg_delta_vs_torch']['ci_low']:+.3f}, {r['ndcg_delta_vs_torch']['ci_high']:+.3f}]"}
                 for n, r in scifact["per_backend"].items()],
                [Column("backend", "backend", align="<"), Column("ndcg@10", "nDCG@10", ".4f"),
                 Column("delta", "vs torch", "+.4f"), Column("ci", "95% CI"),
                 Column("top10_overlap_with_torch", "top-10 overlap", ".3f"), Column("seconds", "s", ".0f")],
                f"SciFact dense retrieval: {scifact['queries']} test queries over {scifact['documents']} abstracts")
    return scifact


def decide(rows: list[dict], scifact: dict | None) -> str:
    """The issue's rule: int8 becomes the default if >= 1.5x faster and within 0.01 nDCG@10 of fp32."""
    int8 = next((r for r in rows if r["backend"] == "onnx-int8"), None)
    speed = int8["speedup_vs_torch"] if int8 else None
    per_backend = (scifact or {}).get("per_backend", {})
    delta = per_backend["onnx-int8"]["ndcg_delta_vs_torch"]["delta"] if "onnx-int8" in per_backend else None
    said = [f"{speed:.2f}x torch" if speed is not None else "speed not measured",
            f"nDCG@10 {delta:+.4f} vs torch" if delta is not None else "quality not measured"]
    if speed is None or delta is None:
        return f"verdict: incomplete run (onnx-int8: {'; '.join(said)})"
    if speed >= 1.5 and delta >= -0.01:
        return f"verdict: onnx-int8 is {said[0]} with {said[1]}: a candidate for the default"
    why = ([f"only {said[0]} (< 1.5x)"] if speed < 1.5 else []) + (
        [f"{said[1]} (more than 0.01 worse)"] if delta < -0.01 else [])
    return f"verdict: keep torch as the default: onnx-int8 is {' and '.join(why)}"


if __name__ == "__main__":
    sys.exit(main())
