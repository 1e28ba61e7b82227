"""The Milvus index backend (``index_backend = "milvus"``): one collection per index version, behind an alias.

The version folder stays what it is (manifest, chunk table with the provenance, the FAISS and BM25 files);
publishing a version also loads its chunks into the collection ``<milvus_collection>_<version>``:

    id      INT64 primary key      the chunk's row id (its id in the version's chunk table)
    vector  FLOAT_VECTOR (IP)      the chunk's normalised vector (inner product = cosine, as FAISS has it)
    text    VARCHAR, analysed      the chunk's BM25 terms as ``kb.text.analyzer`` makes them, input of
    sparse  SPARSE_FLOAT_VECTOR    ... Milvus' built-in BM25 function
    path    VARCHAR                the source file: access rules and filters become ``path in [...]``
    dense   BOOL                   false for a chunk published before its vector (keyword-first)

The alias ``<milvus_collection>_current`` is switched (one atomic Milvus operation) when a version is published
or rolled back to; collections of pruned versions are dropped. A reader searches the collection of the version
folder it was loaded for, never "whatever the alias names now", so a search sees one whole version even while
the alias moves, and provenance always comes from the matching chunk table.

Milvus gets the terms our analyzer made (per passage language, Snowball stems, our stopwords) rather than
analysing the raw text itself: milvus-lite has only the ``standard`` and ``jieba`` tokenizers, and this way
both backends rank the same terms the same way (Lucene BM25, k1 = 1.2, b = 0.75).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from pathlib import Path
from typing import Mapping

import numpy as np

from kb.errors import IndexLocked, IndexUnusable
from kb.index.manifest import Manifest
from kb.index.sparse import KeywordIndex
from kb.index.version import BM25_DIR, fetch_chunks, load_ids, load_vectors, open_db, select_chunks
from kb.retrieval.filters import Filter
from kb.settings import Settings
from kb.types import Hit

log = logging.getLogger(__name__)

LITE_FILE = "milvus.db"  # the default milvus-lite file inside the index folder
TOKEN_ENV = "MILVUS_TOKEN"  # "user:password" or an API key; never a setting, so never in kb.toml or a report
_BUILDING = "__building_"  # a collection still being filled carries this and a unique suffix, never the final name
_INSERT_BATCH = 1000
_MAX_VARCHAR = 65_535


def milvus_uri(settings: Settings) -> str:
    """Where the collections live: the ``milvus_uri`` setting, or ``<index_dir>/milvus.db`` (milvus-lite)."""
    return settings.milvus_uri or str(Path(settings.index_dir) / LITE_FILE)


def is_lite(uri: str) -> bool:
    return not uri.startswith(("http://", "https://", "tcp://", "unix:"))


def milvus_store(settings: Settings, env: Mapping[str, str] | None = None) -> "MilvusStore | None":
    """The store for ``index_backend = "milvus"`` (None for "faiss"); the token comes from ``$MILVUS_TOKEN``."""
    if settings.index_backend != "milvus":
        return None
    env = os.environ if env is None else env
    return MilvusStore(milvus_uri(settings), settings, token=env.get(TOKEN_ENV, ""))


class MilvusStore:
    """The collections of one index folder on one Milvus (server or milvus-lite file).

    It is the folder's ``VersionStore`` (``kb.index.folder``): ``prepare`` loads a finished version into its
    collection, ``activate`` switches the alias, ``prune`` drops the collections of pruned versions. The
    connection opens on first use and is shared by every reader this store opens (one per process for a lite
    file: milvus-lite lets one process open it).
    """

    def __init__(self, uri: str, settings: Settings, token: str = ""):
        self.uri = uri
        self.settings = settings
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
        try:
            return self.client.describe_alias(self.alias)["collection_name"]
        except Exception as exc:
            if "does not exist" in str(exc):
                return None
            raise

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

    def reader(self, folder: Path, settings: Settings) -> "MilvusReader":
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
            rows = self._rows(folder, manifest)
            for start in range(0, len(rows), _INSERT_BATCH):
                client.insert(building, rows[start:start + _INSERT_BATCH])
            client.flush(building)
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

    @staticmethod
    def _rows(folder: Path, manifest: Manifest) -> list[dict]:
        ids = load_ids(folder)
        vectors = load_vectors(folder)
        pending = set(manifest.vectors_pending)
        keyword = KeywordIndex(manifest.bm25_language)
        db = open_db(folder)
        try:
            chunks = dict(select_chunks(db))
        finally:
            db.close()
        rows = []
        for position, row_id in enumerate(ids):
            chunk = chunks[int(row_id)]
            rows.append({"id": int(row_id), "vector": np.asarray(vectors[position], dtype=np.float32).tolist(),
                         "text": " ".join(keyword.analyzer(chunk.language)(chunk.embed_text)),
                         "path": chunk.path, "dense": chunk.path not in pending})
        return rows


class MilvusReader:
    """One published version searched in its Milvus collection: hybrid search (dense + BM25) fused by Milvus,
    with the allowed paths pushed down as a filter expression; provenance from the version's chunk table."""

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

    def close(self) -> None:
        self.db.close()

    def paths(self) -> list[str]:
        """The distinct source paths of the version's chunks (what a filter is decided on, once per file)."""
        if self._paths is None:
            self._paths = [p for (p,) in self.db.execute("SELECT DISTINCT path FROM chunks ORDER BY path")]
        return self._paths

    def path_filter(self, where: Filter | None) -> str | None:
        """The Milvus filter expression for ``where``: "" allows everything, None nothing (fail closed)."""
        if where is None or where.empty:
            return ""
        paths = self.paths()
        allowed = [p for p in paths if where.allows(p)]
        if not allowed:
            return None
        if len(allowed) == len(paths):
            return ""
        return "path in [" + ", ".join(milvus_string(p) for p in allowed) + "]"

    def search(self, query: str, query_vector: np.ndarray, k: int, where: Filter | None = None) -> list[Hit]:
        """Hybrid search in Milvus: a dense and a BM25 request, fused by Milvus' RRF or weighted ranker.

        ``where`` is a filter expression on the stored path in both requests, so they rank only allowed chunks."""
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


def milvus_string(text: str) -> str:
    """``text`` as a string literal of Milvus' filter expressions (which know no \\u escapes: other characters
    go in as they are)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


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
