"""Ingest throughput: `kb ingest` end to end against the embedder alone on the same passages, side by side.

For each folder (the 10 company policies, and 3 SEC 10-K filings) a fresh process ingests it through
``KnowledgeBase.ingest`` into a new index, then encodes the very passages that index holds with the same
embedder, alone (one ``encode`` call, what the model costs with nothing else running). On 2 cores the
embedding model is the hard limit of ingest, so the figure that counts is their **ratio**: ingest speed over
embedder-alone speed (1.0 = parsing, staging and publishing fully hidden behind embedding). Also reported:
the share of ingest wall time the parse workers spent parsing, and peak RSS (ingesting process and its
largest parse worker). Both runs of a folder happen in one process, one after the other, so background load
affects them alike; the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import DATA, Column, Run, dir_size, make_parser, mib, peak_rss_bytes, print_table, rss_bytes

log = logging.getLogger("bench.ingest_throughput")

NAME = "ingest_throughput"
FOLDERS = {"policies": DATA / "docs" / "policies", "10k": DATA / "corpus" / "filings-10k"}
TARGET_RATIO = 0.8  # ingest speed / embedder-alone speed, on the policies folder
TARGET_PARSE_SHARE = 0.15  # summed parse seconds / ingest wall seconds, on the 10-K filings


def parse_args(argv: list[str] | None = None):
    parser = make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--sets", default="policies,10k", help="comma-separated folders to measure: "
                                                               + ", ".join(f"{k} ({v})" for k, v in FOLDERS.items()))
    parser.add_argument("--filings", type=int, default=3,
                        help="how many 10-K filings (the first N by name; --quick: 1)")
    parser.add_argument("--folder", type=Path, action="append", default=[],
                        help="measure this folder too (repeatable)")
    parser.add_argument("--parse-workers", type=int, default=None,
                        help="Settings.parse_workers (default: the product default)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="Settings.embedding_batch_size (default: the product default)")
    parser.add_argument("--child", nargs=2, metavar=("LIST", "INDEX"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick and args.filings == 3:
        args.filings = 1
    return args


def files_of(name: str, folder: Path, filings: int) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return files[:filings] if name == "10k" else files


def child(args) -> int:
    """Ingest the files listed in LIST into INDEX, then encode the index's passages alone; print JSON."""
    import numpy as np

    from kb.index.version import load_vectors, open_db, select_chunks
    from kb.knowledge_base import KnowledgeBase
    from kb.settings import Settings

    files = [Path(p) for p in Path(args.child[0]).read_text(encoding="utf-8").splitlines() if p]
    overrides = {k: v for k, v in {"parse_workers": args.parse_workers,
                                   "embedding_batch_size": args.batch_size}.items() if v is not None}
    settings = Settings(index_dir=Path(args.child[1]), judge_model="", **overrides)
    kb = KnowledgeBase(settings)
    t0 = time.perf_counter()
    kb.embedder.encode(["warm up"])  # the model loads outside both timed runs
    model_seconds = time.perf_counter() - t0
    rss_before = rss_bytes()
    marks: dict[str, float] = {}

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage == "index":
            marks.setdefault(f"index_{done}", time.perf_counter())

    load_start = os.getloadavg()[0]
    cpu_start = _cpu_seconds()
    started = time.perf_counter()
    report = kb.ingest(files, rebuild=True, progress=on_progress)
    wall = time.perf_counter() - started
    ingest_cpu = _cpu_seconds() - cpu_start
    peak_ingest = peak_rss_bytes()
    version = kb.folder.require_current()
    db = open_db(version)
    try:
        texts = [chunk.embed_text for _, chunk in select_chunks(db)]
    finally:
        db.close()
    stored = np.asarray(load_vectors(version), dtype=np.float32)

    cpu_start = _cpu_seconds()
    t0 = time.perf_counter()
    alone = kb.embedder.encode(texts)
    embed_alone = time.perf_counter() - t0
    alone_cpu = _cpu_seconds() - cpu_start
    cosine = (stored * alone).sum(axis=1) / np.maximum(
        np.linalg.norm(stored, axis=1) * np.linalg.norm(alone, axis=1), 1e-12)

    index_start = marks.get("index_0", started + wall)
    chunks = len(texts)
    out = {
        "files": len(files), "files_indexed": len(report.indexed), "files_skipped": len(report.skipped),
        "input_mb": round(sum(p.stat().st_size for p in files) / 2**20, 1), "pages": report.pages_parsed,
        "chunks": chunks,
        "ingest_seconds": round(wall, 2),
        "ingest_chunks_per_s": round(chunks / wall, 2),
        "embed_alone_seconds": round(embed_alone, 2),
        "embed_alone_chunks_per_s": round(chunks / embed_alone, 2),
        "ratio": round(embed_alone / wall, 3),
        "parse_seconds_summed": round(report.parse_seconds, 2),
        "parse_share": round(report.parse_seconds / wall, 3),
        "embed_seconds_in_ingest": round(report.embed_seconds, 2),
        "index_build_seconds": round(marks.get("index_2", index_start) - index_start, 2),
        # CPU seconds (this process and its parse workers): what load changes least
        "ingest_cpu_seconds": round(ingest_cpu, 1),
        "embed_alone_cpu_seconds": round(alone_cpu, 1),
        "min_cosine_ingest_vs_alone": round(float(cosine.min()), 6) if chunks else None,
        "peak_rss_mb_ingest_process": mib(peak_ingest),
        "peak_rss_mb_largest_parse_worker": mib(peak_rss_bytes(children=True)),
        "rss_mb_before_ingest": mib(rss_before),
        "index_mb": mib(dir_size(version)),
        "model_load_seconds": round(model_seconds, 2),
        "load_average_during": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
    }
    print(json.dumps(out))
    return 0


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its children that have ended (the parse workers)."""
    import resource

    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child(args)
    run = Run.start(NAME, args)
    sets = [(s.strip(), FOLDERS[s.strip()]) for s in args.sets.split(",") if s.strip()]
    sets += [(folder.name, folder) for folder in args.folder]
    rows = []
    work = Path(tempfile.mkdtemp(prefix="kb-bench-ingest-"))
    try:
        for name, folder in sets:
            files = files_of(name, folder, args.filings)
            listing = work / f"{name}.txt"
            listing.write_text("\n".join(str(p) for p in files), encoding="utf-8")
            index = work / f"index-{name}"
            log.info("%s: %d files; ingest, then the embedder alone, in a fresh process", name, len(files))
            cmd = [sys.executable, "-m", f"bench.{NAME}", "--child", str(listing), str(index)]
            for flag, value in (("--parse-workers", args.parse_workers), ("--batch-size", args.batch_size)):
                if value is not None:
                    cmd += [flag, str(value)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                log.error("%s failed:\n%s", name, out.stderr[-3000:])
                return 1
            row = {"set": name, **json.loads(out.stdout.strip().splitlines()[-1])}
            rows.append(row)
            log.info("%s: %s", name, {k: v for k, v in row.items() if k != "skipped"})
            shutil.rmtree(index, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = run.machine["load_average_start"][0]
    print_table(rows, [Column("set", "folder", align="<"), Column("files", "files"), Column("pages", "pages"),
                       Column("chunks", "passages"), Column("ingest_seconds", "ingest s", ".1f"),
                       Column("embed_alone_seconds", "embedder alone s", ".1f"), Column("ratio", "ratio", ".2f"),
                       Column("parse_share", "parse share", ".1%"),
                       Column("index_build_seconds", "publish s", ".1f"),
                       Column("ingest_cpu_seconds", "ingest CPU s", ".0f"),
                       Column("embed_alone_cpu_seconds", "alone CPU s", ".0f"),
                       Column("peak_rss_mb_ingest_process", "peak RSS MB", ".0f"),
                       Column("peak_rss_mb_largest_parse_worker", "worker RSS MB", ".0f"),
                       Column("min_cosine_ingest_vs_alone", "min cosine", ".6f")],
                title=f"Ingest vs the embedder alone ({run.machine['cpu_count']} CPUs, load {load} at start)")
    by_set = {r["set"]: r for r in rows}
    if "policies" in by_set:
        ratio = by_set["policies"]["ratio"]
        print(f"policies: ingest at {ratio:.2f} of the embedder's speed (target >= {TARGET_RATIO}): "
              f"{'MET' if ratio >= TARGET_RATIO else 'NOT MET'}")
    if "10k" in by_set:
        share = by_set["10k"]["parse_share"]
        print(f"10-K filings: parsing {share:.1%} of ingest wall time (target <= {TARGET_PARSE_SHARE:.0%}): "
              f"{'MET' if share <= TARGET_PARSE_SHARE else 'NOT MET'}")
    for row in rows:
        for skipped in row["skipped"]:
            print(f"  {row['set']}: skipped {Path(skipped['path']).name}: {skipped['reason']}")
    run.finish(args.results_dir, rows=rows, targets={"ratio_min_policies": TARGET_RATIO,
                                                     "parse_share_max_10k": TARGET_PARSE_SHARE})
    return 0


if __name__ == "__main__":
    sys.exit(main())
