"""Typos in questions, corrected against the words of the documents ("pasword" -> "password").

People type questions fast: "how long does my pasword need to be", "referal bonus", "paternaty leave". A
misspelt word matches no keyword and moves the question's meaning away from the passage that answers it, so
the keyword index, the embedding model and the judge all miss. A word is corrected only when it is long
enough to be a real word typed wrong (6 letters or more), is not written with capitals inside (a name or an
acronym: "ComYMV"), appears in no document, is in no dictionary of the index's languages and not a word the
embedding model knows whole ("paternity" stays "paternity" even where the documents only say "maternity"),
and is one edit (a letter dropped, added, changed or two swapped) from a word the documents use other than
its own plural or singular; of several such words, the one in the most passages wins. With none, the most
common dictionary word one edit away is taken ("machinne" -> "machine" where the manuals say "Maschine").

For a reader whom access rules or a filter restrict, the documents' words are those of the passages they may
read (``readable``): a word only restricted passages use is treated as no document word at all, so neither
correcting towards it nor leaving it alone tells anyone it exists ("Kowalsky" stays "Kowalsky" for a user
without hr although an HR file names "Kowalski"). Words longer than ``MAX_LENGTH`` letters (a pasted hash, a
random string) are never corrected: their one-edit variants alone would cost time and memory in proportion to
the square of their length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from kb.text.analyzer import tokens

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
MIN_LENGTH = 6
MAX_LENGTH = 40  # the longest word corrected (English words stop well short of this; German compounds rarely pass it)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"

# (document words) -> for each, how many passages the reader may read use it (absent or 0: none)
Readable = Callable[[Sequence[str]], Mapping[str, int]]


@dataclass(frozen=True)
class Speller:
    """Corrects the typos of a question against ``words`` (document frequency of each lower-case word of the
    documents); ``known`` are words that are never corrected, with how common they are (see
    :func:`known_words`): a typo with no document word one edit away becomes the most common of them instead
    ("machinne" -> "machine" over German manuals)."""

    words: Mapping[str, int] = field(default_factory=dict)
    known: Mapping[str, int] = field(default_factory=dict)

    def correct(self, text: str, readable: Readable | None = None) -> str:
        """``text`` with each misspelt word replaced (its capital kept); the rest as it was. With ``readable``
        only the words of passages the reader may read count as the documents' words (see the module)."""
        if not self.words:
            return text
        return _WORD.sub(lambda m: self._word(m.group(0), readable), text)

    def corrections(self, text: str, readable: Readable | None = None) -> list[tuple[str, str]]:
        """(typed, corrected) for each word :meth:`correct` changes."""
        return [(w, c) for w in _WORD.findall(text) if (c := self._word(w, readable)) != w]

    def _word(self, word: str, readable: Readable | None) -> str:
        lower = word.lower()
        if not MIN_LENGTH <= len(lower) <= MAX_LENGTH or lower in self.known or not word[1:].islower():
            return word  # short, long, known, or a name or acronym written with capitals inside ("ComYMV")
        if lower in self.words and self._counts([lower], readable).get(lower):
            return word
        # a plural or singular of a known word is no typo (the keyword index stems both alike)
        edits = [c for c in _edits(lower) if c + "s" != lower and lower + "s" != c]
        counts = self._counts([c for c in edits if c in self.words], readable)
        best = max((c for c in counts if counts[c]), key=lambda c: (counts[c], c), default=None) or \
            max((c for c in edits if self.known.get(c)), key=lambda c: (self.known[c], c), default=None)
        if best is None:
            return word
        return best.capitalize() if word[:1].isupper() else best

    def _counts(self, words: list[str], readable: Readable | None) -> Mapping[str, int]:
        """How many passages use each of ``words`` (all of them, or those the reader may read)."""
        if not words:
            return {}
        return {w: self.words[w] for w in words} if readable is None else readable(words)


def _edits(word: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away from ``word`` (none for a word
    longer than ``MAX_LENGTH``: there would be ~54 x its length of them, each as long as it)."""
    if len(word) > MAX_LENGTH:
        return set()
    letters = set(_LETTERS) | set(word)
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in letters}
    out |= {a + c + b for a, b in splits for c in letters}
    out.discard(word)
    return out


def document_words(texts) -> dict[str, int]:
    """How many of ``texts`` use each lower-case word (letters only): the vocabulary a :class:`Speller`
    corrects towards."""
    counts: dict[str, int] = {}
    for text in texts:
        count_words(counts, tokens(text))
    return counts


def count_words(counts: dict[str, int], words: list[str]) -> None:
    """Add one text's ``words`` (from :func:`kb.text.analyzer.tokens`) to ``counts``, once each."""
    for word in set(words):
        if word.isalpha():
            counts[word] = counts.get(word, 0) + 1


# Snowball stemmer names (``bm25_language``, the languages an index holds) -> pyspellchecker's dictionaries
_DICTIONARIES = {"english": "en", "german": "de", "french": "fr", "spanish": "es", "italian": "it", "dutch": "nl",
                 "portuguese": "pt", "russian": "ru", "arabic": "ar", "basque": "eu"}


def known_words(model_folder: str | Path | None, languages: list[str]) -> dict[str, int]:
    """Words never corrected, with their frequency: those of the English dictionary and of each of
    ``languages``' (pyspellchecker's word lists, ~160,000 English words), and those the embedding model's
    tokenizer has whole (frequency 0 unless a dictionary has them), so that a correctly spelt word the
    documents happen not to use ("paternity" where they say "maternity") stays."""
    from spellchecker import SpellChecker

    codes = sorted({"en"} | {_DICTIONARIES[lang] for lang in languages if lang in _DICTIONARIES})
    dictionary = SpellChecker(language=codes, distance=1).word_frequency.dictionary
    return {**dict.fromkeys(tokenizer_words(model_folder), 0), **dictionary}


def tokenizer_words(model_folder: str | Path | None) -> frozenset[str]:
    """The whole words (letters only) of a WordPiece tokenizer's ``vocab.txt`` in ``model_folder``; empty
    when there is none (another tokenizer, a model id not on disk)."""
    if not model_folder:
        return frozenset()
    vocab = Path(model_folder) / "vocab.txt"
    if not vocab.is_file():
        return frozenset()
    lines = vocab.read_text(encoding="utf-8", errors="replace").split("\n")
    return frozenset(w for w in (line.strip() for line in lines) if w.isalpha())
