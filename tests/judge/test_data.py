"""The judge's training pairs: labels follow the data, held-out articles stay out, the stream is repeatable."""

from __future__ import annotations

import random

import pytest

from kb.judge.data import (
    Decoys,
    Example,
    PairMaker,
    clean_question,
    load_corpus,
    load_ready,
    noisy_question,
    training_blocks,
)
from kb.judge.model import text_windows

CONTEXT = ("The Normans were a people who gave their name to Normandy. They descended from Norse raiders. "
           "Their leader Rollo swore fealty to King Charles III. The duchy emerged in the first half of the "
           "10th century.")


@pytest.fixture(scope="module")
def corpus(shared_data):
    return load_corpus(shared_data / "train", validation_articles=12, seed=0)


def test_tokenised_questions_are_cleaned_like_the_others():
    assert clean_question("what is the city 's name ?") == "what is the city's name?"
    assert clean_question("al - biruni was from where ?") == "al-biruni was from where?"


def test_an_answerable_question_gets_its_sentence_as_positive_and_a_near_miss_as_negative():
    start = CONTEXT.index("Rollo")
    example = Example("q1", "Who swore fealty to the king?", CONTEXT, [start], "Normans", "test")
    pairs = PairMaker(random.Random(0), noise=0.0).pairs(example, [example])
    by_kind = {p.kind: p for p in pairs}
    assert by_kind["answer-sentence"].label == 1.0 and "Rollo" in by_kind["answer-sentence"].text
    assert by_kind["near-miss-sentence"].label == 0.0 and "Rollo" not in by_kind["near-miss-sentence"].text
    assert by_kind["answer-window"].label == 1.0 and "Rollo" in by_kind["answer-window"].text


def test_an_unanswerable_question_gets_only_negatives_from_its_own_paragraph():
    example = Example("q2", "Who swore fealty to the queen?", CONTEXT, [], "Normans", "test")
    pairs = PairMaker(random.Random(0), noise=0.0).pairs(example, [example])
    assert pairs and all(p.label == 0.0 for p in pairs)
    assert {p.kind for p in pairs} <= {"unanswerable-sentence", "unanswerable-window", "same-article",
                                       "other-article"}


def test_planted_instructions_are_negatives_alone_and_beside_a_sentence_that_does_not_answer_not_beside_the_answer():
    start = CONTEXT.index("Rollo")
    example = Example("q1", "Who swore fealty to the king?", CONTEXT, [start], "Normans", "test", answers=["Rollo"])
    maker = PairMaker(random.Random(0), noise=0.0, decoys=Decoys(planted=1.0, planted_generation=2))
    pairs = [p for _ in range(30) for p in maker.pairs(example, [example])]
    planted = [p for p in pairs if p.kind.startswith("planted")]
    assert {p.kind for p in planted} == {"planted-sentence", "planted-window", "planted-answer-window"}
    negatives = [p for p in planted if p.kind != "planted-answer-window"]
    assert all(p.label == 0.0 and "Rollo" not in p.text for p in negatives)  # the answer's sentence never beside
    sentences = {p.text for p in planted if p.kind == "planted-sentence"}
    assert all(any(s in w.text for s in sentences) for w in planted if w.kind != "planted-sentence")
    # beside the answer sentence the instruction does not make the window a non-answer
    assert all(p.label == 1.0 and "Rollo" in p.text for p in planted if p.kind == "planted-answer-window")
    # generation 2: half German or French (the claim about the question's topic in each)
    assert sum(("fealty" in s or "king" in s) for s in sentences) >= len(sentences) // 2
    assert any(w in s for s in sentences for w in (" die ", " der ", " le ", " la ", " les "))
    # the answers the pairs teach stay as they were
    assert any(p.kind == "answer-sentence" and p.label == 1.0 and "Rollo" in p.text for p in pairs)


def test_the_question_restated_as_a_document_line_is_a_negative_but_beside_the_answer_the_window_answers():
    start = CONTEXT.index("Rollo")
    question = "Who swore fealty to the king?"
    example = Example("q1", question, CONTEXT, [start], "Normans", "test", answers=["Rollo"])
    maker = PairMaker(random.Random(0), noise=0.0, decoys=Decoys(restated=1.0))
    restated = [p for _ in range(30) for p in maker.pairs(example, [example]) if p.kind.startswith("restated")]
    assert {p.kind for p in restated} == {"restated-sentence", "restated-window", "restated-answer-window"}
    lines = {p.text for p in restated if p.kind == "restated-sentence"}
    assert len(lines) > 3 and all("swore fealty to the king?" in line for line in lines)  # the question, repeated
    assert all(p.label == 0.0 and "Rollo" not in p.text for p in restated if p.kind != "restated-answer-window")
    assert all(p.label == 1.0 and "Rollo" in p.text and any(line in p.text for line in lines)
               for p in restated if p.kind == "restated-answer-window")
    # an unanswerable question gets the negatives only
    unanswerable = Example("q2", "Who swore fealty to the queen?", CONTEXT, [], "Normans", "test")
    kinds = {p.kind for p in maker.pairs(unanswerable, [unanswerable])}
    assert "restated-sentence" in kinds and "restated-answer-window" not in kinds


def test_the_answer_sentence_with_its_answer_cut_out_is_a_negative_alone_and_in_its_window():
    start = CONTEXT.index("Rollo")
    example = Example("q1", "Who swore fealty to the king?", CONTEXT, [start], "Normans", "test", answers=["Rollo"])
    pairs = PairMaker(random.Random(0), noise=0.0, decoys=Decoys(answerless=1.0)).pairs(example, [example])
    by_kind = {p.kind: p for p in pairs}
    assert by_kind["answerless-sentence"].text == "Their leader swore fealty to King Charles III."
    assert by_kind["answerless-sentence"].label == 0.0
    window = by_kind["answerless-window"]
    assert window.label == 0.0 and "Their leader swore fealty" in window.text and "Rollo" not in window.text
    assert by_kind["answer-sentence"].label == 1.0 and "Rollo" in by_kind["answer-sentence"].text
    # where the answer's text is not where its start says, nothing is cut
    moved = Example("q3", "Who swore fealty to the king?", CONTEXT, [start + 1], "Normans", "test", answers=["Rollo"])
    assert not any(p.kind.startswith("answerless")
                   for p in PairMaker(random.Random(0), noise=0.0, decoys=Decoys(answerless=1.0)).pairs(moved, [moved]))


def test_without_planting_the_pairs_are_the_shipped_recipes():
    start = CONTEXT.index("Rollo")
    example = Example("q1", "Who swore fealty to the king?", CONTEXT, [start], "Normans", "test", answers=["Rollo"])
    plain = PairMaker(random.Random(5), noise=0.3).pairs(example, [example])
    off = PairMaker(random.Random(5), noise=0.3, decoys=Decoys(planted_generation=2)).pairs(example, [example])
    assert plain == off and not any(p.kind.startswith(("planted", "restated", "answerless")) for p in plain)


def test_business_questions_load_as_examples_with_their_answer_sentence(tmp_path):
    import json

    text = "Annual leave\nFull-time staff get 25 days a year. Part-time staff get a share."
    rows = [{"question": "How many days of leave?", "text": text, "start": text.index("25"), "answer": "25 days",
             "qid": "hb-1", "kind": "label"},
            {"question": "Who approves travel?", "text": text, "start": -1, "answer": "", "qid": "hb-2"}]
    path = tmp_path / "business.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    answerable, unanswerable = load_ready(path)
    assert answerable.answerable and answerable.answers == ["25 days"] and answerable.source == "business"
    assert not unanswerable.answerable and not unanswerable.answers
    pairs = PairMaker(random.Random(0), noise=0.0).pairs(answerable, [answerable])
    assert any(p.kind == "answer-sentence" and p.text.endswith("25 days a year.") for p in pairs)


def test_typed_questions_keep_their_words_recognisable():
    rng = random.Random(3)
    noisy = [noisy_question("How many days of annual leave do full-time staff get?", rng) for _ in range(20)]
    assert len(set(noisy)) > 5  # typos, no capitals, keywords only: many forms
    assert all("leave" in q or "leav" in q or "lave" in q or "days" in q for q in noisy)


def test_windows_cover_every_sentence_and_fit_the_judge():
    windows = text_windows(CONTEXT + " " + CONTEXT)
    assert windows and all(len(w.split()) <= 90 for w in windows)
    assert all(any(s in w for w in windows) for s in ("Normans", "Rollo", "10th century"))


@pytest.mark.slow
def test_held_out_articles_are_not_trained_on_and_the_stream_repeats(corpus):
    held_out = {e.article for e in corpus.validation}
    assert held_out and not held_out & {e.article for e in corpus.train if e.source == "squad2-dev"}
    assert not held_out & {e.article for e in corpus.train if e.source == "xquad-de-en"}
    assert any(not e.answerable for e in corpus.validation) and any(e.answerable for e in corpus.validation)
    first = next(training_blocks(corpus, seed=0))[1][:50]
    again = next(training_blocks(corpus, seed=0))[1][:50]
    resumed = next(training_blocks(corpus, seed=0, start=1))
    assert first == again and resumed[0] == 1 and resumed[1][:50] != first


def test_a_question_told_with_a_situation_keeps_its_pairs_and_labels():
    start = CONTEXT.index("Rollo")
    question = "Who swore fealty to the king?"
    example = Example("q1", question, CONTEXT, [start], "Normans", "test", answers=["Rollo"])
    plain = PairMaker(random.Random(5), noise=0.0).pairs(example, [example])
    told = PairMaker(random.Random(5), noise=0.0, decoys=Decoys(situations=1.0)).pairs(example, [example])
    labels = {p.kind: p.label for p in plain}
    assert {"answer-sentence", "answer-window"} <= {p.kind for p in told} <= set(labels) | {"near-miss-window"}
    assert all(p.label == labels.get(p.kind, 0.0) for p in told)  # labelled as without the situation
    assert {p.question for p in plain} == {question}
    (situated,) = {p.question for p in told}
    assert question in situated and len(situated) > len(question) + 10
    # a share of 0 draws nothing: a recipe without situations keeps its stream
    again = PairMaker(random.Random(5), noise=0.0, decoys=Decoys(situations=0.0)).pairs(example, [example])
    assert again == plain
