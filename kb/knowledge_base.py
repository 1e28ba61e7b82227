"""The public entry point: ``KnowledgeBase.open(path)``, ``.ingest(paths)``, ``.search(query, k)``."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

from kb.acl import AccessPolicy, PolicySource, restrict
from kb.answer import Answerer, Turn
from kb.embedder import Embedder, SentenceTransformerEmbedder
from kb.filters import Filter, collection_of, suffix_of
from kb.generator import Generator, make_generator
from kb.ingestor import Ingestor, Progress, chunking_settings
from kb.models import Answer, Hit, IngestReport
from kb.searcher import IndexReader
from kb.settings import Settings
from kb.store import IndexFolder, Manifest, folder_size
from kb.users import User

log = logging.getLogger(__name__)
# The filter of the question being answered in this thread/context: the answer pipeline calls ``search``
# without knowing about filters, and a context variable keeps concurrent askers apart.
_ASK_FILTER: contextvars.ContextVar[Filter | None] = contextvars.ContextVar("kb_ask_filter", default=None)


class KnowledgeBase:
    """A persistent hybrid index of a company's documents.

    Construction is cheap: the embedding model and the index load on first use. Searches always see one
    complete index version and pick up a newer one (written by any process) without a restart.
    """

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None,
                 generator: Generator | None = None):
        self.settings = settings or Settings.load()
        self.folder = IndexFolder(self.settings.index_dir)
        self.embedder = embedder or SentenceTransformerEmbedder(
            self.settings.embedding_model, self.settings.device, self.settings.embedding_batch_size)
        self._generator = generator
        self._answerer: Answerer | None = None
        self._reader: IndexReader | None = None
        self._lock = threading.Lock()
        self._policies = PolicySource(self.settings)

    @classmethod
    def open(cls, path: str | Path | None = None, settings: Settings | None = None, **overrides) -> "KnowledgeBase":
        """Open (or prepare to create) the index at ``path``; other settings come from kb.toml/KB_*."""
        settings = settings or Settings.load(**overrides)
        if path is not None:
            settings = settings.replace(index_dir=Path(path))
        return cls(settings)

    def ingest(self, paths: Iterable[str | Path], rebuild: bool = False,
               progress: Progress | None = None) -> IngestReport:
        """Index new and changed files under ``paths``, drop the ones that are gone, skip unreadable ones."""
        report = Ingestor(self.folder, self.settings, self.embedder).run(
            [Path(p) for p in paths], rebuild=rebuild, progress=progress)
        return report

    def search(self, query: str, k: int = 5, where: Filter | None = None, user: User | None = None) -> list[Hit]:
        """The ``k`` best passages for ``query``, fused from dense and keyword retrieval.

        ``where`` (a :class:`kb.filters.Filter`) limits the search to allowed chunks before ranking;
        ``user`` further limits it to the documents the access rules let that user read (see ``kb.acl``).
        """
        reader = self.reader()
        if not query.strip():
            return []
        where = where if where is not None else _ASK_FILTER.get()
        if user is not None:
            where = restrict(where, self.access_policy(), user)
        vector = self.embedder.encode([query])[0]
        return reader.search(query, vector, k, where=where)

    def ask(self, question: str, history: Sequence[Turn] = (),
            on_text: Callable[[str], None] | None = None, where: Filter | None = None,
            user: User | None = None) -> Answer:
        """Answer from the documents with verified citations, or refuse; see ``kb.answer``.

        ``where`` and ``user`` limit the passages the answer may come from (see ``search``).
        """
        token = _ASK_FILTER.set(restrict(where, self.access_policy(), user) if user is not None else where)
        try:
            return self.answerer().ask(question, history, on_text)
        finally:
            _ASK_FILTER.reset(token)

    def filter(self, collections=(), suffixes=(), **kwargs) -> Filter:
        """A :class:`Filter` whose collections are first-level subfolders of ``settings.docs_dir``."""
        return Filter.of(collections, suffixes, docs_dir=self.settings.docs_dir, **kwargs)

    def documents(self) -> list[dict]:
        """Every file the current version knows: name, path, collection, type, status, pages, chunks,
        warnings, skip reason and when it was indexed (epoch seconds)."""
        manifest = Manifest.read(self.folder.require_current())
        out = []
        for path, entry in sorted(manifest.files.items()):
            out.append({"name": Path(path).name, "path": path,
                        "collection": collection_of(path, self.settings.docs_dir), "type": suffix_of(path),
                        "status": entry.get("status", ""), "pages": entry.get("pages"),
                        "chunks": entry.get("chunks", 0), "warnings": list(entry.get("warnings") or []),
                        "reason": entry.get("reason", ""), "indexed_at": entry.get("indexed_at"),
                        "size": entry.get("size")})
        return out

    def access_policy(self) -> AccessPolicy:
        """The current access rules (re-read when the rules file changes; no re-indexing needed)."""
        return self._policies.policy()

    def can_read(self, path: str | Path, user: User) -> bool:
        """Whether ``user`` may see the document at ``path`` (previews, downloads, document lists)."""
        return self.access_policy().allowed(path, user)

    def warm_up(self) -> None:
        """Load the embedding model, the index and the generator now, so the first question is fast."""
        self.search("warm up", k=1)
        answerer = self.answerer()
        for _ in answerer.generator.stream([{"role": "user", "content": "Hello"}], 1):
            pass

    def answerer(self) -> Answerer:
        with self._lock:
            if self._answerer is None:
                self._answerer = Answerer(self, self._generator or make_generator(self.settings))
            return self._answerer

    def reader(self) -> IndexReader:
        """The loaded current version, reloaded when a writer has published a newer one."""
        current = self.folder.require_current()
        with self._lock:
            if self._reader is None or self._reader.folder != current:
                manifest = Manifest.read(current)
                manifest.check_compatible(self.settings.embedding_model, self.settings.bm25_language,
                                          self.folder.root, chunking_settings(self.settings, self.embedder))
                reader = IndexReader(current, self.settings)
                # not closed here: another thread may still be searching the old version; its connection
                # closes when the last reference to it goes
                self._reader = reader
                log.info("loaded index version %s (%d chunks)", current.name, reader.manifest.chunks)
            return self._reader

    def status(self) -> dict:
        """Documents, chunks, pages, skipped files with reasons, model and size of the current version."""
        current = self.folder.require_current()
        manifest = Manifest.read(current)
        indexed = {p: e for p, e in manifest.files.items() if e.get("status") == "indexed"}
        return {
            "index": str(self.folder.root.resolve()),
            "version": current.name,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(manifest.created_at)),
            "documents": len(indexed),
            "chunks": manifest.chunks,
            "pages": sum(e.get("pages") or 0 for e in indexed.values()),
            "skipped": [{"path": p, "reason": e.get("reason", "")}
                        for p, e in sorted(manifest.files.items()) if e.get("status") == "skipped"],
            "warnings": [{"path": p, "warnings": e["warnings"]}
                         for p, e in sorted(indexed.items()) if e.get("warnings")],
            "embedding_model": manifest.embedding_model,
            "dimension": manifest.dimension,
            "chunking": manifest.chunking,
            "size_bytes": folder_size(current),
        }
