"""``kb tune`` for the embedding model: triples, the resumable contrastive loop, the candidate version and its gate."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from kb import KnowledgeBase, Settings
from kb.answering.evaluate import load_gold
from kb.embedding.sbert import SentenceTransformerEmbedder
from kb.index.version import load_ids, load_vectors, open_db, select_chunks, tuned_embedder
from kb.judge.data import Pair
from kb.sync.reindex import rollback
from kb.tuning.embedder import Triple, train_embedder, triples
from kb.tuning.pairs import TunePairs
from kb.tuning.run import _tune_embedder
from tests.conftest import SAMPLE_DOCS


def test_triples_pair_each_positive_with_each_negative_of_its_query():
    pairs = [Pair("q1", "right", 1.0, "gold", "g1"), Pair("q1", "wrong a", 0.0, "gold-negative", "g1"),
             Pair("q1", "wrong b", 0.0, "gold-negative", "g1"), Pair("q2", "liked", 1.0, "feedback-up", "f1"),
             Pair("q3", "disliked", 0.0, "feedback-down", "f2")]
    assert triples(pairs) == [Triple("q1", "right", "wrong a"), Triple("q1", "right", "wrong b"),
                              Triple("q2", "liked")]  # a negative without a positive teaches no ranking


@pytest.mark.model
def test_training_is_seeded_resumable_and_moves_queries_towards_their_passages(embedder, tmp_path):
    base = embedder.tokenizer_path
    data = [Triple("can I bring my dog to the office", "Dogs are welcome at the Glasgow office on Fridays.",
                   "The office kitchen is cleaned every evening."),
            Triple("how much do I get for a hotel in Paris", "City: Paris; Hotel limit: £170; Per diem: £50",
                   "City: London; Hotel limit: £180; Per diem: £55")] * 8
    model, first = train_embedder(base, data, tmp_path / "run", budget_minutes=5, epochs=3)
    assert first["step"] == first["planned_steps"] == 3 and len(first["loss_curve"]) == 1
    again, resumed = train_embedder(base, data, tmp_path / "run", budget_minutes=5, epochs=3)
    assert resumed["step"] == 3 and resumed["trained_seconds"] >= first["trained_seconds"]  # nothing left to do
    tuned = SentenceTransformerEmbedder(str(again))
    gap = []
    for e in (embedder, tuned):
        q = e.encode_queries([data[0].query])[0]
        pos, neg = e.encode([data[0].positive, data[0].negative])
        gap.append(float(q @ pos - q @ neg))
    assert gap[1] > gap[0], gap


@pytest.mark.model
@pytest.mark.slow
def test_an_embedder_taught_backwards_is_rejected_and_a_kept_one_carries_into_later_versions(sample_index, embedder,
                                                                                              tmp_path):
    """The deliberately bad tuning: gold passages taught as wrong and their look-alikes as right. The gate must
    refuse it and leave the index as it was; then the same path with honest labels, adopted whatever it
    measures (min_gain below any drop), must give a version whose vectors and later files come from the tuned
    model, which status shows and rollback undoes."""
    index = tmp_path / "index"
    shutil.copytree(sample_index, index, symlinks=True)
    settings = Settings(index_dir=index, judge_model="", rerank=False)
    kb = KnowledgeBase(settings, embedder=embedder)
    gold = [i for i in load_gold(SAMPLE_DOCS / "questions.jsonl") if i.answerable]
    learn, held = gold[::2], gold[1::2]
    searcher = kb._current_searcher()
    honest = []
    for item in learn:
        hits = searcher.search(item.question, 10)
        right = [h for h in hits if any(s.matches(h.chunk) for s in item.sources)][:1]
        wrong = [h for h in hits if not any(s.matches(h.chunk) for s in item.sources)][:2]
        honest += [Pair(item.question, h.chunk.embed_text, 1.0, "gold", item.id) for h in right]
        honest += [Pair(item.question, h.chunk.embed_text, 0.0, "gold-negative", item.id) for h in wrong]
    step = kb._embedder_step()
    first = kb.folder.require_current()

    backwards = TunePairs()
    backwards.add("gold", [Pair(p.question, p.text, 1.0 - p.label, p.kind, p.group) for p in honest])
    # taught hard and backwards; min_gain -1 so that only a drop can reject it
    harsh = dataclasses.replace(step, epochs=4, learning_rate=2e-4)
    out = _tune_embedder(backwards, held, kb.folder, settings, harsh, 3.0, -1.0, tmp_path / "bad", 0, False,
                         _report(), None)
    assert out["status"] == "rejected" and "would drop" in out["reason"], out
    assert out["after"]["retrieval_mrr@10"] < out["before"]["retrieval_mrr@10"]
    assert kb.folder.require_current() == first and not list(kb.folder.versions.glob(".tmp-*"))

    pairs = TunePairs()
    pairs.add("gold", honest)
    out = _tune_embedder(pairs, held, kb.folder, settings, step, 1.0, -1.0, tmp_path / "good", 0, False,
                         _report(), None)
    assert out["status"] == "adopted", out
    tuned_version = kb.folder.require_current()
    assert tuned_version.name == out["version_after"] and tuned_embedder(tuned_version) is not None
    tuned = SentenceTransformerEmbedder(str(tuned_embedder(tuned_version)))
    db = open_db(tuned_version)
    chunks = dict(select_chunks(db))
    db.close()
    ids = load_ids(tuned_version)
    expected = tuned.encode([chunks[int(ids[0])].embed_text])[0]
    assert np.allclose(load_vectors(tuned_version)[0], expected, atol=1e-4)  # every vector re-made
    assert kb.status()["embedder"]["source"] == "tuned"
    assert kb.search(held[0].question, 5)  # searches embed the query with the tuned model

    new = tmp_path / "docs" / "parking.md"
    new.parent.mkdir()
    new.write_text("# Parking\n\nStaff may park in bays 10 to 40 of the north car park after 6 pm on weekdays.\n")
    kb.ingest([SAMPLE_DOCS, new.parent])
    later = kb.folder.require_current()
    assert tuned_embedder(later) is not None  # carried into the next version ...
    db = open_db(later)
    row = next(i for i, c in select_chunks(db) if c.path == str(new.resolve()))
    text = dict(select_chunks(db))[row].embed_text
    db.close()
    position = int(np.searchsorted(load_ids(later), row))
    assert np.allclose(load_vectors(later)[position], tuned.encode([text])[0], atol=1e-4), text  # ... and used

    rollback(kb.writer())
    rollback(kb.writer())
    assert kb.folder.require_current() == first and kb.status()["embedder"]["source"] == "setting"


def _report():
    from kb.tuning.tune import TuneReport

    return TuneReport()
