"""Watch latency: seconds from a file's last write to its first keyword hit and its first dense hit.

A real ``FolderWatcher`` (inotify) follows a documents folder with the product's default debounce and
stability wait (``watch_debounce_s``, ``watch_stable_s``, both 1.0 s unless changed). For each size, a PDF
made with reportlab (a unique code word and sentence on its last page) is written into the folder in one go;
the clock starts when the file is closed. A search in this process (a separate ``KnowledgeBase``, as the web
app has) for that sentence is repeated until a chunk of the file comes back ranked by BM25 (first keyword
hit) and ranked by the dense retriever (first dense hit). Both are measured with ``keyword_first`` off (one
version once everything is embedded: both hits at once) and on (a keyword-only version as soon as the file is
parsed, then the one with its vectors).
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
    parser.add_argument("--modes", default="off,on", help="keyword_first settings to measure, comma-separated")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 1
    return args


def _sentence(marker: str) -> str:
    return f"The code word is {marker} for the quarterly fire drill in the basement archive."


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
                line = f"{_sentence(marker)} " + line
            pdf.drawString(40, y, line)
            y -= 18
        pdf.showPage()
    pdf.save()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = Run.start(NAME, args)

    from kb.knowledge_base import KnowledgeBase
    from kb.settings import Settings

    rows, items, settings = [], [], None
    for mode in [m.strip() for m in args.modes.split(",")]:
        work = Path(tempfile.mkdtemp(prefix="kb-bench-watch-"))
        try:
            docs = work / "docs"
            docs.mkdir()
            for n in range(args.background_files):
                text = " ".join(WORDS[n % 7:n % 7 + 20])
                (docs / f"note{n:04d}.md").write_text(f"# Note {n}\n\n{text} {n}.\n")
            overrides = {k: v for k, v in (("watch_debounce_s", args.debounce), ("watch_stable_s", args.stable))
                         if v is not None}
            settings = Settings.load(index_dir=work / "index", docs_dir=docs, keyword_first=mode == "on",
                                     **overrides)
            writer = KnowledgeBase(settings)
            reader = KnowledgeBase(settings, embedder=writer.embedder)  # the web app's view: its own reader
            writer.embedder.encode(["warm up"])
            found = _measure(args, mode, writer, reader, docs, work / "staging")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if found is None:
            return 1
        items += found
        for pages in sorted({i["pages"] for i in found}):
            mine = [i for i in found if i["pages"] == pages]
            rows.append({"keyword_first": mode, "pages": pages, "runs": len(mine),
                         "chunks_per_file": mine[0]["chunks"],
                         "keyword_p50_s": _median([i["seconds_to_keyword_hit"] for i in mine]),
                         "dense_p50_s": _median([i["seconds_to_dense_hit"] for i in mine]),
                         "batch_s": _median([i["batch_seconds"] for i in mine])})
    print_table(rows, [Column("keyword_first", "keyword_first"), Column("pages", "pages"), Column("runs", "runs"),
                       Column("chunks_per_file", "chunks/file"),
                       Column("keyword_p50_s", "last write -> keyword hit p50 s", ".2f"),
                       Column("dense_p50_s", "-> dense hit p50 s", ".2f"),
                       Column("batch_s", "watcher batch s", ".2f")],
                title=f"Watch latency (debounce {settings.watch_debounce_s} s, stable {settings.watch_stable_s} s, "
                      f"{args.background_files} other files in the index)")
    run.finish(args.results_dir, settings=settings.to_dict(), summary=rows, items=items)
    return 0 if all(i["seconds_to_dense_hit"] is not None for i in items) else 1


def _measure(args, mode: str, writer, reader, docs: Path, staging: Path) -> list[dict] | None:
    """Drop each PDF into the watched folder and time its first keyword and first dense hit."""
    from kb.sync.watch import FolderWatcher

    staging.mkdir()
    items = []
    with FolderWatcher(writer.writer(), docs) as watcher:
        if not watcher.wait_idle(args.timeout):
            log.error("the initial reconcile did not finish")
            return None
        reader.search("warm up", k=1)
        for pages in [int(p) for p in args.pages.split(",")]:
            for r in range(args.repeats):
                marker = f"zq{pages}x{r}w{int(time.time()) % 10000}"
                source = staging / f"doc-{pages}p-{r}.pdf"
                make_pdf(source, pages, marker)
                target = docs / source.name
                data = source.read_bytes()
                with open(target, "wb") as fh:
                    fh.write(data)
                written = time.perf_counter()
                keyword = dense = None
                while (keyword is None or dense is None) and time.perf_counter() - written < args.timeout:
                    hits = [h for h in reader.search(_sentence(marker), k=10) if h.chunk.name == target.name]
                    now = time.perf_counter() - written
                    if keyword is None and any(h.keyword_rank is not None for h in hits):
                        keyword = now
                    if dense is None and any(h.dense_rank is not None for h in hits):
                        dense = now
                    time.sleep(0.02)
                watcher.wait_idle(args.timeout)
                batch = next((b for b in reversed(watcher.batches) if str(target) in b.report.indexed), None)
                chunks = reader.reader().db.execute("SELECT COUNT(*) FROM chunks WHERE name = ?",
                                                    (target.name,)).fetchone()[0]
                items.append({"keyword_first": mode, "pages": pages, "bytes": len(data), "chunks": chunks,
                              "seconds_to_keyword_hit": keyword, "seconds_to_dense_hit": dense,
                              "batch_seconds": batch.seconds if batch else None,
                              "embed_seconds": batch.report.embed_seconds if batch else None,
                              "keyword_version": batch.report.keyword_version if batch else None})
                log.info("keyword_first %s, %d pages: keyword hit after %s s, dense hit after %s s", mode, pages,
                         None if keyword is None else round(keyword, 2), None if dense is None else round(dense, 2))
    return items


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


if __name__ == "__main__":
    raise SystemExit(main())
