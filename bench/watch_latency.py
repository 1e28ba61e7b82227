"""Watch latency: seconds from a file's last write to the moment ``KnowledgeBase.search`` finds it.

A real ``FolderWatcher`` (inotify) follows a documents folder with the product's default debounce and
stability wait (``watch_debounce_s``, ``watch_stable_s``, both 1.0 s unless changed). For each size, a PDF
made with reportlab (a unique word on its last page) is written into the folder in one go; the clock starts
when the file is closed and stops when a search in this process (a separate ``KnowledgeBase``, as the web
app has) returns a chunk of that file. The latency is the stability wait + parsing + embedding + building
and swapping a new index version + the reader loading it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import Column, Run, make_parser, print_table

log = logging.getLogger("bench.watch_latency")

NAME = "watch_latency"
WORDS = ("policy employees must request approval from their manager before travelling abroad and keep all "
         "receipts for expenses which are reimbursed within thirty days of the claim").split()


def parse_args(argv: list[str] | None = None):
    parser = make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--pages", default="1,50", help="comma-separated PDF sizes in pages")
    parser.add_argument("--repeats", type=int, default=3, help="files per size (--quick: 1)")
    parser.add_argument("--background-files", type=int, default=200,
                        help="small files indexed before timing, so each swap rebuilds a non-trivial index")
    parser.add_argument("--debounce", type=float, default=None, help="watch_debounce_s (default: the setting)")
    parser.add_argument("--stable", type=float, default=None, help="watch_stable_s (default: the setting)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on one file after this long")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 1
    return args


def make_pdf(path: Path, pages: int, marker: str) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    rng = np.random.default_rng(pages)
    for page in range(1, pages + 1):
        y = 800
        for _ in range(30):  # ~30 lines of ~12 words: a page of ordinary prose
            line = " ".join(rng.choice(WORDS, 12))
            if page == pages and y == 800:
                line = f"The code word is {marker}. " + line
            pdf.drawString(40, y, line)
            y -= 18
        pdf.showPage()
    pdf.save()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = Run.start(NAME, args)

    from kb.knowledge_base import KnowledgeBase
    from kb.settings import Settings
    from kb.sync.watch import FolderWatcher

    work = Path(tempfile.mkdtemp(prefix="kb-bench-watch-"))
    docs, staging = work / "docs", work / "staging"
    docs.mkdir()
    staging.mkdir()
    for n in range(args.background_files):
        (docs / f"note{n:04d}.md").write_text(f"# Note {n}\n\n" + " ".join(WORDS[n % 7:n % 7 + 20]) + f" {n}.\n")
    overrides = {k: v for k, v in (("watch_debounce_s", args.debounce), ("watch_stable_s", args.stable)) if v is not None}
    settings = Settings.load(index_dir=work / "index", docs_dir=docs, **overrides)
    writer = KnowledgeBase(settings)
    reader = KnowledgeBase(settings, embedder=writer.embedder)  # the web app's view: its own reader
    writer.embedder.encode(["warm up"])
    rows, items = [], []
    try:
        with FolderWatcher(writer, docs) as watcher:
            if not watcher.wait_idle(args.timeout):
                log.error("the initial reconcile did not finish")
                return 1
            reader.search("warm up", k=1)
            for pages in [int(p) for p in args.pages.split(",")]:
                latencies = []
                for r in range(args.repeats):
                    marker = f"zq{pages}x{r}w{int(time.time()) % 10000}"
                    source = staging / f"doc-{pages}p-{r}.pdf"
                    make_pdf(source, pages, marker)
                    target = docs / source.name
                    data = source.read_bytes()
                    with open(target, "wb") as fh:
                        fh.write(data)
                    written = time.perf_counter()
                    found = None
                    while time.perf_counter() - written < args.timeout:
                        hits = reader.search(marker, k=3)
                        if any(h.chunk.name == target.name for h in hits):
                            found = time.perf_counter() - written
                            break
                        time.sleep(0.02)
                    watcher.wait_idle(args.timeout)
                    batch = next((b for b in reversed(watcher.batches) if str(target) in b.report.indexed), None)
                    item = {"pages": pages, "bytes": len(data), "seconds_to_searchable": found,
                            "batch_seconds": batch.seconds if batch else None,
                            "embed_seconds": batch.report.embed_seconds if batch else None}
                    items.append(item)
                    log.info("%d pages: searchable after %s s", pages, None if found is None else round(found, 2))
                    if found is not None:
                        latencies.append(found)
                chunks = reader.reader().db.execute(
                    "SELECT COUNT(*) FROM chunks WHERE name LIKE ?", (f"doc-{pages}p-%",)).fetchone()[0]
                rows.append({"pages": pages, "runs": len(latencies), "chunks_per_file": chunks // max(1, args.repeats),
                             "p50_s": float(np.median(latencies)) if latencies else None,
                             "min_s": min(latencies, default=None), "max_s": max(latencies, default=None),
                             "batch_s": float(np.median([i["batch_seconds"] for i in items
                                                         if i["pages"] == pages and i["batch_seconds"]] or [0]))})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(rows, [Column("pages", "pages"), Column("runs", "runs"), Column("chunks_per_file", "chunks/file"),
                       Column("p50_s", "last write -> searchable p50 s", ".2f"), Column("min_s", "min s", ".2f"),
                       Column("max_s", "max s", ".2f"), Column("batch_s", "ingest batch s", ".2f")],
                title=f"Watch latency (debounce {settings.watch_debounce_s} s, stable {settings.watch_stable_s} s, "
                      f"{args.background_files} other files in the index)")
    run.finish(args.results_dir, settings=settings.to_dict(), summary=rows, items=items)
    return 0 if all(i["seconds_to_searchable"] is not None for i in items) else 1


if __name__ == "__main__":
    raise SystemExit(main())
