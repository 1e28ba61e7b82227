"""Access-rule bypasses from issue 12: each test is one reproduction, run against a real (hashed) index.

A restricted passage must never reach a user outside the group, whatever the file is called, wherever a link
points, and whatever the rules file looks like: rules that cannot be applied as written stop searches.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb import KnowledgeBase, Settings
from kb.access.rules import AccessPolicy, parse_rules
from kb.access.users import User, UserStore
from kb.embedding import HASHED_MODEL
from kb.errors import ConfigError
from tests.security.conftest import HOLIDAY_TEXT, HR_PHRASE, HR_TEXT

EMPLOYEE = User("erin", "employee", ("eng",))
HR_USER = User("harriet", "employee", ("hr",))
PASSWORD = "correct horse battery"
SECRET = "Quillfeather bonus pool"
SECRET_TEXT = f"# Bonus notes\n\nThe {SECRET} for 2025 is 1.2 million euros, shared among the directors.\n"


def _corpus(root: Path, rules: str | bytes, hr_files: dict[str, str] | None = None) -> Settings:
    docs = root / "documents"
    (docs / "hr").mkdir(parents=True, exist_ok=True)
    (docs / "general").mkdir(exist_ok=True)
    (docs / "hr" / "case-4471.md").write_text(HR_TEXT, encoding="utf-8")
    (docs / "general" / "holiday.md").write_text(HOLIDAY_TEXT, encoding="utf-8")
    for name, text in (hr_files or {}).items():
        (docs / "hr" / name).write_text(text, encoding="utf-8")
    path = root / "access.rules"
    path.write_bytes(rules if isinstance(rules, bytes) else rules.encode("utf-8"))
    return Settings(index_dir=root / "index", embedding_model=HASHED_MODEL, docs_dir=docs, acl_rules=path,
                    users_db=root / "users.sqlite", app_db=root / "app.sqlite")


def _kb(settings: Settings, hashed_embedder) -> KnowledgeBase:
    return KnowledgeBase(settings, embedder=hashed_embedder)


def _texts(kb: KnowledgeBase, query: str, user: User) -> list[str]:
    return [h.chunk.text for h in kb.search(query, k=20, user=user)]


# ---- ** and names with control characters ----

def test_double_star_spans_a_newline_in_a_path(tmp_path):
    policy = AccessPolicy(tmp_path.resolve(), parse_rules("hr/** -> hr\n*.secret.md -> security\n"))
    root = tmp_path.resolve()
    assert policy.groups_for(root / "hr" / "notes\nbonus.md") == {"hr"}
    assert policy.groups_for(root / "hr\nx" / "a.md") is None  # a different folder, not a way into hr/
    assert policy.groups_for(root / "hr" / "sub\nfolder" / "deep.md") == {"hr"}
    assert policy.groups_for(root / "a\nb" / "plan.secret.md") == {"security"}


def test_a_file_name_with_a_newline_is_skipped_not_made_public(tmp_path, hashed_embedder):
    settings = _corpus(tmp_path, "hr/** -> hr\n", {"notes\nbonus.md": SECRET_TEXT})
    kb = _kb(settings, hashed_embedder)
    report = kb.ingest([settings.docs_dir])
    skipped = {s.path: s.reason for s in report.skipped}
    assert any("U+000A" in reason for reason in skipped.values()), report.to_json()
    assert all("\n" not in path for path in skipped)  # shown escaped: one line, no forged report lines
    assert not any(SECRET in t for t in _texts(kb, SECRET, EMPLOYEE))
    assert not any(SECRET in t for t in _texts(kb, SECRET, HR_USER))  # not indexed at all
    assert any(s["reason"] == skipped[s["path"]] for s in kb.status()["skipped"])  # kb status lists it


# ---- symbolic links ----

def test_a_link_inside_hr_to_a_file_outside_docs_dir_is_not_indexed(tmp_path, hashed_embedder):
    outside = tmp_path / "elsewhere" / "bonus.md"
    outside.parent.mkdir()
    outside.write_text(SECRET_TEXT, encoding="utf-8")
    settings = _corpus(tmp_path, "hr/** -> hr\n")
    (settings.docs_dir / "hr" / "bonus.md").symlink_to(outside)
    kb = _kb(settings, hashed_embedder)
    report = kb.ingest([settings.docs_dir])
    reasons = [s.reason for s in report.skipped if s.path.endswith("hr/bonus.md")]
    assert reasons and "outside the folder" in reasons[0], report.to_json()
    assert str(outside.resolve()) not in report.indexed
    assert not any(SECRET in t for t in _texts(kb, SECRET, EMPLOYEE))


# ---- rules files that parse but would match nothing ----

def test_a_rules_file_with_a_byte_order_mark_still_applies_and_says_so(tmp_path, hashed_embedder):
    settings = _corpus(tmp_path, b"\xef\xbb\xbfhr/** -> hr\n")
    kb = _kb(settings, hashed_embedder)
    kb.ingest([settings.docs_dir])
    assert not any(HR_PHRASE in t for t in _texts(kb, HR_PHRASE, EMPLOYEE))
    assert any(HR_PHRASE in t for t in _texts(kb, HR_PHRASE, HR_USER))
    problems = kb.status()["access"]["problems"]
    assert any("byte-order mark" in p["message"] and p["severity"] == "warning" for p in problems), problems


@pytest.mark.parametrize("rule, hint", [
    ("HR/** -> hr", "case"),  # the folder is hr/
    ("hr -> hr", "hr/**"),  # a bare name is a file name at any depth, not the folder
    ("/hr/** -> hr", "leading /"),  # absolute: outside docs_dir
])
def test_a_rule_whose_intent_is_ambiguous_stops_searches(tmp_path, hashed_embedder, rule, hint):
    settings = _corpus(tmp_path, rule + "\n")
    kb = _kb(settings, hashed_embedder)
    kb.ingest([settings.docs_dir])
    with pytest.raises(ConfigError, match="refused") as info:
        kb.search(HR_PHRASE, k=5, user=EMPLOYEE)
    assert hint in str(info.value) and "line 1" in str(info.value)
    with pytest.raises(ConfigError):  # previews and downloads fail closed too
        kb.can_read(settings.docs_dir.resolve() / "hr" / "case-4471.md", EMPLOYEE)
    problems = kb.status()["access"]["problems"]  # kb status reports it instead of failing
    assert problems and problems[0]["severity"] == "error" and hint in problems[0]["message"]


def test_a_backslash_rule_is_refused(tmp_path, hashed_embedder):
    settings = _corpus(tmp_path, "hr\\** -> hr\n")
    kb = _kb(settings, hashed_embedder)
    kb.ingest([settings.docs_dir])
    with pytest.raises(ConfigError, match="backslash"):
        kb.search(HR_PHRASE, k=5, user=EMPLOYEE)


def test_rules_without_the_documents_folder_are_refused(tmp_path, hashed_embedder, monkeypatch):
    settings = _corpus(tmp_path, "hr/** -> hr\n")
    _kb(settings, hashed_embedder).ingest([settings.docs_dir])
    monkeypatch.chdir(tmp_path / "index")  # docs_dir left at its default, "documents", which is not here
    unset = settings.replace(docs_dir=Path("documents"))
    with pytest.raises(ConfigError, match="docs_dir"):
        _kb(unset, hashed_embedder).search(HR_PHRASE, k=5, user=EMPLOYEE)
    elsewhere = tmp_path / "other-docs"
    elsewhere.mkdir()  # a real folder, but not the one the documents were indexed from
    with pytest.raises(ConfigError, match="none of the 2 indexed documents is inside docs_dir"):
        _kb(settings.replace(docs_dir=elsewhere), hashed_embedder).search(HR_PHRASE, k=5, user=EMPLOYEE)


def test_a_rule_that_matches_nothing_yet_is_reported_not_refused(tmp_path, hashed_embedder):
    settings = _corpus(tmp_path, "hr/** -> hr\nlegal/** -> legal\n")
    kb = _kb(settings, hashed_embedder)
    kb.ingest([settings.docs_dir])
    assert not any(HR_PHRASE in t for t in _texts(kb, HR_PHRASE, EMPLOYEE))  # searches go on
    problems = kb.status()["access"]["problems"]
    assert [p["severity"] for p in problems] == ["warning"] and "legal/**" in problems[0]["message"]


# ---- the CLI applies the rules ----

def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KB_EMBEDDING_MODEL": HASHED_MODEL,
           "KB_INDEX_DIR": str(settings.index_dir), "KB_DOCS_DIR": str(settings.docs_dir),
           "KB_ACL_RULES": str(settings.acl_rules), "KB_USERS_DB": str(settings.users_db)}
    return subprocess.run([sys.executable, "-m", "kb.cli", *args], capture_output=True, text=True, timeout=300,
                          env=env)


@pytest.fixture
def cli_corpus(tmp_path, hashed_embedder) -> Settings:
    settings = _corpus(tmp_path, "hr/** -> hr\n")
    _kb(settings, hashed_embedder).ingest([settings.docs_dir])
    users = UserStore(settings)
    users.add_user("eve", PASSWORD, "employee", ["eng"])
    users.add_user("harriet", PASSWORD, "employee", ["hr"])
    return settings


@pytest.mark.slow
def test_cli_search_reads_as_a_user_or_an_explicit_admin(cli_corpus):
    refused = _cli(cli_corpus, "search", HR_PHRASE, "--json")
    assert refused.returncode == 2 and "--user NAME" in refused.stderr and HR_PHRASE not in refused.stdout

    def hit_texts(*flags):
        proc = _cli(cli_corpus, "search", HR_PHRASE, "--json", "-k", "10", *flags)
        assert proc.returncode == 0, proc.stderr
        return [h["text"] for h in json.loads(proc.stdout)["hits"]]

    assert not any(HR_PHRASE in t for t in hit_texts("--user", "eve"))
    assert any(HR_PHRASE in t for t in hit_texts("--user", "harriet"))
    assert any(HR_PHRASE in t for t in hit_texts("--as-admin"))
    unknown = _cli(cli_corpus, "search", HR_PHRASE, "--user", "mallory")
    assert unknown.returncode == 1 and "no user named 'mallory'" in unknown.stderr


@pytest.mark.slow
@pytest.mark.parametrize("command", ["search", "ask"])
def test_cli_search_and_ask_stop_on_a_broken_rules_file(cli_corpus, command):
    Path(cli_corpus.acl_rules).write_text("hr/** hr\n", encoding="utf-8")  # no arrow: malformed
    for flags in (("--as-admin",), ("--user", "eve")):
        proc = _cli(cli_corpus, command, HR_PHRASE, "--json", *flags)
        assert proc.returncode == 1, (proc.stdout, proc.stderr)
        assert "line 1" in proc.stderr and HR_PHRASE not in proc.stdout
