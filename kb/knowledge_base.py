"""The public entry point: ``KnowledgeBase.open(path)``, ``.ingest(paths)``, ``.search(query, k)``, ``.ask(...)``.

The facade wires the stages together and owns nothing but their lifetimes: the index folder, the loaded
version, the embedder, the answering pipeline and the access rules. Each stage gets what it needs as
arguments (a retrieve function, the embedder, a filter), never this object.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kb.access.rules import AccessPolicy, PolicySource, RuleProblem, check_rules, milvus_access_keys, restrict
from kb.answering.generator import Generator, make_generator
from kb.answering.pipeline import Answerer
from kb.answering.spans import Calibration
from kb.embedding import E5_MODEL, HASHED_MODEL, Embedder, VersionEmbedders, make_embedder
from kb.errors import ConfigError, IncompatibleIndex, IndexUnusable
from kb.index.folder import IndexFolder
from kb.index.manifest import Manifest
from kb.index.ocr import read_ocr_page
from kb.index.version import TUNE_REPORT, folder_size, select_chunks, tuned_embedder
from kb.index.writer import IndexWriter, Progress, chunking_settings
from kb.judge.model import SHIPPED_JUDGE, Judge, resolve_judge_path
from kb.reader.model import Reader, resolve_reader_path
from kb.retrieval.filters import Filter, collection_of, suffix_of
from kb.retrieval.milvus import milvus_store
from kb.retrieval.reader import VersionReader, VersionSearcher
from kb.retrieval.rerank import Reranker
from kb.settings import Settings, is_set, split_embedding_model
from kb.text.directive_model import SHIPPED as SHIPPED_DIRECTIVES
from kb.text.directive_model import DirectiveModel
from kb.text.questions import check_question
from kb.text.spelling import known_words
from kb.tuning.tune import TuneReport, tuned_judge
from kb.types import Answer, Hit, IngestReport, Turn, doc_id_for

if TYPE_CHECKING:  # pragma: no cover
    from ingest.ocr import OcrPage
    from kb.access.users import User
    from kb.tuning.run import EmbedderStep

log = logging.getLogger(__name__)


class KnowledgeBase:
    """A persistent hybrid index of a company's documents.

    Construction is cheap: the embedding model and the index load on first use. Searches always see one
    complete index version and pick up a newer one (written by any process) without a restart.
    """

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None,
                 generator: Generator | None = None, judge: Judge | None = None):
        self.settings = settings or Settings.load()
        self._store = milvus_store(self.settings, access_keys=milvus_access_keys(self.settings))  # None: versions are searched in their own folder (faiss)
        self.folder = IndexFolder(self.settings.index_dir, self._store)
        self.embedder = embedder or make_embedder(self.settings)
        self._embedders = VersionEmbedders(self.settings, self.embedder)  # a version's tuned one, if it has one
        self._generator = generator
        self._answerer: Answerer | None = None
        self._searcher: VersionSearcher | None = None
        self._known: dict[tuple[str, tuple[str, ...]], dict[str, int]] = {}  # see _known_words
        self._given_judge = judge
        self._judge: Judge | None = None
        self._reader: Reader | None = None
        self._lock = threading.RLock()
        self._policies = PolicySource(self.settings)
        self._rule_check: tuple[int, str, list[RuleProblem]] | None = None  # (policy id, version, problems)
        # its own lock: checking who may read a file must not wait for models that load under self._lock
        self._rule_lock = threading.Lock()

    @classmethod
    def open(cls, path: str | Path | None = None, settings: Settings | None = None, **overrides) -> KnowledgeBase:
        """Open (or prepare to create) the index at ``path``; other settings come from kb.toml/KB_*."""
        settings = settings or Settings.load(**overrides)
        if path is not None:
            settings = settings.replace(index_dir=Path(path))
        return cls(settings)

    def writer(self) -> IndexWriter:
        """The index writer for this knowledge base (what ``ingest``, ``kb watch`` and ``kb reindex`` use)."""
        return IndexWriter(self.folder, self.settings, self.embedder)

    def ingest(self, paths: Iterable[str | Path], rebuild: bool = False,
               progress: Progress | None = None, keyword_first: bool = False) -> IngestReport:
        """Index new and changed files under ``paths``, drop the ones that are gone, skip unreadable ones.

        ``keyword_first`` publishes the new files searchable by keyword first, then with their vectors
        (uploads do, with the ``keyword_first`` setting; see ``IndexWriter.run``)."""
        return self.writer().run(paths, rebuild=rebuild, progress=progress, keyword_first=keyword_first)

    def search(self, query: str, k: int = 5, where: Filter | None = None, user: User | None = None) -> list[Hit]:
        """The ``k`` best passages for ``query``, fused from dense and keyword retrieval.

        ``where`` (a :class:`kb.retrieval.filters.Filter`) limits the search to allowed chunks before ranking;
        ``user`` further limits it to the documents the access rules let that user read (see ``kb.access``).
        """
        query = check_question(query, self.settings, "search query")
        where = self._restrict(where, user)
        return self._retrieve(self.spell(query, where), k, where)

    def spell(self, text: str, where: Filter | None = None) -> str:
        """``text`` with its typos corrected against the current version's words (``kb.text.spelling``): those
        of the passages ``where`` allows, so a restricted reader's question is never corrected towards, or
        kept because of, a word only documents they may not read use."""
        return self._current_searcher().spell(text, where)

    def ask(self, question: str, history: Sequence[Turn] = (),
            on_text: Callable[[str], None] | None = None, where: Filter | None = None,
            user: User | None = None, on_stage: Callable[[str, list[Hit]], None] | None = None) -> Answer:
        """Answer from the documents with verified citations, or refuse; see ``kb.answering.pipeline``. A
        blank, wordless or too long ``question`` raises ``InvalidQuestion`` (``kb.text.questions``).

        ``where`` and ``user`` limit the passages the answer may come from (see ``search``). ``on_stage`` hears
        ``("read", passages)`` once retrieval has chosen the passages the answer is made from; verified
        sentences then arrive through ``on_text``.
        """
        question = check_question(question, self.settings)  # InvalidQuestion before anything is searched
        where = self._restrict(where, user)
        answerer = self.answerer()
        if where is not None and not where.empty:  # typos corrected towards what this reader may read only
            answerer = copy.copy(answerer)  # (the generator, judge and lock stay shared)
            answerer.spell = lambda text: self.spell(text, where)
        if on_stage is not None:
            # the pipeline takes no stage callback: retrieval runs once more here (tens of milliseconds, the
            # same passages) so that the web app can say what is being read while the answer is written
            _, hits, _ = answerer.route(question, history, where)
            on_stage("read", hits[: self.settings.answer_passages])
        return answerer.ask(question, history, on_text, where=where)

    def evaluate(self, gold: Path, output: Path | None = None, progress: Callable[[int, int], None] | None = None,
                 retrieval_only: bool = False) -> dict:
        """``kb eval``: retrieval, answers, citations and refusals on a gold file (see ``kb.answering.evaluate``)."""
        from kb.answering.evaluate import run_eval

        if retrieval_only:
            self.search("warm up", k=1)
            return run_eval(gold, self.search, settings=self.settings.to_dict(), output=output, progress=progress)
        self.warm_up()  # model loading is not answer latency
        answerer = self.answerer()
        return run_eval(gold, self.search, lambda q, history: self.ask(q, history), answerer.retrieval_query,
                        self.settings.to_dict(), output, progress)

    def evaluate_stages(self, gold: Path, variants: Sequence[str] | None = None,
                        progress: Callable[[int, int], None] | None = None) -> dict:
        """``kb eval --stages``: the same gold questions with each of the judge's stages on and off
        (``kb.answering.evaluate.VARIANTS``); one summary per variant. The models load once."""
        from kb.answering.evaluate import VARIANTS, stage_variant

        generator = self.answerer().generator
        judge = self.judge() or Judge(resolve_judge_path(stage_variant(self.settings, "judge").judge_model),
                                      self.settings.device)
        summaries = {}
        for variant in variants or VARIANTS:
            settings = stage_variant(self.settings, variant)
            kb = KnowledgeBase(settings, embedder=self.embedder, generator=generator,
                               judge=judge if settings.judge_model else None)
            summaries[variant] = kb.evaluate(gold, progress=progress)["summary"]
        return {"gold": str(gold), "variants": summaries}

    def _retrieve(self, query: str, k: int, where: Filter | None) -> list[Hit]:
        return self._retrieve_from(self._current_searcher(), query, k, where)

    def _retrieve_from(self, searcher: VersionSearcher, query: str, k: int, where: Filter | None) -> list[Hit]:
        s = self.settings
        judge = self.judge() if s.rerank else None
        if judge is None:
            return searcher.search(query, k, where)
        hits = searcher.search(query, max(k, s.rerank_candidates), where)
        return Reranker(judge, s.rerank_candidates, s.rerank_weight).rerank(query, hits)[:k]

    def judge(self) -> Judge | None:
        """The judge model, loaded on its first use: the one the current index version was tuned with
        (``kb tune``), else setting ``judge_model``; None when that is off. A judge given to the
        constructor is always used."""
        if self._given_judge is not None:
            return self._given_judge
        if not self.settings.judge_model:
            return None
        path = self.judge_path()
        with self._lock:
            if self._judge is None or self._judge.path != path:
                self._judge = Judge(path, self.settings.device)
            return self._judge

    def judge_path(self) -> Path:
        """Where the judge in use comes from: the current version's tuned judge, or ``judge_model``."""
        current = self.folder.current() if self.settings.judge_model == SHIPPED_JUDGE else None
        tuned = tuned_judge(current) if current is not None else None
        return tuned or resolve_judge_path(self.settings.judge_model)

    def tune(self, gold: Path | None = None, budget_minutes: float = 30.0, work: Path | None = None,
             seed: int = 0, progress: Callable[[str, int, int], None] | None = None) -> TuneReport:
        """``kb tune``: fine-tune the judge on this index's documents, the gold questions (half of them; the
        other half is held out) and the users' feedback, and adopt it into a new index version only if the
        held-out figures improve (see ``kb.tuning.tune``)."""
        from kb.answering.evaluate import load_gold
        from kb.tuning.run import TuneInputs, run_tune

        searcher = self._current_searcher()  # hard negatives come from plain hybrid search, as fused
        inputs = TuneInputs(chunks=[c for _, c in select_chunks(searcher.reader.db)],
                            search=lambda q, k: searcher.search(q, k), gold=load_gold(gold) if gold else [],
                            feedback=self._feedback_rows(searcher))
        return run_tune(inputs, self.folder, self.settings, self.judge_path(), self._gold_figures, budget_minutes,
                        work, seed, progress=progress, embedder=self._embedder_step())

    def _embedder_step(self) -> EmbedderStep | None:
        """What ``kb tune`` needs to tune the embedding model; None when it is not a sentence-transformers one."""
        from kb.embedding.packaged import resolve_model_path
        from kb.embedding.sbert import SentenceTransformerEmbedder
        from kb.tuning.run import EmbedderStep

        model_id = split_embedding_model(self.settings.embedding_model)[0]
        if model_id in (HASHED_MODEL, E5_MODEL):
            return None
        tuned = tuned_embedder(self.folder.current())

        def figures(version: Path, embedder: Embedder, items: list) -> dict:
            from kb.answering.evaluate import evaluate

            searcher = VersionSearcher(version, self.settings, embedder, known=self._known_words)
            try:
                summary = evaluate(items, lambda q, k: self._retrieve_from(searcher, q, k, None))["summary"]
            finally:
                searcher.close()
            return {k: summary[k] for k in ("retrieval_hit@5", "retrieval_mrr@10") if summary.get(k) is not None}

        return EmbedderStep(model=str(tuned) if tuned else resolve_model_path(model_id),
                            embedder_for=lambda version: self._embedders.get(tuned_embedder(version)),
                            load=lambda folder: SentenceTransformerEmbedder(str(folder), self.settings.device,
                                                                            self.settings.embedding_batch_size),
                            figures=figures)

    def _feedback_rows(self, searcher: VersionSearcher) -> list:
        """Every rated answer in the app store, with the passages it cited (those still in the index)."""
        from kb.activity.store import ActivityStore
        from kb.tuning.pairs import FeedbackRow

        if not self.settings.database_url and not Path(self.settings.app_db_path).is_file():
            return []  # no app store yet: nobody has rated anything
        store = ActivityStore.open(self.settings)
        try:
            by_id = {c.chunk_id: c for _, c in select_chunks(searcher.reader.db)}
            rows = []
            for q in store.questions():
                if q["rating"] in (1, -1):
                    cited = dict.fromkeys(c["chunk_id"] for c in store.citations(q["id"]))  # once each, in order
                    chunks = [by_id[chunk_id] for chunk_id in cited if chunk_id in by_id]
                    if chunks:
                        rows.append(FeedbackRow(q["question"], chunks, q["rating"], q["comment"] or ""))
            return rows
        finally:
            store.close()

    def _gold_figures(self, judge_path: Path, items: list) -> dict:
        """Held-out gold figures with a given judge: retrieval with reranking, refusals, right answers."""
        from kb.answering.evaluate import evaluate

        settings = self.settings.replace(judge_model=str(judge_path), rerank=True, answer_mode="quote")
        kb = KnowledgeBase(settings, embedder=self.embedder, generator=self._generator,
                           judge=Judge(judge_path, self.settings.device))
        summary = evaluate(items, kb.search, lambda q, history: kb.ask(q, history),
                           kb.answerer().retrieval_query)["summary"]
        keys = ("retrieval_hit@5", "retrieval_mrr@10", "answered_right", "refusal_recall")
        figures = {k: summary[k] for k in keys if summary.get(k) is not None}
        if summary.get("false_refusals") is not None:
            figures["answered"] = round(1.0 - summary["false_refusals"], 4)
        return figures

    def _restrict(self, where: Filter | None, user: User | None) -> Filter | None:
        return restrict(where, self._checked_policy(), user) if user is not None else where

    def filter(self, collections=(), suffixes=(), **kwargs) -> Filter:
        """A :class:`Filter` whose collections are first-level subfolders of ``settings.docs_dir``."""
        return Filter.of(collections, suffixes, docs_dir=self.settings.docs_dir, **kwargs)

    def documents(self) -> list[dict]:
        """Every file the current version knows: name, path, collection, type, status, pages, chunks,
        warnings, skip reason, when it was indexed (epoch seconds) and which pages were read by OCR."""
        manifest = Manifest.read(self.folder.require_current())
        pending = set(manifest.vectors_pending)  # searchable by keyword only until their vectors are published
        out = []
        for path, entry in sorted(manifest.files.items()):
            out.append({"name": Path(path).name, "path": path,
                        "collection": collection_of(path, self.settings.docs_dir), "type": suffix_of(path),
                        "status": entry.status, "pages": entry.pages, "chunks": entry.chunks,
                        "warnings": list(entry.warnings), "reason": entry.reason, "indexed_at": entry.indexed_at,
                        "size": entry.size, "ocr_pages": list(entry.ocr_pages),
                        "vectors_pending": path in pending})
        return out

    def ocr_page(self, path: str | Path, page: int) -> OcrPage | None:
        """Page ``page`` (1-based) of the PDF at ``path`` as OCR read it in the current version (its words with
        their boxes: what the page picture marks a quote with); None when that page has a text layer."""
        current = self.folder.current()
        return read_ocr_page(current, doc_id_for(Path(path)), page) if current is not None else None

    def access_policy(self) -> AccessPolicy:
        """The current access rules (re-read when the rules file changes; no re-indexing needed)."""
        return self._policies.policy()

    def access_problems(self) -> list[RuleProblem]:
        """What is wrong with the access rules against the current version's documents (``kb status``, the
        Documents page); a rules file that cannot be loaded is one refusing problem. Never raises."""
        try:
            return self._rule_problems(self.access_policy())
        except ConfigError as exc:
            return [RuleProblem(0, str(exc), refuse=True)]

    def _rule_problems(self, policy: AccessPolicy) -> list[RuleProblem]:
        current = self.folder.current() if policy.rules or policy.notices else None
        version = current.name if current else ""
        with self._rule_lock:
            if self._rule_check is None or self._rule_check[:2] != (id(policy), version):
                paths = Manifest.read(current).indexed if current else {}
                self._rule_check = (id(policy), version, check_rules(policy, paths))
            return self._rule_check[2]

    def _checked_policy(self) -> AccessPolicy:
        """The access policy, refused (ConfigError) while a rule's intent is ambiguous: fail closed."""
        policy = self.access_policy()
        refused = [p for p in self._rule_problems(policy) if p.refuse]
        if refused:
            raise ConfigError(f"access rules {policy.source} refused, so searches stop until they are fixed: "
                              + "; ".join(p.message for p in refused))
        return policy

    def check_access(self) -> AccessPolicy:
        """Load and check the access rules now: raises ConfigError when they are missing, malformed or refused."""
        return self._checked_policy()

    def can_read(self, path: str | Path, user: User) -> bool:
        """Whether ``user`` may see the document at ``path`` (previews, downloads, document lists)."""
        return self._checked_policy().allowed(path, user)

    def warm_up(self) -> None:
        """Load the embedding model, the index and the generator now, so the first question is fast."""
        self.search("warm up", k=1)
        if self.judge() is not None:
            self.judge().warm_up()
        if self.answer_reader() is not None:
            self.answer_reader().warm_up()
        answerer = self.answerer()
        if self.settings.answer_mode == "generate":
            for _ in answerer.generator.stream([{"role": "user", "content": "Hello"}], 1):
                pass

    def answerer(self) -> Answerer:
        with self._lock:
            if self._answerer is None:
                reader = self.answer_reader()
                self._answerer = Answerer(self._retrieve, self.embedder.encode,
                                          self._generator or make_generator(self.settings), self.settings,
                                          self.judge(), spell=self.spell, reader=reader,
                                          calibration=Calibration.load(reader.path) if reader else None,
                                          directives=self._directive_model())
            self._answerer.judge = self.judge()  # the current version's (a tuned one arrives with a version)
            return self._answerer

    def _directive_model(self) -> DirectiveModel | None:
        """The learned planted-instruction check (``directive_model``), when it fits the embedding model."""
        if not self.settings.directive_model:
            return None
        name = self.settings.directive_model
        folder = SHIPPED_DIRECTIVES if name == SHIPPED_DIRECTIVES.name else Path(name).expanduser()
        return DirectiveModel.load(folder, self.settings.embedding_model)

    def answer_reader(self) -> Reader | None:
        """The reader model (``reader_model``), loaded on its first use; None when it is off."""
        if not self.settings.reader_model:
            return None
        with self._lock:
            if self._reader is None:
                self._reader = Reader(resolve_reader_path(self.settings.reader_model), self.settings.device)
            return self._reader

    def reader(self) -> VersionReader:
        """The loaded current version, reloaded when a writer has published a newer one."""
        return self._current_searcher().reader

    def _current_searcher(self) -> VersionSearcher:
        with self._lock:
            for attempt in range(5):
                current = self.folder.require_current()
                if self._searcher is not None and self._searcher.reader.folder == current:
                    return self._searcher
                try:
                    self._searcher = self._load(current)
                    return self._searcher
                except (OSError, RuntimeError, IndexUnusable) as exc:
                    if isinstance(exc, IncompatibleIndex):
                        raise
                    # a writer published again and pruned this version while it was being loaded: load the
                    # newer one; the same error on a version that is still current is real
                    if attempt == 4 or self.folder.require_current() == current:
                        raise
                    log.info("index version %s went away while loading; loading the current one", current.name)
        raise AssertionError("unreachable")

    def _known_words(self, tokenizer: str, languages: list[str]) -> dict[str, int]:
        """``kb.text.spelling.known_words``, loaded once for each tokenizer and set of languages (each new
        version would otherwise read the dictionaries again)."""
        key = (tokenizer, tuple(sorted(languages)))
        if key not in self._known:
            self._known[key] = known_words(tokenizer, languages)
        return self._known[key]

    def _load(self, current: Path) -> VersionSearcher:
        manifest = Manifest.read(current)
        manifest.check_compatible(self.settings.embedding_model, self.settings.bm25_language,
                                  self.folder.root, chunking_settings(self.settings, self.embedder))
        # the old searcher is not closed here: another thread may still be searching it; its connection
        # closes when the last reference to it goes
        reader = self._store.reader(current, self.settings) if self._store is not None else None
        searcher = VersionSearcher(current, self.settings, self._embedders.get(tuned_embedder(current)), reader,
                                   known=self._known_words)
        log.info("loaded index version %s (%d chunks)", current.name, manifest.chunks)
        return searcher

    def status(self) -> dict:
        """Documents, chunks, pages, skipped files with reasons, model and size of the current version."""
        current = self.folder.require_current()
        manifest = Manifest.read(current)
        indexed = manifest.indexed
        return {
            "index": str(self.folder.root.resolve()),
            "version": current.name,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(manifest.created_at)),
            "documents": len(indexed),
            "chunks": manifest.chunks,
            "pages": sum(e.pages or 0 for e in indexed.values()),
            "skipped": [{"path": p, "reason": e.reason} for p, e in sorted(manifest.files.items()) if e.skipped],
            "warnings": [{"path": p, "warnings": e.warnings} for p, e in sorted(indexed.items()) if e.warnings],
            "embedding_model": manifest.embedding_model,
            "embedding_backend": split_embedding_model(manifest.embedding_model)[1] or "torch",
            "dimension": manifest.dimension,
            "chunking": manifest.chunking,
            "size_bytes": folder_size(current),
            "access": {"rules": str(self.settings.acl_rules) if is_set(self.settings.acl_rules) else None,
                       "problems": [p.to_json() for p in self.access_problems()]},
            "judge": self._judge_status(current),
            "embedder": self._embedder_status(current),
            # files searchable by keyword only: their vectors join in the next version (keyword-first publishing)
            "vectors_pending": list(manifest.vectors_pending),
        }

    def last_tune_report(self) -> dict | None:
        """The report of the tuning that made the current version, if one did."""
        current = self.folder.current()
        path = current / TUNE_REPORT if current is not None else None
        return json.loads(path.read_text(encoding="utf-8")) if path is not None and path.is_file() else None

    def _embedder_status(self, current: Path) -> dict:
        """Which model made this version's vectors: tuned for it (``kb tune``), or the configured one."""
        tuned = tuned_embedder(current)
        if tuned is None:
            return {"source": "setting", "model": self.settings.embedding_model}
        report = (self.last_tune_report() or {}).get("embedder") or {}
        return {"source": "tuned", "path": str(tuned), "base": self.settings.embedding_model,
                "tuned_in": report.get("version_after") or current.name, "reason": report.get("reason")}

    def _judge_status(self, current: Path) -> dict | None:
        """Which judge this version uses: tuned for it (with when and on what), or the configured one."""
        if not self.settings.judge_model:
            return None
        tuned = tuned_judge(current) if self.settings.judge_model == SHIPPED_JUDGE else None
        if tuned is None:
            return {"source": "setting", "model": self.settings.judge_model, "path": str(self.judge_path())}
        report = self.last_tune_report() or {}
        return {"source": "tuned", "path": str(tuned), "tuned_in": report.get("version_after") or current.name,
                "tuned_at": report.get("started_at"), "pairs": report.get("pairs"), "reason": report.get("reason")}
