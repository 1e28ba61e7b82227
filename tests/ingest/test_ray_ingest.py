"""Ingest on Ray (``ingest_executor = "ray"``) builds the same index as the local path.

One private local Ray for the module (2 CPUs: a parse actor and an embedding actor), its session files and
auth token inside the module's temporary folder, shut down at the end.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from kb.embedding import HASHED_MODEL
from kb.index.folder import IndexFolder
from kb.index.manifest import Manifest
from kb.index.version import load_ids, load_vectors, open_db, select_chunks
from kb.index.writer import IndexWriter, LocalExecutor
from kb.settings import Settings
from tests.conftest import SAMPLE_DOCS

pytestmark = pytest.mark.slow  # each test starts a private Ray (3-10 s on 2 cores)

pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ray")


@pytest.fixture(scope="module")
def ray_executor(ray_dir):
    from kb.index.ray_executor import RayExecutor

    before = os.environ.get("RAY_AUTH_TOKEN_PATH")
    # 4 logical CPUs: one parse and one embedding actor here, two left for the writer that starts its own
    settings = Settings(ingest_executor="ray", ray_parse_actors=1, ray_embed_actors=1)
    executor = RayExecutor(settings, temp_dir=ray_dir, num_cpus=4, object_store_mb=128)
    with executor:
        yield executor
    assert os.environ.get("RAY_AUTH_TOKEN_PATH") == before  # the token variable is the caller's again


@pytest.fixture(scope="module")
def docs(tmp_path_factory) -> Path:
    """The sample documents and a corrupt PDF, in one folder both paths ingest (chunk ids follow the path)."""
    folder = tmp_path_factory.mktemp("docs") / "sample"
    shutil.copytree(SAMPLE_DOCS, folder)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    return folder


def _contents(version: Path):
    """(chunk rows, ids, vectors, manifest files) of an index version."""
    db = open_db(version)
    try:
        rows = list(select_chunks(db))
    finally:
        db.close()
    files = {path: (e.status, e.reason, e.chunks) for path, e in Manifest.read(version).files.items()}
    return rows, load_ids(version), np.asarray(load_vectors(version)), files


def _ingest(index_dir: Path, settings: Settings, embedder, executor, paths, **run):
    events: list[tuple[str, int, int]] = []
    writer = IndexWriter(IndexFolder(index_dir), settings, embedder, executor=executor)
    report = writer.run(paths, progress=lambda stage, done, total: events.append((stage, done, total)), **run)
    return report, events, _contents(IndexFolder(index_dir).require_current())


def _assert_same_index(local, ray, min_cosine: float) -> None:
    (l_rows, l_ids, l_vectors, l_files), (r_rows, r_ids, r_vectors, r_files) = local, ray
    assert [(i, c.chunk_id, c.text, c.page, c.char_start) for i, c in r_rows] == \
           [(i, c.chunk_id, c.text, c.page, c.char_start) for i, c in l_rows]
    assert np.array_equal(r_ids, l_ids)
    cosine = np.sum(l_vectors * r_vectors, axis=1)  # both L2-normalised
    assert cosine.min() > min_cosine, cosine.min()
    assert r_files == l_files  # the same files indexed, the same ones skipped for the same reasons


@pytest.mark.model
def test_ray_ingest_of_the_sample_documents_matches_local(tmp_path, sample_index, embedder, ray_executor, ray_dir):
    """The local reference is the session's ``sample_index`` (SAMPLE_DOCS, the real model, default settings)."""
    report, events, ray = _ingest(tmp_path / "ray", Settings(ingest_executor="ray"), embedder, ray_executor,
                                  [SAMPLE_DOCS])
    _assert_same_index(_contents(IndexFolder(sample_index).require_current()), ray, min_cosine=0.999)
    assert len(report.indexed) == 11 and not report.skipped and report.chunks_added == len(ray[0]) > 100
    # progress moved as locally: every file parsed, every chunk embedded, the version written
    assert ("parse", 11, 11) in events and max(d for s, d, _ in events if s == "embed") == len(ray[0])
    assert events[-1] == ("index", 2, 2) and report.embed_seconds > 0 and report.parse_seconds > 0
    # Ray's session files and its auth token stayed in the test's folder
    assert list((ray_dir / "ray").glob("session_*")) and (ray_dir / "auth_token").stat().st_mode & 0o077 == 0


def test_ray_keyword_first_and_incremental_runs_match_local(tmp_path, docs, hashed_embedder, ray_executor):
    """Plumbing (hashed embedder): keyword-first publishing (parse, then the vectors of the pending chunks) and
    a second run that changes, adds and removes files give the same versions on both paths; the corrupt PDF is
    skipped with the same reason on both."""
    settings = Settings(embedding_model=HASHED_MODEL, ingest_executor="ray", embedding_batch_size=16)
    folder = tmp_path / "docs"
    shutil.copytree(docs, folder)
    results = {}
    for name, executor in (("local", LocalExecutor()), ("ray", ray_executor)):
        first = _ingest(tmp_path / name, settings, hashed_embedder, executor, [folder], keyword_first=True)
        chunks = first[0].chunks_added
        assert first[0].keyword_version and ("embed", chunks, chunks) in first[1]
        assert [(Path(s.path).name, "corrupt" in s.reason) for s in first[0].skipped] == [("broken.pdf", True)]
        results[name] = [first]
    (folder / "general" / "faq.docx").unlink()
    (folder / "general" / "holiday_calendar_2026.txt").write_text("Holidays 2026\n\nThe office closes on 24 "
                                                                  "December.\n", encoding="utf-8")
    (folder / "it" / "printers.md").write_text("# Printers\n\nPrinters are on every floor by the lifts.\n",
                                               encoding="utf-8")
    for name, executor in (("local", LocalExecutor()), ("ray", ray_executor)):
        results[name].append(_ingest(tmp_path / name, settings, hashed_embedder, executor, [folder]))
    for local, ray in zip(results["local"], results["ray"]):
        _assert_same_index(local[2], ray[2], min_cosine=0.999999)
    second = results["ray"][1][0]
    assert len(second.indexed) == 2 and len(second.removed) == 1


def test_a_parser_that_dies_on_every_file_costs_each_file_on_both_paths(tmp_path, hashed_embedder, ray_executor):
    """Plumbing: a memory limit no parse worker survives is a transient skip per file, not a failed run, and the
    reason reads the same on Ray."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("a.md", "b.txt"):
        (folder / name).write_text("# Travel\n\nTrain tickets are refunded within 30 days.\n", encoding="utf-8")
    settings = Settings(embedding_model=HASHED_MODEL, ingest_executor="ray", parse_memory_mb=16)
    local = _ingest(tmp_path / "local", settings, hashed_embedder, LocalExecutor(), [folder])[0]
    ray = _ingest(tmp_path / "ray", settings, hashed_embedder, ray_executor, [folder])[0]
    assert not local.indexed and len(local.skipped) == 2
    assert all("parser process died" in s.reason and "parse_memory_mb=16" in s.reason for s in local.skipped)
    assert sorted((s.path, s.reason) for s in ray.skipped) == sorted((s.path, s.reason) for s in local.skipped)


def test_the_setting_alone_runs_ingest_on_ray(tmp_path, docs, hashed_embedder, ray_executor):
    """Plumbing: a writer given no executor takes the one ``ingest_executor`` names; with Ray already running in
    this process it uses that session and leaves it running."""
    import ray

    from kb.index.ray_executor import RayExecutor

    settings = Settings(index_dir=tmp_path / "index", embedding_model=HASHED_MODEL, ingest_executor="ray")
    writer = IndexWriter(IndexFolder(settings.index_dir), settings, hashed_embedder)
    assert isinstance(writer.executor, RayExecutor)
    report = writer.run([docs / "hr"])
    assert len(report.indexed) == 5 and ray.is_initialized()


def test_a_model_the_embedding_actors_cannot_load_is_a_model_error(tmp_path, docs, ray_executor):
    """Plumbing: the writer's embedder (hashed, under an id no node has) cannot be rebuilt in the actors; the run
    stops with the model named and publishes nothing."""
    from kb.embedding.hashed import HashedEmbedder
    from kb.errors import ModelError

    class Unknown(HashedEmbedder):
        model_id = "no-such-org/no-such-model"

    settings = Settings(embedding_model=HASHED_MODEL, ingest_executor="ray")
    writer = IndexWriter(IndexFolder(tmp_path / "index"), settings, Unknown(), executor=ray_executor)
    with pytest.raises(ModelError, match="no-such-org/no-such-model"):
        writer.run([docs / "hr"])
    assert IndexFolder(tmp_path / "index").current() is None
