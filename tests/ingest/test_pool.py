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


def test_the_pool_hands_out_a_file_only_when_admitted(tmp_path):
    """The caller holds the workers back by not admitting the next file (the writer does while the embedder is
    far behind); ``busy`` tells it how many workers are parsing."""
    from ingest.pool import ParsePool, WorkerConfig
    from kb.embedding.packaged import resolve_model_path
    from kb.settings import Settings

    paths = []
    for n in range(3):
        path = tmp_path / f"{n}.md"
        path.write_text(f"# Note {n}\n\nNote number {n} about the parking garage.\n", encoding="utf-8")
        paths.append(str(path))
    config = WorkerConfig(tokenizer_path=resolve_model_path(Settings().embedding_model), max_tokens=256,
                          overlap_tokens=40, max_file_mb=50, max_pages=500, memory_mb=1536)
    asked: list[int] = []

    def admit(busy: int) -> bool:
        asked.append(busy)
        return len(asked) <= 2

    with ParsePool(config, workers=1, timeout_s=60) as pool:
        results = list(pool.parse(paths, admit=admit))
        assert pool.busy == 0
    assert [r.path for r in results] == paths[:2] and all(r.chunks for r in results)
    assert asked == [0, 0, 0]


def test_the_embedder_gets_the_cores_no_parse_worker_is_using():
    """torch's threads while a parse worker runs: one fewer than it has, and all of them back afterwards."""
    import torch

    from kb.index.writer import _cores_left

    before = torch.get_num_threads()
    with _cores_left(1):
        assert torch.get_num_threads() == max(1, before - 1)
    assert torch.get_num_threads() == before
    with _cores_left(0):
        assert torch.get_num_threads() == before
