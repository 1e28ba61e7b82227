"""Fixtures for the web app: a tmp copy of sample_docs, indexed once, and the app pointed at it via KB_*."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
TIMEOUT = 240  # the first run loads the embedding model and the generator (about 20-50 s on 2 cores)


@pytest.fixture(scope="session")
def app_env(tmp_path_factory, sample_docs, embedder):
    """KB_* variables for an index of a private copy of sample_docs (uploads and deletes stay in tmp)."""
    from kb import KnowledgeBase, Settings

    root = tmp_path_factory.mktemp("app")
    docs = root / "docs"
    shutil.copytree(sample_docs, docs)
    index = root / "index"
    report = KnowledgeBase(Settings(index_dir=index, docs_dir=docs), embedder=embedder).ingest([docs])
    assert report.indexed and not report.skipped, report.skipped
    return {"KB_INDEX_DIR": str(index), "KB_DOCS_DIR": str(docs), "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture
def app(app_env, monkeypatch):
    """A fresh AppTest of ui/app.py on the session's index (models are cached across tests)."""
    from streamlit.testing.v1 import AppTest

    for key, value in app_env.items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def store(app_env):
    from kb import Settings
    from kb.appstore import AppStore

    s = AppStore(Settings(index_dir=Path(app_env["KB_INDEX_DIR"])).app_db_path)
    yield s
    s.close()
