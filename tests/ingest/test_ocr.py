"""OCR of pages without a text layer: real scans from docling's and pypdf's test data, the real RapidOCR models,
the real parse worker, index writer and page-picture highlight."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingest import ocr
from ingest.limits import ParseLimits
from ingest.registry import parse_file
from kb import KnowledgeBase, Settings
from kb.embedding import HASHED_MODEL
from kb.errors import UnreadableFile
from kb.index.manifest import Manifest
from kb.index.ocr import OCR_DIR

SOURCES = "robustness/docling/ocr/sources"
# what every docling OCR engine reads on ocr_test.pdf (groundtruth/*/full_page/ocr_test.*.full_page.md)
PRINTED = "Docling bundles PDF document conversion to JSON and Markdown in an easy self contained package"


def _groundtruth(shared_data: Path, stem: str) -> str:
    path = shared_data / "robustness/docling/ocr/groundtruth/tesseract/full_page" / f"{stem}.tesseract.full_page.md"
    return " ".join(path.read_text(encoding="utf-8").split())


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def scanned_index(tmp_path_factory, shared_data, hashed_embedder):
    """ocr_test.pdf (a scan, no text layer) and a text file, ingested once through the parse worker."""
    root = tmp_path_factory.mktemp("ocr-index")
    docs = root / "docs"
    docs.mkdir()
    shutil.copy(shared_data / SOURCES / "ocr_test.pdf", docs / "scan.pdf")
    (docs / "notes.txt").write_text("The canteen opens at eight.\n", encoding="utf-8")
    kb = KnowledgeBase(Settings(index_dir=root / "index", embedding_model=HASHED_MODEL), embedder=hashed_embedder)
    report = kb.ingest([docs])
    assert not report.skipped, report.skipped
    return kb, docs


def test_the_groundtruth_is_what_the_page_prints(shared_data):
    assert _groundtruth(shared_data, "ocr_test") == PRINTED


@pytest.mark.slow
def test_a_scanned_page_becomes_searchable_by_a_phrase_from_its_groundtruth(scanned_index):
    kb, docs = scanned_index
    hit = kb.search("JSON and Markdown in an easy self contained package", k=1)[0]
    assert hit.chunk.path == str(docs / "scan.pdf") and hit.chunk.page == 1
    assert _words(hit.chunk.text) == PRINTED


def test_the_manifest_records_the_pages_read_by_ocr(scanned_index):
    kb, docs = scanned_index
    current = kb.folder.require_current()
    files = Manifest.read(current).files
    assert files[str(docs / "scan.pdf")].ocr_pages == [1]
    assert files[str(docs / "notes.txt")].ocr_pages == []
    assert json.loads((current / "manifest.json").read_text())["files"][str(docs / "scan.pdf")]["ocr_pages"] == [1]
    scan = next(d for d in kb.documents() if d["name"] == "scan.pdf")
    assert scan["ocr_pages"] == [1] and scan["status"] == "indexed" and not scan["warnings"]
    stored = kb.ocr_page(docs / "scan.pdf", 1)
    assert stored is not None and _words(stored.text) == PRINTED and stored.confidence > 0.95
    assert kb.ocr_page(docs / "scan.pdf", 2) is None and kb.ocr_page(docs / "notes.txt", 1) is None


def test_the_quote_is_marked_on_the_picture_of_a_scanned_page(scanned_index):
    from ui.pdf_preview import render_page

    kb, docs = scanned_index
    path = docs / "scan.pdf"
    quote = "JSON and Markdown in an easy self contained package"  # the quote runs over two printed lines
    plain = render_page(path, 1, quote)
    assert plain.boxes == []  # no text layer: without the OCR words there is nothing to find
    picture = render_page(path, 1, quote, ocr=kb.ocr_page(path, 1))
    assert len(picture.boxes) == 2  # one mark per line the quote runs over
    dark = _dark_pixels(plain.image)
    for left, top, right, bottom in picture.boxes:
        inside = [(x, y) for x, y in dark if left <= x <= right and top <= y <= bottom]
        assert len(inside) > 50  # the mark sits on printed text
    first, second = picture.boxes
    assert first[1] < second[1]  # in reading order, the second line below the first
    # "Docling bundles ... conversion to" (the first line) is not marked
    above = [(x, y) for x, y in dark if y < first[1] - 3]
    assert len(above) > 300

    # the source panel's picture (ui.render), given the knowledge base's OCR lookup as the Ask page gives it
    from ui import render

    def yellow(image) -> int:  # a PIL image, or the PNG bytes the web app's cached picture is
        import io

        import numpy as np
        from PIL import Image

        if isinstance(image, bytes):
            image = Image.open(io.BytesIO(image))
        rgb = np.asarray(image.convert("RGB")).astype(int)
        return int(((rgb[..., 0] > 230) & (rgb[..., 1] > 190) & (rgb[..., 2] < 200)).sum())

    mtime = path.stat().st_mtime
    marked = render._page_picture(str(path), 1, quote, mtime, True, True, kb.ocr_page(str(path), 1))
    unmarked = render._page_picture(str(path), 1, quote, mtime, True, False, None)
    assert yellow(marked) > 5000 and yellow(unmarked) == 0


def _dark_pixels(image) -> list[tuple[int, int]]:
    gray = image.convert("L")
    width, height = gray.size
    data = gray.load()
    return [(x, y) for y in range(0, height, 2) for x in range(0, width, 2) if data[x, y] < 128]


def test_kept_and_renamed_files_keep_their_ocr_in_later_versions(scanned_index, tmp_path, hashed_embedder):
    _, docs = scanned_index
    copy = tmp_path / "index"
    shutil.copytree(Path(scanned_index[0].folder.root), copy)
    moved = tmp_path / "docs"
    shutil.copytree(docs, moved)
    kb = KnowledgeBase(Settings(index_dir=copy, embedding_model=HASHED_MODEL), embedder=hashed_embedder)
    (moved / "scan.pdf").rename(moved / "renamed scan.pdf")
    report = kb.ingest([docs, moved])  # the original folder's files are kept, the moved ones are renamed copies
    assert not report.skipped
    assert kb.ocr_page(docs / "scan.pdf", 1) is not None
    renamed = kb.ocr_page(moved / "renamed scan.pdf", 1)
    assert renamed is not None and _words(renamed.text) == PRINTED
    files = Manifest.read(kb.folder.require_current()).files
    assert files[str(moved / "renamed scan.pdf")].ocr_pages == [1]
    assert len(list((kb.folder.require_current() / OCR_DIR).iterdir())) == 2


@pytest.fixture(scope="module")
def four_rotations(shared_data):
    """nemotron_multipage.pdf: the same printed page four times, turned 0, 180, 90 and 270 degrees."""
    return parse_file(shared_data / SOURCES / "nemotron_multipage.pdf")


@pytest.mark.slow
def test_rotated_pages_read_correctly(four_rotations):
    doc = four_rotations
    assert sorted(doc.ocr) == [1, 2, 3, 4] and not doc.warnings
    assert [doc.ocr[n].orientation for n in (1, 2, 3, 4)] == [0, 180, 90, 270]
    for n in (1, 2, 3, 4):
        page = " ".join(s.text for s in doc.sections if s.page == n)
        assert _words(page) == PRINTED, n
        assert doc.ocr[n].confidence > 0.95


def test_word_boxes_are_in_the_coordinates_of_the_displayed_page(four_rotations):
    """A word's box is where the page, displayed with its /Rotate, shows it: on the upside-down page the first
    word sits bottom right, on the page turned a quarter it runs down the page."""
    upright, upside_down, quarter = (four_rotations.ocr[n] for n in (1, 2, 3))
    first = upright.lines[0].words[0]
    assert first.text == "Docling" and first.box[0] < upright.width / 3 and first.box[1] > upright.height / 2
    flipped = upside_down.lines[0].words[0]
    assert flipped.text == "Docling"
    assert flipped.box[0] > upside_down.width / 2 and flipped.box[3] < upside_down.height / 3
    turned = quarter.lines[0].words[0]
    assert turned.text == "Docling"
    assert turned.box[3] - turned.box[1] > 2 * (turned.box[2] - turned.box[0])  # taller than wide


@pytest.mark.slow
def test_a_pdf_claiming_a_rotation_it_does_not_have_reads_upright(shared_data):
    doc = parse_file(shared_data / SOURCES / "sample_with_rotation_mismatch.pdf")  # /Rotate 90, printed upright
    assert doc.ocr[1].orientation == 0
    text = _words(doc.sections[0].text if len(doc.sections) == 1 else " ".join(s.text for s in doc.sections))
    assert "THE SLEREXE COMPANY LIMITED" in text
    assert "In facsimile a photocell is caused to perform a raster scan over the subject copy." in text
    assert doc.ocr[1].confidence > 0.9


def test_ocr_off_keeps_the_skip(shared_data, tmp_path, hashed_embedder):
    path = shared_data / SOURCES / "ocr_test.pdf"
    with pytest.raises(UnreadableFile) as err:
        parse_file(path, ParseLimits(ocr=False))
    assert err.value.reason == ("no text layer on its only page: looks like a scanned or image-only PDF "
                                "(OCR is off: setting ocr)")
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(path, docs)
    kb = KnowledgeBase(Settings(index_dir=tmp_path / "index", embedding_model=HASHED_MODEL, ocr=False),
                       embedder=hashed_embedder)
    report = kb.ingest([docs])
    assert [s.reason for s in report.skipped] == [err.value.reason] and not report.indexed


def test_a_scan_ocr_finds_no_text_in_stays_skipped_with_the_reason(shared_data):
    with pytest.raises(UnreadableFile) as err:
        parse_file(shared_data / "robustness/pypdf-resources/box.pdf")  # a picture of a box, no words
    assert err.value.reason == ("no text layer on its only page: looks like a scanned or image-only PDF, and OCR "
                                "found no text in it (a picture without words, or too faint or small to read)")


def test_ocr_stops_at_its_time_budget_and_says_so(shared_data):
    with pytest.raises(UnreadableFile) as err:
        parse_file(shared_data / SOURCES / "nemotron_multipage.pdf", ParseLimits(ocr_seconds=1e-6))
    assert err.value.reason == ("no text layer on any of 4 pages: looks like a scanned or image-only PDF, and OCR "
                                "ran out of time before reading it (setting parse_timeout_s)")


def test_a_page_read_with_low_confidence_gets_a_warning():
    from ingest.pdf import _OcrOutcome, _textless_warnings

    unsure = ocr.OcrPage(page=3, width=100, height=100, confidence=0.61)
    sure = ocr.OcrPage(page=1, width=100, height=100, confidence=0.99)
    outcome = _OcrOutcome(read={0: sure, 2: unsure}, empty=[4])
    assert _textless_warnings([5], outcome) == [
        "OCR confidence low on page 3 (0.61): its text may be misread",
        "no text layer on page 5, and OCR found no text there"]


# ------------------------------------------------------------------ layout from boxes (no models needed)

def _line(x0: float, y0: float, x1: float, y1: float, text: str, chars=None) -> ocr._Line:
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    n = len(text)
    chars = chars or [(ch, i / n, (i + 1) / n) for i, ch in enumerate(text)]
    return ocr._Line(corners, 0, text, 0.99, chars, [0.99] * len(chars))


def test_two_columns_are_read_column_by_column():
    lines = [_line(100, 100, 900, 130, "Title across the page"),
             _line(100, 200, 450, 230, "left one"), _line(550, 200, 900, 230, "right one"),
             _line(100, 245, 450, 275, "left two"), _line(550, 245, 900, 275, "right two"),
             _line(100, 290, 450, 320, "left three"), _line(550, 290, 900, 320, "right three")]
    out = ocr._layout(lines, 0, 1000, 1400, 2.0, 700.0)
    assert [line.text for line in out] == ["Title across the page", "left one", "left two", "left three",
                                          "right one", "right two", "right three"]
    assert [line.block_start for line in out] == [True, True, False, False, True, False, False]
    assert out[0].words[0].box == (50.0, 635.0, pytest.approx(50 + 400 * 5 / 21), 650.0)  # page points, y up


def test_pieces_of_one_line_are_joined_left_to_right():
    lines = [_line(600, 100, 900, 130, "18th January, 1972."), _line(100, 102, 400, 131, "Our Ref. 350/PJC/EAC"),
             _line(100, 150, 500, 180, "Dr. P.N. Cundall,")]
    out = ocr._layout(lines, 0, 1000, 1400, 2.0, 700.0)
    assert [line.text for line in out] == ["Our Ref. 350/PJC/EAC 18th January, 1972.", "Dr. P.N. Cundall,"]


def test_a_missing_space_is_put_back_from_the_gap_between_characters():
    # "selfcontained" read without its space, but the characters' positions show the word gap
    text = "selfcontained"
    positions = [0, 3, 6, 9, 17, 20, 23, 26, 29, 32, 35, 38, 41]
    chars = [(ch, (p - 1) / 44, (p + 2) / 44) for ch, p in zip(text, positions)]
    words = ocr._words(_line(0, 0, 440, 30, text, chars))
    assert [w for w, _, _ in words] == ["self", "contained"]
    # characters of scripts written without spaces are never split
    han = "行政处罚决定书"
    spread = [(ch, i / 7 + (0.3 if i > 3 else 0), i / 7 + 0.1 + (0.3 if i > 3 else 0)) for i, ch in enumerate(han)]
    assert [w for w, _, _ in ocr._words(_line(0, 0, 700, 30, han, spread))] == [han]


def test_ocr_pages_round_trip_through_json():
    page = ocr.OcrPage(page=2, width=595.2, height=841.9, orientation=90, confidence=0.97,
                       lines=[ocr.OcrLine([ocr.OcrWord("Leave", 0.99, (10, 20, 40, 30)),
                                           ocr.OcrWord("policy", 0.95, (45, 20, 80, 30))], 0.97, (10, 20, 80, 30))])
    again = ocr.OcrPage.from_json(json.loads(json.dumps(page.to_json())))
    assert again.text == "Leave policy" and again.orientation == 90 and again.words[1].box == (45, 20, 80, 30)
