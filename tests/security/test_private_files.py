"""Databases that hold restricted text or questions are created readable by their owner only (issue 12).

Checked under a permissive umask (022), as a service account usually has: the index folder and its versions
0700, ``chunks.sqlite``, ``app.sqlite`` with its ``-wal`` and ``users.sqlite`` 0600.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kb import KnowledgeBase, Settings
from kb.embedding import HASHED_MODEL


@pytest.fixture
def wide_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_index_app_audit_and_user_databases_are_private(tmp_path, hashed_embedder, wide_umask):
    from kb.access.audit import AuditLog
    from kb.access.users import UserStore
    from kb.activity.store import ActivityStore
    from kb.types import Answer, Citation

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "case.md").write_text("# Case\n\nThe settlement for employee 4471 was 38,500 euros.\n", encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index", embedding_model=HASHED_MODEL)
    kb = KnowledgeBase(settings, embedder=hashed_embedder)
    kb.ingest([docs])
    version = kb.folder.current()
    for folder in (settings.index_dir, version.parent, version):
        assert _mode(folder) == 0o700, folder
    assert _mode(version / "chunks.sqlite") == 0o600

    store = ActivityStore.open(settings)
    answer = Answer("What was the settlement?", "38,500 euros.", False, "extractive",
                    [Citation(1, str(docs / "case.md"), "case.md", None, "Case", "38,500 euros", "c1")])
    store.record_answer(answer)
    AuditLog(settings).record("erin", "ask", answer.question, [str(docs / "case.md")])
    UserStore(settings).add_user("erin", "correct horse battery")
    app_db = settings.app_db_path
    for path in (app_db, Path(f"{app_db}-wal"), settings.users_db_path):
        assert path.exists() and _mode(path) == 0o600, path
    store.close()


def test_databases_left_readable_by_an_older_version_are_tightened(tmp_path, wide_umask):
    from kb.activity.store import ActivityStore

    app_db = tmp_path / "state" / "app.sqlite"
    app_db.parent.mkdir()
    app_db.touch(mode=0o644)
    ActivityStore(app_db).close()
    assert _mode(app_db) == 0o600
