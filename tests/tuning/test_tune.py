"""``kb tune``: pairs from the documents and from people, the gate, and adoption into a new index version."""

from __future__ import annotations

import random
import shutil

import numpy as np
import pytest

from kb import KnowledgeBase, Settings
from kb.activity.store import ActivityStore
from kb.embedding import HASHED_MODEL
from kb.index.version import select_chunks
from kb.judge.data import Pair
from kb.judge.model import Judge, probability, resolve_judge_path
from kb.tuning.pairs import FeedbackRow, TunePairs, document_pairs, document_queries, feedback_pairs
from kb.tuning.tune import decide, pair_figures, train_and_gate, tuned_judge
from kb.types import Chunk

SHIPPED = resolve_judge_path("kb-judge")


def _chunk(n: int, text: str, heading: str = "", path: str = "/docs/a.md", title: str = "") -> Chunk:
    return Chunk(chunk_id=f"c{n}", doc_id=path, path=path, name=path.rsplit("/", 1)[-1], text=text, chunk_index=n,
                 char_start=0, char_end=len(text), heading_path=(heading,) if heading else (), title=title)


def test_the_gate_adopts_only_a_gain_with_no_drop():
    before = {"retrieval_hit@5": 0.60, "retrieval_mrr@10": 0.40, "refusal_recall": 0.80}
    adopt, reason = decide(before, {**before, "retrieval_hit@5": 0.70}, min_gain=0.05)
    assert adopt and "retrieval_hit@5 0.600 -> 0.700" in reason
    adopt, reason = decide(before, {**before, "retrieval_hit@5": 0.70, "refusal_recall": 0.75}, min_gain=0.05)
    assert not adopt and "refusal_recall would drop 0.800 -> 0.750" in reason
    adopt, reason = decide(before, {**before, "retrieval_mrr@10": 0.42}, min_gain=0.05)
    assert not adopt and "no figure improves by 0.050" in reason


def test_held_out_pair_figures_count_wins_per_query():
    held = [Pair("q1", "a", 1.0, "doc", "g1"), Pair("q1", "b", 0.0, "doc", "g1"),
            Pair("q2", "c", 1.0, "doc", "g2"), Pair("q2", "d", 0.0, "doc", "g2")]
    figures = pair_figures(np.array([0.9, 0.2, 0.3, 0.6]), held)
    assert figures == {"held_out_pair_auc": 0.75, "held_out_pair_win_rate": 0.5}


def test_documents_give_heading_faq_table_cloze_and_title_pairs_with_negatives_from_other_sections():
    chunks = [
        _chunk(1, "Well-behaved dogs are welcome at the Glasgow office on Fridays only. Register them with the "
                  "office manager first, and keep them out of the kitchen at all times please.",
               "Can I bring my dog to work?", "/docs/faq.md", "Office FAQ"),
        _chunk(2, "City: London; Hotel limit: £180; Per diem: £55\nCity: Paris; Hotel limit: £170; Per diem: £50",
               "6.1 Hotel limits", "/docs/travel.md", "Travel policy"),
        _chunk(3, "Claims are paid with the next salary run. Submit each claim within thirty days of the cost "
                  "being incurred, with its receipts attached to the claim.", "6.2 Claims", "/docs/travel.md"),
    ]
    kinds = {kind for kind, _, _ in document_queries(chunks, random.Random(0))}
    assert kinds == {"faq", "heading", "table", "inverse-cloze", "title"}

    def search(query: str, k: int):  # plumbing fake: every query ranks the chunks in the given order
        from kb.types import Hit
        return [Hit(c, 1.0 / (n + 1), n + 1) for n, c in enumerate(chunks)][:k]

    pairs = document_pairs(chunks, search, random.Random(0))
    by_group: dict[str, list[Pair]] = {}
    for p in pairs:
        by_group.setdefault(p.group, []).append(p)
    for group in by_group.values():
        positive = [p for p in group if p.label == 1.0]
        negative = [p for p in group if p.label == 0.0]
        assert len(positive) == 1 and len(negative) <= 1
        assert not negative or negative[0].text != positive[0].text
    cloze = [p for p in pairs if p.kind == "doc-inverse-cloze"]
    assert cloze and all(p.question not in p.text for p in cloze), "the cloze sentence is taken out of its passage"


def test_feedback_pairs_follow_the_rating_and_keep_the_comment():
    chunk = _chunk(1, "Full-time employees receive 25 days of paid annual leave.", "2.1 Entitlement")
    pairs, comments = feedback_pairs([FeedbackRow("part-time leave?", [chunk], -1, "that is full-time"),
                                      FeedbackRow("full-time leave?", [chunk], 1)])
    assert [(p.question, p.label) for p in pairs] == [("part-time leave?", 0.0), ("full-time leave?", 1.0)]
    assert comments == [{"question": "part-time leave?", "comment": "that is full-time", "passages": ["a.md"]}]


@pytest.mark.model
@pytest.mark.slow
def test_a_judge_tuned_on_flipped_labels_is_rejected(hashed_sample_index, hashed_embedder, tmp_path):
    """The deliberately bad tuning: every document pair's label flipped (the passage that answers a query
    taught as a wrong one, its hard negative as the right one); the gate must refuse what that learns."""
    kb = KnowledgeBase(Settings(index_dir=hashed_sample_index, embedding_model=HASHED_MODEL), embedder=hashed_embedder)
    chunks = [c for _, c in select_chunks(kb.reader().db)]
    pairs = document_pairs(chunks, lambda q, k: kb.search(q, k), random.Random(0), limit=160)
    groups = sorted({p.group for p in pairs})
    held = set(groups[::4])
    held_out = [p for p in pairs if p.group in held]
    flipped = TunePairs()
    flipped.add("documents", [Pair(p.question, p.text, 1.0 - p.label, p.kind, p.group)
                              for p in pairs if p.group not in held])

    def figures(judge_path):
        return pair_figures(probability(Judge(judge_path).score([(p.question, p.text) for p in held_out])), held_out)

    report, tuned = train_and_gate(flipped, held_out, SHIPPED, tmp_path, figures, budget_minutes=3,
                                   min_gain=0.02)
    assert report.status == "rejected" and tuned is None, report.reason
    assert report.after["held_out_pair_auc"] < report.before["held_out_pair_auc"]
    assert "would drop" in report.reason


@pytest.mark.model
@pytest.mark.slow
def test_feedback_moves_the_answers_it_was_about_in_its_direction(sample_index, embedder, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(sample_index, index, symlinks=True)
    settings = Settings(index_dir=index, judge_model="kb-judge", answer_mode="quote", tune_max_document_pairs=120)
    kb = KnowledgeBase(settings, embedder=embedder)
    down_q = "How many days of annual leave do part-time staff get?"
    up_q = "how much is my learning budget"
    down, up = kb.ask(down_q), kb.ask(up_q)
    assert not down.refused and not up.refused
    store = ActivityStore.open(settings)
    store.record_feedback(store.record_answer(down), -1, "that is the full-time figure")
    store.record_feedback(store.record_answer(up), 1)
    store.close()
    down_passage = down.hits[0].chunk if not down.citations else next(
        h.chunk for h in down.hits if h.chunk.chunk_id == down.citations[0].chunk_id)
    up_passage = next(h.chunk for h in up.hits if h.chunk.chunk_id == up.citations[0].chunk_id)

    report = kb.tune(budget_minutes=4, work=tmp_path / "work")
    assert report.pairs["feedback"] > 0
    assert report.comments == [{"question": down_q, "comment": "that is the full-time figure",
                                "passages": [f"{down_passage.name} p.{down_passage.page}"]}]

    from kb.tuning.pairs import judged_text
    pairs = [(down_q, judged_text(down_passage)), (up_q, judged_text(up_passage))]
    before = probability(Judge(SHIPPED).score(pairs))
    after = probability(Judge(tmp_path / "work" / "model").score(pairs))
    assert after[0] < before[0] - 0.1, (before, after)  # 👎: the tuned judge trusts that passage less
    assert after[1] >= before[1] - 0.02, (before, after)  # 👍: at least as sure

    tuned_kb = KnowledgeBase(settings.replace(judge_model=str(tmp_path / "work" / "model")), embedder=embedder)
    down_after, up_after = tuned_kb.ask(down_q), tuned_kb.ask(up_q)
    assert down_after.text != down.text  # the 👎 answer changed ...
    assert [c.chunk_id for c in up_after.citations][:1] == [c.chunk_id for c in up.citations][:1]  # ... the 👍 kept
    if report.status == "adopted":
        assert tuned_judge(kb.folder.require_current()) is not None and kb.judge_path() != SHIPPED
    else:
        assert kb.folder.require_current().name == report.version_before
