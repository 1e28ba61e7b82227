"""The shipped judge (models/kb-judge): loads offline from the repository, and decides the sample documents'
near misses as a person would."""

from __future__ import annotations

import os

import pytest

from kb import KnowledgeBase, Settings
from kb.judge.model import SHIPPED_JUDGE, Judge, probability, resolve_judge_path

pytestmark = pytest.mark.model


def test_the_shipped_folder_loads_offline_and_scores():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # scripts/test.sh: nothing may come from a hub
    folder = resolve_judge_path(SHIPPED_JUDGE)
    assert (folder / "model.safetensors").is_file() and (folder / "README.md").read_text().startswith("# kb-judge")
    judge = Judge(folder)
    pairs = [("How many days of annual leave do full-time staff get?",  # the answer vs its near miss
              "Full-time employees receive 25 days of paid annual leave in each leave year.",
              "Part-time employees receive annual leave pro rata to their contracted hours."),
             ("When is the weekly fire alarm test at Canal Wharf?",  # the same fact for another site
              "The fire alarm at Canal Wharf is tested every Wednesday at 11:00.",
              "At Wakefield it is tested every Monday at 10:00.")]
    for question, answer, near_miss in pairs:
        p = probability(judge.score([(question, answer), (question, near_miss)]))
        assert p[0] > 0.5 > p[1], (question, p)


def test_a_pairs_score_does_not_depend_on_what_it_is_scored_with():
    """int8 dynamic quantisation scales over the whole batch: the referral bonus sentence once fell under the
    answer floor only because more sentences were scored beside it."""
    judge = Judge(resolve_judge_path(SHIPPED_JUDGE))
    question = "How much is the referral bonus?"
    pair = (question, "6 Referral programme\nThe bonus is £750, paid after the new colleague's probation.")
    others = [(question, f"Section {i}: the office opens at {i}:00 and closes when the last colleague leaves the "
               "building, which on a busy day can be well after the usual time." * (1 + i % 3)) for i in range(16)]
    alone = judge.score([pair])[0]
    assert judge.score(others[:3] + [pair])[3] == pytest.approx(alone, abs=1e-5)
    assert judge.score(others + [pair])[16] == pytest.approx(alone, abs=1e-5)


@pytest.fixture(scope="module")
def kb(sample_index, embedder):
    return KnowledgeBase(Settings(index_dir=sample_index), embedder=embedder)  # the defaults: judge on


def test_an_answerable_near_miss_is_answered_from_the_right_passage(kb):
    # "dog" vs the FAQ's "dogs ... Glasgow office on Fridays": few shared words, the judge must see it
    answer = kb.ask("Can I bring my dog to work?")
    assert not answer.refused and "Fridays" in answer.text, answer.to_json()
    assert answer.citations[0].name == "faq.docx" and answer.confidence >= kb.settings.answer_min_probability


def test_an_unanswerable_question_is_refused(kb):
    answer = kb.ask("Who won the Ripple Award last quarter?")  # the FAQ says how winners are chosen, not who won
    assert answer.refused and answer.refusal == "not_stated" and answer.hits, answer.to_json()
