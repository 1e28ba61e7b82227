"""Which language a text is written in, as the name of the Snowball stemmer that analyses it.

A small offline detector (py3langid: a naive Bayes model over byte n-grams, ~0.3 ms per passage) limited to
the languages Snowball can stem, so the answer is always usable by ``kb.text.analyzer.Analyzer``. A text too
short or too mixed to tell returns "" and the caller falls back (a passage to its document's language, a
document to English).
"""

from __future__ import annotations

from functools import lru_cache

# ISO 639-1 (what the detector says) -> Snowball algorithm name (what the analyzer takes)
SNOWBALL = {"ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech", "da": "danish",
            "nl": "dutch", "en": "english", "eo": "esperanto", "et": "estonian", "fi": "finnish", "fr": "french",
            "de": "german", "el": "greek", "hi": "hindi", "hu": "hungarian", "id": "indonesian", "ga": "irish",
            "it": "italian", "lt": "lithuanian", "ne": "nepali", "no": "norwegian", "fa": "persian",
            "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian",
            "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish"}
MIN_LETTERS = 40  # below this (a heading, a table cell) the detector guesses
MIN_CONFIDENCE = 0.9


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(sorted(set(SNOWBALL) & set(identifier.nb_classes)))
    return identifier


def detect_language(text: str, sample_chars: int = 4000) -> str:
    """The Snowball language of ``text`` ("english", "german", ...), or "" when it cannot be told reliably."""
    sample = text[:sample_chars]
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return ""
    code, probability = _identifier().classify(sample)
    return SNOWBALL.get(code, "") if probability >= MIN_CONFIDENCE else ""


# a question is short: told apart only among the languages people commonly write to a company's knowledge base in
_QUESTION_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "pl", "sv", "da", "no", "fi", "cs", "tr", "ru")
QUESTION_MIN_LETTERS = 12


@lru_cache(maxsize=1)
def _question_identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(_QUESTION_LANGUAGES))
    return identifier


def detect_question_language(question: str) -> str:
    """The Snowball language of a typed question, or "" when it is too short or too unsure to tell (keywords
    such as "laptop refresh" stay unknown rather than guessed)."""
    if sum(ch.isalpha() for ch in question) < QUESTION_MIN_LETTERS:
        return ""
    code, probability = _question_identifier().classify(question)
    return SNOWBALL.get(code, "") if probability >= MIN_CONFIDENCE else ""
