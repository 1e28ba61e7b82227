"""Check each sentence of a generated answer against the passages it may cite.

A sentence stands only if one passage supports it: every number and name in it appears in the passage,
most of its key terms do, and it is semantically close to one of the passage's sentences. Citations are
corrected to the passage that supports the sentence; the supporting source sentence becomes the quote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from kb.text.analyzer import Analyzer
from kb.text.directive_model import DirectiveModel
from kb.text.directives import is_directive
from kb.text.numbers import numbers, quantities
from kb.text.sentences import answer_pieces, sentence_spans

CITATION = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_CITATIONS_ONLY = re.compile(rf"(?:{CITATION.pattern})+\s*")
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*\b")
_NAME_RUN = re.compile(r"\b[A-Z][\w'’-]*(?:\s+[A-Z0-9][\w'’-]*)*")
_REFUSAL = re.compile(
    r"\b(do(es)?(n't| not) (say|contain|mention|provide|specify|include|cover)|not (mentioned|specified|stated|"
    r"provided|covered|available)|no (information|mention|details)|(i|we) (don'?t|do not) know|cannot (find|"
    r"answer|determine)|can't (find|answer)|unable to (find|answer|determine)|not (able|possible) to)\b", re.I)
# sentences about the sources or the question rather than an answer ("The document states...", "This
# information can be found in...")
_META_SENTENCE = re.compile(
    r"^\W*(a:|answer:)?\s*(the|this|that|these) (document|documents|source|sources|text|handbook|policy document|"
    r"question|information|passage)s?\b|\b(can be found|refer to the|check the (document|source|policy)|"
    r"is a question about|you should check)\b", re.I)
_MIN_CLAIM_WORDS = 4
_MIN_QUOTE_WORDS = 6
_SHORT_SENTENCE_WORDS = 10  # shorter than this, a line may need the one before it to make sense
# words that describe the sources rather than claim anything (stemmed forms)
_META_TERMS = frozenset(("accord", "sourc", "document", "state", "say", "mention", "note", "inform", "provid",
                         "answer"))

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass
class Verdict:
    """The outcome for one answer sentence."""

    claim: str
    supported: bool
    passage: int | None = None  # 1-based source number
    quote: str = ""
    similarity: float = 0.0
    reason: str = ""
    sentence: int | None = None  # index of the supporting source sentence in ``Verifier.sentences``


@dataclass
class _SourceSentence:
    passage: int
    text: str
    start: int = 0
    end: int = 0
    directive: bool = False  # an instruction planted in the document, or the rest of its paragraph
    asks: bool = False  # part of a paragraph that asks a question (an FAQ's, a case study's): no answer, no support


def _sentences(n: int, passage: str) -> list[_SourceSentence]:
    """Passage ``n``'s sentences, each marked when the rules of ``kb.text.directives`` find it a planted
    instruction (text that addresses an assistant or a reader)."""
    return [_SourceSentence(n, passage[a:b], a, b, is_directive(passage[a:b])) for a, b in sentence_spans(passage)]


def _paragraphs(sentences: list[_SourceSentence], passages: list[str]) -> list[list[_SourceSentence]]:
    """The sentences in runs by paragraph: a line break between two sentences, or another passage, ends one."""
    runs: list[list[_SourceSentence]] = []
    for s in sentences:
        previous = runs[-1][-1] if runs else None
        if previous is None or previous.passage != s.passage or "\n" in passages[s.passage - 1][previous.end:s.start]:
            runs.append([])
        runs[-1].append(s)
    return runs


def _mark_paragraphs(sentences: list[_SourceSentence], passages: list[str]) -> None:
    """A planted instruction is data that is never quoted and never supports a claim, and it taints the rest of
    its paragraph (the claim it plants often follows it). A paragraph that ends in a question asks it (an FAQ's
    question, a case study's "what if I buy them from him?"): its sentences set the question up, the answer
    follows, so none of them is an answer."""
    for paragraph in _paragraphs(sentences, passages):
        tainted = False
        for s in paragraph:
            tainted = s.directive = tainted or s.directive
        if paragraph[-1].text.rstrip().endswith("?"):
            for s in paragraph:
                s.asks = True


def split_answer(text: str) -> list[tuple[str, list[int]]]:
    """Answer text -> (sentence without citation marks, cited source numbers); marks after a full stop
    belong to the sentence before them."""
    pieces = answer_pieces(text)
    merged: list[str] = []
    for piece in pieces:
        if merged and _CITATIONS_ONLY.fullmatch(piece):
            merged[-1] += " " + piece
        else:
            merged.append(piece)
    out = []
    for sentence in merged:
        cited = [int(n) for group in CITATION.findall(sentence) for n in re.split(r"[,;]", group)]
        claim = CITATION.sub("", sentence).strip(" -*•\t")
        if claim:
            out.append((claim, cited))
    return out


def is_refusal(text: str) -> bool:
    """True when the model says the sources do not answer."""
    return bool(_REFUSAL.search(text))


class Verifier:
    """Verifies answer sentences against numbered passages (1-based, in prompt order)."""

    def __init__(self, passages: Sequence[str], embed: Embed, analyzer: Analyzer,
                 min_similarity: float = 0.5, min_term_coverage: float = 0.5,
                 contexts: Sequence[str] | None = None, directives: DirectiveModel | None = None):
        """``passages`` give the quotable sentences; ``contexts`` (default: the passages) are what numbers,
        names and key terms are looked up in, e.g. a passage with its document title and headings;
        ``directives`` (optional) is the learned check for planted instructions, beside the rules."""
        self.passages = list(passages)
        contexts = list(contexts) if contexts is not None else self.passages
        self.embed = embed
        self.analyzer = analyzer
        self.min_similarity = min_similarity
        self.min_term_coverage = min_term_coverage
        self.sentences = [sentence for n, p in enumerate(self.passages, start=1) for sentence in _sentences(n, p)]
        self._vectors = embed([s.text for s in self.sentences]) if self.sentences else np.zeros((0, 1))
        self.directives = directives
        if directives is not None:  # the learned check reads the vectors computed here anyway
            for sentence, learned in zip(self.sentences, directives.directive(self._vectors)):
                sentence.directive = sentence.directive or bool(learned)
        _mark_paragraphs(self.sentences, self.passages)
        self._numbers = [numbers(c) for c in contexts]
        # numbers of what stands above a passage (title, heading): a claim may take its numbers from there
        self._header_numbers = [numbers(c[:c.find(p)]) if p in c else set() for c, p in zip(contexts, self.passages)]
        self._quantities = [quantities(c, reach=3, analyzer=analyzer) for c in contexts]
        self._lower = [c.lower() for c in contexts]
        self._terms = [set(analyzer(c)) for c in contexts]

    def check(self, claim: str, cited: Sequence[int], question: str = "") -> Verdict:
        """Find the passage that supports ``claim``: cited ones first, then any other. With ``question``,
        the claim must also be about it (share a key term, or be close in meaning)."""
        if not self.sentences:
            return Verdict(claim, False, reason="no sources")
        if len(claim.split()) < _MIN_CLAIM_WORDS:
            return Verdict(claim, False, reason="too short to be a statement")
        if _META_SENTENCE.search(claim):
            return Verdict(claim, False, reason="talks about the sources instead of answering")
        vector = self.embed([claim])[0]
        if is_directive(claim) or (self.directives is not None and self.directives.directive(vector[None])[0]):
            return Verdict(claim, False, reason="repeats an instruction planted in a document")
        if question and not self._on_topic(claim, vector, question):
            return Verdict(claim, False, reason="does not address the question")
        asked = (set(self.analyzer(claim)) & set(self.analyzer(question))) - _META_TERMS if question else set()
        similarity = self._vectors @ vector
        order = [n for n in dict.fromkeys(cited) if 1 <= n <= len(self.passages)]
        order += [n for n in range(1, len(self.passages) + 1) if n not in order]
        best_failure = ""
        for n in order:
            reason = self._missing(claim, n, asked)
            if reason:
                best_failure = best_failure or reason
                continue
            index, score = self._best_sentence(similarity, n)
            if index is not None and score >= self.min_similarity:
                borrowed = numbers(claim) - numbers(self.sentences[index].text) - self._header_numbers[n - 1]
                if not borrowed:
                    return Verdict(claim, True, n, self.sentences[index].text, score, sentence=index)
                best_failure = best_failure or (f"number {sorted(borrowed)[0]} is not in the sentence of source "
                                                f"[{n}] that the claim would come from")
                continue
            best_failure = best_failure or f"not close enough to any sentence of source [{n}] ({score:.2f})"
        return Verdict(claim, False, reason=best_failure)

    def missing_name(self, question: str, n: int) -> str:
        """A name the question uses (a capitalised word or run of them, not its first word: "Marlowe Day",
        "Leeds", "CEO's") that passage ``n`` with its context does not have, or ''."""
        for match in _NAME_RUN.finditer(question):
            name = " ".join(w for w in match.group(0).split() if not w[0].isdigit()).strip("'’-")  # "New Year 2026"
            for suffix in ("'s", "’s"):
                name = name.removesuffix(suffix)
            if match.start() == 0 or len(name) < 2 or not self.analyzer(name) or name.lower() in self._lower[n - 1]:
                continue
            return name
        return ""

    def planted(self, n: int) -> list[tuple[int, int]]:
        """The ranges of passage ``n`` that are planted instructions (and the rest of their paragraphs)."""
        return [(s.start, s.end) for s in self.sentences if s.passage == n and s.directive]

    def asking(self, n: int) -> list[tuple[int, int]]:
        """The ranges of passage ``n`` that ask a question (paragraphs ending in one): read, never an answer."""
        return [(s.start, s.end) for s in self.sentences if s.passage == n and s.asks]

    def mentions(self, term: str) -> bool:
        """Whether any passage (with its context) has the analysed ``term``."""
        return any(term in terms for terms in self._terms)

    def quotable(self, i: int) -> bool:
        """Whether sentence ``i`` may be quoted as an answer: not planted text, not part of a question the
        document asks, and a statement, or a short line with a value under a lead-in (a table row under its
        header), not a bare heading."""
        sentence = self.sentences[i]
        if sentence.directive or sentence.asks:
            return False
        words = len(sentence.text.split())
        return words >= _MIN_QUOTE_WORDS or (words >= 2 and bool(numbers(sentence.text)) and bool(self.lead_in(i)))

    def lead_in(self, i: int) -> str:
        """The line that introduces a short sentence ``i`` in its passage (a table's header row, the line
        before a list item), or '' when the sentence stands on its own."""
        sentence = self.sentences[i]
        if len(sentence.text.split()) >= _SHORT_SENTENCE_WORDS or i == 0:
            return ""
        before = self.sentences[i - 1]
        return before.text if before.passage == sentence.passage and not before.directive else ""

    def similarity(self, question: str) -> np.ndarray:
        """Each source sentence's closeness in meaning (cosine) to ``question``."""
        return self._vectors @ self.embed([question])[0]

    def best_quotes(self, question: str, limit: int = 2, accept: Callable[[str], bool] | None = None,
                    scores: np.ndarray | None = None) -> list[Verdict]:
        """The source sentences that best answer ``question`` (for an extractive answer), best first.

        ``scores`` (one per sentence, e.g. the judge's probabilities) rank them; without, closeness in
        meaning and shared terms do. With ``accept``, only quotes it accepts (e.g. those that give the value
        the question asks for)."""
        if not self.sentences:
            return []
        if scores is None:
            similarity = self.similarity(question)
            question_terms = set(self.analyzer(question)) - _META_TERMS
            scores = np.array([0.8 * float(similarity[i]) + 0.2 * (
                len(question_terms & set(self.analyzer(s.text))) / len(question_terms) if question_terms else 0.0)
                for i, s in enumerate(self.sentences)])
        scored = sorted(((float(scores[i]), i) for i in range(len(self.sentences)) if self.quotable(i)), reverse=True)
        best = []
        for score, i in scored:
            quote = self._quote(i)
            if accept is None or accept(quote):
                best.append(Verdict(quote, True, self.sentences[i].passage, quote, score, sentence=i))
                if len(best) == limit:
                    break
        return best

    def _quote(self, i: int) -> str:
        """Sentence ``i``, verbatim: a quote never runs on into the next sentence (which may be planted text the
        directive rules missed, or simply not what supports the answer)."""
        return self.sentences[i].text

    def _on_topic(self, claim: str, vector: np.ndarray, question: str) -> bool:
        shared = (set(self.analyzer(claim)) & set(self.analyzer(question))) - _META_TERMS
        return bool(shared) or float(self.embed([question])[0] @ vector) >= self.min_similarity

    def _best_sentence(self, similarity: np.ndarray, n: int) -> tuple[int | None, float]:
        candidates = [i for i, s in enumerate(self.sentences) if s.passage == n and not s.directive and not s.asks]
        if not candidates:
            return None, 0.0
        best = max(candidates, key=lambda i: similarity[i])
        return best, float(similarity[best])

    def _missing(self, claim: str, n: int, asked: set[str] = frozenset()) -> str:
        """Why passage ``n`` cannot support ``claim`` ('' if nothing is missing). ``asked`` are the claim's
        terms taken from the question: the passage must have them all, or it is about something else
        (a claim that "wedding leave is 20 days" is not supported by a passage on annual leave)."""
        off_subject = asked - self._terms[n - 1]
        if off_subject:
            return f"source [{n}] does not mention {sorted(off_subject)[0]!r}, which the question asks about"
        absent = numbers(claim) - self._numbers[n - 1]
        if absent:
            return f"number {sorted(absent)[0]} is not in source [{n}]"
        misused = quantities(claim, analyzer=self.analyzer) - self._quantities[n - 1]
        if misused:
            number, unit = sorted(misused)[0]
            return f"source [{n}] has no {number} {unit}…"
        for match in _CAPITALISED.finditer(claim):
            word = match.group(0).strip("'’-")
            if match.start() == 0 or len(word) < 2 or word.lower() in self._lower[n - 1]:
                continue
            if not self.analyzer(word):  # a capitalised stopword ("The", "If")
                continue
            return f"name {word!r} is not in source [{n}]"
        terms = set(self.analyzer(claim)) - _META_TERMS
        if terms:
            coverage = len(terms & self._terms[n - 1]) / len(terms)
            if coverage < self.min_term_coverage:
                return f"only {coverage:.0%} of its key terms are in source [{n}]"
        return ""
