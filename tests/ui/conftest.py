"""Fixtures for the web app: a tmp copy of sample_docs, indexed once, and the app pointed at it via KB_*.

The app's users (local sign-in): ada (admin), eve (employee, no groups), harriet (employee, group hr). The
access rules file starts empty (everything readable); tests that change it restore it.

Tests about rendering and plumbing (conversations, pages, the browser's themes and reloads) use ``hashed_app_env``:
the same documents indexed with the hashed embedder, answered in ``answer_mode = "quote"`` (verified quotes,
no generator), so no model loads; tests about answers use ``app_env`` with the real models.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
PASSWORD = "correct horse battery"
USERS = {"ada": ("admin", ()), "eve": ("employee", ()), "harriet": ("employee", ("hr",))}
TIMEOUT = 240  # the first run loads the embedding model and the generator (about 20-50 s on 2 cores)


@pytest.fixture(scope="session")
def app_env(tmp_path_factory, sample_docs, embedder):
    """KB_* variables for an index of a private copy of sample_docs (uploads and deletes stay in tmp)."""
    from kb import KnowledgeBase, Settings
    from kb.access.users import UserStore

    root = tmp_path_factory.mktemp("app")
    docs = root / "docs"
    shutil.copytree(sample_docs, docs)
    index = root / "index"
    rules = root / "access.rules"
    rules.write_text("")
    settings = Settings(index_dir=index, docs_dir=docs, acl_rules=rules)
    report = KnowledgeBase(settings, embedder=embedder).ingest([docs])
    assert report.indexed and not report.skipped, report.skipped
    users = UserStore(settings)
    for name, (role, groups) in USERS.items():
        users.add_user(name, PASSWORD, role, groups)
    return {"KB_INDEX_DIR": str(index), "KB_DOCS_DIR": str(docs), "KB_ACL_RULES": str(rules),
            "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="session")
def hashed_app_env(tmp_path_factory, sample_docs, hashed_embedder):
    """KB_* variables for the sample documents indexed with the hashed embedder and answered by quoting."""
    from kb import KnowledgeBase, Settings
    from kb.access.users import UserStore
    from kb.embedding import HASHED_MODEL

    root = tmp_path_factory.mktemp("hashed-app")
    docs = root / "docs"
    shutil.copytree(sample_docs, docs)
    settings = Settings(index_dir=root / "index", docs_dir=docs, embedding_model=HASHED_MODEL)
    report = KnowledgeBase(settings, embedder=hashed_embedder).ingest([docs])
    assert report.indexed and not report.skipped, report.skipped
    users = UserStore(settings)
    for name, (role, groups) in USERS.items():
        users.add_user(name, PASSWORD, role, groups)
    return {"KB_INDEX_DIR": str(root / "index"), "KB_DOCS_DIR": str(docs), "KB_EMBEDDING_MODEL": HASHED_MODEL,
            "KB_ANSWER_MODE": "quote", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _app_factory(env: dict, monkeypatch):
    """Start AppTests of ui/app.py with ``env`` set, signed in as one of USERS (or not, with None)."""
    from streamlit.testing.v1 import AppTest

    for key, value in env.items():
        monkeypatch.setenv(key, value)

    def start(name: str | None = "ada"):
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        at.run()
        assert not at.exception, at.exception
        return sign_in(at, name) if name else at
    return start


@pytest.fixture
def hashed_app_as(hashed_app_env, monkeypatch):
    """An AppTest factory on ``hashed_app_env``, signed in as one of USERS (or not, with None)."""
    return _app_factory(hashed_app_env, monkeypatch)


def sign_in(at, name: str, password: str = PASSWORD):
    """Fill the sign-in form of an AppTest and submit it."""
    at.text_input(key="login_user").input(name)
    at.text_input(key="login_password").input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def app_as(app_env, monkeypatch):
    """An AppTest factory signed in as one of USERS (models are cached across tests)."""
    return _app_factory(app_env, monkeypatch)


@pytest.fixture
def app(app_as):
    """A fresh AppTest of ui/app.py on the session's index, signed in as the admin."""
    return app_as("ada")


@pytest.fixture
def store(app_env):
    from kb import Settings
    from kb.activity.store import ActivityStore

    s = ActivityStore(Settings(index_dir=Path(app_env["KB_INDEX_DIR"])).app_db_path)
    yield s
    s.close()
