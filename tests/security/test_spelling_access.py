"""Spelling correction never reveals words of documents the asker may not read (issue 30, item 1).

With ``hr/** -> hr`` and an HR file naming "Kowalski", a user in eng who asks about "Kowalsky" must get their
question back as typed: correcting it (or, for a name one edit from a dictionary word, keeping it) would tell
them which names the HR files hold. Both index backends, the library and the real CLI; plumbing on a real index
with the hashed embedder (keyword search and spelling are what is tested).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb import KnowledgeBase, Settings
from kb.access.users import User, UserStore
from kb.embedding import HASHED_MODEL

ALICE = User("alice", "employee", ("eng",))
HARRIET = User("harriet", "employee", ("hr",))
ADMIN = User("ada", "admin")
HR_CASE = ("# Case 18\n\nEmployee Kowalski was dismissed after the disciplinary hearing in March. Witness "
           "Bakerr signed the settlement.\n")
DEPLOY = ("# Deployment guide\n\nEngineers deploy the service with the release pipeline. Every deployment needs a "
          "reviewed change request.\n")


def _settings(root: Path, **extra) -> Settings:
    docs = root / "docs"
    (docs / "hr" / "cases").mkdir(parents=True)
    (docs / "eng").mkdir()
    (docs / "hr" / "cases" / "case-18.md").write_text(HR_CASE, encoding="utf-8")
    (docs / "eng" / "deploy.md").write_text(DEPLOY, encoding="utf-8")
    (root / "access.rules").write_text("hr/** -> hr\n", encoding="utf-8")
    return Settings(index_dir=root / "index", embedding_model=HASHED_MODEL, docs_dir=docs,
                    acl_rules=root / "access.rules", judge_model="", rerank=False, answer_mode="quote", **extra)


@pytest.fixture(scope="module", params=["faiss", "milvus"])
def kb(request, tmp_path_factory, hashed_embedder):
    if request.param == "milvus":
        pytest.importorskip("milvus_lite", reason="milvus-lite is not installed: pip install 'kb[milvus]'")
    root = tmp_path_factory.mktemp(request.param)
    extra = {"index_backend": "milvus", "milvus_uri": str(root / "m.db")} if request.param == "milvus" else {}
    kb = KnowledgeBase(_settings(root, **extra), embedder=hashed_embedder)
    assert len(kb.ingest([kb.settings.docs_dir]).indexed) == 2
    yield kb
    if kb._store is not None:
        kb._store.close()


def test_a_misspelt_restricted_name_stays_as_typed_for_a_user_without_access(kb):
    asked = kb.ask("Was Kowalsky dismissed?", user=ALICE)
    assert asked.retrieval_query == "Was Kowalsky dismissed?" and asked.question == "Was Kowalsky dismissed?"
    assert all("/hr/" not in h.chunk.path for h in asked.hits)
    assert kb.ask("Was Kowalsky dismissed?", user=HARRIET).retrieval_query == "Was Kowalski dismissed?"
    assert kb.ask("Was Kowalsky dismissed?", user=ADMIN).retrieval_query == "Was Kowalski dismissed?"
    # the words of passages alice may read are still corrected towards, and so are dictionary words
    assert kb.ask("Does every deploiment need a review?", user=ALICE).retrieval_query == \
        "Does every deployment need a review?"


def test_a_restricted_name_is_treated_as_no_document_word_so_keeping_it_tells_nothing(kb):
    """"Bakerr" (only in the HR file) is one edit from dictionary words: a name no document uses is corrected
    to the commonest of them ("Bakery"), so for alice the HR name must be too (keeping it would say an HR file
    uses it); hr keeps it, because their documents use it."""
    assert kb.spell("Did Bakerr sign?", kb._restrict(None, ALICE)) == "Did Bakery sign?"
    assert kb.spell("Did Bakerr sign?", kb._restrict(None, HARRIET)) == "Did Bakerr sign?"
    assert kb.spell("Did Bakerr sign?") == "Did Bakerr sign?"  # no restriction: the whole index's words


def test_search_corrects_only_towards_what_the_user_may_read(kb):
    alice = kb.search("Kowalsky dismissed", k=5, user=ALICE)
    assert all("/hr/" not in h.chunk.path for h in alice)
    hr = kb.search("Kowalsky dismissed", k=5, user=HARRIET)
    assert hr and hr[0].chunk.name == "case-18.md" and hr[0].keyword_rank in (1, None)


@pytest.mark.slow
def test_the_cli_leaves_the_name_as_typed_for_alice(tmp_path):
    settings = _settings(tmp_path)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KB_EMBEDDING_MODEL": HASHED_MODEL, "KB_JUDGE_MODEL": "",
           "KB_DOCS_DIR": str(settings.docs_dir), "KB_ACL_RULES": str(settings.acl_rules),
           "KB_INDEX_DIR": str(settings.index_dir), "KB_RERANK": "false", "KB_ANSWER_MODE": "quote"}

    def kb_cli(*args: str) -> dict:
        proc = subprocess.run([sys.executable, "-m", "kb.cli", *args], capture_output=True, text=True, env=env,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    assert kb_cli("ingest", str(settings.docs_dir), "--json")["counts"]["indexed"] == 2
    store = UserStore(settings)
    store.add_user("alice", "a long enough password", groups=("eng",))
    store.add_user("harriet", "a long enough password", groups=("hr",))
    assert kb_cli("ask", "--user", "alice", "--json", "Was Kowalsky dismissed?")["retrieval_query"] == \
        "Was Kowalsky dismissed?"
    assert kb_cli("ask", "--user", "harriet", "--json", "Was Kowalsky dismissed?")["retrieval_query"] == \
        "Was Kowalski dismissed?"
