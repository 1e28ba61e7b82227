"""Training and validation examples for the reader: a question, a passage, and the answer's place in it.

Sources: SQuAD 2.0 (the partial train set with its adversarial unanswerable questions, and the dev articles
not held out), XQuAD's English questions over its German paragraphs (the German manuals), COVID-QA (long
technical documents, cut to a window around the answer) and, from phase 2 on, questions over real business
documents (``kb.reader.business``). Whole SQuAD 2.0 dev articles are held out for validation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

from kb.judge.data import Example, by_kind, load_squad, noisy_question
from kb.text.situations import situated


@dataclass(frozen=True)
class ReaderExample:
    """One question over one passage; ``start`` is -1 when the passage does not answer it."""

    question: str
    text: str
    start: int
    answer: str
    qid: str = ""
    kind: str = "squad"
    golds: tuple[str, ...] = field(default=())  # every accepted answer text (validation)

    @property
    def answerable(self) -> bool:
        return self.start >= 0


def from_squad(example: Example, rng: random.Random | None = None, max_chars: int = 0) -> ReaderExample | None:
    """A SQuAD-format example as a reader example (the first answer that is found where it says); a long
    context (``max_chars``) is cut to a window around the answer, at a random place when ``rng`` is given."""
    context = example.context
    if not example.answerable:
        if max_chars and len(context) > max_chars:
            at = (rng or random.Random(example.qid)).randrange(0, len(context) - max_chars)
            context = context[at:at + max_chars]
        return ReaderExample(example.question, context, -1, "", example.qid, example.source)
    for text in example.answers:
        answer = text.strip()
        if not answer:
            continue
        starts = [s + (len(text) - len(text.lstrip())) for s in example.answer_starts]
        start = next((s for s in starts if context[s:s + len(answer)] == answer), context.find(answer))
        if start < 0:
            continue
        if max_chars and len(context) > max_chars:
            lo = max(0, start + len(answer) - max_chars)
            hi = min(start, len(context) - max_chars)
            cut = (rng or random.Random(example.qid)).randint(lo, max(lo, hi))
            context, start = context[cut:cut + max_chars], start - cut
        return ReaderExample(example.question, context, start, answer, example.qid, example.source,
                             tuple(a.strip() for a in example.answers if a.strip()))
    return None


@dataclass
class ReaderCorpus:
    train: list[Example]
    validation: list[Example]
    extra: list[ReaderExample]  # ready examples (business documents)


def load_reader_corpus(root: Path, validation_articles: int = 12, seed: int = 0,
                       extra: list[ReaderExample] | None = None) -> ReaderCorpus:
    """The public QA data under ``root`` (``shared/data/train``); the same held-out articles as the judge's."""
    dev = load_squad(root / "squad2/dev-v2.0.from-explorer.json.xz", "squad2-dev")
    titles = sorted({e.article for e in dev})
    random.Random(seed).shuffle(titles)
    held_out = set(titles[:validation_articles])
    train = [e for e in dev if e.article not in held_out]
    train += load_squad(root / "squad2/train-v2.0-partial.unansq.json.xz", "squad2-train")
    train += load_squad(root / "covid-qa/200423_covidQA.json.xz", "covid-qa")
    xquad = load_squad(root / "xquad/xquad.de.json", "xquad-de-en", questions_from=root / "xquad/xquad.en.json")
    train += [e for e in xquad if e.article not in held_out]
    return ReaderCorpus(train, [e for e in dev if e.article in held_out], list(extra or []))


def reader_blocks(corpus: ReaderCorpus, seed: int, start: int = 0, block_size: int = 2048, noise: float = 0.3,
                  extra_repeats: int = 1, planted: float = 0.0,
                  planted_generation: int = 1, situations: float = 0.0) -> Iterator[tuple[int, list[ReaderExample]]]:
    """Endless, deterministic stream of (index, shuffled block); ``start`` skips blocks unbuilt. ``noise`` of
    the questions are rewritten the way people type; ready examples are visited ``extra_repeats`` times an
    epoch, spread over its blocks; ``planted`` of the QA examples get an instruction planted in their passage
    that claims another answer (the answer stays where it was: the instruction is never one), phrased as
    ``plant``'s ``planted_generation``; ``situations`` of all questions, answerable or not, come with a situation
    told around them (``kb.text.situations``) before that rewriting."""
    squad = list(range(len(corpus.train)))
    extra = list(range(len(corpus.extra))) * extra_repeats
    per_epoch = max(1, -(-(len(squad) + len(extra)) // block_size))
    index = start
    while True:
        epoch, b = divmod(index, per_epoch)
        order = list(squad)
        random.Random(seed * 7919 + epoch).shuffle(order)
        ready = list(extra)
        random.Random(seed * 104729 + epoch).shuffle(ready)
        per_squad, per_extra = -(-len(order) // per_epoch), -(-len(ready) // per_epoch)
        rng = random.Random(f"reader-{seed}-{epoch}-{b}")
        block = []
        for i in order[b * per_squad:(b + 1) * per_squad]:
            e = corpus.train[i]
            example = from_squad(e, rng, max_chars=1200 if e.source == "covid-qa" else 0)
            if example is not None:
                block.append(plant(example, rng, planted_generation) if planted and rng.random() < planted
                             else example)
        block += [corpus.extra[i] for i in ready[b * per_extra:(b + 1) * per_extra]]
        if situations:
            block = [replace(e, question=situated(e.question, rng)) if rng.random() < situations else e
                     for e in block]
        block = [_noisy(e, rng) if rng.random() < noise else e for e in block]
        rng.shuffle(block)
        yield index, block
        index += 1


def plant(example: ReaderExample, rng: random.Random, generation: int = 1) -> ReaderExample:
    """``example`` with an instruction to the answerer inserted between two of its sentences, about the question
    and claiming a value shaped like the answer (``generation`` 2: more phrasings, half of them German or
    French)."""
    from kb.text.directive_model import instruction_about
    from kb.text.sentences import sentence_spans

    text = instruction_about(example.question, example.answer, rng, generation)
    spans = sentence_spans(example.text)
    at = rng.choice([0] + [b for _, b in spans])
    moved = example.start + len(text) + 1 if example.answerable and at <= example.start else example.start
    planted = f"{text} {example.text}" if at == 0 else f"{example.text[:at]} {text}{example.text[at:]}"
    return ReaderExample(example.question, planted, moved, example.answer, example.qid, example.kind + "-planted",
                         example.golds)


def _noisy(example: ReaderExample, rng: random.Random) -> ReaderExample:
    return replace(example, question=noisy_question(example.question, rng))


def validation_examples(examples: list[Example], limit: int | None = None, seed: int = 0) -> list[ReaderExample]:
    """Held-out questions, ``limit`` of each kind (answerable, not), with every accepted answer."""
    answerable, unanswerable = by_kind(examples, limit, seed)
    out = [from_squad(e) for e in answerable + unanswerable]
    return [e for e in out if e is not None]


class ReaderData:
    """The reader's example source: public QA data plus ready examples (business documents)."""

    def __init__(self, root: Path, validation_articles: int = 12, seed: int = 0,
                 extra: list[ReaderExample] | None = None, extra_repeats: int = 1, planted: float = 0.0,
                 order_seed: int | None = None, planted_generation: int = 1, situations: float = 0.0):
        self.corpus = load_reader_corpus(root, validation_articles, seed, extra)
        self.seed = seed
        # a later phase may visit the examples in another order; the held-out articles stay those of ``seed``
        self.order_seed = seed if order_seed is None else order_seed
        self.extra_repeats = extra_repeats
        self.planted = planted
        self.planted_generation = planted_generation
        self.situations = situations

    def blocks(self, start: int = 0) -> Iterator[tuple[int, list[ReaderExample]]]:
        return reader_blocks(self.corpus, self.order_seed, start, extra_repeats=self.extra_repeats,
                             planted=self.planted, planted_generation=self.planted_generation,
                             situations=self.situations)

    def validation(self, limit: int | None = None) -> list[ReaderExample]:
        return validation_examples(self.corpus.validation, limit, self.seed)

    def describe(self) -> str:
        c = self.corpus
        return (f"{len(c.train)} QA examples + {len(c.extra)} business-document examples x{self.extra_repeats}; "
                f"validating on {len(c.validation)} held-out questions")
