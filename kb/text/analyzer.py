"""The keyword analyzer: lowercase, split on word characters, drop stopwords, Snowball-stem.

Used by BM25 (``kb.index.sparse``) and by everything that compares the words of two texts (verification,
answer types, the judge's lexical checks), so that all of them agree on what a "term" is.
"""

from __future__ import annotations

import re

from kb.errors import ConfigError

_TOKEN = re.compile(r"\w+", re.UNICODE)
# English function words, including the question words and pronouns that employees' questions are full of
# ("how many days do I get"); bm25s's own English list (33 words) keeps them, which lets them match anything.
ENGLISH_STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing don down during each few for from further had has have having he her here
hers herself him himself his how i if in into is it its itself just me might more most must my myself no nor
not now of off on once only or other our ours ourselves out over own same shall she should so some such than
that the their theirs them themselves then there these they this those through to too under until up upon us
very was we were what when where which while who whom why will with would you your yours yourself yourselves
many much get got let also
""".split())


class Analyzer:
    """Lowercase, split on word characters, drop stopwords, Snowball-stem (language ``none``: no stemming)."""

    def __init__(self, language: str = "english"):
        self.language = language
        self._stem = None
        self._stopwords: frozenset[str] = frozenset()
        if language == "none":
            return
        import Stemmer
        from bm25s import stopwords

        if language not in Stemmer.algorithms():
            raise ConfigError(f"setting bm25_language={language!r} is not supported; use 'none' or one of "
                              f"{', '.join(Stemmer.algorithms())}")
        self._stem = Stemmer.Stemmer(language).stemWords
        key = "EN" if language == "english" else language.upper()
        self._stopwords = frozenset(getattr(stopwords, f"STOPWORDS_{key}", ()))
        if language == "english":
            self._stopwords |= ENGLISH_STOPWORDS

    def __call__(self, text: str) -> list[str]:
        return self.terms(tokens(text))

    def terms(self, words: list[str]) -> list[str]:
        """The terms of ``words`` (from :func:`tokens`): stopwords dropped, the rest stemmed."""
        words = [w for w in words if w not in self._stopwords]
        return self._stem(words) if self._stem else words


def tokens(text: str) -> list[str]:
    """``text`` lower-cased and split into words (letters and digits), before stopwords and stemming."""
    return _TOKEN.findall(text.lower())
