"""Filters restrict both retrievers before ranking: by collection (first-level folder), file type, path."""

from __future__ import annotations

import numpy as np
import pytest

from kb import KnowledgeBase, Settings
from kb.embedding import HASHED_MODEL
from kb.retrieval.filters import Filter, collection_of


def test_collection_is_the_first_level_subfolder(tmp_path):
    assert collection_of(tmp_path / "hr" / "sub" / "a.pdf", tmp_path) == "hr"
    assert collection_of(tmp_path / "top.pdf", tmp_path) == ""
    assert collection_of("/elsewhere/x.pdf", tmp_path) == ""


def test_filter_parts_all_must_hold(tmp_path):
    f = Filter.of(collections=["hr"], suffixes=[".PDF"], docs_dir=tmp_path)
    assert f.allows(str(tmp_path / "hr" / "a.pdf"))
    assert not f.allows(str(tmp_path / "hr" / "a.docx"))
    assert not f.allows(str(tmp_path / "it" / "a.pdf"))
    by_path = Filter.of(paths=[tmp_path / "it"])
    assert by_path.allows(str(tmp_path / "it" / "x.md")) and not by_path.allows(str(tmp_path / "itx" / "x.md"))
    acl = Filter.of(predicate=lambda p: "secret" not in p)
    assert list(acl.mask(np.array(["/a/secret.pdf", "/a/open.pdf", "/a/secret.pdf"], dtype=object))) == [
        False, True, False]
    assert Filter().empty and not acl.empty


@pytest.fixture(scope="module")
def kb(hashed_sample_index, hashed_embedder, sample_docs):
    # filtering is plumbing: the hashed embedder and BM25 find the passages
    return KnowledgeBase(Settings(index_dir=hashed_sample_index, docs_dir=sample_docs, embedding_model=HASHED_MODEL),
                         embedder=hashed_embedder)


@pytest.mark.slow
def test_search_by_collection_returns_only_that_collection_and_still_fills_k(kb, sample_docs):
    query = "how many days of annual leave do I get"
    unfiltered = kb.search(query, k=5)
    assert unfiltered[0].chunk.name == "leave_policy.pdf"
    hits = kb.search(query, k=5, where=kb.filter(collections=["finance", "it"]))
    assert len(hits) == 5
    assert {collection_of(h.chunk.path, sample_docs) for h in hits} <= {"finance", "it"}
    assert all(h.dense_rank is not None or h.keyword_rank is not None for h in hits)


@pytest.mark.slow
def test_search_by_file_type(kb):
    hits = kb.search("annual leave", k=8, where=kb.filter(suffixes=["docx"]))
    assert hits and all(h.chunk.name.endswith(".docx") for h in hits)
    # dense ranks are ranks among the allowed chunks: the filter ran inside FAISS, not after it
    assert sorted(h.dense_rank for h in hits if h.dense_rank)[0] == 1


def test_filter_that_allows_nothing_returns_nothing(kb):
    assert kb.search("annual leave", k=5, where=kb.filter(collections=["no-such-folder"])) == []


@pytest.mark.slow
def test_ask_passes_the_filter_to_retrieval(kb):
    from kb.answering.pipeline import Answerer
    from kb.types import Answer

    class NoAnswerGenerator:
        """A deterministic generator: this test only observes retrieval."""

        def context_tokens(self):
            return 2048

        def count_tokens(self, text):
            return len(text.split())

        def stream(self, messages, max_new_tokens):
            yield "The documents do not say."

    seen = []

    def retrieve(query, k, where):
        hits = kb.search(query, k, where)
        seen.extend(h.chunk.name for h in hits)
        return hits

    # the answerer retrieves through the function it is given, with the filter given to ask
    answerer = Answerer(retrieve, kb.embedder.encode, NoAnswerGenerator(), kb.settings)
    answer = answerer.ask("how many days of annual leave do I get", where=kb.filter(collections=["it"]))
    assert isinstance(answer, Answer)
    assert seen and all(name == "it_security_policy.docx" for name in seen)
    # and the knowledge base passes the filter of ask() on to its answerer
    kb_no_answer = KnowledgeBase(kb.settings, embedder=kb.embedder, generator=NoAnswerGenerator())
    answer = kb_no_answer.ask("how many days of annual leave do I get", where=kb.filter(collections=["it"]))
    assert answer.hits and all(h.chunk.name == "it_security_policy.docx" for h in answer.hits)


@pytest.mark.parametrize("exact_max", [1000, 0])  # flat index, and HNSW (used above exact_search_max)
def test_dense_selector_returns_the_best_allowed_vectors(exact_max):
    from kb.index.dense import VectorIndex

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1000, 1300, dtype=np.int64)
    index = VectorIndex(16, exact_max=exact_max, hnsw_m=16, ef_search=200)
    index.build(vectors, ids)
    allowed = ids[::7]
    found, scores = index.search(vectors[5], 5, allowed)
    expected = allowed[np.argsort(-(vectors[(allowed - 1000)] @ vectors[5]))[:5]]
    assert set(found) <= set(allowed) and list(found) == list(expected)
    assert list(index.search(vectors[5], 5, np.zeros(0, dtype=np.int64))[0]) == []
