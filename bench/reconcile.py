"""Reconcile time: ``kb reindex`` (``kb.reindex.reindex``) on a 1,000-file folder that did not change.

Builds a folder of small real documents (Markdown and text in 10 subfolders, plus a few PDFs), indexes it
once, then times full reconciles against it:

- ``unchanged``: nothing changed. Must not parse (or even hash) any file: size and mtime match the manifest.
- ``touched``: every file's mtime changed but not its content: each file is hashed, none is parsed.
- ``one edited``: one file's content changed: one file parsed and embedded, a new version published.

Each row reports files parsed (``chunks_added``/``parse_seconds`` from the run's report), so a reconcile that
re-parses unchanged files shows at once.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import Column, Run, make_parser, print_table

log = logging.getLogger("bench.reconcile")

NAME = "reconcile"
TEXT = ("Employees request approval from their manager before travelling abroad. Receipts are kept for all "
        "expenses, which are reimbursed within thirty days of the claim. ")


def parse_args(argv: list[str] | None = None):
    parser = make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="files in the folder (--quick: 200)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each kind")
    args = parser.parse_args(argv)
    if args.quick:
        args.files = 200
    return args


def build_folder(folder: Path, files: int) -> None:
    from reportlab.pdfgen import canvas

    for n in range(files):
        sub = folder / f"team{n % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        if n % 100 == 0:  # 1 % PDFs
            pdf = canvas.Canvas(str(sub / f"doc{n:04d}.pdf"))
            pdf.drawString(40, 800, f"Document {n}. " + TEXT[:80])
            pdf.showPage()
            pdf.save()
        elif n % 2:
            (sub / f"doc{n:04d}.md").write_text(f"# Document {n}\n\n{TEXT * (1 + n % 3)}Code D{n:04d}.\n")
        else:
            (sub / f"doc{n:04d}.txt").write_text(f"Document {n}\n\n{TEXT * (1 + n % 3)}Code D{n:04d}.\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = Run.start(NAME, args)

    from kb.knowledge_base import KnowledgeBase
    from kb.settings import Settings
    from kb.sync.reindex import reindex

    work = Path(tempfile.mkdtemp(prefix="kb-bench-reconcile-"))
    docs = work / "docs"
    build_folder(docs, args.files)
    settings = Settings.load(index_dir=work / "index", docs_dir=docs)
    kb = KnowledgeBase(settings)
    kb.embedder.encode(["warm up"])
    rows, reports = [], []

    def timed(kind: str) -> dict:
        started = time.perf_counter()
        report = reindex(kb.writer(), docs).to_json()
        seconds = time.perf_counter() - started
        reports.append({"kind": kind, "seconds": seconds, "report": report})
        log.info("%s: %.2f s (%s)", kind, seconds, report["status"])
        return {"seconds": seconds, "parsed": report["counts"]["new"] + report["counts"]["changed"],
                "chunks_added": report["counts"]["chunks_added"], "status": report["status"],
                "parse_seconds": report["durations"]["parse_seconds"]}

    try:
        initial = timed("initial")
        rows.append({"kind": "initial build", "runs": 1, **initial, "p50_s": initial["seconds"]})
        for kind, change in (("unchanged", None), ("touched", "touch"), ("one edited", "edit")):
            results = []
            for r in range(args.repeats):
                if change == "touch":
                    now = time.time() + r + 1
                    for path in docs.rglob("*.*"):
                        os.utime(path, (now, now))
                elif change == "edit":
                    (docs / "team1" / "doc0001.md").write_text(f"# Document 1\n\n{TEXT}Edited {r}.\n")
                results.append(timed(kind))
            seconds = [x["seconds"] for x in results]
            rows.append({"kind": kind, "runs": len(results), "p50_s": float(np.median(seconds)),
                         "min_s": min(seconds), "max_s": max(seconds),
                         "parsed": max(x["parsed"] for x in results),
                         "chunks_added": max(x["chunks_added"] for x in results),
                         "parse_seconds": max(x["parse_seconds"] for x in results),
                         "status": ",".join(sorted({x["status"] for x in results}))})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(rows, [Column("kind", "reconcile", align="<"), Column("runs", "runs"),
                       Column("p50_s", "p50 s", ".2f"), Column("min_s", "min s", ".2f"),
                       Column("max_s", "max s", ".2f"), Column("parsed", "files parsed"),
                       Column("chunks_added", "chunks added"), Column("status", "status", align="<")],
                title=f"Full reconcile of a {args.files}-file folder (kb reindex)")
    unchanged = next(r for r in rows if r["kind"] == "unchanged")
    ok = unchanged["parsed"] == 0 and unchanged["chunks_added"] == 0 and unchanged["parse_seconds"] == 0
    print(f"unchanged folder re-parsed nothing: {'yes' if ok else 'NO'}")
    run.finish(args.results_dir, settings=settings.to_dict(), files=args.files, summary=rows,
               unchanged_reparsed_nothing=ok,
               runs=[{"kind": r["kind"], "seconds": r["seconds"], "status": r["report"]["status"],
                      "counts": r["report"]["counts"], "durations": r["report"]["durations"]} for r in reports])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
