"""Local users: argon2id hashes, sign-in, lock-out after failed attempts, sessions that expire, roles."""

from __future__ import annotations

import sqlite3

import pytest

from kb.access.users import (AccountLocked, InvalidCredentials, PermissionDenied, SessionExpired, UserError, UserStore,
                             require_admin)
from kb.settings import Settings

PASSWORD = "correct horse battery"


class Clock:
    """A settable clock for the store (time is an input here, not core logic)."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path):
    settings = Settings(index_dir=tmp_path / "index", users_db=tmp_path / "users.sqlite", login_max_failures=3,
                        login_lockout_minutes=10, session_ttl_minutes=60)
    return UserStore(settings, clock=Clock())


def test_passwords_are_stored_as_argon2id_hashes_only(store, tmp_path):
    store.add_user("alice", PASSWORD, "employee", ["hr"])
    raw = (tmp_path / "users.sqlite").read_bytes()
    assert PASSWORD.encode() not in raw
    with sqlite3.connect(tmp_path / "users.sqlite") as db:
        (hashed,) = db.execute("SELECT password_hash FROM users WHERE username='alice'").fetchone()
    assert hashed.startswith("$argon2id$")
    assert (tmp_path / "users.sqlite").stat().st_mode & 0o077 == 0  # not readable by other accounts


def test_right_password_signs_in_with_role_and_groups(store):
    store.add_user("alice", PASSWORD, "employee", ["hr", "finance"])
    user = store.authenticate("alice", PASSWORD)
    assert (user.username, user.role, user.groups, user.is_admin) == ("alice", "employee", ("hr", "finance"), False)


@pytest.mark.parametrize("name, password", [
    ("alice", "correct horse batterY"), ("alice", ""), ("alice", PASSWORD + " "), ("ALICE", PASSWORD),
    ("bob", PASSWORD), ("alice", "x" * 5000),
])
def test_wrong_password_or_unknown_user_is_refused_the_same_way(store, name, password):
    store.add_user("alice", PASSWORD)
    with pytest.raises(InvalidCredentials, match="wrong user name or password"):
        store.authenticate(name, password)


def test_lock_out_after_max_failures_even_for_the_right_password(store):
    store.add_user("alice", PASSWORD)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            store.authenticate("alice", "guess-guess-guess")
    with pytest.raises(AccountLocked) as third:  # the failure that reaches the limit says so
        store.authenticate("alice", "guess-guess-guess")
    assert 0 < third.value.retry_after <= 600
    with pytest.raises(AccountLocked, match="try again in 10 minutes"):
        store.authenticate("alice", PASSWORD)
    store.clock.now += 599
    with pytest.raises(AccountLocked, match="try again in 1 minute"):
        store.authenticate("alice", PASSWORD)
    store.clock.now += 2  # the window has passed
    assert store.authenticate("alice", PASSWORD).username == "alice"
    for _ in range(2):  # a success clears the count: two more failures do not reach the limit of three
        with pytest.raises(InvalidCredentials):
            store.authenticate("alice", "guess-guess-guess")
    assert store.authenticate("alice", PASSWORD).username == "alice"


def test_lock_out_applies_to_unknown_names_and_per_client(store):
    store.add_user("alice", PASSWORD)
    store.add_user("bob", PASSWORD)
    for _ in range(3):
        with pytest.raises((InvalidCredentials, AccountLocked)):
            store.authenticate("nobody", "guess-guess-guess")
    with pytest.raises(AccountLocked):  # unknown names lock like real ones: no way to probe which exist
        store.authenticate("nobody", "guess-guess-guess")
    # password spraying from one client across many names is stopped by the client limit
    for name in ("alice", "bob", "carol"):
        with pytest.raises((InvalidCredentials, AccountLocked)):
            store.authenticate(name, "Spring2026!!", client="10.0.0.9")
    with pytest.raises(AccountLocked, match="this client"):
        store.authenticate("alice", PASSWORD, client="10.0.0.9")
    assert store.authenticate("alice", PASSWORD, client="10.0.0.7").username == "alice"


def test_failures_spread_over_time_do_not_lock(store):
    store.add_user("alice", PASSWORD)
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            store.authenticate("alice", "guess-guess-guess")
        store.clock.now += 301  # two failures per 10-minute window at most
    assert store.authenticate("alice", PASSWORD).username == "alice"


def test_sessions_expire_and_end(store):
    user = store.add_user("alice", PASSWORD, "admin")
    session = store.create_session(store.authenticate("alice", PASSWORD))
    assert store.check_session(session.token).is_admin
    assert session.expires_at == store.clock.now + 3600
    store.clock.now += 3599
    assert store.check_session(session.token).username == "alice"
    store.clock.now += 2
    with pytest.raises(SessionExpired, match="expired"):
        store.check_session(session.token)
    with pytest.raises(SessionExpired):  # and it stays gone
        store.check_session(session.token)
    for bad in ("", "forged-token", session.token[:-1]):
        with pytest.raises(SessionExpired):
            store.check_session(bad)
    other = store.create_session(user)
    store.end_session(other.token)
    with pytest.raises(SessionExpired):
        store.check_session(other.token)


def test_tokens_are_not_stored_and_password_change_or_removal_ends_sessions(store, tmp_path):
    store.add_user("alice", PASSWORD, "employee", ["hr"])
    session = store.create_session(store.authenticate("alice", PASSWORD))
    assert session.token.encode() not in (tmp_path / "users.sqlite").read_bytes()
    store.set_password("alice", "another long password")
    with pytest.raises(SessionExpired):
        store.check_session(session.token)
    with pytest.raises(InvalidCredentials):
        store.authenticate("alice", PASSWORD)
    session = store.create_session(store.authenticate("alice", "another long password"))
    store.remove_user("alice")
    with pytest.raises(SessionExpired):
        store.check_session(session.token)


def test_role_checks_and_demotion_take_effect_at_once(store):
    store.add_user("ada", PASSWORD, "admin")
    store.add_user("erin", PASSWORD, "employee", ["sales"])
    require_admin(store.authenticate("ada", PASSWORD))
    with pytest.raises(PermissionDenied, match="admins only"):
        require_admin(store.authenticate("erin", PASSWORD))
    session = store.create_session(store.authenticate("ada", PASSWORD))
    store.set_access("ada", role="employee", groups=["hr"])
    user = store.check_session(session.token)
    assert (user.role, user.groups) == ("employee", ("hr",))
    with pytest.raises(PermissionDenied):
        require_admin(user)


def test_oidc_identities_must_be_registered(store):
    store.add_user("dana@example.com", None, "employee", ["hr"])
    assert store.external_user("dana@example.com").groups == ("hr",)
    with pytest.raises(InvalidCredentials, match="not registered"):
        store.external_user("mallory@example.com")
    with pytest.raises(InvalidCredentials):  # a password-less (OIDC) account cannot sign in locally
        store.authenticate("dana@example.com", "")


@pytest.mark.parametrize("name, password, role, groups, message", [
    ("../admin", PASSWORD, "employee", [], "not valid"),
    ("a b", PASSWORD, "employee", [], "not valid"),
    ("", PASSWORD, "employee", [], "not valid"),
    ("carol", "short", "employee", [], "too short"),
    ("carol", PASSWORD, "root", [], "not one of"),
    ("carol", PASSWORD, "employee", ["hr; drop"], "group name"),
])
def test_bad_user_data_is_refused(store, name, password, role, groups, message):
    with pytest.raises(UserError, match=message):
        store.add_user(name, password, role, groups)


def test_duplicate_and_unknown_users(store):
    store.add_user("alice", PASSWORD)
    with pytest.raises(UserError, match="already exists"):
        store.add_user("alice", PASSWORD)
    with pytest.raises(UserError, match="no user named"):
        store.remove_user("bob")
    with pytest.raises(UserError, match="no user named"):
        store.set_password("bob", PASSWORD)
    assert [u.username for u in store.list_users()] == ["alice"]


def test_settings_validation():
    from kb.errors import ConfigError

    for bad in ({"login_max_failures": 0}, {"session_ttl_minutes": 0}, {"login_lockout_minutes": -1},
                {"audit_retention_days": -1}, {"auth": "ldap"}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            Settings(**bad)
    assert Settings.load(env={"KB_LOGIN_MAX_FAILURES": "7"}).login_max_failures == 7
