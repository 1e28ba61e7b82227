"""Access rules on the Milvus backend at 50,000 files: the access keys stored with each passage against the list
of allowed paths the filter used to be.

A real index version of ``--files`` synthetic one-passage files (random unit vectors, dim 384; short texts) is
written with the product's index writer and loaded into a milvus-lite collection by ``MilvusStore`` (what
``kb ingest`` does on ``index_backend = "milvus"``). Access rules give 10 % of the files to ``hr``, 10 % to
``finance, management`` and every file named ``*.salary.md`` to ``payroll``; a user in ``eng`` reads the rest.
``MilvusReader.search`` (the code behind ``KnowledgeBase.search``) then runs the same queries three ways:

- ``no filter``: an admin (nothing restricted), the floor;
- ``access keys``: the user's filter as ``kb.access.rules.restrict`` makes it: ``access in ["everyone"]``;
- ``path list``: the same decision given as a bare predicate, which the reader can only turn into
  ``path in [every allowed path]`` (how every restricted search was filtered before).

Each row gives the expression's size, the time to build it, the search latency (p50/p95 over ``--queries``) and
the filter's cost: build time + p50 - the unfiltered p50 (milvus-lite's own search time is not the filter's).
``restamp`` is the first search after the rules file changes: the collection's access keys are rewritten once.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import Column, Run, latency_summary, make_parser, print_table, progress

log = logging.getLogger("bench.milvus_filter")

NAME = "milvus_filter"
DIMENSION = 384
RULES = "hr/** -> hr\nfinance/** -> finance, management\n*.salary.md -> payroll\n"


def parse_args(argv: list[str] | None = None):
    parser = make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50_000, help="synthetic files (one passage each)")
    parser.add_argument("--queries", type=int, default=20, help="searches timed for each way of filtering")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.files, args.queries = 5_000, 5
    return args


def folder_of(i: int) -> str:
    return "hr" if i % 10 == 0 else "finance" if i % 10 == 1 else f"eng/team-{i % 37}"


def build_version(root: Path, files: int, seed: int):
    """A published index version of ``files`` one-passage files under ``root/docs``; returns (settings, version)."""
    from kb.embedding import HASHED_MODEL
    from kb.index.folder import IndexFolder
    from kb.index.version import insert_chunks
    from kb.index.writer import open_chunk_db, write_dense, write_manifest, write_sparse
    from kb.settings import Settings
    from kb.types import Chunk

    docs = root / "docs"
    docs.mkdir()
    (root / "access.rules").write_text(RULES, encoding="utf-8")
    settings = Settings(index_dir=root / "index", embedding_model=HASHED_MODEL, docs_dir=docs,
                        acl_rules=root / "access.rules", index_backend="milvus",
                        milvus_uri=str(root / "milvus.db"), judge_model="", rerank=False)
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((files, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(files, dtype=np.int64)
    names = [f"{folder_of(i)}/doc-{i:06d}{'.salary' if i % 97 == 0 else ''}.md" for i in range(files)]
    texts = [f"Passage {i} about topic {i % 211} and subject {i % 173} in {folder_of(i)}." for i in range(files)]
    folder = IndexFolder(settings.index_dir)
    tmp = folder.new_tmp()
    write_dense(tmp, vectors, ids, settings)
    write_sparse(tmp, texts, settings.bm25_language)
    db = open_chunk_db(tmp)
    insert_chunks(db, ((i, Chunk(chunk_id=f"syn-{i:06d}", doc_id=f"doc-{i:06d}", path=str(docs / name),
                                 name=Path(name).name, text=text, chunk_index=0, char_start=0, char_end=len(text)))
                       for i, (name, text) in enumerate(zip(names, texts))))
    db.commit()
    db.close()
    write_manifest(tmp, settings, DIMENSION, {}, chunks=files, next_id=files, files={})
    return settings, folder.publish(tmp, keep=1), vectors


def time_searches(reader, vectors: np.ndarray, make_filter, queries: int) -> dict:
    """Expression size and build time, then search latency over ``queries`` searches (after one warm-up)."""
    from kb.retrieval.filters import Filter

    where: Filter | None = make_filter()
    started = time.perf_counter()
    expression = reader.path_filter(where)
    build = time.perf_counter() - started
    reader.search("topic subject", vectors[0], 10, make_filter())
    seconds, results = [], 0
    for q in progress(range(queries), desc="queries", leave=False):
        where = make_filter()  # a fresh filter per search, as each question gets
        started = time.perf_counter()
        hits = reader.search(f"topic {q} subject {q}", vectors[q + 1], 10, where)
        seconds.append(time.perf_counter() - started)
        results += len(hits)
    return {"expression_chars": len(expression or ""), "build_ms": round(build * 1000, 2),
            "hits_per_search": results / max(1, queries), **latency_summary(seconds)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = Run.start(NAME, args)
    from kb.access.rules import AccessPolicy, restrict
    from kb.access.users import User
    from kb.retrieval.filters import Filter
    from kb.access.rules import milvus_access_keys
    from kb.retrieval.milvus import MilvusStore

    root = Path(tempfile.mkdtemp(prefix="kb-milvus-filter-"))
    try:
        started = time.perf_counter()
        settings, version, vectors = build_version(root, args.files, args.seed)
        build_seconds = time.perf_counter() - started
        store = MilvusStore(settings.milvus_uri, settings, access_keys=milvus_access_keys(settings))
        started = time.perf_counter()
        reader = store.reader(version, settings)
        load_seconds = time.perf_counter() - started
        log.info("%d files written in %.1f s, loaded into Milvus in %.1f s", args.files, build_seconds, load_seconds)
        user = User("erin", "employee", ("eng",))
        policy = AccessPolicy.from_settings(settings)
        allowed = sum(policy.allowed(p, user) for p in reader.paths())
        ways = {"no filter": lambda: None,
                "access keys": lambda: restrict(None, policy, user),
                "path list": lambda: Filter(predicate=policy.predicate(user))}
        rows = [{"way": way, **time_searches(reader, vectors, make, args.queries)} for way, make in ways.items()]
        # the rules change (a new folder for payroll): the first restricted search re-stamps the access keys once
        Path(settings.acl_rules).write_text(RULES + "eng/team-3/** -> payroll\n", encoding="utf-8")
        changed = AccessPolicy.from_settings(settings)
        started = time.perf_counter()
        reader.search("topic subject", vectors[0], 10, restrict(None, changed, user))
        restamp_seconds = time.perf_counter() - started
        rows.append({"way": "access keys, rules changed",
                     **time_searches(reader, vectors, lambda: restrict(None, changed, user), args.queries)})
        for row in rows:  # what filtering adds to a search (build + Milvus applying it), against no filter
            row["overhead_ms"] = round(row["build_ms"] + row["p50_ms"] - rows[0]["p50_ms"], 1)
        store.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print_table(rows, [Column("way", "filter", align="<"), Column("expression_chars", "expression chars"),
                       Column("build_ms", "build ms", ".2f"), Column("p50_ms", "search ms p50", ".1f"),
                       Column("p95_ms", "search ms p95", ".1f"), Column("overhead_ms", "filter cost ms", ".1f"),
                       Column("hits_per_search", "hits", ".1f")],
                title=f"milvus-lite, {args.files:,} files ({allowed:,} readable by the user), {args.queries} queries; "
                      f"re-stamp after a rules change: {restamp_seconds:.1f} s")
    run.finish(args.results_dir, files=args.files, readable_files=allowed, build_seconds=round(build_seconds, 1),
               milvus_load_seconds=round(load_seconds, 1), restamp_seconds=round(restamp_seconds, 2), rows=rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
