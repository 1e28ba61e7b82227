"""The model card written next to exported reader weights: what it is, what it learned from, how well."""

from __future__ import annotations

import time

from kb.judge.card import LICENCES, situations_note

_FIGURES = ("em", "f1", "has_ans_f1", "no_ans_acc", "best_threshold", "best_em", "best_f1", "best_has_ans_f1",
            "best_no_ans_acc", "questions")


def _phase_line(number: int, report: dict) -> str:
    c = report["config"]
    final = report["evaluations"][-1] if report.get("evaluations") else {}
    return (f"{number}. {report.get('pairs', 0):,} examples ({report.get('step', 0):,} steps, "
            f"{report.get('trained_seconds', 0) / 3600:.1f} h on {report.get('device', 'cpu')}) from "
            f"{c.get('init_from') or c['base_model']}: learning rate {c['learning_rate']}, schedule over "
            f"{c['planned_pairs']:,} planned examples, business examples: {c.get('business') or 'none'}"
            f" (x{c.get('extra_repeats', 1)})"
            + (f", examples in seed {c['order_seed']}'s order" if c.get("order_seed") is not None else "")
            + (f", planted instructions of generation {c['planted_generation']}"
               if c.get("planted_generation", 1) > 1 else "")
            + situations_note(c)
            + f"; at its end EM {final.get('em')}, F1 {final.get('f1')}")


def reproduce_command(phases: list[dict]) -> str:
    """The ``scripts/train_reader.sh`` call that remakes these phases: each one's examples (and, after the
    first, its business-example repeats and planned schedule; after the second, its order seed where it is not
    the script's)."""
    parts = []
    for n, report in enumerate(phases, 1):
        c = report["config"]
        if n > 1:
            parts += [f"PHASE{n}_REPEATS={c.get('extra_repeats', 1)}", f"PHASE{n}_PLANNED={c['planned_pairs']}"]
        if n > 2 and c.get("order_seed") not in (None, n - 2):  # the script's own order is seed n - 2's
            parts.append(f"PHASE{n}_ORDER_SEED={c['order_seed']}")
        parts.append(f"PHASE{n}_EXAMPLES={report.get('pairs', 0)}")
    return " ".join(parts) + " scripts/train_reader.sh"


def model_card(phases: list[dict], run_name: str = "reader", extra: str = "") -> str:
    """Markdown card from the training reports (``kb.reader.train``) of each phase, oldest first."""
    report = phases[-1]
    c = report["config"]
    final = report["evaluations"][-1] if report.get("evaluations") else {}
    hours = sum(p.get("trained_seconds", 0) for p in phases) / 3600
    examples = sum(p.get("pairs", 0) for p in phases)
    rows = "\n".join(f"| {k} | {final[k]} |" for k in _FIGURES if k in final)
    curve = report.get("loss_curve", [])
    every = max(1, len(curve) // 12)
    loss = ", ".join(f"{step}: {value}" for step, value in curve[::every])
    phase_lines = "\n".join(_phase_line(n, p) for n, p in enumerate(phases, 1))
    return f"""# kb-reader: answer-span extraction (extractive question answering)

Reads a question with a whole passage (heading, table header and rows, list lead-in and items) and returns the
answer span (start and end logits per token) and a no-answer score (the `[CLS]` token's start + end), as
SQuAD 2.0 readers do. The knowledge base uses it to find the answer inside the passages the judge ranked
first, to build the shown answer on the unit that holds the span, and to grade how sure the answer is.

- Base: `{c['base_model']}` ({c['layers']} layers) with a span head (2 logits per token); word embeddings
  frozen. Stored as fp16 safetensors; the product loads it in fp32 and quantises the linear layers to int8
  on the CPU.
- Inputs: `[CLS] question [SEP] passage [SEP]`, at most {c['max_length']} tokens; longer passages are read
  in overlapping windows (the best span of any window, the lowest no-answer score).
- Trained {examples:,} examples ({hours:.1f} h), batch {c['batch_size']}, {c['warmup']:.0%} warm-up and linear
  decay over each phase's planned examples, seed {c['seed']}:

{phase_lines}
- Date: {time.strftime('%Y-%m-%d')}

## Data

`kb/reader/data.py`: SQuAD 2.0 (the partial train set with the UnAnsQ adversarial unanswerable questions, and
the dev articles not held out), XQuAD's English questions over its German paragraphs, COVID-QA cut to a
1,200-character window around the answer; 30% of questions rewritten the way people type (typos, no capitals,
keywords only). Business-document examples (`kb/reader/business.py`, where a phase names them): questions
from headings, FAQ lines, table rows with their headers and definitions of `../shared/data/docs/records`,
`corpus/filings-10k` and the robustness DOCX/PDF text, with near-miss rows, the same rule from another
document and instructions addressed to the reader as no-answer examples; of generation 2 (where a phase names
`reader-business-2.jsonl`) those instructions come in more phrasings, half of them German or French, and
questions over composed tiered tables ask for the band that holds a number (`kb/reader/tiers.py`: "after 6
years" is the "5 to 7 years" row; without that row, no answer). `docs/policies` is never trained on (an
evaluation set). 12 whole SQuAD 2.0 dev articles are held out for validation.

{LICENCES}

## Validation (held-out SQuAD 2.0 dev articles)

Exact match and F1 in %, SQuAD's normalisation; `no_ans_acc`: unanswerable questions the reader declines.
At the no-answer threshold 0 and at the best one (`best_*`; margin = span score - no-answer score).

| figure | value |
|---|---|
{rows}

Anchor: deepset/minilm-uncased-squad2 (12 layers, 4 epochs on a V100): EM 76.1 / F1 79.5 / NoAns 73.9.

Loss (step: mean over the last 100 steps): {loss}
{extra}
## Reproduce

```bash
{reproduce_command(phases)}
```

runs the exact commands that made these weights (each phase a `python -m kb.reader.train` run: seeded,
resumable, stopped at a fixed number of examples), then `python -m kb.reader.train --work <last phase> --export
models/kb-reader` and the calibration below.
"""
