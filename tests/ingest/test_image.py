"""Scanned images (.png, .jpg/.jpeg, .tif/.tiff, multi-page TIFF) read by the OCR that reads scanned PDF pages.

Real pictures: text rendered with Pillow's own font, a real scan from ../shared/data/robustness, and crafted
files for the limits (a PNG whose header declares a 400-megapixel picture, a broken PNG, a PDF named .png).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from ingest.image import MAX_PIXELS, load_page
from ingest.limits import ParseLimits
from ingest.registry import parse_file
from kb.errors import UnreadableFile

pytestmark = pytest.mark.slow  # OCR: a few seconds a page on 2 cores

LETTER = ["Dear customer,", "your parking permit 4471 expires", "on 30 June. Renew it at the front desk."]


def _scan(lines: list[str], size=(1100, 500), angle: int = 0):
    """A picture of typed lines, as a scanner would give it (dark text on light grey)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", size, (238, 238, 232))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    for n, line in enumerate(lines):
        draw.text((50, 60 + 70 * n), line, fill=(20, 20, 20), font=font)
    return image.rotate(angle, expand=True) if angle else image


def _reason(path: Path, limits: ParseLimits = ParseLimits()) -> str:
    with pytest.raises(UnreadableFile) as err:
        parse_file(path, limits)
    return err.value.reason


def test_a_scanned_png_is_read_with_word_boxes(tmp_path):
    path = tmp_path / "permit.png"
    _scan(LETTER).save(path)
    doc = parse_file(path)
    assert doc.kind == "image" and doc.pages == 1 and not doc.warnings, doc.warnings
    text = " ".join(s.text for s in doc.sections)
    assert "parking permit 4471" in text and "front desk" in text, text
    assert [s.page for s in doc.sections] == [1]
    page = doc.ocr[1]
    assert (page.width, page.height) == (1100, 500)  # boxes in the picture's pixels, y upwards
    word = next(w for w in page.words if w.text == "4471")
    left, bottom, right, top = word.box
    assert 0 < left < right < 1100 and 0 < bottom < top < 500
    # the word sits on the second line, 130-170 px from the top of the picture (drawn at y=130)
    assert 500 - top == pytest.approx(130, abs=15), word.box
    assert load_page(path).size == (1100, 500)


def test_a_jpeg_photo_is_turned_upright_by_its_exif_orientation(tmp_path):
    from PIL import Image

    path = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was held sideways: a viewer turns the picture 90 degrees clockwise
    _scan(LETTER).rotate(90, expand=True).save(path, quality=95, exif=exif)
    doc = parse_file(path)
    assert "parking permit 4471" in " ".join(s.text for s in doc.sections)
    assert (doc.ocr[1].width, doc.ocr[1].height) == (1100, 500)  # the upright picture's size
    assert load_page(path).size == (1100, 500)


def test_each_page_of_a_multipage_tiff_is_a_page(tmp_path):
    path = tmp_path / "letters.tiff"
    first, second = _scan(["Invoice 5512 from Nordic Supplies"]), _scan(["Delivery note for pallet 88"])
    first.save(path, save_all=True, append_images=[second], compression="tiff_lzw")
    doc = parse_file(path)
    assert doc.pages == 2 and sorted(doc.ocr) == [1, 2]
    by_page = {s.page: s.text for s in doc.sections}
    assert "5512" in by_page[1] and "pallet 88" in by_page[2], by_page
    assert load_page(path, 2).size == second.size


def test_a_real_scan_from_the_robustness_set_is_read(shared_data):
    doc = parse_file(shared_data / "robustness" / "docling" / "ocr" / "sources" / "qr_bill_example.jpg")
    assert doc.kind == "image" and "Rutschmann" in " ".join(s.text for s in doc.sections)


def test_a_picture_without_words_is_skipped_as_a_scan_without_text_is(tmp_path):
    from PIL import Image

    path = tmp_path / "blank.png"
    Image.new("RGB", (800, 600), (250, 250, 250)).save(path)
    assert _reason(path) == ("no text found in the image: OCR found no text in it (a picture without words, or "
                             "too faint or small to read)")


def test_limits_are_checked_before_anything_is_decoded(tmp_path):
    # decompression bombs: PNGs of a few hundred bytes whose headers declare 96 and 400 megapixels
    big = tmp_path / "big.png"
    big.write_bytes(_png_header(12_000, 8_000))
    assert _reason(big) == ("image too large: it is 12000x8000 pixels (96 megapixels, limit 80): a scan that size "
                            "is a decompression bomb or a poster, not a document")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(20_000, 20_000))
    assert _reason(bomb) == ("image too large: it declares over 179 megapixels (limit 80): a scan that size is a "
                             "decompression bomb or a poster, not a document")
    assert MAX_PIXELS == 80_000_000
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    assert _reason(broken).startswith("corrupt image: Pillow could not read it")
    pdf_named_png = tmp_path / "report.png"
    pdf_named_png.write_bytes(b"%PDF-1.7\n" + b"x" * 100)
    assert _reason(pdf_named_png) == ("extension .png but content is not an image (starts with b'%PDF', looks like "
                                      "a PDF)")
    path = tmp_path / "permit.png"
    _scan(LETTER).save(path)
    assert _reason(path, ParseLimits(ocr=False)) == ("an image: its text can only be read by OCR, which is off "
                                                     "(setting ocr)")
    assert _reason(path, ParseLimits(max_file_mb=0.001)).startswith("file too large")


def test_a_scanned_png_is_found_by_kb_search(tmp_path, hashed_embedder):
    """Plumbing (the hashed embedder: BM25 finds it): a PNG in a documents folder goes through the parse worker
    and the index like any document, and ``kb search`` finds its words on page 1."""
    import json
    import os
    import subprocess
    import sys

    from kb import KnowledgeBase, Settings
    from kb.embedding import HASHED_MODEL

    docs = tmp_path / "docs"
    docs.mkdir()
    _scan(LETTER).save(docs / "permit.png")
    (docs / "other.md").write_text("# Canteen\n\nLunch is served from noon.\n", encoding="utf-8")
    kb = KnowledgeBase(Settings(index_dir=tmp_path / "index", embedding_model=HASHED_MODEL), embedder=hashed_embedder)
    report = kb.ingest([docs])
    assert len(report.indexed) == 2 and not report.skipped, report.to_json()
    env = {**os.environ, "KB_EMBEDDING_MODEL": HASHED_MODEL, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "kb.cli", "search", "parking permit expires", "--index",
                          str(tmp_path / "index"), "--json", "-k", "1", "--no-rerank"], capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    hit = json.loads(out.stdout)["hits"][0]
    assert hit["name"] == "permit.png" and hit["page"] == 1 and "4471" in hit["text"], hit
    assert kb.ocr_page(docs / "permit.png", 1) is not None  # the words' boxes, for the page picture


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")
