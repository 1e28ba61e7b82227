"""A tiny real index with an HR-only document next to public policies, shared by the security tests."""

from __future__ import annotations

from pathlib import Path

import pytest

HR_PHRASE = "Zephyrine grievance settlement"
HR_TEXT = (f"# Case 4471\n\nThe {HR_PHRASE} for employee 4471 was agreed at 38,500 euros after the "
           "disciplinary hearing of March. The employee's salary band is G7.\n")
HOLIDAY_TEXT = ("# Holiday policy\n\nFull-time staff get 25 days of annual leave per year. Part-time staff get "
                "leave in proportion to their contracted hours. Unused leave of up to 5 days carries over.\n")
EXPENSES_TEXT = ("# Travel expenses\n\nEmployees claim travel expenses within 30 days using the expenses form. "
                 "Receipts are required for every item above 20 euros.\n")


@pytest.fixture(scope="session")
def acl_corpus(tmp_path_factory, hashed_embedder):
    """(settings, docs_dir, rules_file) for an index of general/ and hr/confidential/ documents.

    Access control is plumbing: the index uses the hashed embedder (keyword search finds the phrases)."""
    from kb import KnowledgeBase, Settings
    from kb.embedding import HASHED_MODEL

    root = tmp_path_factory.mktemp("acl")
    docs = root / "documents"
    (docs / "hr" / "confidential").mkdir(parents=True)
    (docs / "general").mkdir()
    (docs / "hr" / "confidential" / "case-4471.md").write_text(HR_TEXT, encoding="utf-8")
    (docs / "general" / "holiday.md").write_text(HOLIDAY_TEXT, encoding="utf-8")
    (docs / "general" / "expenses.md").write_text(EXPENSES_TEXT, encoding="utf-8")
    rules = root / "access.rules"
    rules.write_text("hr/confidential/**  ->  hr\n", encoding="utf-8")
    settings = Settings(index_dir=root / "index", embedding_model=HASHED_MODEL, docs_dir=docs, acl_rules=rules, users_db=root / "users.sqlite",
                        app_db=root / "app.sqlite")
    report = KnowledgeBase(settings, embedder=hashed_embedder).ingest([docs])
    assert len(report.indexed) == 3 and not report.skipped, report.to_json()
    return settings, docs, rules


@pytest.fixture
def hr_doc(acl_corpus) -> Path:
    return (acl_corpus[1] / "hr" / "confidential" / "case-4471.md").resolve()


@pytest.fixture(scope="session")
def generator():
    """The real default answer model (SmolLM2-135M), loaded once: loading costs far more than answering."""
    from kb.answering.generator import make_generator
    from kb.settings import Settings

    return make_generator(Settings())
