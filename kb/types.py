"""Plain dataclasses passed between the stages: parse -> chunk -> index -> search -> answer."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from kb.files import open_regular


def doc_id_for(path: Path) -> str:
    """Stable id of a document: a short hash of its absolute path."""
    return hashlib.sha1(str(Path(path).resolve()).encode("utf-8")).hexdigest()[:16]


def content_hash(path: Path, block: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes (what decides whether a file changed).

    Only a regular file is read (``kb.files.NotRegularFile`` otherwise): a FIFO or a device would block or
    never end."""
    digest = hashlib.sha256()
    with open(open_regular(path), "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def embedding_text(title: str, heading_path: tuple[str, ...], text: str) -> str:
    """What retrievers index for a chunk: document title and heading path, then the passage."""
    return "\n".join(p for p in (title, " > ".join(heading_path), text) if p)


@dataclass
class Section:
    """A run of text with one location: a PDF page, or a DOCX/Markdown section under one heading.

    ``continues`` is True when the last paragraph of this section runs on into the next one
    (a paragraph split by a page break); the chunker may then let one chunk cross the boundary.
    """

    text: str
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    continues: bool = False


@dataclass
class Document:
    """One parsed file."""

    path: Path
    title: str
    sections: list[Section]
    content_hash: str = ""
    kind: str = ""  # "pdf", "docx", "text", "markdown"
    pages: int | None = None
    warnings: list[str] = field(default_factory=list)
    ocr: dict = field(default_factory=dict)  # page (1-based) -> ingest.ocr.OcrPage, for the pages read by OCR

    @property
    def doc_id(self) -> str:
        return doc_id_for(self.path)

    @property
    def name(self) -> str:
        return Path(self.path).name


@dataclass
class Chunk:
    """A passage with its provenance.

    ``text`` is what users see; ``char_start``/``char_end`` locate it in the document's text (its sections
    joined by a blank line, ``ingest.chunker.document_text``); ``embed_text`` adds the document title and
    heading path and is what retrievers index.
    """

    chunk_id: str
    doc_id: str
    path: str
    name: str
    text: str
    chunk_index: int
    char_start: int
    char_end: int
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    title: str = ""
    language: str = ""  # Snowball name ("english", "german"); "" when it could not be told (kb.text.language)

    @property
    def heading(self) -> str:
        return " > ".join(self.heading_path)

    @property
    def embed_text(self) -> str:
        return embedding_text(self.title, self.heading_path, self.text)


@dataclass
class Hit:
    """A search result: a chunk, its fused score, and what each retriever said about it."""

    chunk: Chunk
    score: float
    rank: int
    dense_rank: int | None = None
    dense_score: float | None = None
    keyword_rank: int | None = None
    keyword_score: float | None = None
    judge_score: float | None = None  # the judge's probability that the passage answers (when reranked)

    def to_json(self) -> dict:
        """The stable JSON shape used by ``kb search --json``."""
        c = self.chunk
        return {
            "rank": self.rank,
            "score": round(self.score, 6),
            "path": c.path,
            "name": c.name,
            "page": c.page,
            "heading": c.heading,
            "text": c.text,
            "chunk_id": c.chunk_id,
            "dense_rank": self.dense_rank,
            "dense_score": None if self.dense_score is None else round(self.dense_score, 6),
            "keyword_rank": self.keyword_rank,
            "keyword_score": None if self.keyword_score is None else round(self.keyword_score, 6),
            "judge_score": None if self.judge_score is None else round(self.judge_score, 6),
        }


@dataclass
class SkippedFile:
    """A file that could not be indexed, and why."""

    path: str
    reason: str


@dataclass
class IngestReport:
    """What one ingest run did."""

    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    chunks_added: int = 0
    pages_parsed: int = 0
    parse_seconds: float = 0.0
    embed_seconds: float = 0.0
    total_seconds: float = 0.0
    version: str = ""
    deferred: list[str] = field(default_factory=list)  # left as they were: still being written (kb watch)
    keyword_version: str = ""  # published first, before the new files' vectors (keyword-first), if one was

    def to_json(self) -> dict:
        """The stable JSON shape of ``kb ingest --json``."""
        return {
            "indexed": self.indexed,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "counts": {
                "indexed": len(self.indexed),
                "unchanged": len(self.unchanged),
                "removed": len(self.removed),
                "skipped": len(self.skipped),
                "chunks_added": self.chunks_added,
                "pages_parsed": self.pages_parsed,
            },
            "timings": {
                "parse_seconds": round(self.parse_seconds, 3),
                "embed_seconds": round(self.embed_seconds, 3),
                "total_seconds": round(self.total_seconds, 3),
            },
            "version": self.version,
        }


@dataclass
class Turn:
    """One earlier exchange of a conversation."""

    question: str
    answer: str = ""


@dataclass
class Citation:
    """Where a sentence of an answer comes from, with the exact supporting quote."""

    n: int
    path: str
    name: str
    page: int | None
    heading: str
    quote: str
    chunk_id: str
    span: str = ""  # the answer itself, inside ``quote`` (the reader's span), '' when the whole quote answers

    def to_json(self) -> dict:
        return {"n": self.n, "path": self.path, "name": self.name, "page": self.page, "heading": self.heading,
                "quote": self.quote, "chunk_id": self.chunk_id, "span": self.span}


@dataclass
class Answer:
    """The outcome of a question: verified text with citations, or an honest refusal with the closest passages.

    ``mode`` is "generated" (model text that passed verification), "extractive" (source sentences quoted
    verbatim because no generated sentence could be verified) or "refused".
    """

    question: str
    text: str
    refused: bool
    mode: str
    citations: list[Citation] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    retrieval_query: str = ""
    # when refused: "not_covered" (nothing is about it), "not_stated" (about it, no answer) or "other_language"
    # (the question is in another language than the passages that came closest)
    refusal: str = ""
    follow_up_of: str = ""  # the earlier question this one was taken to continue
    confidence: float | None = None  # how likely the answer is right (the reader's calibrated probability, or
    # without the reader the judge's score of the best answering sentence; None without either)
    # "answer" (confident, checked), "likely" (the passage shown probably answers), "not_stated", "not_covered"
    grade: str = ""
    # with reader_role "confirm": how far the reader's best span in the quoted passage beats "no answer here"
    # (None when the reader did not read it, or found nothing); the quote is checked above reader_confirm_margin
    reader_margin: float | None = None

    def to_json(self) -> dict:
        """The stable JSON shape used by ``kb ask --json``."""
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "mode": self.mode,
            "citations": [c.to_json() for c in self.citations],
            "hits": [h.to_json() for h in self.hits],
            "dropped": self.dropped,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "retrieval_query": self.retrieval_query,
            "refusal": self.refusal,
            "follow_up_of": self.follow_up_of,
            "confidence": self.confidence,
            "grade": self.grade,
            "reader_margin": self.reader_margin,
        }
