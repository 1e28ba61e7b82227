"""The OCR'd pages of an index version: what the page picture needs to mark a quote on a scanned page.

    versions/v000007/ocr/<doc_id>.json    {"pages": [ingest.ocr.OcrPage.to_json(), ...]}

One file per document that has pages read by OCR (the manifest's ``ocr_pages`` lists them): each page's lines
of words with their confidence and box in page coordinates. A version never changes once published, so a
later version shares the files of the documents it keeps (hard links).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ingest.ocr import OcrPage
from kb.files import private_file

OCR_DIR = "ocr"


def write_ocr(folder: Path, doc_id: str, pages: list[dict]) -> None:
    """Store a document's OCR'd pages (``OcrPage.to_json`` dicts) in a version being built."""
    if not pages:
        return
    path = private_file(folder / OCR_DIR / f"{doc_id}.json")
    path.write_text(json.dumps({"pages": pages}, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def carry_ocr(old: Path, new: Path, doc_ids: list[tuple[str, str]]) -> None:
    """Give a new version the OCR files of the documents it keeps: (doc id in the old version, doc id in the new
    one) pairs (a renamed file's id changes with its path)."""
    source = old / OCR_DIR
    if not source.is_dir():
        return
    for old_id, new_id in doc_ids:
        path = source / f"{old_id}.json"
        if path.is_file():
            target = new / OCR_DIR / f"{new_id}.json"
            target.parent.mkdir(mode=0o700, exist_ok=True)
            try:
                os.link(path, target)  # versions never change once published: sharing their bytes is safe
            except OSError:
                shutil.copy2(path, target)


def read_ocr_page(folder: Path, doc_id: str, page: int) -> OcrPage | None:
    """Page ``page`` (1-based) of a document as OCR read it in this version; None if it was not OCR'd."""
    try:
        data = json.loads((folder / OCR_DIR / f"{doc_id}.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    for item in data.get("pages", []):
        if item.get("page") == page:
            return OcrPage.from_json(item)
    return None
