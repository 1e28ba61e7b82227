"""Per-document access control: rules parsing, and filtering inside retrieval for search, ask and previews."""

from __future__ import annotations

import logging

import pytest

from kb.access.rules import AccessPolicy, PolicySource, parse_rules
from kb.access.users import User
from kb.errors import ConfigError
from tests.security.conftest import HR_PHRASE

EMPLOYEE = User("erin", "employee", ())
HR_USER = User("harriet", "employee", ("hr",))
ADMIN = User("ada", "admin", ())


# ---- the rules file ----

def test_rules_syntax_globs_and_last_match_wins(tmp_path):
    root = tmp_path / "docs"
    policy = AccessPolicy(root.resolve(), parse_rules("""
        # comment line
        hr/**                 -> hr            # everything in hr/
        hr/handbook.pdf       -> everyone
        finance/salaries-*.pdf -> finance, management
        *.secret.md           -> security
        /srv/legal/           -> legal
    """))
    r = root.resolve()
    assert policy.groups_for(r / "hr" / "cases" / "a.pdf") == {"hr"}
    assert policy.groups_for(r / "hr" / "handbook.pdf") is None  # later, narrower rule opens it up
    assert policy.groups_for(r / "finance" / "salaries-2024.pdf") == {"finance", "management"}
    assert policy.groups_for(r / "finance" / "sub" / "salaries-2024.pdf") is None  # * stays in one level
    assert policy.groups_for(r / "deep" / "x" / "plan.secret.md") == {"security"}  # bare name: any depth
    assert policy.groups_for("/srv/legal/contracts/nda.pdf") == {"legal"}
    assert policy.groups_for("/srv/other/nda.pdf") is None
    assert policy.groups_for(r / "general" / "holiday.md") is None  # unmatched: everyone
    assert policy.groups_for(r / "hrx" / "a.pdf") is None  # hr/** is not a string prefix match
    # paths with .. are normalised before matching, so they cannot dodge a rule
    assert policy.groups_for(f"{r}/general/../hr/a.pdf") == {"hr"}


@pytest.mark.parametrize("line, message", [
    ("hr/** hr", "is not a rule"),
    ("hr/** ->", "names no group"),
    ("-> hr", "has no glob"),
    ("hr/** -> h r", "not valid"),
    ("../outside/** -> hr", "must not contain"),
])
def test_bad_rules_name_the_line(line, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_rules(f"# first\n{line}\n", "access.rules")
    assert "line 2" in str(info.value)


def test_missing_rules_file_fails_closed(tmp_path):
    from kb.settings import Settings

    settings = Settings(docs_dir=tmp_path, acl_rules=tmp_path / "nope.rules")
    with pytest.raises(ConfigError, match="does not exist"):
        PolicySource(settings).policy()


def test_allowed_by_group_and_role(tmp_path):
    policy = AccessPolicy(tmp_path.resolve(), parse_rules("hr/** -> hr, hr-leads"))
    doc = tmp_path.resolve() / "hr" / "case.md"
    assert not policy.allowed(doc, EMPLOYEE)
    assert policy.allowed(doc, HR_USER)
    assert policy.allowed(doc, User("l", "employee", ("sales", "hr-leads")))
    assert policy.allowed(doc, ADMIN)
    assert not policy.allowed(doc, None)
    assert policy.allowed(tmp_path.resolve() / "general.md", None)


# ---- retrieval: the restriction happens inside search, before ranking ----

def _kb(acl_corpus, hashed_embedder):
    from kb import KnowledgeBase

    return KnowledgeBase(acl_corpus[0], embedder=hashed_embedder)


@pytest.mark.slow
def test_search_hides_hr_document_from_employee(acl_corpus, hashed_embedder, hr_doc):
    kb = _kb(acl_corpus, hashed_embedder)
    for query in (HR_PHRASE, "grievance settlement employee 4471 salary band", "38,500 euros"):
        hits = kb.search(query, k=50, user=EMPLOYEE)
        assert hits, "public documents must still be found"
        assert all(h.chunk.path != str(hr_doc) for h in hits)
        assert all(HR_PHRASE not in h.chunk.text for h in hits)
    # the restriction is applied before ranking: the employee gets the best *allowed* passages in full
    assert len(kb.search(HR_PHRASE, k=2, user=EMPLOYEE)) == 2


def test_search_shows_hr_document_to_hr_and_admin(acl_corpus, hashed_embedder, hr_doc):
    kb = _kb(acl_corpus, hashed_embedder)
    for user in (HR_USER, ADMIN):
        hits = kb.search(HR_PHRASE, k=3, user=user)
        assert hits[0].chunk.path == str(hr_doc)
    assert kb.can_read(hr_doc, HR_USER) and kb.can_read(hr_doc, ADMIN)
    assert not kb.can_read(hr_doc, EMPLOYEE)  # previews and downloads ask this


def test_user_restriction_combines_with_other_filters(acl_corpus, hashed_embedder, hr_doc):
    kb = _kb(acl_corpus, hashed_embedder)
    where = kb.filter(collections=["hr"])
    assert kb.search(HR_PHRASE, k=5, where=where, user=EMPLOYEE) == []
    hits = kb.search(HR_PHRASE, k=5, where=where, user=HR_USER)
    assert hits and all(h.chunk.path == str(hr_doc) for h in hits)
    # and a collection filter cannot widen what the rules allow
    general = kb.search(HR_PHRASE, k=5, where=kb.filter(collections=["general"]), user=HR_USER)
    assert all(h.chunk.path != str(hr_doc) for h in general)


@pytest.mark.model
def test_ask_never_uses_hr_document_for_employee(acl_corpus, hashed_embedder, generator, hr_doc, caplog):
    from kb import KnowledgeBase

    kb = KnowledgeBase(acl_corpus[0], embedder=hashed_embedder, generator=generator)
    caplog.set_level(logging.DEBUG)
    answer = kb.ask(f"What was the {HR_PHRASE} for employee 4471?", user=EMPLOYEE)
    shown = [answer.text, *answer.dropped, *(c.quote for c in answer.citations),
             *(h.chunk.text for h in answer.hits)]
    assert all("38,500" not in s and "Zephyrine" not in s for s in shown), answer.to_json()
    assert all(c.path != str(hr_doc) for c in answer.citations)
    assert all(h.chunk.path != str(hr_doc) for h in answer.hits)  # "closest passages" too
    assert not any("38,500" in r.getMessage() for r in caplog.records)
    # the same question from someone in the hr group is answered from the HR document
    allowed = kb.ask(f"What was the {HR_PHRASE} for employee 4471?", user=HR_USER)
    assert any(h.chunk.path == str(hr_doc) for h in allowed.hits)


@pytest.mark.slow
def test_changing_rules_takes_effect_without_reindexing(acl_corpus, hashed_embedder, hr_doc):
    settings, docs, rules = acl_corpus
    kb = _kb(acl_corpus, hashed_embedder)
    version = kb.folder.current()
    original = rules.read_text(encoding="utf-8")
    try:
        assert all(h.chunk.path != str(hr_doc) for h in kb.search(HR_PHRASE, k=10, user=EMPLOYEE))
        rules.write_text(original + "hr/confidential/case-4471.md -> everyone\n", encoding="utf-8")
        assert kb.search(HR_PHRASE, k=3, user=EMPLOYEE)[0].chunk.path == str(hr_doc)
        rules.write_text("hr/** -> payroll\n", encoding="utf-8")  # now even the hr group loses it
        assert all(h.chunk.path != str(hr_doc) for h in kb.search(HR_PHRASE, k=10, user=HR_USER))
        assert kb.search(HR_PHRASE, k=3, user=User("p", "employee", ("payroll",)))[0].chunk.path == str(hr_doc)
    finally:
        rules.write_text(original, encoding="utf-8")
    assert kb.folder.current() == version  # nothing was re-indexed or re-embedded
    assert all(h.chunk.path != str(hr_doc) for h in kb.search(HR_PHRASE, k=10, user=EMPLOYEE))


def test_broken_rules_file_stops_searches_instead_of_opening_them(acl_corpus, hashed_embedder):
    settings, docs, rules = acl_corpus
    kb = _kb(acl_corpus, hashed_embedder)
    original = rules.read_text(encoding="utf-8")
    try:
        rules.write_text("hr/confidential/** hr\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="line 1"):
            kb.search(HR_PHRASE, k=5, user=EMPLOYEE)
    finally:
        rules.write_text(original, encoding="utf-8")
