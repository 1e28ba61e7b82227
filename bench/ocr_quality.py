"""OCR quality and speed: character error rate against docling's OCR groundtruth, pages/s, peak memory, and the
share of the robustness set's scanned PDFs that OCR now gets indexed.

1. **CER** per file: every page of docling's OCR samples (``robustness/docling/ocr/sources``: a scan, the same
   page rotated 90/180/270, a 4-page scan with one page per rotation, a fax whose PDF claims a rotation it does
   not have) is read by ``ingest.ocr.read_page``, exactly as the parser does, and compared with the reference
   text (whitespace runs count as one space; case and punctuation count). The reference is the text the docling
   OCR engines agree on (``groundtruth/<engine>/full_page/<file>.<engine>.full_page.md``); for
   ``nemotron_multipage.pdf`` docling has only nemotron's own output, which misreads its upside-down page, so
   each of its pages is compared with ``ocr_test.pdf``'s reference (the same printed text: the raw CER against
   docling's file is in the JSON too). ``Seige_of_Vicksburg_Sample_OCR.pdf`` (pypdf's 6-page book scan) is
   compared with the invisible OCR layer the file already carries, itself imperfect: read it as agreement.
   ``sample_with_rotation_mismatch.pdf`` has no reference; its row shows speed and the orientation read.
2. **Scanned files now indexed**: the robustness PDFs the parser skips as scanned with OCR off (found by
   parsing ``robustness/`` with ``ocr=False``) are ingested with OCR on through ``KnowledgeBase.ingest`` (parse
   worker, time and memory limits, manifest) with the hashed embedder; the share indexed, the pages OCR'd,
   pages/s and the parse worker's peak RSS.
3. ``--tesseract``: the same pages rendered at the same resolution through Debian's ``tesseract`` CLI
   (``--psm 1``: its own orientation detection), for CER and speed (needs ``apt-get install tesseract-ocr``).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.common import DATA, Column, Run, make_parser, mib, peak_rss_bytes, print_table, progress

log = logging.getLogger("bench.ocr_quality")

NAME = "ocr_quality"
ROBUST = DATA / "robustness"
DOCLING = ROBUST / "docling" / "ocr"
VICKSBURG = ROBUST / "pypdf-resources" / "Seige_of_Vicksburg_Sample_OCR.pdf"
SAMPLES = ("ocr_test.pdf", "ocr_test_rotated_90.pdf", "ocr_test_rotated_180.pdf", "ocr_test_rotated_270.pdf",
           "nemotron_multipage.pdf", "sample_with_rotation_mismatch.pdf")


def parse_args(argv: list[str] | None = None):
    parser = make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--dpi", type=float, default=None, help="render resolution (default: the product's)")
    parser.add_argument("--det-side", type=int, default=None,
                        help="largest side the text detector sees, pixels (default: the product's)")
    parser.add_argument("--tesseract", action="store_true", help="also measure Debian's tesseract CLI")
    parser.add_argument("--no-scanned", action="store_true", help="skip part 2 (the robustness set's scans)")
    parser.add_argument("--no-vicksburg", action="store_true", help="leave out the 6-page book scan")
    parser.add_argument("--files", default="", help="comma-separated subset of the docling sample names")
    args = parser.parse_args(argv)
    if args.quick:
        args.no_scanned, args.no_vicksburg = True, True
    return args


# ------------------------------------------------------------------------------------------- CER

def normalise(text: str) -> str:
    return " ".join(text.split())


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions of characters)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(hypothesis: str, reference: str) -> float:
    reference, hypothesis = normalise(reference), normalise(hypothesis)
    return levenshtein(hypothesis, reference) / max(1, len(reference))


def docling_reference(stem: str) -> tuple[str | None, dict[str, str]]:
    """The text most docling engines agree on for a source file, and each engine's text."""
    texts = {}
    for path in sorted((DOCLING / "groundtruth").glob(f"*/full_page/{stem}.*.full_page.md")):
        texts[path.parent.parent.name] = normalise(path.read_text(encoding="utf-8"))
    if not texts:
        return None, {}
    agreed, _ = Counter(texts.values()).most_common(1)[0]
    return agreed, texts


def references() -> list[tuple[Path, list[str] | None, str, dict]]:
    """(file, reference text per page or None, where the reference comes from, extra) for part 1."""
    out = []
    single, _ = docling_reference("ocr_test")
    for name in SAMPLES:
        path = DOCLING / "sources" / name
        stem = path.stem
        agreed, texts = docling_reference(stem)
        if stem == "nemotron_multipage":
            out.append((path, [single] * 4, "ocr_test.pdf's reference on each of its 4 pages",
                        {"docling_reference": agreed}))
        elif agreed is not None:
            votes = sum(t == agreed for t in texts.values())
            out.append((path, [agreed], f"docling groundtruth ({votes} of {len(texts)} engines agree)", {}))
        else:
            out.append((path, None, "no reference", {}))
    return out


def vicksburg_reference() -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(VICKSBURG))
    try:
        pages = []
        for page in pdf:
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range().replace("\ufffe", "- "))  # PDFium marks a hyphen at a line end
            textpage.close()
            page.close()
        return pages
    finally:
        pdf.close()


# ------------------------------------------------------------------------------------- engines

def read_rapidocr(path: Path, dpi: float) -> list[dict]:
    import pypdfium2 as pdfium

    from ingest.ocr import read_page

    pdf = pdfium.PdfDocument(str(path))
    try:
        out = []
        for index in range(len(pdf)):
            page = pdf[index]
            try:
                result = read_page(page, index + 1, dpi)
            finally:
                page.close()
            out.append({"text": result.text, "seconds": result.seconds, "orientation": result.orientation,
                        "confidence": result.confidence, "words": len(result.words)})
        return out
    finally:
        pdf.close()


def read_tesseract(path: Path, dpi: float, binary: str) -> list[dict]:
    """Each page rendered as the product renders it, read by ``tesseract --psm 1`` (orientation and script
    detection, then automatic layout)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    out = []
    with tempfile.TemporaryDirectory(prefix="kb-bench-tess-") as tmp:
        try:
            for index in range(len(pdf)):
                page = pdf[index]
                started = time.perf_counter()
                image = Path(tmp) / f"p{index}.png"
                page.render(scale=dpi / 72.0, grayscale=True).to_pil().save(image)
                page.close()
                run = subprocess.run([binary, str(image), "-", "-l", "eng", "--psm", "1"], capture_output=True,
                                     text=True, env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"})
                out.append({"text": run.stdout, "seconds": time.perf_counter() - started, "orientation": None})
        finally:
            pdf.close()
    return out


# ------------------------------------------------------------------------------------- part 2

def scanned_files() -> list[Path]:
    """Robustness PDFs the parser skips as scanned when OCR is off."""
    from ingest.limits import ParseLimits
    from ingest.registry import parse_file
    from kb.errors import UnreadableFile

    found = []
    limits = ParseLimits(max_pages=300, ocr=False)
    for path in progress(sorted(ROBUST.rglob("*.pdf")), desc="finding scanned PDFs", unit="file"):
        if path.stat().st_size > 20 * 1024 * 1024:
            continue
        try:
            parse_file(path, limits)
        except UnreadableFile as exc:
            if "scanned" in exc.reason:
                found.append(path)
        except Exception:  # noqa: BLE001 - not this benchmark's business
            continue
    return found


def ingest_scanned(files: list[Path]) -> dict:
    from kb.embedding import HASHED_MODEL
    from kb.embedding.hashed import HashedEmbedder
    from kb.index.manifest import Manifest
    from kb.knowledge_base import KnowledgeBase
    from kb.settings import Settings

    index = Path(tempfile.mkdtemp(prefix="kb-bench-ocr-"))
    try:
        kb = KnowledgeBase(Settings(index_dir=index, embedding_model=HASHED_MODEL), embedder=HashedEmbedder())
        started = time.perf_counter()
        report = kb.ingest(files)
        wall = time.perf_counter() - started
        manifest = Manifest.read(kb.folder.require_current())
        rows = []
        for path in files:
            entry = manifest.files.get(str(path.resolve())) or manifest.files.get(str(path))
            rows.append({"file": str(path.relative_to(ROBUST)), "status": entry.status if entry else "?",
                         "pages": entry.pages if entry else None,
                         "ocr_pages": len(entry.ocr_pages) if entry else 0,
                         "note": (entry.reason or "; ".join(entry.warnings)) if entry else ""})
        ocr_pages = sum(r["ocr_pages"] for r in rows)
        return {"files": len(files), "indexed": len(report.indexed), "share_indexed": len(report.indexed) / len(files),
                "pages_ocr": ocr_pages, "wall_seconds": round(wall, 1),
                "parse_seconds": round(report.parse_seconds, 1),
                "pages_per_second": round(ocr_pages / report.parse_seconds, 3) if report.parse_seconds else None,
                "peak_rss_mb_parse_worker": mib(peak_rss_bytes(children=True)), "per_file": rows}
    finally:
        shutil.rmtree(index, ignore_errors=True)


# ------------------------------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = Run.start(NAME, args)
    from ingest import ocr

    if args.det_side:
        ocr.DET_MAX_SIDE = args.det_side
    dpi = args.dpi or ocr.DEFAULT_DPI
    chosen = {n.strip() for n in args.files.split(",") if n.strip()}
    items = [item for item in references() if not chosen or item[0].name in chosen]
    if not args.no_vicksburg and (not chosen or VICKSBURG.name in chosen):
        items.append((VICKSBURG, vicksburg_reference(), "the file's own (imperfect) OCR text layer", {}))
    engines = {"rapidocr": lambda path: read_rapidocr(path, dpi)}
    tesseract = shutil.which("tesseract") if args.tesseract else None
    if args.tesseract and not tesseract:
        log.warning("--tesseract: no tesseract on PATH (apt-get install tesseract-ocr tesseract-ocr-eng)")
    elif tesseract:
        engines["tesseract"] = lambda path: read_tesseract(path, dpi, tesseract)

    rows, per_page = [], []
    t0 = time.perf_counter()
    for engine, read in engines.items():
        for path, reference, source, extra in progress(items, desc=engine, unit="file"):
            pages = read(path)
            text = "\n".join(p["text"] for p in pages)
            seconds = sum(p["seconds"] for p in pages)
            row = {"engine": engine, "file": path.name, "pages": len(pages), "seconds": round(seconds, 2),
                   "pages_per_second": round(len(pages) / seconds, 3) if seconds else None,
                   "orientation": ",".join(str(p["orientation"]) for p in pages) if engine == "rapidocr" else "",
                   "reference": source}
            if reference is not None:
                row["cer"] = round(cer(text, "\n".join(reference)), 4)
                row["page_cer"] = [round(cer(p["text"], r), 4) for p, r in zip(pages, reference)]
            if extra.get("docling_reference"):
                row["cer_vs_docling_file"] = round(cer(text, extra["docling_reference"]), 4)
            rows.append(row)
            per_page.append({"engine": engine, "file": path.name, "pages": pages})
    ocr_seconds = time.perf_counter() - t0
    columns = [Column("engine", "engine", align="<"), Column("file", "file", align="<"), Column("pages", "pages"),
               Column("cer", "CER", ".4f"), Column("seconds", "seconds", ".1f"),
               Column("pages_per_second", "pages/s", ".3f"), Column("orientation", "orientation read", align="<"),
               Column("reference", "reference", align="<")]
    print_table(rows, columns, title=f"OCR character error rate at {dpi:g} dpi (detector side {ocr.DET_MAX_SIDE} px, "
                                     f"load {run.machine['load_average_start'][0]})")
    summary = {}
    for engine in engines:
        mine = [r for r in rows if r["engine"] == engine]
        pages = sum(r["pages"] for r in mine)
        seconds = sum(r["seconds"] for r in mine)
        scored = [r for r in mine if "cer" in r]
        summary[engine] = {"pages": pages, "seconds": round(seconds, 1),
                           "pages_per_second": round(pages / seconds, 3) if seconds else None,
                           "mean_cer": round(sum(r["cer"] for r in scored) / len(scored), 4) if scored else None}
    summary["peak_rss_mb_in_process"] = mib(peak_rss_bytes())
    print_table([{"engine": k, **v} for k, v in summary.items() if isinstance(v, dict)],
                [Column("engine", "engine", align="<"), Column("pages", "pages"), Column("mean_cer", "mean CER", ".4f"),
                 Column("pages_per_second", "pages/s", ".3f")], title="Summary")
    print(f"peak RSS of this process (models + pages): {summary['peak_rss_mb_in_process']} MB; "
          f"OCR wall {ocr_seconds:.0f} s")

    scanned = None
    if not args.no_scanned:
        files = scanned_files()
        log.info("%d robustness PDFs are skipped as scanned with OCR off; ingesting them with OCR on", len(files))
        scanned = ingest_scanned(files)
        print_table(scanned["per_file"], [Column("file", "file", align="<"), Column("status", "status", align="<"),
                                          Column("pages", "pages"), Column("ocr_pages", "OCR'd"),
                                          Column("note", "reason / warnings", align="<")],
                    title="Robustness PDFs skipped as scanned without OCR, ingested with OCR")
        print(f"now indexed: {scanned['indexed']} of {scanned['files']} ({scanned['share_indexed']:.0%}); "
              f"{scanned['pages_ocr']} pages OCR'd at {scanned['pages_per_second']} pages/s in the parse worker "
              f"(peak RSS {scanned['peak_rss_mb_parse_worker']} MB)")
    run.finish(args.results_dir, dpi=dpi, det_max_side=ocr.DET_MAX_SIDE, rows=rows, summary=summary,
               scanned=scanned, per_page=per_page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
