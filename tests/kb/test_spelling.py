"""Typos in questions corrected against the documents' words (``kb.text.spelling``), and through a real index."""

from __future__ import annotations

import shutil

from kb import KnowledgeBase, Settings
from kb.embedding import HASHED_MODEL
from kb.index.version import BM25_DIR
from kb.text.spelling import Speller, document_words, known_words, tokenizer_words

WORDS = document_words(["Passwords must be at least 14 characters long. Your password expires yearly.",
                        "Paternity leave is 4 weeks. The referral bonus is paid after probation.",
                        "Goods travel by shipping."])


def test_a_misspelt_word_becomes_the_documents_word_one_edit_away():
    speller = Speller(WORDS)
    assert speller.correct("how long does my pasword need to be") == "how long does my password need to be"
    assert speller.correct("Paternaty leave for dads?") == "Paternity leave for dads?"  # its capital kept
    assert speller.correct("referal bonus") == "referral bonus"
    assert speller.corrections("referal bonus for a pasword") == [("referal", "referral"), ("pasword", "password")]


def test_words_are_left_alone_when_short_known_to_the_model_or_far_from_any_document_word():
    speller = Speller(WORDS, known={"shopping": 34426})
    assert speller.correct("shopping vouchers") == "shopping vouchers"  # a word the model knows whole
    assert Speller(WORDS).correct("shopping vouchers") == "shipping vouchers"  # (what that guard prevents)
    assert speller.correct("dads") == "dads" and speller.correct("pasword") == "password"
    assert speller.correct("onboarding checklist") == "onboarding checklist"  # nothing one edit away
    assert speller.correct("passwords 14 characters") == "passwords 14 characters"  # words of the documents
    assert speller.correct("PASWORD and PasWord") == "PASWORD and PasWord"  # capitals inside: a name, an acronym
    assert Speller(document_words(["One coinfection."])).correct("coinfections") == "coinfections"  # a plural
    assert Speller().correct("pasword") == "pasword"  # no vocabulary (an index built before it): unchanged


def test_known_words_are_the_models_whole_words_and_the_dictionaries_of_the_index_languages(embedder):
    vocabulary = tokenizer_words(embedder.tokenizer_path)
    assert {"shopping", "password", "holiday"} <= vocabulary and "pasword" not in vocabulary
    assert not any(w.startswith("#") for w in vocabulary)
    known = known_words(embedder.tokenizer_path, ["english"])
    assert vocabulary < known.keys() and {"paternity", "payday", "wrongdoing"} <= known.keys()  # not whole tokens of the model
    assert not {"pasword", "referal", "recieve"} & known.keys()
    assert "urlaubsanspruch" not in known and "urlaub" in known_words(None, ["german"])
    speller = Speller(document_words(["Maternity leave is 26 weeks."]), known)
    assert speller.correct("paternity leave") == "paternity leave"  # a real word the documents do not use
    # no document word one edit away (German manuals, an English question): the commonest dictionary word
    german = Speller(document_words(["Die Maschine entkalken."]), known_words(None, ["german"]))
    assert german.correct("descale the machinne") == "descale the machine"


def test_a_typo_in_a_question_finds_what_the_right_spelling_finds(hashed_sample_index, hashed_embedder, tmp_path):
    """Plumbing through a real index (hashed embedder): the version keeps its passages' words, search corrects
    the query with them, and the setting turns it off."""
    index = tmp_path / "index"
    shutil.copytree(hashed_sample_index, index, symlinks=True)
    settings = Settings(index_dir=index, embedding_model=HASHED_MODEL, judge_model="", rerank=False)
    kb = KnowledgeBase(settings, embedder=hashed_embedder)
    words = (kb.folder.require_current() / BM25_DIR / "words.json")
    assert words.is_file()
    assert kb.spell("minimum pasword length") == "minimum password length"
    right = [h.chunk.chunk_id for h in kb.search("minimum password length", k=5)]
    assert [h.chunk.chunk_id for h in kb.search("minimum pasword length", k=5)] == right
    off = KnowledgeBase(settings.replace(spelling_correction=False), embedder=hashed_embedder)
    assert off.spell("minimum pasword length") == "minimum pasword length"
    assert [h.chunk.chunk_id for h in off.search("minimum pasword length", k=5)] != right
