"""Training and validation pairs for the judge, built from public question-answering data.

Every pair is (question, text, label): the text is one sentence or a window of a few consecutive
sentences, and the label says whether it answers the question. Negatives come in rising difficulty:
a passage of another article, another paragraph of the same article, another sentence or window of the
answer's own paragraph (a near miss), and the paragraph of an adversarial unanswerable question written
to look answerable from it (the hardest). Whole articles are held out for validation; QNLI and XQuAD
come from the SQuAD dev articles, so their pairs from held-out articles are dropped.
"""

from __future__ import annotations

import json
import lzma
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from kb.judge.model import window_ranges
from kb.text.sentences import sentence_spans
from kb.text.situations import situated

_DETOKENISE = [(re.compile(r"\s+([?.,!:;%)\]'’])"), r"\1"), (re.compile(r"([(\[$])\s+"), r"\1"),
               (re.compile(r"\s+-\s+"), "-"), (re.compile(r"\s+"), " ")]
_STOPWORDS = frozenset("a an the of to in on for is are was were do does did what which who whom how "
                       "when where why can could i we you my our your it its be by with at as".split())


@dataclass(frozen=True)
class Pair:
    """One labelled (question, text) pair; ``kind`` names how the text relates to the question."""

    question: str
    text: str
    label: float
    kind: str
    group: str = ""


@dataclass
class Example:
    """One question over one context; ``answer_starts`` is empty for an unanswerable question."""

    qid: str
    question: str
    context: str
    answer_starts: list[int]
    article: str
    source: str
    siblings: list[str] = field(default_factory=list)  # other paragraphs of the same article
    answers: list[str] = field(default_factory=list)  # the answer texts (SQuAD's several annotators'), in order

    @property
    def answerable(self) -> bool:
        return bool(self.answer_starts)


def clean_question(text: str) -> str:
    """Undo the tokenisation of some SQuAD sources (``city 's name ?``) so sources look alike."""
    for pattern, repl in _DETOKENISE:
        text = pattern.sub(repl, text)
    return text.strip()


# ---------------------------------------------------------------- loading


def _open(path: Path):
    return lzma.open(path, "rt", encoding="utf-8") if path.suffix == ".xz" else path.open(encoding="utf-8")


def load_squad(path: Path, source: str, questions_from: Path | None = None) -> list[Example]:
    """SQuAD-format file (v1 or v2) as examples; ``questions_from`` swaps in questions by id (XQuAD)."""
    with _open(path) as handle:
        data = json.load(handle)["data"]
    swap: dict[str, str] = {}
    if questions_from is not None:
        with _open(questions_from) as handle:
            for article in json.load(handle)["data"]:
                for para in article["paragraphs"]:
                    swap.update({q["id"]: q["question"] for q in para["qas"]})
    out = []
    for a_index, article in enumerate(data):
        title = article.get("title") or f"{source}-{a_index}"
        contexts = [p["context"] for p in article["paragraphs"]]
        for p_index, para in enumerate(article["paragraphs"]):
            siblings = contexts[:p_index] + contexts[p_index + 1:]
            for q_index, qa in enumerate(para["qas"]):
                qid = str(qa.get("id") or f"{title}-{p_index}-{q_index}")
                question = swap.get(qid, qa["question"]) if swap else qa["question"]
                answers = [] if qa.get("is_impossible") else qa["answers"]
                starts = sorted({int(a["answer_start"]) for a in answers})
                out.append(Example(qid, clean_question(question), para["context"], starts, title, source,
                                   siblings, list(dict.fromkeys(a["text"] for a in answers))))
    return out


def load_selqa(path: Path) -> list[Pair]:
    """SelQA answer-sentence selection: every candidate sentence, labelled."""
    with _open(path) as handle:
        rows = json.load(handle)
    pairs = []
    for i, row in enumerate(rows):
        answers = set(row["answers"])
        for j, sentence in enumerate(row["candidates"]):
            kind = "answer-sentence" if j in answers else "near-miss-sentence"
            pairs.append(Pair(row["question"], sentence, float(j in answers), kind, f"selqa-{path.stem}-{i}"))
    return pairs


def load_qnli(path: Path) -> list[Pair]:
    """GLUE QNLI: does the sentence contain the answer to the question."""
    with _open(path) as handle:
        lines = handle.read().splitlines()[1:]
    pairs = []
    for line in lines:
        parts = line.split("\t")
        if len(parts) == 4:
            label = float(parts[3] == "entailment")
            kind = "answer-sentence" if label else "near-miss-sentence"
            pairs.append(Pair(parts[1], parts[2], label, kind, f"qnli-{parts[0]}"))
    return pairs


@dataclass
class Corpus:
    """All training examples and sentence pairs, and the held-out validation examples."""

    train: list[Example]
    train_pairs: list[Pair]   # sources that come as ready pairs (SelQA, QNLI)
    validation: list[Example]


def load_ready(path: Path) -> list[Example]:
    """Questions over business documents from a JSONL file of the reader's examples (``kb.reader.business``:
    question, text, start, answer, qid; start -1 when the text does not answer)."""
    out = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                start = int(row["start"])
                out.append(Example(str(row.get("qid") or len(out)), row["question"], row["text"],
                                   [start] if start >= 0 else [], str(row.get("qid") or ""), "business",
                                   answers=[row["answer"]] if start >= 0 else []))
    return out


def load_corpus(root: Path, validation_articles: int = 12, seed: int = 0,
                extra: list[Example] | None = None, extra_repeats: int = 1) -> Corpus:
    """Everything under ``root`` (``shared/data/train``), split by held-out SQuAD 2.0 dev articles; ``extra``
    examples (business documents) are added ``extra_repeats`` times."""
    dev = load_squad(root / "squad2/dev-v2.0.from-explorer.json.xz", "squad2-dev")
    titles = sorted({e.article for e in dev})
    random.Random(seed).shuffle(titles)
    held_out = set(titles[:validation_articles])
    validation = [e for e in dev if e.article in held_out]
    held_text = {e.context for e in validation}

    train = [e for e in dev if e.article not in held_out]
    train += load_squad(root / "squad2/train-v2.0-partial.unansq.json.xz", "squad2-train")
    train += load_squad(root / "covid-qa/200423_covidQA.json.xz", "covid-qa")
    # English questions over German paragraphs teach the cross-language match a German manual needs
    xquad = load_squad(root / "xquad/xquad.de.json", "xquad-de-en", questions_from=root / "xquad/xquad.en.json")
    train += [e for e in xquad if e.article not in held_out]
    train += list(extra or []) * extra_repeats

    pairs = load_selqa(root / "selqa/selqa-ass-dev.json.xz") + load_selqa(root / "selqa/selqa-ass-test.json.xz")
    pairs += [p for p in load_qnli(root / "qnli/dev.tsv.xz") if not any(p.text in c for c in held_text)]
    return Corpus(train, pairs, validation)


# ---------------------------------------------------------------- pairs from examples


def _overlap(question: str, text: str) -> int:
    q = {w for w in re.findall(r"\w+", question.lower()) if w not in _STOPWORDS}
    return len(q & set(re.findall(r"\w+", text.lower())))


@dataclass(frozen=True)
class Decoys:
    """Negatives that look like answers, each drawn for a share of the questions. ``planted``: an instruction
    written for the answerer about the question (``kb.text.directive_model.instruction_about``, phrased as
    ``planted_generation``: 2 draws from more phrasings, half German or French). ``restated``: the question itself
    written as a line of a document (an FAQ's "Q." line, a "what if" box): a sentence that repeats the question
    answers nothing. Both go in alone and inside a window without the answer; beside the answer sentence the window
    stays a positive. ``answerless`` (answerable questions only): the answer sentence with the answer cut out, alone
    and in its window: the question's words around no value answer nothing either. ``situations`` is no decoy but
    drawn the same way: that share of questions, answerable or not, comes with a situation told around it
    (``kb.text.situations``), every pair labelled as without it."""

    planted: float = 0.0
    planted_generation: int = 1
    restated: float = 0.0
    answerless: float = 0.0
    situations: float = 0.0


class PairMaker:
    """Turns examples into pairs; every random choice comes from the ``rng`` it is given."""

    def __init__(self, rng: random.Random, noise: float = 0.3, decoys: Decoys = Decoys()):
        self.rng = rng
        self.noise = noise
        self.decoys = decoys

    def pairs(self, example: Example, others: list[Example]) -> list[Pair]:
        spans = sentence_spans(example.context)
        if not spans:
            return []
        question = situated(example.question, self.rng) if self._draw(self.decoys.situations) else example.question
        question = noisy_question(question, self.rng) if self.rng.random() < self.noise else question
        texts = [example.context[a:b] for a, b in spans]
        wins = window_ranges(example.context, spans)
        win_text = [example.context[spans[i][0]:spans[j - 1][1]] for i, j in wins]
        pair = lambda text, label, kind: Pair(question, text, label, kind, example.qid)  # noqa: E731
        out = []
        if example.answerable:
            answer = {k for k, (a, b) in enumerate(spans) for s in example.answer_starts[:1] if a <= s < b}
            if not answer:
                return []
            k = min(answer)
            out.append(pair(texts[k], 1.0, "answer-sentence"))
            misses = [i for i in range(len(texts)) if i not in answer]
            if misses:
                out.append(pair(texts[self._hard(question, texts, misses)], 0.0, "near-miss-sentence"))
            holding = [w for w, (i, j) in enumerate(wins) if i <= k < j]
            out.append(pair(win_text[self.rng.choice(holding)], 1.0, "answer-window"))
            lacking = [w for w, (i, j) in enumerate(wins) if not any(i <= a < j for a in answer)]
            if lacking and self.rng.random() < 0.6:
                out.append(pair(win_text[self._hard(question, win_text, lacking)], 0.0, "near-miss-window"))
            if self._draw(self.decoys.answerless):
                out += [pair(text, 0.0, kind) for text, kind in
                        self._answerless(example, spans[k], wins[self.rng.choice(holding)], spans)]
        else:
            out.append(pair(texts[self._hard(question, texts, range(len(texts)), greedy=True)], 0.0,
                            "unanswerable-sentence"))
            out.append(pair(win_text[self._hard(question, win_text, range(len(wins)), greedy=True)], 0.0,
                            "unanswerable-window"))
            # the hardest negatives there are: draw more than one from each such question
            if len(wins) > 1 and self.rng.random() < 0.8:
                out.append(pair(self.rng.choice(win_text), 0.0, "unanswerable-window"))
            if len(texts) > 1 and self.rng.random() < 0.7:
                out.append(pair(self.rng.choice(texts), 0.0, "unanswerable-sentence"))
        if self._draw(self.decoys.planted):
            out += self._decoy(example, question, texts, spans, self._instruction(example), "planted")
        if self._draw(self.decoys.restated):
            out += self._decoy(example, question, texts, spans, restatement(example.question, self.rng), "restated")
        if example.siblings and self.rng.random() < 0.35:
            out.append(pair(self._window_of(self.rng.choice(example.siblings), question), 0.0, "same-article"))
        if others and self.rng.random() < 0.15:
            out.append(pair(self._window_of(self.rng.choice(others).context, question), 0.0, "other-article"))
        return out

    def _draw(self, share: float) -> bool:
        """True for ``share`` of the calls; a share of 0 draws nothing, so a recipe without it keeps its stream."""
        return share > 0 and self.rng.random() < share

    @staticmethod
    def _answerless(example: Example, sentence: tuple[int, int], window: tuple[int, int],
                    spans: list[tuple[int, int]]) -> list[tuple[str, str]]:
        """The answer sentence, and its window, with the answer cut out; nothing where the answer's text is not at
        its start, occurs twice, or too little sentence is left."""
        context, (a, b) = example.context, sentence
        found = [(s, len(t)) for t in example.answers for s in example.answer_starts if context[s:s + len(t)] == t]
        if not found or not a <= found[0][0] < b:
            return []
        start, length = found[0]
        cut = _SPACE_BEFORE.sub(r"\1", " ".join((context[a:start] + " " + context[start + length:b]).split()))
        answer = context[start:start + length].lower()
        if len(cut.split()) < 4 or any(t.lower() in cut.lower() for t in example.answers):
            return []
        out = [(cut, "answerless-sentence")]
        i, j = window
        text = context[spans[i][0]:a] + cut + context[b:spans[j - 1][1]]
        if j - i > 1 and answer not in text.lower():
            out.append((text, "answerless-window"))
        return out

    def _instruction(self, example: Example) -> str:
        from kb.text.directive_model import instruction_about

        answer = example.answers[0] if example.answers else ""
        return instruction_about(example.question, answer, self.rng, self.decoys.planted_generation)

    def _decoy(self, example: Example, question: str, texts: list[str], spans: list[tuple[int, int]], text: str,
               kind: str) -> list[Pair]:
        """``text``, a sentence that does not answer however much it looks like it, as a negative alone and beside
        a sentence that does not answer (in either order); beside the answer sentence the window is a positive:
        the decoy alone is what must score low, not every passage that holds one."""
        out = [Pair(question, text, 0.0, f"{kind}-sentence", example.qid)]
        starts = example.answer_starts[:1]
        lacking = [i for i, (a, b) in enumerate(spans) if not any(a <= s < b for s in starts)]
        if lacking:
            out.append(Pair(question, self._beside(text, texts[self._hard(question, texts, lacking)]), 0.0,
                            f"{kind}-window", example.qid))
        holding = [i for i in range(len(spans)) if i not in lacking]
        if example.answerable and holding:
            out.append(Pair(question, self._beside(text, texts[holding[0]]), 1.0, f"{kind}-answer-window",
                            example.qid))
        return out

    def _beside(self, text: str, other: str) -> str:
        return f"{text} {other}" if self.rng.random() < 0.5 else f"{other} {text}"

    def _hard(self, question: str, texts: list[str], candidates, greedy: bool = False) -> int:
        candidates = list(candidates)
        if greedy or self.rng.random() < 0.5:
            return max(candidates, key=lambda i: (_overlap(question, texts[i]), -i))
        return self.rng.choice(candidates)

    def _window_of(self, context: str, question: str) -> str:
        spans = sentence_spans(context)
        wins = window_ranges(context, spans) or [(0, 0)]
        texts = [context[spans[i][0]:spans[j - 1][1]] for i, j in wins if j > i] or [context[:500]]
        return texts[self._hard(question, texts, range(len(texts)))]


# how documents repeat a question without answering it: FAQ lines, "what if?" boxes, lead-ins
_RESTATEMENTS = ("Q. {q}", "Q: {q}", "Question: {q}", "FAQ: {q}", "{q}", "Employees often ask: {q}",
                 "A common question is: {q}", "You may be wondering: {q}", "Ask yourself: {q}",
                 "Scenario: a colleague asks {q}", "Frequently asked: {q}", "What if someone asks: {q}")


def restatement(question: str, rng: random.Random) -> str:
    """The question written as a line of a document that repeats it without answering it."""
    q = question.strip().rstrip("?.").strip() + "?"
    if rng.random() < 0.3:
        q = q[:1].lower() + q[1:]
    return rng.choice(_RESTATEMENTS).format(q=q)


_SPACE_BEFORE = re.compile(r"\s+([,.;:!?)])")
_KEYBOARD = dict(zip("qwertyuiopasdfghjklzxcvbnm", "wqeryuioipsadfghjkklzxcvbnm"))


def noisy_question(question: str, rng: random.Random) -> str:
    """The question as people type it: a typo or two, no capitals or question mark, or just keywords."""
    words = question.split()
    roll = rng.random()
    if roll < 0.2:
        kept = [w for w in words if w.lower().strip("?,.") not in _STOPWORDS]
        words = kept or words
    long_words = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    for i in rng.sample(long_words, min(len(long_words), rng.choice((1, 1, 2)))):
        w, p = words[i], rng.randrange(1, len(words[i]) - 1)
        op = rng.randrange(4)
        if op == 0:
            w = w[:p] + w[p + 1] + w[p] + w[p + 2:]
        elif op == 1:
            w = w[:p] + w[p + 1:]
        elif op == 2:
            w = w[:p] + w[p] + w[p:]
        else:
            w = w[:p] + _KEYBOARD.get(w[p].lower(), w[p]) + w[p + 1:]
        words[i] = w
    text = " ".join(words)
    if rng.random() < 0.5:
        text = text.lower().rstrip("?").strip()
    return text or question


def training_blocks(corpus: Corpus, seed: int, start: int = 0, block_size: int = 2048,
                    unanswerable_repeats: int = 1,
                    decoys: Decoys = Decoys()) -> Iterator[tuple[int, list[Pair]]]:
    """Endless, deterministic stream of (index, shuffled pair block); ``start`` skips blocks unbuilt.

    The same seed gives the same stream, so a resumed run sees exactly the pairs it would have seen.
    ``unanswerable_repeats`` > 1 visits each unanswerable question that many times an epoch (other windows,
    other typos each time): the hardest negatives there are, and the rarest. ``decoys``: see ``Decoys``.
    """
    base = list(range(len(corpus.train)))
    base += [i for i, e in enumerate(corpus.train) if not e.answerable] * (unanswerable_repeats - 1)
    per_epoch = -(-len(base) // block_size)
    index = start
    while True:
        epoch, b = divmod(index, per_epoch)
        order = list(base)
        random.Random(seed * 7919 + epoch).shuffle(order)
        ready = list(corpus.train_pairs)
        random.Random(seed * 104729 + epoch).shuffle(ready)
        per_block = -(-len(ready) // per_epoch)
        rng = random.Random(f"{seed}-{epoch}-{b}")
        maker = PairMaker(rng, decoys=decoys)
        examples = [corpus.train[i] for i in order[b * block_size:(b + 1) * block_size]]
        block = [p for e in examples for p in maker.pairs(e, examples)]
        block += ready[b * per_block:(b + 1) * per_block]
        rng.shuffle(block)
        yield index, block
        index += 1


class PublicData:
    """The pair source of the shipped judge: the public QA data in ``shared/data/train`` (``kb.judge.train``
    takes any object with ``blocks``, ``validation`` and ``describe``, e.g. a company's own pairs)."""

    def __init__(self, root: Path, validation_articles: int = 12, seed: int = 0, unanswerable_repeats: int = 1,
                 extra: list[Example] | None = None, extra_repeats: int = 1, decoys: Decoys = Decoys()):
        self.corpus = load_corpus(root, validation_articles, seed, extra, extra_repeats)
        self.seed = seed
        self.unanswerable_repeats = unanswerable_repeats
        self.decoys = decoys

    def blocks(self, start: int = 0) -> Iterator[tuple[int, list[Pair]]]:
        return training_blocks(self.corpus, self.seed, start, unanswerable_repeats=self.unanswerable_repeats,
                               decoys=self.decoys)

    def validation(self, limit: int | None = None) -> "ValidationSet":
        return validation_set(self.corpus.validation, limit, self.seed)

    def describe(self) -> str:
        c = self.corpus
        return (f"{len(c.train)} examples + {len(c.train_pairs)} ready pairs; validating on {len(c.validation)} "
                "held-out questions")


# ---------------------------------------------------------------- validation


@dataclass(frozen=True)
class ValidationSet:
    """Sentence pairs of answerable questions and whole paragraphs of answerable/unanswerable ones."""

    sentences: list[Pair]    # answer sentence (1) vs every other sentence of its paragraph (0)
    paragraphs: list[Pair]   # answerable question with its paragraph (1) vs unanswerable with its own (0)


def by_kind(examples: list[Example], limit: int | None = None, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """(answerable, unanswerable) examples, a seeded sample of ``limit`` of each when given."""
    rng = random.Random(seed)
    answerable = [e for e in examples if e.answerable]
    unanswerable = [e for e in examples if not e.answerable]
    if limit:
        answerable = rng.sample(answerable, min(limit, len(answerable)))
        unanswerable = rng.sample(unanswerable, min(limit, len(unanswerable)))
    return answerable, unanswerable


def validation_set(examples: list[Example], limit: int | None = None, seed: int = 0) -> ValidationSet:
    """Pairs for the validation AUCs; ``limit`` caps the questions of each kind (answerable, not)."""
    answerable, unanswerable = by_kind(examples, limit, seed)
    sentences, paragraphs = [], []
    for e in answerable:
        spans = sentence_spans(e.context)
        answer = {k for k, (a, b) in enumerate(spans) if a <= e.answer_starts[0] < b}
        for k, (a, b) in enumerate(spans):
            sentences.append(Pair(e.question, e.context[a:b], float(k in answer),
                                  "answer-sentence" if k in answer else "near-miss-sentence", e.qid))
    for e in answerable + unanswerable:
        paragraphs.append(Pair(e.question, e.context, float(e.answerable), "paragraph", e.qid))
    return ValidationSet(sentences, paragraphs)
