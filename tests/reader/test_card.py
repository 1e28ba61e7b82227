"""The reader's model card names the script call that remakes its phases."""

from __future__ import annotations

from kb.reader.card import reproduce_command


def _phase(pairs: int, **config) -> dict:
    return {"pairs": pairs, "config": {"planned_pairs": pairs, "extra_repeats": 1, **config}}


def test_a_later_phase_names_its_order_seed_only_where_it_is_not_the_scripts():
    phases = [_phase(100), _phase(200, extra_repeats=5), _phase(300, extra_repeats=2, order_seed=3),
              _phase(400, order_seed=2)]
    command = reproduce_command(phases)
    assert command == ("PHASE1_EXAMPLES=100 PHASE2_REPEATS=5 PHASE2_PLANNED=200 PHASE2_EXAMPLES=200 "
                       "PHASE3_REPEATS=2 PHASE3_PLANNED=300 PHASE3_ORDER_SEED=3 PHASE3_EXAMPLES=300 "
                       "PHASE4_REPEATS=1 PHASE4_PLANNED=400 PHASE4_EXAMPLES=400 scripts/train_reader.sh")
