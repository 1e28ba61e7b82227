"""Training the judge: a few real steps from the bundled MiniLM, checkpointed, resumed exactly, exported."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from kb.judge.model import Judge
from kb.judge.train import TrainConfig, Trainer, auc, export

pytestmark = [pytest.mark.model, pytest.mark.slow]


def test_auc_counts_ties_half():
    import numpy as np

    assert auc(np.array([1, 0]), np.array([0.9, 0.1])) == 1.0
    assert auc(np.array([1, 0]), np.array([0.5, 0.5])) == 0.5
    assert auc(np.array([1, 1, 0, 0]), np.array([0.8, 0.2, 0.6, 0.1])) == 0.75


def test_a_stopped_run_resumes_to_the_same_weights_and_exports_a_loadable_model(shared_data, tmp_path):
    config = TrainConfig(data=str(shared_data / "train"), planned_pairs=4 * 8, batch_size=8, eval_every=1000,
                         eval_limit=3, final_eval_limit=3, max_length=64)
    straight = Trainer(config, tmp_path / "straight", device="cpu")
    straight.run(budget_minutes=10)
    halves = tmp_path / "halves"
    Trainer(dataclasses.replace(config, stop_after_pairs=2 * 8), halves, device="cpu").run(budget_minutes=10)
    assert json.loads((halves / "report.json").read_text())["step"] == 2
    resumed = Trainer(config, halves, device="cpu")
    report = resumed.run(budget_minutes=10)
    assert report["step"] == 4 and report["evaluations"][-1]["final"]
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(halves / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a), "a resumed run must train on exactly the same pairs"

    folder = export(halves, tmp_path / "model")
    assert (folder / "README.md").read_text().startswith("# kb-judge")
    scores = Judge(folder).score([("Who leads?", "Rollo leads the Normans."), ("Who leads?", "It rained.")])
    assert scores.shape == (2,)


def test_a_phase_started_from_an_exported_folder_names_every_phase_before_it(tmp_path):
    """Plumbing only (hand-written reports, no training): the exported folder carries its earlier phases, so the
    card of a phase started from it lists them all, oldest first."""
    from kb.judge.train import _phase_reports

    def report(lr: float, init_from: str) -> dict:
        return {"config": {"learning_rate": lr, "init_from": init_from}, "pairs": 10}

    model = tmp_path / "kb-judge"
    model.mkdir()
    (model / "training_report.json").write_text(json.dumps({**report(3e-5, "runs/gone"),
                                                            "earlier_phases": [report(4e-5, "")]}))
    run = tmp_path / "phase3"
    run.mkdir()
    (run / "report.json").write_text(json.dumps(report(2e-5, str(model))))
    assert [p["config"]["learning_rate"] for p in _phase_reports(run)] == [4e-5, 3e-5, 2e-5]
    assert all("earlier_phases" not in p for p in _phase_reports(run))
