"""Ingest on Ray: the 10-K filings through the local path and through a private local Ray with 1 and 2 workers.

Each run ingests the same files into a fresh index with the real embedding model. A Ray run with N workers
starts a local Ray of 2N logical CPUs (``ray.init`` timed as ``ray start``) with N parse actors and N
embedding actors (the time until the embedders have loaded the model is ``actors``, inside the ingest wall
time), and is compared with the local run: the same chunk ids (and whether in the same rows), and the lowest cosine
between the two runs' vectors of each chunk. The local run uses the product defaults (``parse_workers = 1``, the model
loaded and warmed up beforehand, outside its wall time).
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import DATA, Column, Run, make_parser, print_table

log = logging.getLogger("bench.ray_ingest")

NAME = "ray_ingest"
CORPUS = DATA / "corpus" / "filings-10k"


def parse_args(argv: list[str] | None = None):
    parser = make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="folder of files to ingest")
    parser.add_argument("--files", type=int, default=None,
                        help="ingest only N files (the first by name, or the smallest with --smallest); default all "
                             "(--quick: 2)")
    parser.add_argument("--smallest", action="store_true", help="with --files: the N smallest files")
    parser.add_argument("--workers", default="1", help="Ray runs: comma-separated worker counts (N workers are 2N "
                                                          "actors: give Ray at least 2N cores)")
    parser.add_argument("--reference-index", type=Path, default=None,
                        help="compare with this index (built by `kb ingest` of the same files with the defaults) "
                             "instead of running the local ingest again")
    parser.add_argument("--reference-report", type=Path, default=None,
                        help="with --reference-index: the `kb ingest --json` output that built it (its timings)")
    parser.add_argument("--work-dir", type=Path, default=None, help="where the indexes and Ray's session files go "
                                                                    "(default: a temporary folder, deleted after)")
    args = parser.parse_args(argv)
    if args.quick and args.files is None:
        args.files = 2
    args.workers = [int(w) for w in str(args.workers).split(",") if w.strip()]
    return args


def _contents(version: Path) -> tuple[list[str], np.ndarray]:
    from kb.index.version import load_vectors, open_db, select_chunks

    db = open_db(version)
    try:
        ids = [chunk.chunk_id for _, chunk in select_chunks(db)]
    finally:
        db.close()
    return ids, np.asarray(load_vectors(version), dtype=np.float32)


def _compared(ids: list[str], vectors: np.ndarray, reference: tuple[list[str], np.ndarray]) -> dict:
    """The same chunk ids (as a set; ``same_order``: in the same rows too) and the lowest cosine between the two
    runs' vectors of each chunk, matched by id."""
    same = set(ids) == set(reference[0]) and len(ids) == len(reference[0])
    out = {"same_chunk_ids": same, "same_order": ids == reference[0], "min_cosine": None,
           "missing": len(set(reference[0]) - set(ids)), "extra": len(set(ids) - set(reference[0]))}
    if same:
        row_of = {chunk_id: i for i, chunk_id in enumerate(reference[0])}
        matched = reference[1][[row_of[chunk_id] for chunk_id in ids]]
        out["min_cosine"] = round(float(np.sum(vectors * matched, axis=1).min()), 6)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = Run.start(NAME, args)

    from kb.embedding import make_embedder
    from kb.index.folder import IndexFolder
    from kb.index.ray_executor import RayExecutor
    from kb.index.writer import IndexWriter, LocalExecutor
    from kb.settings import Settings

    files = sorted(p for p in args.corpus.iterdir() if p.is_file() and not p.name.startswith("."))
    if args.files:
        files = sorted(sorted(files, key=lambda p: p.stat().st_size)[:args.files]) if args.smallest \
            else files[:args.files]
    if not files:
        log.error("no files in %s", args.corpus)
        return 1
    temporary = args.work_dir is None
    work = Path(tempfile.mkdtemp(prefix="kb-bench-ray-")) if temporary else args.work_dir
    work.mkdir(parents=True, exist_ok=True)

    base = Settings(index_dir=work / "local")
    embedder = make_embedder(base)
    t0 = time.perf_counter()
    embedder.encode(["warm up"])
    model_seconds = time.perf_counter() - t0
    log.info("ingesting %d files (%.1f MB): local, then Ray with %s workers", len(files),
             sum(p.stat().st_size for p in files) / 2**20, args.workers)

    rows: list[dict] = []
    reference: tuple[list[str], np.ndarray] | None = None

    def ingest(label: str, settings: Settings, executor) -> tuple[dict, tuple[list[str], np.ndarray]]:
        index = work / label
        shutil.rmtree(index, ignore_errors=True)
        started = time.perf_counter()
        report = IndexWriter(IndexFolder(index), settings, embedder, executor=executor).run(files, rebuild=True)
        wall = time.perf_counter() - started
        ids, vectors = _contents(IndexFolder(index).require_current())
        row = {"run": label, "wall_s": round(wall, 1), "files_indexed": len(report.indexed),
               "files_skipped": len(report.skipped), "chunks": report.chunks_added,
               "chunks_per_s": round(report.chunks_added / wall, 2) if wall else None,
               "parse_s_summed": round(report.parse_seconds, 1), "embed_s_summed": round(report.embed_seconds, 1),
               "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped]}
        if reference is not None:
            row.update(_compared(ids, vectors, reference))
        if temporary:  # a --work-dir keeps each run's index, to look at after
            shutil.rmtree(index, ignore_errors=True)
        return row, (ids, vectors)

    if args.reference_index:
        reference = _contents(IndexFolder(args.reference_index).require_current())
        row = {"run": "local (given index)", "chunks": len(reference[0])}
        if args.reference_report:
            timings = json.loads(args.reference_report.read_text(encoding="utf-8"))["timings"]
            row.update(wall_s=round(timings["total_seconds"], 1),
                       chunks_per_s=round(len(reference[0]) / timings["total_seconds"], 2),
                       parse_s_summed=round(timings["parse_seconds"], 1),
                       embed_s_summed=round(timings["embed_seconds"], 1))
    else:
        row, reference = ingest("local", base, LocalExecutor())
    row.update(workers=f"pool {base.parse_workers}", same_chunk_ids=True, same_order=True, min_cosine=1.0)
    rows.append(row)
    log.info("local: %s", {k: v for k, v in row.items() if k != "skipped"})

    for workers in args.workers:
        settings = base.replace(ingest_executor="ray", ray_parse_actors=workers, ray_embed_actors=workers)
        executor = RayExecutor(settings, temp_dir=work / f"ray-{workers}", num_cpus=2 * workers)
        executor.start()
        try:
            row, _ = ingest(f"ray-{workers}", settings, executor)
        finally:
            t0 = time.perf_counter()
            executor.close()
            shutdown = time.perf_counter() - t0
        row.update(workers=f"{workers} parse + {workers} embed actors", ray_start_s=round(executor.start_seconds, 1),
                   actors_s=round(executor.actor_seconds, 1), shutdown_s=round(shutdown, 1),
                   overhead_s=round(executor.start_seconds + executor.actor_seconds + shutdown, 1))
        row["wall_with_start_s"] = round(row["wall_s"] + executor.start_seconds + shutdown, 1)
        rows.append(row)
        log.info("ray with %d workers: %s", workers, {k: v for k, v in row.items() if k != "skipped"})

    columns = [Column("run", "run", align="<"), Column("workers", "workers", align="<"),
               Column("chunks", "chunks"), Column("wall_s", "wall s", ".1f"),
               Column("chunks_per_s", "chunks/s", ".2f"), Column("ray_start_s", "ray start s", ".1f"),
               Column("actors_s", "actors s", ".1f"), Column("shutdown_s", "stop s", ".1f"),
               Column("wall_with_start_s", "wall+start+stop s", ".1f"),
               Column("parse_s_summed", "parse s (sum)", ".1f"), Column("embed_s_summed", "embed s (sum)", ".1f"),
               Column("same_chunk_ids", "same ids"), Column("same_order", "same rows"),
               Column("min_cosine", "min cosine", ".6f")]
    print_table(rows, columns, title=f"Ingest on Ray: {len(files)} files from {args.corpus.name} "
                                     f"({run.machine['cpu_count']} CPUs, load {run.machine['load_average_start'][0]})")
    run.finish(args.results_dir, corpus=str(args.corpus), files=[p.name for p in files],
               model_load_seconds_not_in_wall=round(model_seconds, 2), settings=base.to_dict(), runs=rows)
    if temporary:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r.get("same_chunk_ids") for r in rows) else 2


if __name__ == "__main__":
    sys.exit(main())
