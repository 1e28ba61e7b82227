"""A version's manifest: what it holds, how it was built, and one typed entry per file it knows."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from kb.errors import IncompatibleIndex, IndexUnusable
from kb.index.version import write_atomic

SCHEMA_VERSION = 2  # 2: English stopwords include question words
MANIFEST = "manifest.json"

INDEXED, SKIPPED = "indexed", "skipped"
# the keys a file entry has in manifest.json: always, for a skipped file, for an indexed file
_ALWAYS = ("hash", "size", "mtime_ns")
_SKIP_KEYS = ("reason", "limits", "retries")
_INDEX_KEYS = ("doc_id", "title", "kind", "pages", "chunks", "warnings", "indexed_at", "ocr_pages")


@dataclass
class FileEntry:
    """What a version knows about one file: its content hash, and whether it was indexed or skipped."""

    hash: str
    size: int = 0
    mtime_ns: int = 0
    status: str = ""  # INDEXED, SKIPPED, or "" while an ingest has not decided yet
    reason: str = ""  # why it was skipped
    limits: str = ""  # the parse limits a skip was decided under (changed limits retry it)
    retries: int = 0  # transient failures so far (worker died, timeout); the writer tries again while few
    doc_id: str = ""
    title: str = ""
    kind: str = ""  # "pdf", "docx", "text", "markdown"
    pages: int | None = None
    chunks: int = 0
    warnings: list[str] = field(default_factory=list)
    indexed_at: float | None = None
    ocr_pages: list[int] = field(default_factory=list)  # pages (1-based) whose text was read by OCR

    @property
    def indexed(self) -> bool:
        return self.status == INDEXED

    @property
    def skipped(self) -> bool:
        return self.status == SKIPPED

    def with_stat(self, digest: str, size: int, mtime_ns: int) -> "FileEntry":
        return dataclasses.replace(self, hash=digest, size=size, mtime_ns=mtime_ns)

    def to_json(self) -> dict:
        keys = _ALWAYS + (("status",) if self.status else ()) + (
            _SKIP_KEYS if self.skipped else _INDEX_KEYS if self.indexed else ())
        return {k: getattr(self, k) for k in keys}

    @classmethod
    def from_json(cls, data: dict) -> "FileEntry":
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["warnings"] = list(values.get("warnings") or [])
        values["ocr_pages"] = [int(n) for n in values.get("ocr_pages") or []]
        return cls(**values)


@dataclass
class Manifest:
    """What a version holds and how it was built; loading checks it before anything else."""

    schema_version: int
    embedding_model: str
    dimension: int
    chunking: dict
    bm25_language: str
    created_at: float
    chunks: int = 0
    next_id: int = 0
    files: dict[str, FileEntry] = field(default_factory=dict)
    # files whose chunks are searchable by keyword but have no dense vectors yet (keyword-first publishing);
    # the next writer run embeds them and publishes a version with this list empty
    vectors_pending: list[str] = field(default_factory=list)

    @property
    def indexed(self) -> dict[str, FileEntry]:
        """The entries of the files this version has passages of."""
        return {p: e for p, e in self.files.items() if e.indexed}

    @classmethod
    def read(cls, folder: Path) -> "Manifest":
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            data["files"] = {p: FileEntry.from_json(e) for p, e in data.get("files", {}).items()}
            return cls(**data)
        except FileNotFoundError:
            raise IndexUnusable(f"index version {folder} has no {MANIFEST}; run `kb ingest --rebuild`") from None
        except (ValueError, TypeError, AttributeError) as exc:
            raise IndexUnusable(f"manifest of {folder} is unreadable ({exc}); run `kb ingest --rebuild`") from None

    def write(self, folder: Path) -> None:
        data = {**self.__dict__, "files": {p: e.to_json() for p, e in self.files.items()}}
        if not self.vectors_pending:  # a complete version's manifest reads as it did before the key existed
            del data["vectors_pending"]
        write_atomic(folder / MANIFEST, json.dumps(data, indent=1, sort_keys=True))

    def check_compatible(self, embedding_model: str, bm25_language: str, where: Path,
                         chunking: dict | None = None) -> None:
        """Raise IncompatibleIndex naming the difference and the command that rebuilds."""
        fix = f"rebuild it with `kb ingest --rebuild --index {where} PATH...` or point --index elsewhere"
        if self.schema_version != SCHEMA_VERSION:
            raise IncompatibleIndex(f"index at {where} has schema version {self.schema_version}, this version "
                                    f"of kb reads {SCHEMA_VERSION}: {fix}")
        if self.embedding_model != embedding_model:
            raise IncompatibleIndex(f"index at {where} was built with embedding model {self.embedding_model!r} "
                                    f"but settings ask for {embedding_model!r}: {fix}")
        if self.bm25_language != bm25_language:
            raise IncompatibleIndex(f"index at {where} was built with bm25_language {self.bm25_language!r} "
                                    f"but settings ask for {bm25_language!r}: {fix}")
        if chunking is not None and self.chunking != chunking:
            raise IncompatibleIndex(f"index at {where} was built with chunking {self.chunking} but settings "
                                    f"ask for {chunking}: {fix}")
