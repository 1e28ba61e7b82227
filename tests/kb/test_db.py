"""The app database on both backends: the same tests for SQLite (the default) and a real PostgreSQL server.

Users and sign-in sessions, conversations and feedback, the audit log, the migrations (idempotent, and today's
SQLite files still open), and messages about a bad ``database_url`` that name the host, never the password.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from kb.access.audit import AuditLog
from kb.access.users import AccountLocked, InvalidCredentials, PermissionDenied, SessionExpired, User, UserError, \
    UserStore
from kb.activity.store import ActivityStore
from kb.db import DatabaseError, open_database
from kb.db.migrations import SCHEMAS, latest, migrate, versions
from kb.settings import Settings
from kb.types import Answer, Chunk, Citation, Hit

PASSWORD = "correct horse battery"
ADMIN = User("ada", "admin")


class Clock:
    def __init__(self, now: float = 1_750_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request, tmp_path) -> Settings:
    """Settings for one backend: the SQLite files under tmp_path, or a fresh PostgreSQL database."""
    base = Settings(index_dir=tmp_path / "index", login_max_failures=3, audit_retention_days=30)
    if request.param == "sqlite":
        return base
    return base.replace(database_url=request.getfixturevalue("postgres_url"))


@pytest.fixture
def users(settings):
    store = UserStore(settings, clock=Clock())
    yield store
    store.db.close()


@pytest.fixture
def activity(settings):
    store = ActivityStore.open(settings)
    yield store
    store.close()


def _answer(question: str, refused: bool = False) -> Answer:
    chunk = Chunk("c1", "d1", "/docs/hr/leave.md", "leave.md", "Full-time staff get 25 days.", 0, 0, 28, page=2,
                  heading_path=("Leave", "Annual"))
    citations = [] if refused else [Citation(1, chunk.path, chunk.name, 2, "Leave > Annual", "25 days", "c1")]
    return Answer(question, "Not covered." if refused else "25 days [1].", refused,
                  "refused" if refused else "extractive", citations=citations, hits=[Hit(chunk, 0.5, 1)], timings={"retrieve": 0.1, "total": 0.4},
                  refusal="not_covered" if refused else "")


def test_users_passwords_roles_and_groups(users):
    assert not users.has_users()
    users.add_user("ada", PASSWORD, "admin")
    users.add_user("eve", PASSWORD, "employee", ["hr", "finance", "hr"])
    with pytest.raises(UserError, match="already exists"):  # the backend's constraint, in our words
        users.add_user("eve", PASSWORD)
    with pytest.raises(UserError, match="already has users"):
        users.add_first_admin("mallory", PASSWORD)
    assert [(u.username, u.role, u.groups) for u in users.list_users()] == [
        ("ada", "admin", ()), ("eve", "employee", ("hr", "finance"))]
    assert users.authenticate("eve", PASSWORD).groups == ("hr", "finance")
    assert users.set_access("eve", role="admin", groups=["legal"]) == User("eve", "admin", ("legal",), True,
                                                                          users.clock())
    users.remove_user("eve")
    assert users.get_user("eve") is None and users.exists


def test_failed_sign_ins_lock_the_name(users):
    users.add_user("ada", PASSWORD)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            users.authenticate("ada", "wrong password!")
    with pytest.raises(AccountLocked, match="wrong user name or password; too many"):  # the third is counted too
        users.authenticate("ada", "wrong password!")
    with pytest.raises(AccountLocked):
        users.authenticate("ada", PASSWORD)
    users.clock.now += 16 * 60
    assert users.authenticate("ada", PASSWORD).username == "ada"


def test_sign_in_sessions_cookies_and_grants(users):
    user = users.add_user("ada", PASSWORD, "admin")
    session = users.create_session(user, browser="xsrf-secret")
    assert users.check_session(session.token) == user
    assert users.check_browser("xsrf-secret") == user and users.bound_to(session.token, "xsrf-secret")
    cookie = users.cookie_value(session.token)
    assert users.token_from_cookie(cookie) == session.token
    assert users.token_from_cookie(cookie[:-2] + "xx") is None
    code = users.grant(cookie)
    assert users.redeem(code) == cookie and users.redeem(code) is None  # once
    users.end_session(session.token)
    with pytest.raises(SessionExpired):
        users.check_session(session.token)
    late = users.create_session(user)
    users.clock.now += users.settings.session_ttl_minutes * 60 + 1
    with pytest.raises(SessionExpired, match="expired"):
        users.check_session(late.token)


def test_only_one_of_two_racing_visitors_becomes_the_first_admin(users):
    results: list = []

    def claim(name: str) -> None:
        try:
            results.append(users.add_first_admin(name, PASSWORD).username)
        except UserError as exc:
            results.append(exc)

    threads = [threading.Thread(target=claim, args=(name,)) for name in ("ada", "bob", "cyd")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([r for r in results if isinstance(r, str)]) == 1
    assert [u.username for u in users.list_users()] == [r for r in results if isinstance(r, str)]


def test_conversations_questions_and_feedback(activity):
    conversation = activity.start_conversation("harriet", "How many days of leave do I get?", at=100.0)
    first = activity.record_answer(_answer("How many days of leave?"), session="s1", username="harriet",
                                   conversation=conversation, asked_at=101.0, filters={"folders": ["hr"]})
    second = activity.record_answer(_answer("And on Mars?", refused=True), username="harriet",
                                    conversation=conversation, asked_at=102.0)
    activity.record_feedback(first, 1)
    activity.record_feedback(first, -1, "  the part-time rule is missing ")  # replaces the 👍
    other = activity.start_conversation("eve", "Eve's", at=103.0)

    assert [(c.id, c.title, c.turns, c.updated_at) for c in activity.conversations("harriet")] == [
        (conversation, "How many days of leave do I get?", 2, 102.0)]
    assert activity.conversation("eve", conversation) is None and activity.conversation("eve", other).turns == 0
    turns = activity.conversation_turns("harriet", conversation)
    assert [(t.question_id, t.rating, t.comment) for t in turns] == [
        (first, -1, "the part-time rule is missing"), (second, None, "")]
    assert turns[0].answer.citations[0].quote == "25 days" and turns[1].answer.refused
    assert turns[0].answer.hits[0].chunk.heading_path == ("Leave", "Annual")
    assert activity.citations(first) == [{"n": 1, "name": "leave.md", "page": 2, "heading": "Leave > Annual",
                                          "quote": "25 days", "chunk_id": "c1"}]
    rows = activity.questions()
    assert [(q["id"], q["refused"], q["rating"], q["username"], q["closest_page"]) for q in rows] == [
        (first, 0, -1, "harriet", 2), (second, 1, None, "harriet", 2)]
    assert rows[0]["asked_at"] == 101.0 and rows[0]["total_s"] == 0.4  # doubles, not 4-byte reals
    assert [(g.question_id, g.reason) for g in activity.gaps()] == [(second, "not covered"), (first, "not helpful")]
    assert "And on Mars?,not covered" in activity.gaps_csv()

    assert activity.rename_conversation("harriet", conversation, "Leave\nquestions") is True
    assert activity.rename_conversation("eve", conversation, "stolen") is False
    assert activity.conversations("harriet", limit=-1)[0].title == "Leave questions"
    assert activity.delete_conversation("eve", conversation) is False
    assert activity.delete_conversation("harriet", conversation) is True
    assert activity.conversations("harriet") == [] and len(activity.questions()) == 2  # questions stay

    activity.log_ingest("upload", "Uploaded a.md", report={"indexed": ["a.md"]}, username="ada")
    activity.log_ingest("reindex", "failed", ok=False)
    assert [(e["action"], e["ok"], e["user"], e["report"]) for e in activity.recent_ingests()] == [
        ("reindex", False, "", None), ("upload", True, "ada", {"indexed": ["a.md"]})]


def test_audit_log_is_append_only_admin_only_and_purged(settings):
    audit = AuditLog(settings, clock=Clock())
    audit.record("erin", "ask", "How many days?", ["/docs/a.md", "/docs/a.md", "/docs/b.pdf"])
    audit.record(User("harriet"), "download", "", ["/docs/hr/case.md"])
    records = audit.read(ADMIN)
    assert [(r.username, r.action, r.documents) for r in records] == [
        ("harriet", "download", ("/docs/hr/case.md",)), ("erin", "ask", ("/docs/a.md", "/docs/b.pdf"))]
    assert [r.question for r in audit.read(ADMIN, username="erin")] == ["How many days?"]
    with pytest.raises(PermissionDenied):
        audit.read(User("erin"))
    with pytest.raises(Exception, match="append-only"):
        audit.db.execute("UPDATE audit_log SET username = 'someone-else'")
    audit.clock.now += 31 * 86400
    audit.record("erin", "ask", "later", [])
    assert [r.question for r in audit.read(ADMIN)] == ["later"]
    audit.db.close()


def test_migrations_are_versioned_and_idempotent(settings):
    path = settings.app_db_path
    db = open_database(settings, path)
    migrate(db, *SCHEMAS)
    migrate(db, *SCHEMAS)  # done through this object: nothing to do
    again = open_database(settings, path)
    migrate(again, *SCHEMAS)  # a second replica starting: nothing to do either
    assert versions(again) == {name: latest(name) for name in SCHEMAS}
    assert latest("activity") == 2  # the citations index came after the first versioned schema
    with again.transaction() as tx:
        assert {"username", "details", "closest_page"} <= tx.columns("questions")
        assert "browser_hash" in tx.columns("sessions") and tx.columns("no_such_table") == set()
    for database in (db, again):
        database.close()


def test_concurrent_first_opens_migrate_once(settings):
    errors: list = []

    def open_all() -> None:
        try:
            db = open_database(settings, settings.app_db_path)
            migrate(db, *SCHEMAS)
            db.close()
        except Exception as exc:  # pragma: no cover - shown by the assertion
            errors.append(exc)

    threads = [threading.Thread(target=open_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db = open_database(settings, settings.app_db_path)
    assert versions(db) == {name: latest(name) for name in SCHEMAS}
    db.close()


def test_sqlite_files_of_the_schema_before_migrations_open_and_keep_their_data(tmp_path):
    app, users_file = tmp_path / "app.sqlite", tmp_path / "users.sqlite"
    with sqlite3.connect(app) as old:  # an app store as the release before conversations left it
        old.executescript("""
            CREATE TABLE questions (id INTEGER PRIMARY KEY, asked_at REAL NOT NULL, session TEXT,
                question TEXT NOT NULL, answer TEXT, refused INTEGER NOT NULL, mode TEXT, retrieve_s REAL,
                first_token_s REAL, total_s REAL, filters TEXT, index_version TEXT);
            CREATE TABLE feedback (question_id INTEGER PRIMARY KEY REFERENCES questions(id) ON DELETE CASCADE,
                rating INTEGER NOT NULL, comment TEXT NOT NULL DEFAULT '', at REAL NOT NULL);
            CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, username TEXT NOT NULL,
                action TEXT NOT NULL, question TEXT NOT NULL, documents TEXT NOT NULL);
            INSERT INTO questions (asked_at, question, answer, refused) VALUES (1.0, 'Is there a gym?', '-', 1);
            INSERT INTO feedback VALUES (1, -1, 'we need one', 2.0);
            INSERT INTO audit_log (at, username, action, question, documents) VALUES (3.0, 'eve', 'ask', 'gym?', '[]');
            """)
    with sqlite3.connect(users_file) as old:  # users from before downloads were guarded (no browser_hash)
        old.executescript("""
            CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT, role TEXT NOT NULL,
                groups TEXT NOT NULL, created_at REAL NOT NULL, password_changed_at REAL);
            CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, created_at REAL NOT NULL,
                expires_at REAL NOT NULL);
            """)
        old.execute("INSERT INTO users VALUES ('ada', ?, 'admin', '[]', 1.0, 1.0)", (PasswordHasher().hash(PASSWORD),))
    settings = Settings(index_dir=tmp_path, app_db=app, users_db=users_file, audit_retention_days=0)

    store = ActivityStore.open(settings)
    assert [(g.question, g.reason, g.comment) for g in store.gaps()] == [("Is there a gym?", "refused", "we need one")]
    qid = store.record_answer(_answer("Is there a pool?"), username="eve")
    assert store.questions()[-1]["id"] == qid and store.conversations("eve") == []
    store.close()
    users = UserStore(settings)
    user = users.authenticate("ada", PASSWORD)
    users.create_session(user, browser="b")
    assert user.is_admin and users.check_browser("b") == user
    assert [r.question for r in AuditLog(settings).read(ADMIN)] == ["gym?"]
    with sqlite3.connect(app) as db:
        assert dict(db.execute("SELECT name, version FROM schema_versions")) == {"activity": 2, "audit": 1}
    with sqlite3.connect(users_file) as db:
        assert dict(db.execute("SELECT name, version FROM schema_versions")) == {"users": 1}
        assert "browser_hash" in {row[1] for row in db.execute("PRAGMA table_info(sessions)")}


def test_sqlite_stays_the_default_and_each_store_keeps_its_file(tmp_path):
    settings = Settings(index_dir=tmp_path)
    UserStore(settings).add_user("ada", PASSWORD)
    AuditLog(settings).record("ada", "sign-in")
    assert sorted(p.name for p in tmp_path.glob("*.sqlite")) == ["app.sqlite", "users.sqlite"]
    assert UserStore(settings).where == str(tmp_path / "users.sqlite")


def test_one_postgres_database_holds_every_store_and_no_sqlite_file(postgres_url, tmp_path):
    settings = Settings(index_dir=tmp_path / "index", database_url=postgres_url)
    users = UserStore(settings)
    users.add_user("ada", PASSWORD, "admin")
    store = ActivityStore.open(settings)
    store.record_feedback(store.record_answer(_answer("How many days?"), username="ada"), 1)
    AuditLog(settings).record("ada", "ask", "How many days?")
    assert users.exists and users.where == postgres_url and store.path is None
    other = Settings(index_dir=tmp_path / "elsewhere", database_url=postgres_url)  # another replica's settings
    assert UserStore(other).get_user("ada").is_admin
    assert ActivityStore.open(other).questions()[0]["rating"] == 1
    assert [r.action for r in AuditLog(other).read(ADMIN)] == ["ask"]
    assert versions(store.db) == {name: latest(name) for name in SCHEMAS}
    assert not list(tmp_path.rglob("*.sqlite"))


def test_a_bad_database_url_names_the_host_and_never_the_password(postgres_server, tmp_path):
    from tests.postgres import PASSWORD as RIGHT

    wrong = "Hunter2-never-shown"
    settings = Settings(index_dir=tmp_path, database_url=postgres_server.tcp_url(password=wrong))
    assert wrong not in repr(settings) and wrong not in json.dumps(settings.to_dict())
    assert settings.to_dict()["database_url"].startswith("postgresql://kb:***@127.0.0.1:")
    with pytest.raises(DatabaseError) as refused:
        UserStore(settings).has_users()
    message = str(refused.value)
    assert "host 127.0.0.1" in message and f"port {postgres_server.port}" in message
    assert "password authentication failed" in message
    assert wrong not in message and wrong not in repr(refused.value.__cause__) and refused.value.__cause__ is None

    nobody_there = Settings(database_url=f"postgresql://kb:{wrong}@127.0.0.1:1/kb")
    with pytest.raises(DatabaseError, match="host 127.0.0.1 port 1") as down:
        ActivityStore.open(nobody_there)
    assert wrong not in str(down.value)
    with pytest.raises(DatabaseError, match="not a valid PostgreSQL URL") as malformed:
        open_database(f"postgresql://kb:{wrong}@db.example.com/kb?no_such_option=1")
    assert wrong not in str(malformed.value)
    assert UserStore(Settings(database_url=postgres_server.tcp_url(password=RIGHT))).has_users() is False


def test_the_setting_comes_from_the_environment_and_the_cli_masks_it(postgres_server, postgres_url, tmp_path,
                                                                     monkeypatch):
    from click.testing import CliRunner

    from kb.cli import main

    url = postgres_server.tcp_url(postgres_url.split("?")[0].rsplit("/", 1)[1])
    assert Settings.load(env={"KB_DATABASE_URL": url}).database_url == url
    with pytest.raises(Exception, match="not a PostgreSQL URL"):
        Settings.load(env={"KB_DATABASE_URL": "mysql://kb:secret@db/kb"})
    monkeypatch.setenv("KB_DATABASE_URL", url)
    monkeypatch.setenv("KB_INDEX_DIR", str(tmp_path / "index"))
    runner = CliRunner()
    added = runner.invoke(main, ["users", "add", "ada", "--role", "admin", "--password-stdin"], input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    listed = runner.invoke(main, ["users", "list", "--json"])
    data = json.loads(listed.output)
    assert [u["username"] for u in data["users"]] == ["ada"] and data["exists"] is True
    assert data["store"] == url.replace(":pg-test-Secret-7421@", ":***@") and "Secret" not in listed.output
    assert not (tmp_path / "index").exists()  # nothing written next to the index


def test_open_database_needs_a_url_or_a_file():
    with pytest.raises(DatabaseError, match="database_url"):
        open_database(Settings(), "")
    assert open_database(Settings(), Path("x/app.sqlite")).backend == "sqlite"
