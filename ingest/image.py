"""Scanned images (``.png``, ``.jpg``/``.jpeg``, ``.tif``/``.tiff``, multi-page TIFF): each picture (each TIFF
frame) is a page read by the OCR that reads scanned PDF pages (:mod:`ingest.ocr`), with word boxes, so the page
picture can mark a quote on it.

Pillow reads the header first: a frame whose declared size is over :data:`MAX_PIXELS` is refused before anything
is decoded (a decompression bomb: a few KB of PNG can declare gigapixels), as is a file with more frames than
``max_pages``. A photo is turned upright by its EXIF orientation, as a viewer shows it; a frame bigger than
``ingest.ocr.MAX_RENDER_SIDE`` is scaled down for OCR like a poster-sized PDF page. Word boxes are in the
upright picture's pixels (one "point" a pixel, y upwards), which :func:`load_page` gives back.
"""

from __future__ import annotations

import io
import logging
import time
import warnings
from pathlib import Path

from ingest.limits import ParseLimits
from ingest.ocr import MAX_RENDER_SIDE, OcrPage
from ingest.pdf import _brief, _page_list, low_confidence_warnings, ocr_pages_text
from kb.errors import UnreadableFile
from kb.types import Document, Section

log = logging.getLogger(__name__)

# decoded pixels a frame may declare: a 600 dpi A3 scan is 70 MP, a phone photo 12-50 MP; Pillow's own bomb
# guard (Image.MAX_IMAGE_PIXELS, 89 MP) sits just above
MAX_PIXELS = 80_000_000
FORMATS = frozenset({"PNG", "JPEG", "MPO", "TIFF"})  # MPO: a JPEG from a phone camera with a second picture
NO_TEXT = "OCR found no text in it (a picture without words, or too faint or small to read)"
_TOO_BIG = "a scan that size is a decompression bomb or a poster, not a document"


def parse_image(path: Path, limits: ParseLimits, data: bytes | None = None) -> Document:
    """Read a scanned image (its bytes ``data``, read from ``path`` when None) by OCR: one Section per frame."""
    started = time.monotonic()
    if not limits.ocr:
        raise UnreadableFile("an image: its text can only be read by OCR, which is off (setting ocr)")
    with _open(path.read_bytes() if data is None else data) as image:
        frames = getattr(image, "n_frames", 1)
        if frames > limits.max_pages:
            raise UnreadableFile(f"too many pages: {frames} (limit {limits.max_pages}, setting max_pages)")
        read: dict[int, OcrPage] = {}
        empty, failed, unread = [], [], []
        spent: list[float] = []
        for index in range(frames):
            if limits.ocr_seconds > 0 and time.monotonic() - started + max(spent, default=0.0) > limits.ocr_seconds:
                unread = list(range(index + 1, frames + 1))
                break
            image.seek(index)
            _check_pixels(image, index + 1, frames)
            t0 = time.monotonic()
            try:
                page = _read_frame(image, index + 1)
            except (MemoryError, UnreadableFile):
                raise
            except Exception as exc:  # noqa: BLE001 - one frame OCR cannot read must not cost the others
                log.debug("OCR of frame %d failed: %s", index + 1, exc, exc_info=True)
                failed.append((index + 1, _brief(exc)))
                continue
            finally:
                spent.append(time.monotonic() - t0)
            if page.lines:
                read[index + 1] = page
            else:
                empty.append(index + 1)
    return _document(path, frames, read, empty, failed, unread)


def load_page(path: str | Path, page: int = 1):
    """Frame ``page`` (1-based) of an image file as the RGB picture its OCR word boxes refer to (upright)."""
    from PIL import ImageOps

    with _open(Path(path).read_bytes()) as image:
        image.seek(page - 1)
        _check_pixels(image, page, getattr(image, "n_frames", 1))
        return ImageOps.exif_transpose(image).convert("RGB")


def _open(data: bytes):
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # its size is checked below, against MAX_PIXELS
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError as exc:  # Pillow's own guard, at twice its MAX_IMAGE_PIXELS
        raise UnreadableFile(f"image too large: it declares over {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels "
                             f"(limit {MAX_PIXELS / 1e6:.0f}): {_TOO_BIG}") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise UnreadableFile(f"corrupt image: Pillow could not read it ({_brief(exc)})") from exc
    if image.format not in FORMATS:
        image.close()
        raise UnreadableFile(f"unsupported image format {image.format} (supported: PNG, JPEG, TIFF)")
    return image


def _check_pixels(image, number: int, frames: int) -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        where = f"page {number} is" if frames > 1 else "it is"
        raise UnreadableFile(f"image too large: {where} {width}x{height} pixels ({width * height / 1e6:.0f} "
                             f"megapixels, limit {MAX_PIXELS / 1e6:.0f}): {_TOO_BIG}")


def _read_frame(image, number: int) -> OcrPage:
    """OCR the current frame, upright by its EXIF orientation, scaled down to MAX_RENDER_SIDE for the models."""
    import numpy as np
    from PIL import Image, ImageOps

    started = time.perf_counter()
    frame = ImageOps.exif_transpose(image)
    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        flat = Image.new("RGB", frame.size, "white")  # what a viewer shows behind transparent pixels
        flat.paste(frame.convert("RGBA"), mask=frame.convert("RGBA").getchannel("A"))
        frame = flat
    elif frame.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit and float greys: spread to 0-255
        pixels = np.asarray(frame, dtype=np.float64)
        low, high = float(pixels.min()), float(pixels.max())
        frame = Image.fromarray(((pixels - low) * (255.0 / max(high - low, 1e-9))).astype(np.uint8))
    width, height = frame.size
    scale = min(1.0, MAX_RENDER_SIDE / max(width, height, 1))
    if scale < 1.0:
        frame = frame.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.LANCZOS)
    from ingest.ocr import read_image  # the OCR models load on the first page that needs them

    page = read_image(np.asarray(frame.convert("RGB")), number, float(width), float(height), scale)
    page.seconds = time.perf_counter() - started
    return page


def _document(path: Path, frames: int, read: dict[int, OcrPage], empty: list[int],
              failed: list[tuple[int, str]], unread: list[int]) -> Document:
    numbers = sorted(read)
    texts, title = ocr_pages_text([read[n] for n in numbers], path.stem)
    sections = [Section(text=text, page=n) for n, text in zip(numbers, texts) if text]
    if not sections:
        where = "the image" if frames == 1 else f"any of its {frames} pages"
        if unread and not read and not empty:
            raise UnreadableFile(f"no text read from {where}: OCR ran out of time before reading it "
                                 f"(setting parse_timeout_s)")
        if failed and not empty:
            raise UnreadableFile(f"no text read from {where}: OCR failed ({failed[0][1]})")
        raise UnreadableFile(f"no text found in {where}: {NO_TEXT}")
    warnings = low_confidence_warnings(read)
    if empty:
        warnings.append(f"{_page_list(empty)}: {NO_TEXT}")
    if failed:
        warnings.append(f"{_page_list([n for n, _ in failed])}: OCR failed ({failed[0][1]})")
    if unread:
        warnings.append(f"{_page_list(unread)}: not read by OCR, which stopped at the parse time limit "
                        f"(setting parse_timeout_s)")
    return Document(path=path, title=title, sections=sections, kind="image", pages=frames, warnings=warnings,
                    ocr={n: read[n] for n in numbers})
