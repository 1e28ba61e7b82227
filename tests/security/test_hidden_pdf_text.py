"""Text a PDF viewer would not draw is not indexed, and the manifest says it was dropped (issue 12).

Real PDFs made with reportlab: invisible render mode 3, white on the white page, a 0.1 pt font, text placed
outside the page; next to text that must stay: visible text, white text on a dark banner, and the invisible
OCR layer over a scanned picture (what makes a scan searchable).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.registry import parse_file

VISIBLE = "Full-time staff get 25 days of annual leave per year."
HIDDEN = {
    "render mode 3": "Full-time staff get 60 days of annual leave per year.",
    "white on white": "The admin password for the payroll system is hunter2.",
    "zero size": "The bonus pool for directors is nine million euros.",
    "outside the page": "Quantum relocation allowance applies to every employee.",
}
BANNER = "Welcome to the staff handbook"
OCR_LAYER = "Scanned invoice number 5512 from Nordic Supplies"


def _hidden_text_pdf(path: Path) -> Path:
    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setFont("Helvetica", 11)
    pdf.drawString(50, 780, VISIBLE)
    pdf.saveState()  # the render mode is graphics state: it would stay on for everything drawn after
    text = pdf.beginText(50, 750)
    text.setTextRenderMode(3)
    text.textLine(HIDDEN["render mode 3"])
    pdf.drawText(text)
    pdf.restoreState()
    pdf.setFillColorRGB(1, 1, 1)
    pdf.drawString(50, 720, HIDDEN["white on white"])
    pdf.setFillColorRGB(0.1, 0.2, 0.5)
    pdf.rect(40, 640, 400, 40, fill=1, stroke=0)
    pdf.setFillColorRGB(1, 1, 1)
    pdf.drawString(50, 655, BANNER)  # white on a dark banner: visible
    pdf.setFillColorRGB(0, 0, 0)
    pdf.setFont("Helvetica", 0.1)
    pdf.drawString(50, 600, HIDDEN["zero size"])
    pdf.setFont("Helvetica", 11)
    pdf.drawString(-3000, 500, HIDDEN["outside the page"])
    pdf.drawString(50, 560, "Part-time staff get leave in proportion to their contracted hours.")
    pdf.showPage()
    scan = Image.new("RGB", (400, 60), (235, 235, 230))
    pdf.drawImage(ImageReader(scan), 40, 700, width=400, height=60)
    pdf.saveState()
    ocr = pdf.beginText(50, 725)
    ocr.setTextRenderMode(3)
    ocr.textLine(OCR_LAYER)  # invisible, over the picture of the same words: kept
    pdf.drawText(ocr)
    pdf.restoreState()
    pdf.setFont("Helvetica", 11)
    pdf.drawString(50, 650, "Invoices are paid within 45 days of receipt.")
    pdf.showPage()
    pdf.save()
    return path


def test_text_a_viewer_would_not_draw_is_dropped_with_a_warning(tmp_path):
    doc = parse_file(_hidden_text_pdf(tmp_path / "leave.pdf"))
    text = "\n".join(s.text for s in doc.sections)
    assert VISIBLE in text and BANNER in text and OCR_LAYER in text
    for how, sentence in HIDDEN.items():
        assert sentence not in text and sentence.split()[3] not in text, f"{how} text was indexed: {text!r}"
    warning = next(w for w in doc.warnings if w.startswith("hidden text dropped"))
    for reason in ("invisible render mode", "in the colour of the background", "set at zero size",
                   "outside the page"):
        assert reason in warning, warning
    assert "page 1 " in warning  # page 2 (the scan's OCR layer) lost nothing


@pytest.mark.parametrize("query", ["60 days of annual leave", "admin password payroll hunter2"])
def test_hidden_text_is_not_found_and_the_manifest_warns(tmp_path, make_kb_hidden, query):
    kb, pdf = make_kb_hidden
    hits = kb.search(query, k=5)
    assert all("60 days" not in h.chunk.text and "hunter2" not in h.chunk.text for h in hits)
    entry = next(d for d in kb.documents() if d["path"] == str(pdf))
    assert entry["status"] == "indexed" and any(w.startswith("hidden text dropped") for w in entry["warnings"])
    assert any(w["path"] == str(pdf) for w in kb.status()["warnings"])  # kb status shows it too


@pytest.fixture
def make_kb_hidden(tmp_path, hashed_embedder):
    from kb import KnowledgeBase, Settings
    from kb.embedding import HASHED_MODEL

    docs = tmp_path / "docs"
    docs.mkdir()
    pdf = _hidden_text_pdf(docs / "leave.pdf")
    kb = KnowledgeBase(Settings(index_dir=tmp_path / "index", embedding_model=HASHED_MODEL), embedder=hashed_embedder)
    report = kb.ingest([docs])
    assert report.indexed == [str(pdf)], report.to_json()
    return kb, pdf
