"""The Milvus backend filters on access keys stored with each passage, not on a list of every allowed path
(issue 30): the expression stays a few strings however many files there are, a rules edit re-stamps the keys
once, and nothing restricted leaks on the way. ``kb ingest`` on milvus-lite prints no grpc tracebacks.

Plumbing on a real milvus-lite collection with the hashed embedder (what is tested is which passages a filter
lets through); the timing at 50,000 files is ``python -m bench.milvus_filter``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("milvus_lite", reason="milvus-lite is not installed: pip install 'kb[milvus]'")

from kb import KnowledgeBase, Settings  # noqa: E402
from kb.access.users import User  # noqa: E402
from kb.embedding import HASHED_MODEL  # noqa: E402
from kb.retrieval.filters import Filter  # noqa: E402

ERIN = User("erin", "employee", ("eng",))
HARRIET = User("harriet", "employee", ("hr",))
MONEY = User("mo", "employee", ("management", "payroll"))
RULES = "hr/** -> hr\nfinance/** -> finance, management\n*.salary.md -> payroll\n"
FILES = {"hr/case-18.md": "Parking permit note for case 18 in hr.",
         "finance/budget.md": "Parking permit budget of the finance team.",
         "eng/ops/pay.salary.md": "Parking permit salary sheet for operations.",
         "eng/deploy.md": "Parking permit rules for engineers who deploy.",
         "eng/guide.txt": "Parking permit guide in plain text for engineers.",
         "handbook.md": "Parking permit rules for everyone in the handbook."}


@pytest.fixture
def kb(tmp_path, hashed_embedder):
    docs = tmp_path / "docs"
    for name, text in FILES.items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(text + "\n", encoding="utf-8")
    (tmp_path / "access.rules").write_text(RULES, encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index", embedding_model=HASHED_MODEL, docs_dir=docs,
                        acl_rules=tmp_path / "access.rules", judge_model="", rerank=False, index_backend="milvus",
                        milvus_uri=str(tmp_path / "m.db"))
    kb = KnowledgeBase(settings, embedder=hashed_embedder)
    assert len(kb.ingest([docs]).indexed) == len(FILES)
    yield kb
    kb._store.close()


def _found(kb: KnowledgeBase, user: User | None = None, where: Filter | None = None) -> set[str]:
    docs = Path(kb.settings.docs_dir).resolve()
    return {Path(h.chunk.path).relative_to(docs).as_posix() for h in kb.search("parking permit", 20, where, user)}


def test_access_rules_become_a_condition_on_the_stored_access_keys(kb):
    reader = kb.reader()
    assert reader.path_filter(kb._restrict(None, ERIN)) == '(access in ["everyone"])'
    assert reader.path_filter(kb._restrict(None, MONEY)) == \
        '(access in ["everyone", "finance,management", "payroll"])'
    assert _found(kb, ERIN) == {"eng/deploy.md", "eng/guide.txt", "handbook.md"}
    assert _found(kb, HARRIET) == {"hr/case-18.md", "eng/deploy.md", "eng/guide.txt", "handbook.md"}
    assert _found(kb, MONEY) == {"finance/budget.md", "eng/ops/pay.salary.md", "eng/deploy.md", "eng/guide.txt",
                                 "handbook.md"}
    assert _found(kb, User("ada", "admin")) == set(FILES)


def test_collections_and_file_types_use_their_fields_and_other_filters_list_paths(kb):
    reader = kb.reader()
    where = kb._restrict(kb.filter(collections=["eng"], suffixes=["md"]), ERIN)
    assert reader.path_filter(where) == \
        '(access in ["everyone"]) and (suffix in ["md"]) and (collection in ["eng"])'
    assert _found(kb, ERIN, kb.filter(collections=["eng"], suffixes=["md"])) == {"eng/deploy.md"}
    assert _found(kb, MONEY, kb.filter(collections=["eng"])) == {"eng/ops/pay.salary.md", "eng/deploy.md",
                                                                "eng/guide.txt"}
    handbook = str((Path(kb.settings.docs_dir) / "handbook.md").resolve())
    chosen = Filter.of(paths=[handbook])
    assert reader.path_filter(chosen) == f'(path in ["{handbook}"])'  # a chosen file is still listed
    assert reader.path_filter(Filter.of(predicate=lambda p: False)) is None  # nothing allowed: no search


def test_a_rules_edit_re_stamps_the_keys_once_and_nothing_leaks_in_between(kb):
    store, reader = kb._store, kb.reader()
    before = store.stamp(reader.collection)[0]
    rules = Path(kb.settings.acl_rules)
    rules.write_text(RULES + "eng/** -> eng-leads\n", encoding="utf-8")  # eng becomes restricted
    assert _found(kb, ERIN) == {"handbook.md"}
    after = store.stamp(reader.collection)[0]
    assert after != before and after == kb.access_policy().stamp
    assert reader.path_filter(kb._restrict(None, ERIN)) == '(access in ["everyone"])'
    assert _found(kb, User("lee", "employee", ("eng-leads",))) == {"eng/deploy.md", "eng/guide.txt",
                                                                  "eng/ops/pay.salary.md", "handbook.md"}
    rules.write_text(RULES, encoding="utf-8")  # and back: the keys follow again (the stamp is not cached)
    assert _found(kb, ERIN) == {"eng/deploy.md", "eng/guide.txt", "handbook.md"}
    assert store.stamp(reader.collection)[0] == before


def test_when_the_keys_cannot_be_re_stamped_the_allowed_paths_are_listed(kb, monkeypatch, caplog):
    """Fault injection (plumbing): a server account that may not write. Searches stay correct, only slower."""
    def refuse(*args, **kwargs):
        raise PermissionError("this account may only read")

    monkeypatch.setattr(kb._store, "restamp", refuse)
    Path(kb.settings.acl_rules).write_text(RULES + "eng/** -> eng-leads\n", encoding="utf-8")
    assert _found(kb, ERIN) == {"handbook.md"}
    assert kb.reader().path_filter(kb._restrict(None, ERIN)).startswith("(path in [")
    assert "cannot re-stamp" in caplog.text and "may only read" in caplog.text


def test_kb_ingest_on_milvus_lite_prints_no_grpc_tracebacks(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nThe canteen opens at eight.\n", encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KB_EMBEDDING_MODEL": HASHED_MODEL, "KB_INDEX_BACKEND": "milvus"}
    proc = subprocess.run([sys.executable, "-m", "kb.cli", "ingest", str(docs), "--index", str(tmp_path / "index")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for noise in ("Traceback", "AllocTimestamp", "Method not implemented", "RPC error", "ERROR"):
        assert noise not in proc.stderr, proc.stderr
    assert "indexed 1" in proc.stdout
