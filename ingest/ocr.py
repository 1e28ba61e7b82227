"""OCR of PDF pages without a text layer and of scanned images (``ingest.image``): PDFium renders the page (Pillow
decodes the image), RapidOCR (ONNX models inside its wheel, CPU) finds and reads the text lines, and this module
turns its boxes into reading-order lines and words.

RapidOCR detects line boxes, turns tall ones upright and flips upside-down ones (its angle classifier), then
recognises each. Its own pipeline throws away which way each line was turned, so the stages are called one by
one here: every line's turn votes for the page's orientation (a scan rotated by 90, 180 or 270 degrees, whatever
rotation the PDF claims), lines are laid out in the upright frame (columns, then top to bottom), spaces the
recogniser missed are put back from the gaps between its character positions, and every word keeps its
confidence and its box in page coordinates, so the page picture can mark a quote on it.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
import unicodedata
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# Measured on pypdf's book scan (bench/ocr_quality.py, README "Scanned documents (OCR)"): 150 dpi misread 2-3x
# more characters than 200 dpi; 300 dpi read as well as 200 and costs more memory. The recogniser sees every
# line at 48 px high whatever the resolution, so its time (most of the total) does not depend on it.
DEFAULT_DPI = 200
# the detector finds the lines on the page scaled down to this many pixels: at 1024 it missed fewer lines of the
# book scan than at 1600 (0.95 of the words read against 0.93) and costs 1 s a page instead of 2.5 (its cost
# grows with the pixels)
DET_MAX_SIDE = 1024
MAX_RENDER_SIDE = 5000  # pixels: a poster-sized page is rendered at a lower resolution, not at any memory cost
MIN_LINE_CONFIDENCE = 0.5  # recognised lines below this are noise (specks, pictures)
LOW_CONFIDENCE = 0.8  # a page whose mean confidence is below this gets a warning (clean scans read at 0.99)
_SPACE_GAP = 2.1  # a gap between two characters this many times the line's usual pitch is a word break (measured)
_CORE = 0.25  # of a line box's height, trimmed from each side before the layout
_MAX_LAYOUT_SEARCH = 300  # lines: above this, bands are cut at the widest gap only (the search is quadratic)
_GUTTER = 0.1  # of a line height: whitespace between line cores running through a block makes it columns
_BLANK_RANGE = 24  # darkest and lightest pixel closer than this (0-255): a blank page


@dataclass
class OcrWord:
    """A recognised word: its text, confidence (0-1) and box (left, bottom, right, top) in PDF points of the
    page as displayed (its /Rotate applied), y upwards from the bottom edge: like PDFium's text rectangles."""

    text: str
    confidence: float
    box: tuple[float, float, float, float]

    def to_json(self) -> list:
        return [self.text, round(self.confidence, 3), [round(v, 1) for v in self.box]]

    @classmethod
    def from_json(cls, data: list) -> "OcrWord":
        return cls(str(data[0]), float(data[1]), tuple(float(v) for v in data[2]))


@dataclass
class OcrLine:
    """A line of text in reading order, with its words (the text is the words joined by single spaces)."""

    words: list[OcrWord]
    confidence: float
    box: tuple[float, float, float, float]
    height: float = 0.0  # the text's height in points
    block_start: bool = False  # starts a new block (a column, or a paragraph after a gap)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass
class OcrPage:
    """One page read by OCR: its lines in reading order, the page orientation that was read (degrees the
    displayed page is turned clockwise from upright), the mean confidence (by characters) and the page size."""

    page: int  # 1-based
    width: float
    height: float
    orientation: int = 0
    confidence: float = 0.0
    lines: list[OcrLine] = field(default_factory=list)
    dpi: float = DEFAULT_DPI
    seconds: float = 0.0

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def words(self) -> list[OcrWord]:
        return [w for line in self.lines for w in line.words]

    def to_json(self) -> dict:
        """The page as stored next to an index version (``kb.index.ocr``): lines of words with boxes."""
        return {"page": self.page, "width": round(self.width, 2), "height": round(self.height, 2),
                "orientation": self.orientation, "confidence": round(self.confidence, 4), "dpi": self.dpi,
                "lines": [{"confidence": round(line.confidence, 3), "box": [round(v, 1) for v in line.box],
                           "words": [w.to_json() for w in line.words]} for line in self.lines]}

    @classmethod
    def from_json(cls, data: dict) -> "OcrPage":
        lines = [OcrLine([OcrWord.from_json(w) for w in line["words"]], float(line["confidence"]),
                         tuple(float(v) for v in line["box"])) for line in data.get("lines", [])]
        return cls(page=int(data["page"]), width=float(data["width"]), height=float(data["height"]),
                   orientation=int(data.get("orientation", 0)), confidence=float(data.get("confidence", 0.0)),
                   lines=lines, dpi=float(data.get("dpi", DEFAULT_DPI)))


# ------------------------------------------------------------------------------------------ the engine

class OcrUnavailable(RuntimeError):
    """rapidocr-onnxruntime (or its models) cannot be loaded."""


_ENGINE = None
_ENGINE_LOCK = threading.Lock()


def _engine():
    """The RapidOCR models, loaded once per process (about a second; the parse worker keeps them)."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:  # pragma: no cover - a dependency of kb
                raise OcrUnavailable(f"rapidocr-onnxruntime is not installed ({exc})") from exc
            engine = RapidOCR()
            # "max": the detector never scales a page up (DET_MAX_SIDE scales it down, see _detect)
            engine.text_det.limit_type = "max"
            # measured: padding the lines of a batch to the widest one costs more than batching saves (25 %)
            engine.text_rec.rec_batch_num = 1
            _ENGINE = engine
        return _ENGINE


@dataclass
class _Line:
    """A recognised line in image pixels: its corners in reading order (top-left, top-right, bottom-right,
    bottom-left of the text itself), text, confidence and per-character positions along it (0-1)."""

    corners: list[tuple[float, float]]
    turn: int  # quarter turns clockwise of the text from upright, as the image shows it
    text: str
    confidence: float
    chars: list[tuple[str, float, float]]  # (character, start, end) as fractions of the line's length
    char_conf: list[float]


def read_page(page, number: int, dpi: float = DEFAULT_DPI) -> OcrPage:
    """OCR one ``pypdfium2.PdfPage`` (1-based ``number``) and return its lines and words in reading order."""
    started = time.perf_counter()
    width, height = page.get_size()
    scale = min(dpi / 72.0, MAX_RENDER_SIDE / max(width, height, 1.0))
    bitmap = page.render(scale=scale, may_draw_forms=True)
    image = bitmap.to_numpy()
    del bitmap
    result = read_image(image, number, width, height, scale)
    result.seconds = time.perf_counter() - started
    return result


def read_image(image, number: int, width: float, height: float, scale: float) -> OcrPage:
    """OCR a page picture (a numpy array, grey or RGB(A)) of a page ``width`` x ``height`` points drawn at
    ``scale`` pixels a point; word boxes come back in page points, y upwards (as :class:`OcrWord` says)."""
    import numpy as np

    started = time.perf_counter()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    image = np.ascontiguousarray(image[:, :, :3])
    result = OcrPage(page=number, width=width, height=height, dpi=round(scale * 72, 1))
    # a blank page (a scanner's empty sheet, a white picture) has nothing to detect: skip the models
    lines = _recognise(image) if int(image.max()) - int(image.min()) > _BLANK_RANGE else []
    if lines:
        result.orientation = _orientation([(line.turn, (line.text, line.confidence)) for line in lines]) * 90
        result.lines = _layout(lines, result.orientation // 90, image.shape[1], image.shape[0], scale, height)
        chars = [(len(w.text), w.confidence) for line in result.lines for w in line.words]
        total = sum(n for n, _ in chars)
        result.confidence = sum(n * c for n, c in chars) / total if total else 0.0
    result.seconds = time.perf_counter() - started
    return result


def _recognise(image) -> list[_Line]:
    import cv2

    engine = _engine()
    boxes = _detect(engine, image)
    if not boxes:
        return []
    crops = engine.get_crop_img_list(image, boxes)  # a tall crop comes back turned a quarter anticlockwise
    turned = [_is_tall(b) for b in boxes]
    crops, cls, _ = engine.text_cls(crops)
    flipped = [label == "180" and score > engine.text_cls.cls_thresh for label, score in cls]
    results = _read_lines(engine, crops)
    # the classifier judges each line alone and now and then turns one the wrong way up; the page's majority
    # says which way its text runs, so a line read against it is read again the other way up
    page_turn = _orientation([(_shift(t, f), r) for t, f, r in zip(turned, flipped, results)])
    again = [i for i, (t, f) in enumerate(zip(turned, flipped)) if _shift(t, f) == (page_turn + 2) % 4]
    if again:
        rotated = [cv2.rotate(crops[i], cv2.ROTATE_180) for i in again]
        retried = _read_lines(engine, rotated)
        for i, result in zip(again, retried):
            if float(result[1]) > float(results[i][1]):
                results[i], flipped[i] = result, not flipped[i]
    lines = []
    for box, turn, flip, result in zip(boxes, turned, flipped, results):
        line = _line(box, turn, flip, result)
        if line is not None:
            lines.append(line)
    return lines


def _read_lines(engine, crops) -> list:
    """(text, confidence, character positions) per crop; positions only from RapidOCR 1.4 on (older releases
    read text alone: the characters are then spread evenly along the line)."""
    try:
        results, _ = engine.text_rec(crops, True)
    except TypeError:
        results, _ = engine.text_rec(crops)
    return results


def _detect(engine, image) -> list:
    """Line boxes (4 corners each, in ``image`` pixels): found on the page scaled down to DET_MAX_SIDE (the
    detector's cost grows with the pixels, lines stay visible), read at full resolution."""
    import cv2
    import numpy as np

    factor = min(1.0, DET_MAX_SIDE / max(image.shape[:2]))
    small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA) if factor < 1 else image
    boxes, _ = engine.text_det(small)
    if boxes is None or len(boxes) == 0:
        return []
    return [np.asarray(b, dtype=np.float32) / factor for b in boxes]


def _shift(turned: bool, flipped: bool) -> int:
    """Quarter turns clockwise of a line's text in the image: RapidOCR turns a tall crop a quarter anticlockwise
    (so its text ran downwards), and the classifier flips one that is upside down."""
    return (1 if turned else 0) + (2 if flipped else 0)


def _is_tall(box) -> bool:
    import numpy as np

    w = max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3]))
    h = max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2]))
    return w > 0 and h / w >= 1.5  # RapidOCR's own rule for turning a crop


def _line(box, turned: bool, flipped: bool, result) -> _Line | None:
    text, confidence = result[0], float(result[1])
    if not text.strip() or confidence < MIN_LINE_CONFIDENCE:
        return None
    # the detector's corners are the image's top-left, top-right, bottom-right, bottom-left; a crop turned a
    # quarter anticlockwise reads from the box's top-right corner down, a flipped one from the bottom-right
    shift = _shift(turned, flipped)
    points = [tuple(map(float, box[(i + shift) % 4])) for i in range(4)]
    chars = []
    char_conf: list[float] = []
    info = result[2] if len(result) > 2 else None
    if info:
        columns, words, cols, _, confs = info
        flat = [ch for word in words for ch in word]
        positions = [c for word in cols for c in word]
        if columns and len(flat) == len(positions) == len(text):
            pitch = _pitch(positions)
            for ch, col in zip(flat, positions):
                centre = col + 0.5
                chars.append((ch, max(0.0, (centre - pitch / 2) / columns), min(1.0, (centre + pitch / 2) / columns)))
            char_conf = [float(c) for c in confs] if len(confs) == len(flat) else [confidence] * len(flat)
    if not chars:  # no positions: spread the characters evenly
        n = len(text)
        chars = [(ch, i / n, (i + 1) / n) for i, ch in enumerate(text)]
        char_conf = [confidence] * n
    return _Line(points, shift, text, confidence, chars, char_conf)


def _pitch(positions: list[int]) -> float:
    steps = [b - a for a, b in zip(positions, positions[1:]) if b > a]
    return float(statistics.median(steps)) if steps else 1.0


def _orientation(lines: list[tuple[int, tuple]]) -> int:
    """Quarter turns clockwise of the page's text: the turns of its lines, each weighted by its length and
    recognition confidence (a line read the wrong way up comes out short and unsure)."""
    votes = [0.0] * 4
    for turn, result in lines:
        votes[turn] += len(result[0].strip()) * float(result[1]) ** 2
    return max(range(4), key=lambda k: votes[k])


def _upright(point: tuple[float, float], turn: int, w: float, h: float) -> tuple[float, float]:
    """A point of the displayed image in the frame where text of ``turn`` quarter turns reads upright."""
    x, y = point
    if turn == 1:  # text runs downwards: turn the page a quarter anticlockwise
        return y, w - x
    if turn == 2:
        return w - x, h - y
    if turn == 3:
        return h - y, x
    return x, y


def _words(line: _Line) -> list[tuple[str, float, list[tuple[float, float]]]]:
    """(word, confidence, corners in image pixels) of a line, splitting where the recogniser left a space or a
    gap between two characters is clearly wider than the line's usual character pitch."""
    chars = line.chars
    centres = [(a + b) / 2 for _, a, b in chars]
    steps = [b - a for (c0, _, _), (c1, _, _), a, b in zip(chars, chars[1:], centres, centres[1:])
             if not c0.isspace() and not c1.isspace()]
    usual = statistics.median(steps) if len(steps) >= 3 else None
    groups: list[list[int]] = [[]]
    for i, (ch, _, _) in enumerate(chars):
        if ch.isspace():
            if groups[-1]:
                groups.append([])
            continue
        previous = groups[-1][-1] if groups[-1] else None
        if (previous is not None and usual and centres[i] - centres[previous] > _SPACE_GAP * usual
                and not (_unspaced(chars[previous][0]) and _unspaced(ch))):
            groups.append([])
        groups[-1].append(i)
    tl, tr, br, bl = line.corners
    out = []
    for group in groups:
        if not group:
            continue
        start, end = chars[group[0]][1], chars[group[-1]][2]
        corners = [_along(tl, tr, start), _along(tl, tr, end), _along(bl, br, end), _along(bl, br, start)]
        text = "".join(chars[i][0] for i in group)
        confidence = sum(line.char_conf[i] for i in group) / len(group) if line.char_conf else line.confidence
        out.append((text, confidence, corners))
    return out


def _unspaced(ch: str) -> bool:
    """Characters of scripts written without spaces between words (Chinese, Japanese: full width)."""
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _along(a: tuple[float, float], b: tuple[float, float], t: float) -> tuple[float, float]:
    return a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t


def _layout(lines: list[_Line], turn: int, w: int, h: int, scale: float, page_height: float) -> list[OcrLine]:
    """Lines in reading order: the upright page cut into columns and bands where whitespace runs through it
    (recursive XY cut), each piece top to bottom; pieces of one text line side by side are joined."""
    items = []
    for line in lines:
        up = [_upright(p, turn, w, h) for p in line.corners]
        xs, ys = [p[0] for p in up], [p[1] for p in up]
        # the detector pads each line box by about a quarter of its height all round (neighbouring lines'
        # boxes touch): the layout looks at the core of each box, where the whitespace between them shows
        pad = _CORE * (max(ys) - min(ys))
        items.append(((min(xs) + pad, min(ys) + pad, max(xs) - pad, max(ys) - pad), line))
    out: list[OcrLine] = []
    spans: list[tuple[float, float]] = []  # each output line's top and bottom in the upright frame
    for block in _xy_cut(items):
        for row in _rows(block):
            words: list[OcrWord] = []
            confs = []
            for _, line in row:
                for text, confidence, corners in _words(line):
                    words.append(OcrWord(text, confidence, _page_box(corners, scale, page_height)))
                    confs.append((len(text), confidence))
            if not words:
                continue
            total = sum(k for k, _ in confs)
            box = (min(wd.box[0] for wd in words), min(wd.box[1] for wd in words),
                   max(wd.box[2] for wd in words), max(wd.box[3] for wd in words))
            heights = [b[3] - b[1] for b, _ in row]
            out.append(OcrLine(words, sum(k * c for k, c in confs) / total, box,
                               height=statistics.median(heights) / scale))
            top, bottom = min(b[1] for b, _ in row), max(b[3] for b, _ in row)
            pad = _CORE * (bottom - top) / (1 - 2 * _CORE)  # back to the whole line's height
            spans.append((top - pad, bottom + pad))
    _mark_paragraph_gaps(out, spans)
    return out


def _page_box(corners: list[tuple[float, float]], scale: float,
              page_height: float) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in corners], [p[1] for p in corners]
    return (min(xs) / scale, page_height - max(ys) / scale, max(xs) / scale, page_height - min(ys) / scale)


def _xy_cut(items: list) -> list[list]:
    """Recursive XY cut of upright boxes into pieces in reading order: columns of prose side by side (a gutter
    no line crosses), else bands one above the other, else any columns (a form's blocks side by side).

    A band is cut where it lets columns below or above it be read as columns (a full-width heading over two
    columns, a footer under them), else at the widest whitespace. One row of pieces (a label and its value,
    table cells) stays together: it is read as one line."""
    if len(items) <= 1 or len(_rows(items)) == 1:
        return [items] if items else []
    heights = sorted(b[3] - b[1] for b, _ in items)
    unit = heights[len(heights) // 2] or 1.0
    columns = _columns(items, unit)
    if len(columns) > 1 and all(_prose(column, unit) for column in columns):
        return [leaf for column in columns for leaf in _xy_cut(column)]
    bands = _split(items, 1, 0.3 * unit)
    if len(bands) > 1:
        above, below = _band_cut(bands, unit)
        return _xy_cut(above) + _xy_cut(below)
    if len(columns) > 1:
        return [leaf for column in columns for leaf in _xy_cut(column)]
    return [items]


def _columns(items: list, unit: float) -> list[list]:
    return _split(items, 0, _GUTTER * unit)


def _band_cut(bands: list[list], unit: float) -> tuple[list, list]:
    """Where to cut a stack of bands in two: where the larger side then reads as columns of prose (the most
    lines in columns wins), else at the widest gap."""
    best, best_lines = None, 0
    if sum(len(b) for b in bands) <= _MAX_LAYOUT_SEARCH:
        for k in range(1, len(bands)):
            above, below = [i for b in bands[:k] for i in b], [i for b in bands[k:] for i in b]
            for side in (above, below):
                columns = _columns(side, unit)
                if len(side) > best_lines and len(columns) > 1 and all(_prose(c, unit) for c in columns):
                    best, best_lines = k, len(side)
    if best is None:
        gaps = [(min(b[1] for b, _ in lower) - max(b[3] for b, _ in upper), k)
                for k, (upper, lower) in enumerate(zip(bands, bands[1:]), start=1)]
        best = max(gaps)[1]
    return [i for b in bands[:best] for i in b], [i for b in bands[best:] for i in b]


def _prose(items: list, unit: float) -> bool:
    """Several lines of running text (a column), not a column of short cells (labels, numbers)."""
    widths = sorted(b[2] - b[0] for b, _ in items)
    return len(items) >= 2 and widths[len(widths) // 2] >= 8 * unit


def _split(items: list, axis: int, min_gap: float) -> list[list]:
    """Groups of boxes separated along ``axis`` (0: x, 1: y) by gaps of at least ``min_gap``."""
    ordered = sorted(items, key=lambda it: it[0][axis])
    cuts = []  # (gap, index of the first item after it)
    reach = ordered[0][0][axis + 2]
    for i, item in enumerate(ordered[1:], start=1):
        if item[0][axis] - reach >= min_gap:
            cuts.append((item[0][axis] - reach, i))
        reach = max(reach, item[0][axis + 2])
    bounds = [0] + sorted(i for _, i in cuts) + [len(ordered)]
    return [ordered[a:b] for a, b in zip(bounds, bounds[1:])]


def _rows(items: list) -> list[list]:
    """Boxes of one block grouped into text lines (overlapping vertically), top to bottom, each left to right."""
    rows: list[list] = []
    for item in sorted(items, key=lambda it: (it[0][1] + it[0][3]) / 2):
        box = item[0]
        if rows:
            last = rows[-1]
            top, bottom = min(b[1] for b, _ in last), max(b[3] for b, _ in last)
            overlap = min(bottom, box[3]) - max(top, box[1])
            if overlap > 0.5 * min(bottom - top, box[3] - box[1]):
                last.append(item)
                continue
        rows.append([item])
    return [sorted(row, key=lambda it: it[0][0]) for row in rows]


def _mark_paragraph_gaps(lines: list[OcrLine], spans: list[tuple[float, float]]) -> None:
    """Which lines start a block: after a vertical gap clearly larger than the usual line pitch (a paragraph),
    or not below the line before (the next column, or a piece beside it)."""
    if not lines:
        return
    lines[0].block_start = True
    steps = [b[0] - a[0] for a, b in zip(spans, spans[1:])]
    usual_height = statistics.median([b - t for t, b in spans])
    pitches = [s for s in steps if 0 < s < 3 * usual_height]
    usual = statistics.median(pitches) if len(pitches) >= 2 else 1.5 * usual_height
    for line, step in zip(lines[1:], steps):
        line.block_start = step > 1.6 * usual or step < 0.5 * usual
