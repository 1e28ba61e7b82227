"""Hostile files: DOCX zip bombs, PDFs with enormous page counts or decompression bombs, lying ZIP headers.

Every case must end as a recorded skip (``UnreadableFile`` or a worker skip reason), quickly, without taking
down the caller.
"""

from __future__ import annotations

import io
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from ingest.limits import ParseLimits
from ingest.registry import parse_file
from kb.errors import UnreadableFile


def _docx(path: Path, extra: dict[str, int] | None = None, text: str = "A normal paragraph.") -> Path:
    """A real python-docx document, plus ``extra`` members of N zero bytes written as a stream."""
    import docx

    buffer = io.BytesIO()
    document = docx.Document()
    document.add_paragraph(text)
    document.save(buffer)
    path.write_bytes(buffer.getvalue())
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, size in (extra or {}).items():
            with archive.open(name, "w", force_zip64=size > 2**31) as member:
                block = b"\0" * (1 << 20)
                for _ in range(size >> 20):
                    member.write(block)
                member.write(block[:size % (1 << 20)])
    return path


def test_docx_zip_bomb_by_compression_ratio(tmp_path):
    bomb = _docx(tmp_path / "bomb.docx", {"word/media/image1.bin": 300 << 20})
    assert bomb.stat().st_size < 2 << 20
    started = time.perf_counter()
    with pytest.raises(UnreadableFile, match="zip bomb"):
        parse_file(bomb)
    assert time.perf_counter() - started < 5  # decided from the headers, nothing inflated


def test_docx_zip_bomb_by_total_size_of_small_parts(tmp_path):
    # many parts just under the ratio check's threshold, together far over 10x max_file_mb
    extra = {f"word/media/part{i}.bin": 1_000_000 for i in range(40)}
    bomb = _docx(tmp_path / "many.docx", extra)
    with pytest.raises(UnreadableFile, match="unpacks to"):
        parse_file(bomb, ParseLimits(max_file_mb=2))


def test_docx_with_lying_size_headers_is_not_inflated(tmp_path):
    """A member that declares 2 KB but inflates to 200 MB: zipfile stops at the declared size (CRC error)."""
    path = _docx(tmp_path / "liar.docx", text="Lying header test.")
    with zipfile.ZipFile(path) as archive:
        parts = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    parts["word/document.xml"] = parts["word/document.xml"] + b" " * (200 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("word/document.xml")
    struct.pack_into("<I", data, info.header_offset + 22, 2048)  # local header: uncompressed size
    start = 0
    while (start := data.find(b"PK\x01\x02", start)) != -1:
        name_len = struct.unpack_from("<H", data, start + 28)[0]
        if data[start + 46:start + 46 + name_len] == b"word/document.xml":
            struct.pack_into("<I", data, start + 24, 2048)  # central directory: uncompressed size
        start += 4
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("word/document.xml").file_size == 2048
    with pytest.raises(UnreadableFile, match="corrupt DOCX|CRC|could not parse"):
        parse_file(path)


def _raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF file from numbered object bodies (1-based), with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def test_pdf_with_too_many_pages_is_skipped(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "long.pdf"
    pdf = canvas.Canvas(str(path))
    words = "budget committee review supplier travel leave policy audit claim invoice contract team".split()
    for n in range(30):
        for line in range(8):
            picked = [words[(n * 7 + line * 3 + i * 5) % len(words)] for i in range(9)]
            pdf.drawString(72, 720 - 16 * line, f"{' '.join(picked).capitalize()} on page {n + 1}, line {line}.")
        pdf.showPage()
    pdf.save()
    with pytest.raises(UnreadableFile, match="too many pages: 30 .limit 20"):
        parse_file(path, ParseLimits(max_pages=20))
    assert parse_file(path, ParseLimits(max_pages=30)).pages == 30


def test_pdf_claiming_two_billion_pages_is_skipped_quickly(tmp_path):
    content = b"BT /F1 12 Tf 72 720 Td (Hello) Tj ET"
    path = tmp_path / "claims.pdf"
    path.write_bytes(_raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 2000000000 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        FONT,
    ]))
    started = time.perf_counter()
    try:
        doc = parse_file(path)
    except UnreadableFile as exc:
        assert exc.reason  # too many pages, or a corrupt page tree: either is a recorded skip
    else:
        assert doc.pages is not None and doc.pages <= 5000  # the reader counted the real pages
    assert time.perf_counter() - started < 10


def _deflate_bomb(megabytes: int) -> bytes:
    """A zlib stream of ``megabytes`` MiB of spaces, built without compressing them all (RLE output repeats)."""
    block = b" " * (1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    first = compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)
    repeat = compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH) == repeat
    checksum = 1
    for _ in range(megabytes):
        checksum = zlib.adler32(block, checksum)
    body = first + repeat * (megabytes - 1) + b"\x03\x00" + struct.pack(">I", checksum)
    assert zlib.decompressobj().decompress(body[:1 << 16], 1 << 20) == block  # a valid stream
    return body


@pytest.mark.slow
def test_pdf_decompression_bomb_costs_one_file_not_the_indexer(tmp_path, shared_data):
    """A 9 KB content stream inflating to 6 GB: the worker's memory/time limit makes it a skip, and the same
    pool goes on to parse the next file."""
    from ingest.pool import ParsePool, WorkerConfig
    from kb.embedding.packaged import resolve_model_path
    from kb.settings import Settings

    stream = _deflate_bomb(6 * 1024)
    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(_raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        FONT,
    ]))
    assert bomb.stat().st_size < 10 << 20
    good = next((shared_data / "docs" / "policies").glob("*.pdf"))
    config = WorkerConfig(tokenizer_path=resolve_model_path(Settings().embedding_model), max_tokens=256,
                          overlap_tokens=40, max_file_mb=200, max_pages=5000, memory_mb=1024)
    started = time.perf_counter()
    with ParsePool(config, workers=1, timeout_s=60) as pool:
        results = {r.path: r for r in pool.parse([str(bomb), str(good)])}
    elapsed = time.perf_counter() - started
    assert results[str(bomb)].skip_reason, results[str(bomb)]
    assert results[str(good)].skip_reason is None and results[str(good)].chunks
    assert elapsed < 90
    print(f"decompression bomb: {results[str(bomb)].skip_reason!r} in {results[str(bomb)].seconds:.1f} s")
