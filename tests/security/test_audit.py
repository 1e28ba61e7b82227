"""The audit log: append-only, admin-only to read, purged after the retention period."""

from __future__ import annotations

import sqlite3

import pytest

from kb.access.audit import AuditLog
from kb.access.users import PermissionDenied, User
from kb.settings import Settings
from tests.security.conftest import HR_PHRASE
from tests.security.test_users import Clock

ADMIN = User("ada", "admin")
EMPLOYEE = User("erin", "employee")


@pytest.fixture
def audit(tmp_path):
    return AuditLog(Settings(index_dir=tmp_path, app_db=tmp_path / "app.sqlite", audit_retention_days=30),
                    clock=Clock())


def test_records_who_asked_what_and_which_documents(audit):
    audit.record(EMPLOYEE, "ask", "How many days of leave?", ["/docs/holiday.md", "/docs/holiday.md", "/docs/b.pdf"])
    audit.record("harriet", "download", "", ["/docs/hr/case.md"])
    records = audit.read(ADMIN)
    assert [(r.username, r.action) for r in records] == [("harriet", "download"), ("erin", "ask")]
    assert records[1].documents == ("/docs/holiday.md", "/docs/b.pdf")
    assert records[1].to_json()["question"] == "How many days of leave?"
    assert [r.action for r in audit.read(ADMIN, username="erin")] == ["ask"]


def test_only_admins_read_it(audit):
    audit.record(EMPLOYEE, "ask", "salary of my manager?", [])
    with pytest.raises(PermissionDenied):
        audit.read(EMPLOYEE)


def test_append_only(audit, tmp_path):
    audit.record(EMPLOYEE, "ask", "q", [])
    with sqlite3.connect(tmp_path / "app.sqlite") as db, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit_log SET username = 'someone-else'")
    assert audit.read(ADMIN)[0].username == "erin"


def test_retention_purges_old_records(audit):
    audit.record(EMPLOYEE, "ask", "old question", [])
    audit.clock.now += 29 * 86400
    audit.record(EMPLOYEE, "ask", "newer question", [])
    assert len(audit.read(ADMIN)) == 2
    audit.clock.now += 2 * 86400  # the first is now 31 days old
    assert [r.question for r in audit.read(ADMIN)] == ["newer question"]
    keep = AuditLog(audit.settings.replace(audit_retention_days=0), clock=audit.clock)
    keep.clock.now += 1000 * 86400
    assert len(keep.read(ADMIN)) == 1


def test_audit_of_a_restricted_search_names_no_hidden_document(acl_corpus, hashed_embedder, hr_doc):
    from kb import KnowledgeBase
    from kb.access.audit import documents_shown

    settings = acl_corpus[0]
    kb = KnowledgeBase(settings, embedder=hashed_embedder)
    log = AuditLog(settings)
    hits = kb.search(HR_PHRASE, k=10, user=EMPLOYEE)
    log.record(EMPLOYEE, "search", HR_PHRASE, documents_shown(hits=hits))
    record = log.read(ADMIN, username="erin")[0]
    assert record.documents and str(hr_doc) not in record.documents
    assert all(HR_PHRASE not in d for d in record.documents)  # paths only, never passage text
