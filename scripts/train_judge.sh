#!/usr/bin/env bash
# Reproduce the shipped judge (models/kb-judge) from the bundled all-MiniLM-L6-v2, on ../shared/data/train.
# Every phase is seeded, resumable (run the script again to continue) and stops at a fixed number of pairs,
# so the weights come out the same on the same hardware. On 2 CPU cores it takes about 2.6 hours; with CUDA,
# minutes. The exported folder's README.md is the model card.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${KB_VENV:-.venv}/bin/python"
DATA="${KB_TRAIN_DATA:-../shared/data/train}"
WORK="${KB_TRAIN_WORK:-runs}"
# phase 1: every kind of pair, the schedule planned over 360k pairs, stopped after 66,426 of them
"$PY" -m kb.judge.train --data "$DATA" --work "$WORK/judge-phase1" --planned-pairs 360000 \
    --stop-after-pairs 66426 --budget-minutes 100000
# phase 2: from phase 1, the adversarial unanswerable questions visited three times an epoch, stopped after
# 31,912 pairs (a 2-core machine's remaining time; the schedule still spans 200k)
"$PY" -m kb.judge.train --data "$DATA" --work "$WORK/judge-phase2" --init-from "$WORK/judge-phase1" \
    --unanswerable-repeats 3 --planned-pairs 200000 --learning-rate 3e-5 --stop-after-pairs 31912 \
    --budget-minutes 100000
"$PY" -m kb.judge.train --work "$WORK/judge-phase2" --export models/kb-judge
