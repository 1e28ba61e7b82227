"""The parse pool survives a worker that is already dead when it is handed a file."""
from __future__ import annotations


def test_a_worker_dead_before_it_gets_a_file_costs_that_file_only(tmp_path):
    from ingest.pool import ParsePool, WorkerConfig
    from kb.embedding.packaged import resolve_model_path
    from kb.settings import Settings

    first, second = tmp_path / "a.md", tmp_path / "b.md"
    first.write_text("# Travel\n\nTrain tickets are refunded within 30 days.\n", encoding="utf-8")
    second.write_text("# Parking\n\nStaff park in the north car park.\n", encoding="utf-8")
    config = WorkerConfig(tokenizer_path=resolve_model_path(Settings().embedding_model), max_tokens=256,
                          overlap_tokens=40, max_file_mb=50, max_pages=500, memory_mb=1536)
    with ParsePool(config, workers=1, timeout_s=60) as pool:
        worker = pool._workers[0]
        worker.process.kill()  # dead before the pool sends it a file: sending must not raise
        worker.process.wait()
        results = {r.path: r for r in pool.parse([str(first), str(second)])}
    died = results[str(first)]
    assert died.transient and "parser process died (killed by SIGKILL)" in died.skip_reason, died.skip_reason
    assert results[str(second)].chunks and not results[str(second)].skip_reason
