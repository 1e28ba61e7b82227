"""Shared fixtures: the read-only data under ../shared/data and a session-wide embedder."""

from __future__ import annotations

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
    from kb.embedder import SentenceTransformerEmbedder
    from kb.settings import Settings

    return SentenceTransformerEmbedder(Settings().embedding_model)
