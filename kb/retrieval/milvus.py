"""The Milvus index backend (``index_backend = "milvus"``): one collection per index version, behind an alias.

The version folder stays what it is (manifest, chunk table with the provenance, the FAISS and BM25 files);
publishing a version also loads its chunks into the collection ``<milvus_collection>_<version>``:

    id      INT64 primary key      the chunk's row id (its id in the version's chunk table)
    vector  FLOAT_VECTOR (IP)      the chunk's normalised vector (inner product = cosine, as FAISS has it)
    text    VARCHAR, analysed      the chunk's BM25 terms as ``kb.text.analyzer`` makes them, input of
    sparse  SPARSE_FLOAT_VECTOR    ... Milvus' built-in BM25 function
    path    VARCHAR                the source file (filters no other field expresses become ``path in [...]``)
    dense   BOOL                   false for a chunk published before its vector (keyword-first)
    access  VARCHAR                who may read the file: "everyone" or its rule's groups ("finance,management")
    collection, suffix  VARCHAR    its first-level folder under ``docs_dir`` and its file type

Access rules change without re-indexing, so the access keys are stamped: the collection's ``kb_access`` property
holds ``AccessPolicy.stamp`` of the rules they were computed with. A search whose rules carry that stamp filters
on ``access in [the reader's keys]`` (a handful of short strings, however many files); one under other rules
first re-stamps the collection (the keys rewritten from the chunk table; the property is cleared while that
runs, so no search trusts half-written keys) and lists the allowed paths if that fails. A collection loaded
before these fields existed is filtered by listing paths too.

The alias ``<milvus_collection>_current`` is switched (one atomic Milvus operation) when a version is published
or rolled back to; collections of pruned versions are dropped. A reader searches the collection of the version
folder it was loaded for, never "whatever the alias names now", so a search sees one whole version even while
the alias moves, and provenance always comes from the matching chunk table.

Milvus gets the terms our analyzer made (per passage language, Snowball stems, our stopwords) rather than
analysing the raw text itself: milvus-lite has only the ``standard`` and ``jieba`` tokenizers, and this way
both backends rank the same terms the same way (Lucene BM25, k1 = 1.2, b = 0.75).
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from kb.errors import IndexLocked, IndexUnusable
from kb.index.manifest import Manifest
from kb.index.sparse import KeywordIndex
from kb.index.version import BM25_DIR, fetch_chunks, load_ids, load_vectors, open_db, select_chunks
from kb.retrieval.filters import Access, Filter, collection_of, suffix_of
from kb.retrieval.reader import WORD_CHECK_PASSAGES, readable_count
from kb.settings import Settings
from kb.types import Hit

log = logging.getLogger(__name__)

LITE_FILE = "milvus.db"  # the default milvus-lite file inside the index folder
TOKEN_ENV = "MILVUS_TOKEN"  # "user:password" or an API key; never a setting, so never in kb.toml or a report
_BUILDING = "__building_"  # a collection still being filled carries this and a unique suffix, never the final name
_INSERT_BATCH = 1000
_RESTAMP_BATCH = 5000
_RESTAMPED = ("access", "collection")  # the fields that depend on the access rules and docs_dir
_MAX_VARCHAR = 65_535
STAMP = "kb_access"  # collection property: the AccessPolicy.stamp its access keys were computed with
ROOT = "kb_root"  # collection property: the docs_dir its collection field is relative to
ACCESS_FIELDS = ("access", "collection", "suffix")


def milvus_uri(settings: Settings) -> str:
    """Where the collections live: the ``milvus_uri`` setting, or ``<index_dir>/milvus.db`` (milvus-lite)."""
    return settings.milvus_uri or str(Path(settings.index_dir) / LITE_FILE)


def is_lite(uri: str) -> bool:
    return not uri.startswith(("http://", "https://", "tcp://", "unix:"))


AccessKeys = Callable[[], "tuple[str, Callable[[str], str]]"]  # () -> (rules stamp, path -> access key)


def milvus_store(settings: Settings, env: Mapping[str, str] | None = None,
                 access_keys: AccessKeys | None = None) -> MilvusStore | None:
    """The store for ``index_backend = "milvus"`` (None for "faiss"); the token comes from ``$MILVUS_TOKEN``;
    ``access_keys`` stamps each passage with its document's access key (``kb.access.rules.milvus_access_keys``)."""
    if settings.index_backend != "milvus":
        return None
    env = os.environ if env is None else env
    return MilvusStore(milvus_uri(settings), settings, token=env.get(TOKEN_ENV, ""), access_keys=access_keys)


class MilvusStore:
    """The collections of one index folder on one Milvus (server or milvus-lite file).

    It is the folder's ``VersionStore`` (``kb.index.folder``): ``prepare`` loads a finished version into its
    collection, ``activate`` switches the alias, ``prune`` drops the collections of pruned versions. The
    connection opens on first use and is shared by every reader this store opens (one per process for a lite
    file: milvus-lite lets one process open it).
    """

    def __init__(self, uri: str, settings: Settings, token: str = "", access_keys: AccessKeys | None = None):
        self.uri = uri
        self.settings = settings
        self.access_keys = access_keys or no_access_keys
        self.prefix = settings.milvus_collection
        self.alias = f"{self.prefix}_current"
        self._token = token
        self._client = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ connection

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self):
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise IndexUnusable("index_backend = \"milvus\" needs pymilvus and milvus-lite: pip install "
                                "'kb[milvus]' (or set index_backend = \"faiss\")") from None
        if is_lite(self.uri):
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
            quiet_lite_server()
        try:
            return MilvusClient(uri=self.uri, token=self._token)
        except Exception as exc:
            if is_lite(self.uri) and _lite_locked(Path(self.uri)):
                raise IndexLocked(f"the milvus-lite file {self.uri} is open in another process, and only one process "
                                  "can open a milvus-lite file. kb serve's web app, watcher and reindex child are "
                                  "separate processes: run a Milvus server and set milvus_uri = "
                                  "\"http://HOST:19530\", or stop the other process") from None
            raise IndexUnusable(f"cannot open Milvus at {self.uri} ({exc}); check milvus_uri and ${TOKEN_ENV}, or "
                                "set index_backend = \"faiss\"") from None

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # ------------------------------------------------------------------ versions <-> collections

    def collection(self, version: str) -> str:
        """The collection that holds index version ``version`` (a folder name such as ``v000007``)."""
        return f"{self.prefix}_{version}"

    def current(self) -> str | None:
        """The collection the alias names now (None before the first publish)."""
        if self.alias not in self.client.list_aliases().get("aliases", []):
            return None  # (asking describe_alias would log an error with a traceback before the first publish)
        return self.client.describe_alias(self.alias)["collection_name"]

    def prepare(self, folder: Path, name: str) -> None:
        """Load the finished version in ``folder`` into collection ``name``'s, replacing any stale one there
        (left by a writer that failed after loading, before publishing: its number is used again)."""
        target = self.collection(name)
        client = self.client
        for stale in client.list_collections():
            if stale == target or stale.startswith(self.prefix + _BUILDING):
                client.drop_collection(stale)
        self._build(folder, target)

    def activate(self, version: Path) -> None:
        """Point the alias at ``version``'s collection, loading it first if it has none (a version published
        before ``index_backend`` was milvus)."""
        name = self.ensure(version)
        client = self.client
        if self.current() is None:
            client.create_alias(name, self.alias)
        else:
            client.alter_alias(name, self.alias)
        log.info("Milvus alias %s -> %s", self.alias, name)

    def prune(self, kept: list[Path]) -> None:
        """Drop the collections of versions that are not in ``kept`` (never the one the alias names)."""
        keep = {self.collection(v.name) for v in kept} | {self.current()}
        for name in self.client.list_collections():
            version = name[len(self.prefix) + 1:]
            if name.startswith(self.prefix + "_v") and version[1:].isdigit() and name not in keep:
                self.client.drop_collection(name)
                log.info("dropped Milvus collection %s (its version was pruned)", name)

    def ensure(self, version: Path) -> str:
        """The loaded collection of the published ``version``, built from its folder if it has none yet."""
        name = self.collection(version.name)
        client = self.client
        if not client.has_collection(name):
            log.info("index version %s has no Milvus collection yet; loading it", version.name)
            self._build(version, name)
        client.load_collection(name)  # a collection is released when milvus-lite reopens it
        return name

    def reader(self, folder: Path, settings: Settings) -> MilvusReader:
        """A reader of the published version ``folder`` (loads its collection if it has none)."""
        return MilvusReader(folder, settings, self, self.ensure(folder))

    # ------------------------------------------------------------------ building a collection

    def _build(self, folder: Path, name: str) -> None:
        """Fill a new collection from a version folder; it gets ``name`` only once it is complete."""
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        started = time.perf_counter()
        manifest = Manifest.read(folder)
        client = self.client
        building = f"{self.prefix}{_BUILDING}{os.getpid()}_{time.time_ns()}"
        schema = MilvusClient.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=manifest.dimension)
        schema.add_field("text", DataType.VARCHAR, max_length=_MAX_VARCHAR, enable_analyzer=True,
                         analyzer_params={"tokenizer": "standard"})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("path", DataType.VARCHAR, max_length=_MAX_VARCHAR)
        schema.add_field("dense", DataType.BOOL)
        for keyed in ACCESS_FIELDS:
            schema.add_field(keyed, DataType.VARCHAR, max_length=_MAX_VARCHAR)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                     output_field_names=["sparse"]))
        index = client.prepare_index_params()
        s = self.settings
        if manifest.chunks > s.exact_search_max:
            index.add_index("vector", index_type="HNSW", metric_type="IP",
                            params=self._index_params({"M": s.hnsw_m, "efConstruction": 80}))
        else:
            index.add_index("vector", index_type="FLAT", metric_type="IP")
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                        params=self._index_params({"bm25_k1": 1.2, "bm25_b": 0.75}))  # KeywordIndex's defaults
        client.create_collection(building, schema=schema, index_params=index)
        try:
            stamp, keys = self.access_keys()
            rows = self._rows(folder, manifest, keys)
            for start in range(0, len(rows), _INSERT_BATCH):
                client.insert(building, rows[start:start + _INSERT_BATCH])
            client.flush(building)
            client.alter_collection_properties(building, {STAMP: stamp, ROOT: self.root})
            client.rename_collection(building, name)
        except BaseException:
            client.drop_collection(building)
            raise
        client.load_collection(name)
        log.info("loaded index version %s into Milvus collection %s (%d chunks) in %.1f s", folder.name, name,
                 len(rows), time.perf_counter() - started)

    def _index_params(self, params: dict) -> dict:
        # pymilvus 3 sends index parameters as flat key/value pairs; milvus-lite 3.2 reads only the older nested
        # "params" pair (and silently used its own bm25_k1 = 1.5), which servers accept as well
        return {**params, "params": dict(params)} if is_lite(self.uri) else params

    @property
    def root(self) -> str:
        """The documents folder the collection fields are relative to (``docs_dir``, resolved)."""
        return str(Path(self.settings.docs_dir).expanduser().resolve())

    def _rows(self, folder: Path, manifest: Manifest, keys: Callable[[str], str]) -> list[dict]:
        ids = load_ids(folder)
        vectors = load_vectors(folder)
        pending = set(manifest.vectors_pending)
        keyword = KeywordIndex(manifest.bm25_language)
        db = open_db(folder)
        try:
            chunks = dict(select_chunks(db))
        finally:
            db.close()
        fields = self._path_fields(keys)
        rows = []
        for position, row_id in enumerate(ids):
            chunk = chunks[int(row_id)]
            rows.append({"id": int(row_id), "vector": np.asarray(vectors[position], dtype=np.float32).tolist(),
                         "text": " ".join(keyword.analyzer(chunk.language)(chunk.embed_text)),
                         "path": chunk.path, "dense": chunk.path not in pending, **fields(chunk.path)})
        return rows

    def _path_fields(self, keys: Callable[[str], str]) -> Callable[[str], dict]:
        """path -> its access, collection and suffix fields (worked out once per file)."""
        root, known = self.root, {}

        def fields(path: str) -> dict:
            if path not in known:
                known[path] = {"access": keys(path), "collection": collection_of(path, root),
                               "suffix": suffix_of(path)}
            return known[path]

        return fields

    def restamp(self, collection: str, folder: Path, access: Access) -> None:
        """Rewrite the access keys of ``collection`` (index version ``folder``) for other rules: the stamp is
        cleared first and set once every row has its new key, so no search trusts a half-written collection."""
        started = time.perf_counter()
        client = self.client
        client.alter_collection_properties(collection, {STAMP: ""})
        db = open_db(folder)
        try:
            rows = [(int(i), p) for i, p in db.execute("SELECT id, path FROM chunks ORDER BY id")]
        finally:
            db.close()
        fields, changed = self._path_fields(access.key_of), 0
        for start in range(0, len(rows), _RESTAMP_BATCH):
            batch = rows[start:start + _RESTAMP_BATCH]
            stored = {int(r["id"]): r for r in client.query(collection, ids=[i for i, _ in batch],
                                                            output_fields=list(_RESTAMPED))}
            update = [{"id": i, **fields(p)} for i, p in batch
                      if any(stored.get(i, {}).get(k) != fields(p)[k] for k in _RESTAMPED)]
            if update:  # only the rows whose key changed are rewritten (a rules edit moves few files)
                client.upsert(collection, update, partial_update=True)
                changed += len(update)
        client.flush(collection)
        client.alter_collection_properties(collection, {STAMP: access.stamp, ROOT: self.root})
        log.info("access rules changed: re-stamped the access keys of Milvus collection %s (%d of %d chunks changed) "
                 "in %.1f s", collection, changed, len(rows), time.perf_counter() - started)

    def stamp(self, collection: str) -> tuple[str, str]:
        """(access stamp, docs_dir) a collection's keys were computed with; ("", "") when unknown."""
        properties = self.client.describe_collection(collection).get("properties") or {}
        return properties.get(STAMP, ""), properties.get(ROOT, "")


class MilvusReader:
    """One published version searched in its Milvus collection: hybrid search (dense + BM25) fused by Milvus,
    with the filter pushed down as an expression on the access keys, collections and file types stored with
    each passage (see the module); provenance from the version's chunk table."""

    def __init__(self, folder: Path, settings: Settings, store: MilvusStore, collection: str):
        self.folder = folder
        self.settings = settings
        self.store = store
        self.collection = collection
        self.manifest = Manifest.read(folder)
        self.db = open_db(folder)
        self.ids = load_ids(folder)
        self.vectors = load_vectors(folder)  # the hits' cosine (dense_score), which the answer gates read
        self.keyword = KeywordIndex(self.manifest.bm25_language)
        self.keyword.load_analysis(folder / BM25_DIR)  # a query is analysed in every language the version holds
        self._paths: list[str] | None = None
        fields = {f["name"] for f in store.client.describe_collection(collection).get("fields", [])}
        self.keyed = set(ACCESS_FIELDS) <= fields
        if not self.keyed:
            log.warning("Milvus collection %s was loaded before access keys were stored with each passage: filtered "
                        "searches list the allowed files (slow with many files) until a new version is published "
                        "(`kb reindex --rebuild`)", collection)
        self._lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def paths(self) -> list[str]:
        """The distinct source paths of the version's chunks (what a filter is decided on, once per file)."""
        if self._paths is None:
            self._paths = [p for (p,) in self.db.execute("SELECT DISTINCT path FROM chunks ORDER BY path")]
        return self._paths

    def path_filter(self, where: Filter | None) -> str | None:
        """The Milvus filter expression for ``where``: "" allows everything, None nothing (fail closed).

        Access rules, collections and file types become conditions on the fields stored with each passage;
        what is left (chosen files, an extra predicate, access keys of other rules that cannot be re-stamped)
        becomes the list of allowed paths."""
        if where is None or where.empty:
            return ""
        parts, rest = [], where
        stamp, root = self.store.stamp(self.collection) if self.keyed else ("", "")
        if where.access is not None and self._stamped(where.access, stamp):
            parts.append(f"access in {_strings(where.access.keys)}")
            rest = dataclasses.replace(rest, access=None)
        if where.suffixes and self.keyed:
            parts.append(f"suffix in {_strings(where.suffixes)}")
            rest = dataclasses.replace(rest, suffixes=())
        if where.collections and self.keyed and where.docs_dir is not None and \
                str(Path(where.docs_dir).expanduser().resolve()) == root:
            parts.append(f"collection in {_strings(where.collections)}")
            rest = dataclasses.replace(rest, collections=())
        if not rest.empty:
            paths = self.paths()
            allowed = [p for p in paths if rest.allows(p)]
            if not allowed:
                return None
            if len(allowed) < len(paths):
                parts.append(f"path in {_strings(allowed)}")
        return " and ".join(f"({p})" for p in parts)

    def _stamped(self, access: Access, stamp: str) -> bool:
        """Whether the collection's access keys are those of ``access``' rules, re-stamping it when they are
        not; False (list the paths instead) when that cannot be done."""
        if not self.keyed:
            return False
        if stamp == access.stamp:
            return True
        with self._lock:  # one re-stamp at a time in this process; another process's shows in the property
            if self.store.stamp(self.collection)[0] == access.stamp:
                return True
            try:
                self.store.restamp(self.collection, self.folder, access)
                return True
            except Exception as exc:  # a read-only account, a server without partial updates: still correct
                log.warning("cannot re-stamp the access keys of Milvus collection %s for the changed access rules "
                            "(%s); searches list the allowed files instead, which is slow with many files",
                            self.collection, exc)
                return False

    def readable_words(self, words: Sequence[str], where: Filter) -> dict[str, int]:
        expr = self.path_filter(where)
        counts = {}
        for word in words:
            terms = self.keyword.query_terms(word)
            if expr is None or not terms:
                counts[word] = 0
                continue
            found = self.store.client.search(self.collection, data=[" ".join(terms)], anns_field="sparse",
                                             search_params={"metric_type": "BM25"}, limit=WORD_CHECK_PASSAGES,
                                             filter=expr, output_fields=[])
            counts[word] = readable_count(self.db, [int(h["id"]) for h in found[0]], word)
        return counts

    def search(self, query: str, query_vector: np.ndarray, k: int, where: Filter | None = None) -> list[Hit]:
        """Hybrid search in Milvus: a dense and a BM25 request, fused by Milvus' RRF or weighted ranker.

        ``where`` is a filter expression (:meth:`path_filter`) in both requests, so they rank only allowed
        chunks."""
        from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

        s = self.settings
        expr = self.path_filter(where)
        if expr is None:
            return []
        depth = max(s.candidates, k)
        vector = np.asarray(query_vector, dtype=np.float32)
        dense_param = {"metric_type": "IP", "params": {"ef": max(s.hnsw_ef_search, depth)}}
        requests = [AnnSearchRequest([vector.tolist()], "vector", dense_param, limit=depth,
                                     expr="dense" + (f" and ({expr})" if expr else ""))]
        terms = self.keyword.query_terms(query)
        if terms:  # no terms: the folder backend's keyword list is empty too
            requests.append(AnnSearchRequest([" ".join(terms)], "sparse", {"metric_type": "BM25"}, limit=depth,
                                             expr=expr or None))
        ranker = RRFRanker(s.rrf_k) if s.fusion == "rrf" else \
            WeightedRanker(*[s.dense_weight, 1.0 - s.dense_weight][:len(requests)])
        # all fused candidates, then ordered by (score, id) as the folder backend orders them: Milvus breaks ties
        # its own way, and RRF ties are common
        result = self.store.client.hybrid_search(self.collection, requests, ranker, limit=depth, output_fields=[])
        fused = sorted(((float(h["distance"]), int(h["id"])) for h in result[0]), key=lambda x: (-x[0], x[1]))[:k]
        chunks = fetch_chunks(self.db, [i for _, i in fused])
        positions = np.searchsorted(self.ids, np.array([i for _, i in fused], dtype=np.int64))
        hits = []
        for rank, ((score, chunk_id), position) in enumerate(zip(fused, positions), start=1):
            row = np.asarray(self.vectors[position], dtype=np.float32)
            cosine = float(row @ vector) if row.any() else None  # a zero row: published before its vector
            hits.append(Hit(chunk=chunks[chunk_id], score=score, rank=rank, dense_score=cosine))
        return hits


def no_access_keys() -> tuple[str, Callable[[str], str]]:
    """The access keys of a store given no rules: no stamp and a key no reader has (fail closed); searches then
    re-stamp the collection with the rules they run under."""
    return "", lambda path: ""


def _strings(values) -> str:
    """A Milvus list literal of strings: ``["a", "b"]``."""
    return "[" + ", ".join(milvus_string(str(v)) for v in values) + "]"


def milvus_string(text: str) -> str:
    """``text`` as a string literal of Milvus' filter expressions (which know no \\u escapes: other characters
    go in as they are)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


class _UnimplementedByLite(logging.Filter):
    """milvus-lite's in-process server has no AllocTimestamp: pymilvus asks for one while it waits for an index
    to be built (each ``kb ingest`` that loads a collection) and carries on without it, but grpc logs each
    refusal as an error with a traceback. Those records are dropped (one debug line says so); others pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc_type, _, trace = record.exc_info or (None, None, None)
        if exc_type is NotImplementedError:
            while trace is not None and trace.tb_next is not None:
                trace = trace.tb_next
            if trace is not None and trace.tb_frame.f_code.co_name == "AllocTimestamp":
                log.debug("milvus-lite does not implement AllocTimestamp (pymilvus goes on without it)")
                return False
        return True


def quiet_lite_server() -> None:
    """Drop milvus-lite's harmless "AllocTimestamp not implemented" tracebacks (see _UnimplementedByLite)."""
    server = logging.getLogger("grpc._server")
    if not any(isinstance(f, _UnimplementedByLite) for f in server.filters):
        server.addFilter(_UnimplementedByLite())


def _lite_locked(path: Path) -> bool:
    """Whether another process holds the lock milvus-lite takes on its data folder."""
    lock = path / "LOCK"
    if not lock.is_file():
        return False
    with open(lock, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False
