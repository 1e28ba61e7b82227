"""Ingest throughput: the 26 real SEC 10-K PDFs through ``KnowledgeBase.ingest`` into a fresh index.

Reports pages/s and chunks/s, and splits the wall time into embedding, waiting for the parser, and index
building, next to the summed parse time of the worker process(es). Parsing runs in worker processes in
parallel with embedding, so ``parse share`` (summed parse seconds / wall seconds) below 1/3 together with
``embed share`` near 1 means ingest is embedding-bound.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.common import DATA, Column, Run, dir_size, make_parser, mib, peak_rss_bytes, print_table, progress, rss_bytes

log = logging.getLogger("bench.ingest_throughput")

NAME = "ingest_throughput"
CORPUS = DATA / "corpus" / "filings-10k"
TARGET_PARSE_SHARE = 1 / 3


def parse_args(argv: list[str] | None = None):
    parser = make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="folder of files to ingest")
    parser.add_argument("--limit", type=int, default=None,
                        help="ingest only the first N files (sorted by name); default all (--quick: 3)")
    parser.add_argument("--parse-workers", type=int, default=None,
                        help="Settings.parse_workers (default: the product default)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="Settings.embedding_batch_size (default: the product default)")
    parser.add_argument("--index-dir", type=Path, default=None,
                        help="where to build the index (default: a fresh temporary folder, deleted after)")
    parser.add_argument("--keep-index", action="store_true", help="do not delete the temporary index")
    args = parser.parse_args(argv)
    if args.quick and args.limit is None:
        args.limit = 3
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = Run.start(NAME, args)

    from kb.index.manifest import Manifest
    from kb.knowledge_base import KnowledgeBase
    from kb.settings import Settings

    files = sorted(p for p in args.corpus.iterdir() if p.is_file() and not p.name.startswith("."))
    if args.limit:
        files = files[:args.limit]
    if not files:
        log.error("no files in %s", args.corpus)
        return 1
    input_bytes = sum(p.stat().st_size for p in files)

    temporary = args.index_dir is None
    index_dir = Path(tempfile.mkdtemp(prefix="kb-bench-ingest-")) if temporary else args.index_dir
    if not temporary and index_dir.exists():
        shutil.rmtree(index_dir)
    overrides = {k: v for k, v in {"parse_workers": args.parse_workers,
                                   "embedding_batch_size": args.batch_size}.items() if v is not None}
    settings = Settings(index_dir=index_dir, **overrides)
    kb = KnowledgeBase(settings)

    # load the model outside the timed ingest (a one-off cost, reported separately), and warm it up
    t0 = time.perf_counter()
    kb.embedder.encode(["warm up"])
    model_seconds = time.perf_counter() - t0
    rss_before = rss_bytes()

    marks: dict[str, float] = {}
    bar = progress(total=len(files), desc="parse+embed files", unit="file")

    def on_progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if stage == "parse":
            bar.n = done
            bar.refresh()
        elif stage == "index":
            marks.setdefault(f"index_{done}", now)

    log.info("ingesting %d files (%.1f MB) into %s", len(files), input_bytes / 2**20, index_dir)
    started = time.perf_counter()
    try:
        report = kb.ingest(files, rebuild=True, progress=on_progress)
    finally:
        bar.close()
    wall = time.perf_counter() - started
    version = kb.folder.require_current()
    manifest = Manifest.read(version)
    index_bytes = dir_size(version)

    # where the wall time went (as seen by the ingesting process)
    index_start = marks.get("index_0", started + wall)
    index_build = marks.get("index_2", index_start) - index_start
    parse_embed_phase = index_start - started
    waiting = max(0.0, parse_embed_phase - report.embed_seconds)
    pages, chunks = report.pages_parsed, report.chunks_added
    total = report.total_seconds or wall
    summary = {
        "files": len(files),
        "files_indexed": len(report.indexed),
        "files_skipped": len(report.skipped),
        "input_mb": round(input_bytes / 2**20, 1),
        "pages": pages,
        "chunks": chunks,
        "chunks_per_page": round(chunks / pages, 2) if pages else None,
        "wall_seconds": round(total, 2),
        "pages_per_second": round(pages / total, 2),
        "chunks_per_second": round(chunks / total, 2),
        "parse_seconds_summed": round(report.parse_seconds, 2),
        "parse_pages_per_second_per_worker": round(pages / report.parse_seconds, 2) if report.parse_seconds else None,
        "embed_seconds": round(report.embed_seconds, 2),
        "embed_chunks_per_second": round(chunks / report.embed_seconds, 2) if report.embed_seconds else None,
        "waiting_for_parser_seconds": round(waiting, 2),
        "index_build_seconds": round(index_build, 2),
        "other_seconds": round(max(0.0, total - parse_embed_phase - index_build), 2),
        "parse_share_of_wall": round(report.parse_seconds / total, 3),
        "embed_share_of_wall": round(report.embed_seconds / total, 3),
        "target_parse_share_max": round(TARGET_PARSE_SHARE, 3),
        "target_parse_share_met": report.parse_seconds / total < TARGET_PARSE_SHARE,
        "model_load_seconds_not_in_wall": round(model_seconds, 2),
        "peak_rss_mb_main_process": mib(peak_rss_bytes()),
        "peak_rss_mb_largest_parser_worker": mib(peak_rss_bytes(children=True)),
        "rss_mb_before_ingest": mib(rss_before),
        "rss_mb_after_ingest": mib(rss_bytes()),
        "index_mb_on_disk": mib(index_bytes),
        "index_bytes_per_chunk": round(index_bytes / chunks) if chunks else None,
    }

    rows = [{"metric": k, "value": v} for k, v in summary.items()]
    print_table(rows, [Column("metric", "metric", align="<"), Column("value", "value")],
                title=f"Ingest throughput: {len(files)} files from {args.corpus.name} "
                      f"(parse_workers={settings.parse_workers}, {run.machine['cpu_count']} CPUs, "
                      f"load {run.machine['load_average_start'][0]})")
    verdict = "MET" if summary["target_parse_share_met"] else "NOT MET"
    print(f"target parse share < 1/3 of wall: {verdict} ({summary['parse_share_of_wall']:.1%}); "
          f"embedding took {summary['embed_share_of_wall']:.1%} of wall, waiting for the parser "
          f"{waiting / total:.1%}, building the index {index_build / total:.1%}")
    for skipped in report.skipped:
        print(f"  skipped {Path(skipped.path).name}: {skipped.reason}")

    per_file = [{"name": Path(p).name, "status": e.status, "pages": e.pages, "chunks": e.chunks,
                 "reason": e.reason, "warnings": e.warnings}
                for p, e in sorted(manifest.files.items())]
    run.finish(args.results_dir, settings=settings.to_dict(), corpus=str(args.corpus), summary=summary,
               ingest_report=report.to_json()["counts"] | {"timings": report.to_json()["timings"]},
               skipped=[{"path": s.path, "reason": s.reason} for s in report.skipped], files=per_file)
    if temporary and not args.keep_index:
        shutil.rmtree(index_dir, ignore_errors=True)
    elif temporary:
        print(f"index kept at {index_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
