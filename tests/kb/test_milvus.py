"""The Milvus index backend (milvus-lite): the same results as the FAISS + bm25s folder, access rules pushed down
as a path filter, and publish/rollback as an atomic alias switch under a concurrent search loop.

Most tests are plumbing and use the hashed embedder (the dense side only has to be the same vectors on both
backends); one ``model`` test compares the backends with the real embedding model.
"""

from __future__ import annotations

import math
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="pymilvus is not installed: pip install 'kb[milvus]'")
pytest.importorskip("milvus_lite", reason="milvus-lite is not installed: pip install 'kb[milvus]'")

from kb import KnowledgeBase, Settings  # noqa: E402
from kb.access.users import User  # noqa: E402
from kb.answering.evaluate import GoldItem, load_gold  # noqa: E402
from kb.embedding import HASHED_MODEL  # noqa: E402
from kb.errors import ConfigError, IndexLocked  # noqa: E402
from kb.index.version import select_chunks  # noqa: E402
from kb.retrieval.filters import Filter  # noqa: E402
from kb.retrieval.milvus import MilvusReader, MilvusStore, milvus_string  # noqa: E402
from kb.retrieval.reader import IndexReader  # noqa: E402
from kb.sync.reindex import rollback  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _pair(index: Path, milvus_db: Path, embedder, **settings) -> tuple[KnowledgeBase, KnowledgeBase]:
    """The same index folder searched by both backends (the judge off: the index is what is compared)."""
    base = Settings(index_dir=index, judge_model="", **settings)
    return (KnowledgeBase(base, embedder=embedder),
            KnowledgeBase(base.replace(index_backend="milvus", milvus_uri=str(milvus_db)), embedder=embedder))


def _ndcg10(item: GoldItem, hits, relevant: int) -> float:
    gains = [1.0 if any(s.matches(h.chunk) for s in item.sources) else 0.0 for h in hits[:10]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(relevant, 10)))
    return dcg / ideal if ideal else 0.0


def _compare(faiss: KnowledgeBase, milvus: KnowledgeBase, items: list[GoldItem], **search) -> dict:
    chunks = [c for _, c in select_chunks(faiss.reader().db)]
    overlap, ndcg = [], {"faiss": [], "milvus": []}
    for item in items:
        a, b = faiss.search(item.question, k=10, **search), milvus.search(item.question, k=10, **search)
        ids_a, ids_b = {h.chunk.chunk_id for h in a}, {h.chunk.chunk_id for h in b}
        overlap.append(len(ids_a & ids_b) / max(1, len(ids_a), len(ids_b)))
        relevant = sum(1 for c in chunks if any(s.matches(c) for s in item.sources))
        ndcg["faiss"].append(_ndcg10(item, a, relevant))
        ndcg["milvus"].append(_ndcg10(item, b, relevant))
    return {"overlap": sum(overlap) / len(overlap),
            "ndcg_faiss": sum(ndcg["faiss"]) / len(items), "ndcg_milvus": sum(ndcg["milvus"]) / len(items)}


@pytest.fixture(scope="module")
def hashed_pair(hashed_sample_index, hashed_embedder, tmp_path_factory):
    faiss, milvus = _pair(hashed_sample_index, tmp_path_factory.mktemp("milvus") / "kb.db", hashed_embedder,
                          embedding_model=HASHED_MODEL)
    yield faiss, milvus
    milvus._store.close()


def test_same_results_as_the_folder_backend(hashed_pair, sample_docs):
    """Plumbing (hashed embedder): Milvus' hybrid search ranks the sample questions as FAISS + bm25s do, and
    returns the same provenance."""
    faiss, milvus = hashed_pair
    assert isinstance(milvus.reader(), MilvusReader) and isinstance(faiss.reader(), IndexReader)
    items = [i for i in load_gold(sample_docs / "questions.jsonl") if i.answerable]
    figures = _compare(faiss, milvus, items)
    print("sample questions, hashed embedder:", figures)
    # top-10 overlap: below 1 only where passages tie (the hashed embedder gives many exactly 0 cosine)
    assert figures["overlap"] >= 0.9, figures
    assert abs(figures["ndcg_faiss"] - figures["ndcg_milvus"]) <= 0.01, figures
    a, b = faiss.search(items[0].question, k=3), milvus.search(items[0].question, k=3)
    assert [h.chunk for h in a] == [h.chunk for h in b]  # file, page, heading, offsets, text
    assert [h.rank for h in b] == [1, 2, 3] and all(h.dense_score is not None for h in b)


def test_access_rules_are_pushed_down_and_never_leak(tmp_path, hashed_pair, sample_docs):
    """Plumbing: the access rules (and a collection filter) become a ``path in [...]`` expression; results match
    the folder backend's under the same restriction and never hold a disallowed file; nothing allowed: []."""
    rules = tmp_path / "access.rules"
    rules.write_text("hr/** -> hr\nfinance/** -> finance\n", encoding="utf-8")
    faiss, milvus = (KnowledgeBase(kb.settings.replace(acl_rules=rules, docs_dir=sample_docs), embedder=kb.embedder)
                     for kb in hashed_pair)
    items = [i for i in load_gold(sample_docs / "questions.jsonl") if i.answerable]
    employee = User("erin", "employee", ("eng",))
    figures = _compare(faiss, milvus, items, user=employee)
    print("sample questions, hashed embedder, access rules:", figures)
    # top-10 overlap: below 1 only where passages tie (the hashed embedder gives many exactly 0 cosine)
    assert figures["overlap"] >= 0.9, figures
    assert abs(figures["ndcg_faiss"] - figures["ndcg_milvus"]) <= 0.01, figures
    for item in items:
        for hit in milvus.search(item.question, k=20, user=employee):
            assert "/hr/" not in hit.chunk.path and "/finance/" not in hit.chunk.path, hit.chunk.path
    finance = milvus.search("travel expenses receipts", k=10, where=milvus.filter(collections=["finance"]))
    assert finance and {Path(h.chunk.path).parent.name for h in finance} == {"finance"}
    assert milvus.search("travel expenses receipts", k=10, where=Filter.of(predicate=lambda p: False)) == []
    reader = milvus.reader()
    assert reader.path_filter(Filter.of(predicate=lambda p: False)) is None  # fail closed: no search at all
    assert reader.path_filter(None) == "" and reader.path_filter(Filter.of(predicate=lambda p: True)) == ""


def test_odd_file_names_filter_exactly(tmp_path, hashed_embedder):
    """Plumbing: quotes, backslashes, brackets and non-ASCII in a path survive the filter expression (each one
    selects exactly its own file), and a keyword-only version (vectors pending) searches as on FAISS."""
    docs = tmp_path / "docs"
    docs.mkdir()
    names = ['quote " and \\ backslash.txt', 'list "], path in [" trick.txt', "über ✓ 'single'.txt", "plain.txt"]
    for n, name in enumerate(names):
        (docs / name).write_text(f"Shared words about the parking garage, note {n}.\n", encoding="utf-8")
    faiss, milvus = _pair(tmp_path / "index", tmp_path / "m.db", hashed_embedder, embedding_model=HASHED_MODEL,
                          keep_versions=5)
    report = milvus.ingest([docs], keyword_first=True)
    assert report.keyword_version and report.version != report.keyword_version
    for name in names:
        path = str((docs / name).resolve())
        hits = milvus.search("parking garage", k=10, where=Filter.of(predicate=lambda p, path=path: p == path))
        assert hits and {h.chunk.path for h in hits} == {path}, name
        others = milvus.search("parking garage", k=10, where=Filter.of(predicate=lambda p, path=path: p != path))
        assert others and path not in {h.chunk.path for h in others}, name
    assert milvus_string('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    keyword_only = milvus.folder.versions / report.keyword_version
    vector = hashed_embedder.encode_queries(["parking garage note"])[0]
    a = IndexReader(keyword_only, faiss.settings).search("parking garage note", vector, 10)
    b = milvus._store.reader(keyword_only, milvus.settings).search("parking garage note", vector, 10)
    assert [h.chunk.chunk_id for h in a] == [h.chunk.chunk_id for h in b]
    assert all(h.dense_score is None for h in b)  # no vectors yet: found by keyword only
    milvus._store.close()


@pytest.mark.slow
def test_publish_and_rollback_switch_the_alias_atomically_under_searches(tmp_path, hashed_embedder):
    """Plumbing: while a thread searches without pause, publishing and rolling back switch the alias; every
    search succeeds and returns exactly one version's results; pruned versions lose their collections."""
    docs = tmp_path / "docs"
    docs.mkdir()
    _, kb = _pair(tmp_path / "index", tmp_path / "m.db", hashed_embedder, embedding_model=HASHED_MODEL,
                  keep_versions=2)
    store: MilvusStore = kb._store
    query = "quarterly report figures"
    expected: dict[str, list[str]] = {}

    def publish(n: int) -> str:
        (docs / f"report{n}.md").write_text(f"# Report {n}\n\nThe quarterly report figures, part {n}.\n",
                                            encoding="utf-8")
        version = kb.ingest([docs]).version
        vector = hashed_embedder.encode_queries([query])[0]
        reader = store.reader(kb.folder.versions / version, kb.settings)
        expected[version] = [h.chunk.chunk_id for h in reader.search(query, vector, 10)]
        assert store.current() == store.collection(version)
        return version

    first, second = publish(1), publish(2)
    seen, errors, stop = [], [], threading.Event()
    searcher = KnowledgeBase(kb.settings, embedder=hashed_embedder)  # another reader in this process

    def loop() -> None:
        while not stop.is_set():
            try:
                seen.append([h.chunk.chunk_id for h in searcher.search(query, k=10)])
            except Exception as exc:  # noqa: BLE001 - any error fails the test
                errors.append(exc)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        third = publish(3)
        result = rollback(kb.writer())
        assert result["to"] == second and store.current() == store.collection(second)
        fourth = publish(4)  # published after a rollback: the alias follows it again
    finally:
        stop.set()
        thread.join(10)
    assert not errors, errors[:3]
    assert seen and all(ids in expected.values() for ids in seen)
    assert len({tuple(ids) for ids in seen}) >= 2, "the loop saw the versions change"
    kept = {p.name for p in kb.folder.list_versions()}
    assert kept == {third, fourth} and first not in kept
    assert {c for c in store.client.list_collections() if c.startswith("kb_v")} == {store.collection(v) for v in kept}
    store.close()


def test_a_locked_lite_file_names_the_cause_and_the_fix(tmp_path):
    """milvus-lite lets one process open a file: a second process is told why and what to do instead."""
    uri = str(tmp_path / "m.db")
    holder = MilvusStore(uri, Settings(index_dir=tmp_path))
    holder.client.list_collections()
    code = ("from kb.retrieval.milvus import MilvusStore\nfrom kb.settings import Settings\nfrom kb.errors import "
            f"IndexLocked\ntry:\n    MilvusStore({uri!r}, Settings()).client\nexcept IndexLocked as exc:\n"
            "    print('LOCKED', exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "LOCKED" in out.stdout, out.stdout + out.stderr[-2000:]
    assert "only one process" in out.stdout and "milvus_uri" in out.stdout and "http://" in out.stdout
    holder.close()
    assert issubclass(IndexLocked, Exception)


def test_settings_validate_the_backend():
    with pytest.raises(ConfigError, match="index_backend"):
        Settings(index_backend="elastic")
    with pytest.raises(ConfigError, match="dense_weight"):
        Settings(index_backend="milvus", dense_weight=0.3)
    with pytest.raises(ConfigError, match="milvus_uri"):
        Settings(milvus_uri="localhost:19530")
    with pytest.raises(ConfigError, match="milvus_collection"):
        Settings(milvus_collection="kb-prod")
    assert Settings(index_backend="milvus", fusion="weighted", dense_weight=0.3).index_backend == "milvus"


@pytest.mark.model
def test_same_quality_with_the_real_embedder(sample_index, embedder, tmp_path, sample_docs):
    """The real embedding model: top-10 overlap and nDCG@10 on the sample questions within 0.01 of FAISS."""
    faiss, milvus = _pair(sample_index, tmp_path / "m.db", embedder)
    items = [i for i in load_gold(sample_docs / "questions.jsonl") if i.answerable]
    figures = _compare(faiss, milvus, items)
    print("sample questions, real embedder:", figures)
    assert figures["overlap"] >= 0.95 and abs(figures["ndcg_faiss"] - figures["ndcg_milvus"]) <= 0.01, figures
    milvus._store.close()
