"""Peak memory of one ingest run as the drop grows: 1,000 files against 10,000 files (synthetic text files).

Each size runs in its own process (peak RSS is per process) on freshly written ``.txt`` files of a few
paragraphs each (seeded random words, so no two files are the same and each makes several passages). The
default embedder is the deterministic hashed one: this bench is about the pipeline holding its batch (parse
results, chunks, vectors, the database writes), not about the model, whose weights are a fixed cost on top
(``--model default`` measures with the real one, at ~15-30 chunks/s on 2 cores). Bounded memory means the
10,000-file peak is close to the 1,000-file peak, not ten times its growth.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Column, Run, dir_size, make_parser, mib, peak_rss_bytes, print_table, rss_bytes

log = logging.getLogger("bench.drop_memory")

NAME = "drop_memory"
VOCABULARY = ("policy leave holiday travel expense claim manager approval payroll pension benefit contract notice "
              "laptop security password office parking training review salary bonus insurance dental vision "
              "remote hybrid onboarding equipment budget invoice supplier procurement audit compliance safety "
              "incident report customer support warranty return refund shipping delivery order account").split()


def parse_args(argv: list[str] | None = None):
    parser = make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--files", default="1000,10000", help="comma-separated drop sizes (--quick: 100,1000)")
    parser.add_argument("--words", type=int, default=600, help="words per file (~4 passages of 256 tokens)")
    parser.add_argument("--model", default="hashed", help="'hashed' (deterministic, fast) or 'default' (the "
                                                          "product's embedding model) or any embedding_model")
    parser.add_argument("--work-dir", type=Path, default=None, help="where files and indexes go (default: temp)")
    parser.add_argument("--child", nargs=2, metavar=("DOCS", "INDEX"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick and args.files == "1000,10000":
        args.files = "100,1000"
    args.files = [int(n) for n in args.files.split(",") if n.strip()]
    return args


def write_files(folder: Path, count: int, words: int, seed: int = 0) -> int:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(count):
        paragraphs = []
        for _ in range(max(1, words // 100)):
            words_ = " ".join(rng.choice(VOCABULARY) for _ in range(100))
            paragraphs.append(f"{words_} ref-{i}-{rng.randrange(10**6)}.")
        text = f"Document {i}\n\n" + "\n\n".join(paragraphs) + "\n"
        (folder / f"doc-{i:05d}.txt").write_text(text, encoding="utf-8")
        total += len(text)
    return total


def child(args) -> int:
    """Ingest DOCS into INDEX in this process and print its figures as JSON (the parent reads them)."""
    from kb.embedding import HASHED_MODEL
    from kb.knowledge_base import KnowledgeBase
    from kb.settings import Settings

    model = {"hashed": HASHED_MODEL, "default": Settings().embedding_model}.get(args.model, args.model)
    docs, index = Path(args.child[0]), Path(args.child[1])
    kb = KnowledgeBase(Settings(index_dir=index, embedding_model=model, judge_model=""))
    kb.embedder.encode(["warm up"])
    before = rss_bytes()
    t0 = time.perf_counter()
    report = kb.ingest([docs])
    wall = time.perf_counter() - t0
    print(json.dumps({"files_indexed": len(report.indexed), "files_skipped": len(report.skipped),
                      "chunks": report.chunks_added, "dimension": kb.embedder.dimension, "wall_s": round(wall, 1),
                      "rss_mb_before_ingest": mib(before), "peak_rss_mb_main_process": mib(peak_rss_bytes()),
                      "peak_rss_mb_largest_parser_worker": mib(peak_rss_bytes(children=True)),
                      "index_mb": mib(dir_size(index))}))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child(args)
    run = Run.start(NAME, args)
    temporary = args.work_dir is None
    work = Path(tempfile.mkdtemp(prefix="kb-bench-drop-")) if temporary else args.work_dir
    rows = []
    try:
        for count in args.files:
            docs, index = work / f"docs-{count}", work / f"index-{count}"
            shutil.rmtree(docs, ignore_errors=True)
            shutil.rmtree(index, ignore_errors=True)
            size = write_files(docs, count, args.words)
            log.info("%d files (%.1f MB) written; ingesting in a child process", count, size / 2**20)
            out = subprocess.run([sys.executable, "-m", f"bench.{NAME}", "--model", args.model,
                                  "--child", str(docs), str(index)], capture_output=True, text=True, check=False)
            if out.returncode != 0:
                log.error("ingest of %d files failed:\n%s", count, out.stderr[-3000:])
                return 1
            row = {"files": count, "text_mb": round(size / 2**20, 1), **json.loads(out.stdout.strip().splitlines()[-1])}
            row["growth_mb"] = round(row["peak_rss_mb_main_process"] - row["rss_mb_before_ingest"], 1)
            row["vectors_mb"] = round(row["chunks"] * row["dimension"] * 4 / 2**20, 1)
            rows.append(row)
            log.info("%s", row)
            shutil.rmtree(docs, ignore_errors=True)
            shutil.rmtree(index, ignore_errors=True)
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)
    print_table(rows, [Column("files", "files"), Column("text_mb", "text MB", ".1f"), Column("chunks", "chunks"),
                       Column("wall_s", "wall s", ".1f"), Column("rss_mb_before_ingest", "RSS before MB", ".0f"),
                       Column("peak_rss_mb_main_process", "peak RSS MB", ".0f"),
                       Column("growth_mb", "growth MB", ".0f"), Column("vectors_mb", "all vectors MB", ".1f"),
                       Column("peak_rss_mb_largest_parser_worker", "parse worker MB", ".0f"),
                       Column("index_mb", "index MB", ".0f")],
                title=f"Peak memory of one drop ({args.model} embedder, load {run.machine['load_average_start'][0]})")
    run.finish(args.results_dir, model=args.model, words_per_file=args.words, rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
