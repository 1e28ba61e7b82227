"""Shared fixtures: the read-only data under ../shared/data and a session-wide embedder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT.parent / "shared" / "data").resolve()
SAMPLE_DOCS = ROOT / "sample_docs"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The project's read-only test data (see ../shared/data/README.md)."""
    assert SHARED_DATA.is_dir(), f"test data missing at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_docs() -> Path:
    return SAMPLE_DOCS


@pytest.fixture(scope="session")
def embedder():
    """The real default embedding model, loaded once per test session."""
    from kb.embedding.sbert import SentenceTransformerEmbedder
    from kb.settings import Settings

    return SentenceTransformerEmbedder(Settings().embedding_model)


@pytest.fixture(scope="session")
def hashed_embedder():
    """The deterministic hashed bag-of-words embedder: for tests about plumbing, not about meaning."""
    from kb.embedding.hashed import HashedEmbedder

    return HashedEmbedder()


@pytest.fixture(scope="session")
def hashed_sample_index(tmp_path_factory, hashed_embedder):
    """The sample documents indexed with the hashed embedder (settings: ``embedding_model=HASHED_MODEL``)."""
    from kb import KnowledgeBase, Settings
    from kb.embedding import HASHED_MODEL

    folder = tmp_path_factory.mktemp("hashed-sample-index")
    kb = KnowledgeBase(Settings(index_dir=folder, embedding_model=HASHED_MODEL), embedder=hashed_embedder)
    report = kb.ingest([SAMPLE_DOCS])
    assert report.indexed and not report.skipped, report.skipped
    return folder


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, embedder):
    """The sample documents, indexed once per test session with the real embedding model."""
    from kb import KnowledgeBase, Settings

    folder = tmp_path_factory.mktemp("sample-index")
    kb = KnowledgeBase(Settings(index_dir=folder), embedder=embedder)
    report = kb.ingest([SAMPLE_DOCS])
    assert report.indexed and not report.skipped, report.skipped
    return folder


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """A throw-away PostgreSQL server for this test session (tests/postgres.py); the tests that use it are
    skipped, saying why, where it cannot start (no PostgreSQL binaries), and fail instead when
    ``POSTGRES_TESTS=required`` (CI, which installs them)."""
    from tests.postgres import Unavailable, start

    try:
        server = start(tmp_path_factory.mktemp("postgres"))
    except Unavailable as exc:
        if os.environ.get("POSTGRES_TESTS") == "required":
            pytest.fail(f"PostgreSQL test server did not start: {exc}")
        pytest.skip(f"PostgreSQL test server cannot start here: {exc}")
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """The URL of a new, empty database on the test server: one per test."""
    return postgres_server.create_database()
