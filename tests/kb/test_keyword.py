"""Our sparse BM25 against the reference rank_bm25 on the real SciFact corpus."""

import json

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from kb.index.sparse import KeywordIndex
from kb.text.analyzer import Analyzer


@pytest.fixture(scope="module")
def scifact(shared_data):
    folder = shared_data / "retrieval" / "scifact"
    docs = [json.loads(line) for line in open(folder / "corpus.jsonl", encoding="utf-8")]
    queries = [json.loads(line) for line in open(folder / "queries.jsonl", encoding="utf-8")][:100]
    return [d["title"] + " " + d["text"] for d in docs], [q["text"] for q in queries]


def _reference_top(reference: BM25Okapi, tokens: list[str], k: int) -> list[int]:
    scores = reference.get_scores(tokens)
    top = [int(i) for i in np.argsort(-scores, kind="stable")[:k]]
    return [i for i in top if scores[i] > 0]


@pytest.mark.slow
def test_same_top10_as_rank_bm25_on_scifact(scifact):
    texts, queries = scifact
    ours = KeywordIndex("english", method="robertson", k1=1.2, b=0.75)
    ours.build(texts)
    reference = BM25Okapi([ours.analyzer()(t) for t in texts], k1=1.2, b=0.75)
    for query in queries:
        positions, scores = ours.search(query, 10)
        assert list(positions) == _reference_top(reference, ours.analyzer()(query), 10), query
        assert np.all(np.diff(scores) <= 0)


@pytest.mark.slow
def test_default_lucene_variant_agrees_closely_with_reference(scifact):
    texts, queries = scifact
    ours = KeywordIndex("english")
    ours.build(texts)
    reference = BM25Okapi([ours.analyzer()(t) for t in texts], k1=1.2, b=0.75)
    overlap = np.mean([len(set(ours.search(q, 10)[0]) & set(_reference_top(reference, ours.analyzer()(q), 10))) / 10
                       for q in queries])
    assert overlap >= 0.9


def test_save_load_mask_and_unknown_words(tmp_path):
    index = KeywordIndex("english")
    index.build(["Annual leave is 25 days.", "Sick leave needs a note after 3 days.", "Parking is free."])
    index.save(tmp_path)
    loaded = KeywordIndex("english")
    loaded.load(tmp_path, size=3)
    positions, _ = loaded.search("leave days", 5)
    assert sorted(positions) == [0, 1]
    positions, _ = loaded.search("leave days", 5, mask=np.array([False, True, True]))
    assert list(positions) == [1]
    assert len(loaded.search("zeppelin", 5)[0]) == 0
    assert len(loaded.search("", 5)[0]) == 0


def test_analyzer_stems_and_drops_stopwords():
    assert Analyzer("english")("The employees are travelling") == ["employe", "travel"]
    assert Analyzer("none")("The Employees") == ["the", "employees"]
