"""Local users, sign-in and sessions for the web app, kept in the app database (:mod:`kb.db`): a small SQLite
file by default (setting ``users_db``), or PostgreSQL with ``database_url``, where every web-app replica sees the
same users and sessions (a browser signed in on one replica is signed in on all).

- Passwords are stored only as argon2id hashes (argon2-cffi's defaults, re-hashed on login when those change).
- Roles are ``employee`` and ``admin``; groups are what the access rules (``kb.acl``) grant documents to.
- Failed logins are counted per user name (known or not, so names cannot be probed) and, when the web app
  passes one, per client address: ``login_max_failures`` failures within ``login_lockout_minutes`` lock that
  name or client until the window has passed, even for the right password.
- Sessions are random tokens of which only a SHA-256 is stored; they expire ``session_ttl_minutes`` after
  sign-in, and end when the user is removed or changes password. Role and groups are read afresh on every
  check, so a demotion takes effect at once.
- Users signing in through OIDC (setting ``auth = "oidc"``) are registered without a password
  (``kb users add EMAIL --no-password``), which gives them their role and groups; unknown identities are refused.

The web app calls ``UserStore(settings, db=...).authenticate(name, password, client)`` then ``create_session(user)``,
keeps the token in its session state, and calls ``check_session(token)`` on every page. To survive a reload it
also hands the browser ``cookie_value(token)`` (the token and its expiry, HMAC-signed with a secret kept in this
file) through a one-time ``grant`` that its server route ``redeem``s (``ui.session_cookie``); the cookie opens
nothing once the session has ended.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from kb.access.rules import GROUP_NAME
from kb.db import Database, IntegrityError, Transaction, open_database
from kb.db.migrations import migrate
from kb.errors import KBError
from kb.settings import Settings

log = logging.getLogger(__name__)

ROLES = ("employee", "admin")
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024  # argon2 copes, but a megabyte "password" is a cheap way to burn CPU
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")
GRANT_SECONDS = 120  # a sign-in's cookie grant is redeemed by the next page load, or never


class AuthError(KBError):
    """Sign-in or a session check failed; the message is safe to show to the person signing in."""


class InvalidCredentials(AuthError):
    """Wrong user name or password (deliberately not saying which)."""


class AccountLocked(AuthError):
    """Too many failed sign-ins; ``retry_after`` is the number of seconds until the next attempt counts."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class SessionExpired(AuthError):
    """The session token is unknown, expired or belongs to a removed user: sign in again."""


class PermissionDenied(AuthError):
    """The signed-in user's role does not allow this."""


class UserError(KBError):
    """A user-management request is invalid (bad name, role, group or password; unknown or duplicate user)."""


@dataclass(frozen=True)
class User:
    """A signed-in person: name, role and the groups the access rules refer to."""

    username: str
    role: str = "employee"
    groups: tuple[str, ...] = ()
    has_password: bool = True
    created_at: float = 0.0

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def to_json(self) -> dict:
        return {"username": self.username, "role": self.role, "groups": list(self.groups),
                "has_password": self.has_password,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created_at))}


@dataclass(frozen=True)
class Session:
    """A sign-in: the token to keep client-side (shown once), its user and when it expires (epoch seconds)."""

    token: str
    user: User
    expires_at: float


@dataclass
class UserStore:
    """Users, sessions and failed-login counts in the app database ``db`` (by default the one of ``settings``:
    PostgreSQL with ``database_url``, else the SQLite file ``settings.users_db_path``)."""

    settings: Settings
    clock: Callable[[], float] = time.time
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    db: Database | None = None
    _dummy_hash: str = field(default="", init=False, repr=False)

    def __post_init__(self) -> None:
        if self.db is None:
            self.db = open_database(self.settings, self.settings.users_db_path)

    @property
    def path(self) -> Path:
        """The SQLite users file (on PostgreSQL, the unused ``users_db_path``)."""
        return self.db.path or Path(self.settings.users_db_path)

    @property
    def where(self) -> str:
        """Where the users are kept, for messages: the SQLite file, or the database URL without its password."""
        return self.db.where

    @property
    def exists(self) -> bool:
        """Whether the users file is there (every other call creates it: check this before reading one); always
        on PostgreSQL."""
        return self.db.path is None or self.db.path.is_file()

    @contextmanager
    def _db(self, exclusive: bool = False) -> Iterator[Transaction]:
        migrate(self.db, "users")
        with self.db.transaction(exclusive) as tx:  # one transaction
            yield tx

    # ---- user management (the `kb users` commands) ----

    def add_user(self, username: str, password: str | None, role: str = "employee",
                 groups: tuple[str, ...] | list[str] = ()) -> User:
        """Create a user; ``password=None`` makes one that can only sign in through OIDC."""
        username = _check_name(username)
        role = _check_role(role)
        groups = _check_groups(groups)
        hashed = self.hasher.hash(_check_password(password)) if password is not None else None
        now = self.clock()
        with self._db() as db:
            try:
                _insert_user(db, User(username, role, groups, hashed is not None, now), hashed)
            except IntegrityError:
                raise UserError(f"user {username!r} already exists; use `kb users passwd` or remove it first") \
                    from None
        log.info("user %s added (role %s, groups %s)", username, role, ",".join(groups) or "-")
        return User(username, role, groups, hashed is not None, now)

    def add_first_admin(self, username: str, password: str) -> User:
        """Create the first admin of a fresh install (the web app's set-up form); refused once any user exists,
        atomically, so two visitors racing to set up cannot both become admin."""
        username, password = _check_name(username), _check_password(password)
        hashed = self.hasher.hash(password)
        now = self.clock()
        with self._db(exclusive=True) as db:
            if db.query("SELECT COUNT(*) FROM users")[0][0]:
                raise UserError("this knowledge base already has users: sign in, or ask an admin for an account")
            user = User(username, "admin", (), True, now)
            _insert_user(db, user, hashed)
        log.info("first admin %s created from the web app", username)
        return user

    def has_users(self) -> bool:
        with self._db() as db:
            return bool(db.query("SELECT 1 FROM users LIMIT 1"))

    def remove_user(self, username: str) -> None:
        """Delete a user and end their sessions."""
        with self._db() as db:
            if db.execute("DELETE FROM users WHERE username = ?", (username,)) == 0:
                raise UserError(f"no user named {username!r} (see `kb users list`)")
            db.execute("DELETE FROM sessions WHERE username = ?", (username,))
        log.info("user %s removed", username)

    def set_password(self, username: str, password: str) -> None:
        """Change a password; every session of that user ends."""
        hashed = self.hasher.hash(_check_password(password))
        with self._db() as db:
            changed = db.execute("UPDATE users SET password_hash = ?, password_changed_at = ? WHERE username = ?",
                                 (hashed, self.clock(), username))
            if not changed:
                raise UserError(f"no user named {username!r} (see `kb users list`)")
            db.execute("DELETE FROM sessions WHERE username = ?", (username,))
            db.execute("DELETE FROM login_failures WHERE key = ?", (_user_key(username),))
        log.info("password of %s changed; sessions ended", username)

    def set_access(self, username: str, role: str | None = None, groups: list[str] | None = None) -> User:
        """Change a user's role and/or groups (effective at their next page view)."""
        user = self.get_user(username)
        if user is None:
            raise UserError(f"no user named {username!r} (see `kb users list`)")
        role = _check_role(role) if role is not None else user.role
        new_groups = _check_groups(groups) if groups is not None else user.groups
        with self._db() as db:
            db.execute("UPDATE users SET role = ?, groups = ? WHERE username = ?",
                       (role, json.dumps(list(new_groups)), username))
        return User(username, role, new_groups, user.has_password, user.created_at)

    def get_user(self, username: str) -> User | None:
        with self._db() as db:
            row = _first(db.query("SELECT username, password_hash, role, groups, created_at FROM users "
                                  "WHERE username = ?", (username,)))
        return _row_user(row) if row else None

    def list_users(self) -> list[User]:
        with self._db() as db:
            rows = db.query("SELECT username, password_hash, role, groups, created_at FROM users ORDER BY username")
        return [_row_user(r) for r in rows]

    # ---- sign-in ----

    def authenticate(self, username: str, password: str, client: str | None = None) -> User:
        """The user whose name and password these are, or raise InvalidCredentials / AccountLocked.

        ``client`` (e.g. the remote address) adds a second rate limit, so one client cannot spray passwords
        across many user names.
        """
        now = self.clock()
        keys = [_user_key(username)] + ([f"client:{client}"] if client else [])
        with self._db() as db:
            for key in keys:
                self._check_lock(db, key, now)
            row = _first(db.query("SELECT username, password_hash, role, groups, created_at FROM users "
                                  "WHERE username = ?", (username,)))
        stored = row[1] if row else None
        ok = False
        if isinstance(password, str) and 0 < len(password) <= MAX_PASSWORD_CHARS:
            try:
                # an unknown name still costs one hash, so timing does not tell which names exist
                ok = self.hasher.verify(stored or self._dummy(), password) and stored is not None
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
        if not ok:
            with self._db() as db:
                db.executemany("INSERT INTO login_failures VALUES (?, ?)", [(k, now) for k in keys])
            with self._db() as db:  # apart: a lock raised here must not undo the failure just counted
                for key in keys:
                    self._check_lock(db, key, now, just_failed=True)
            log.warning("failed sign-in for %r%s", username[:128], f" from {client}" if client else "")
            raise InvalidCredentials("wrong user name or password")
        with self._db() as db:
            db.execute("DELETE FROM login_failures WHERE key = ?", (_user_key(username),))
            if self.hasher.check_needs_rehash(stored):
                db.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                           (self.hasher.hash(password), username))
        log.info("sign-in: %s", username)
        return _row_user(row)

    def _dummy(self) -> str:
        if not self._dummy_hash:
            self._dummy_hash = self.hasher.hash(secrets.token_hex(16))
        return self._dummy_hash

    def _check_lock(self, db: Transaction, key: str, now: float, just_failed: bool = False) -> None:
        window = self.settings.login_lockout_minutes * 60
        limit = self.settings.login_max_failures
        db.execute("DELETE FROM login_failures WHERE at < ?", (now - window,))
        times = [t for (t,) in db.query("SELECT at FROM login_failures WHERE key = ? AND at >= ? ORDER BY at DESC",
                                       (key, now - window))]
        if len(times) < limit:
            return
        retry = times[limit - 1] + window - now  # when the limit-th newest failure leaves the window
        what = "this user name" if key.startswith("user:") else "this client"
        if just_failed:  # this failure reached the limit: the password was wrong, and now it is locked too
            log.warning("sign-in locked for %s after %d failures", key[:140], len(times))
            raise AccountLocked(f"wrong user name or password; too many failed sign-ins for {what}: try again "
                                f"in {_minutes(retry)}", retry)
        raise AccountLocked(f"too many failed sign-ins for {what}: try again in {_minutes(retry)}", retry)

    def external_user(self, identity: str) -> User:
        """The registered user for an OIDC identity (its e-mail); unregistered identities are refused."""
        user = self.get_user(identity)
        if user is None:
            log.warning("OIDC sign-in refused for unregistered identity %r", identity[:128])
            raise InvalidCredentials(f"{identity} is not registered in this knowledge base; ask an admin to run "
                                     f"`kb users add {identity} --no-password`")
        return user

    # ---- sessions ----

    def create_session(self, user: User, browser: str = "") -> Session:
        """Start a session for a signed-in user; keep ``token`` client-side, never log it.

        ``browser`` is a secret the browser sends with every request on its own (the web app uses its XSRF
        cookie): file downloads, which carry no session token, are served only to a browser bound to a live
        session (:meth:`check_browser`)."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        expires = now + self.settings.session_ttl_minutes * 60
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            db.execute("INSERT INTO sessions (token_hash, username, created_at, expires_at, browser_hash) "
                       "VALUES (?, ?, ?, ?, ?)", (_token_hash(token), user.username, now, expires,
                                                  _token_hash(browser) if browser else None))
        return Session(token, user, expires)

    def check_browser(self, browser: str) -> User:
        """The user of a live session bound to ``browser`` (see :meth:`create_session`), or SessionExpired."""
        if not isinstance(browser, str) or not browser:
            raise SessionExpired("not signed in")
        with self._db() as db:
            row = _first(db.query("SELECT u.username, u.password_hash, u.role, u.groups, u.created_at FROM sessions s "
                                  "JOIN users u ON u.username = s.username WHERE s.browser_hash = ? AND "
                                  "s.expires_at > ? ORDER BY s.expires_at DESC LIMIT 1",
                                  (_token_hash(browser), self.clock())))
        if row is None:
            raise SessionExpired("no live session for this browser: sign in again")
        return _row_user(row)

    def check_session(self, token: str) -> User:
        """The user of a live session (role and groups as they are now), or raise SessionExpired."""
        if not isinstance(token, str) or not token:
            raise SessionExpired("not signed in")
        now = self.clock()
        with self._db() as db:
            row = _first(db.query("SELECT s.expires_at, u.username, u.password_hash, u.role, u.groups, u.created_at "
                                  "FROM sessions s JOIN users u ON u.username = s.username WHERE s.token_hash = ?",
                                  (_token_hash(token),)))
            if row is not None and row[0] <= now:
                db.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))
        if row is None:
            raise SessionExpired("session unknown or ended: sign in again")
        if row[0] <= now:
            raise SessionExpired("session expired: sign in again")
        return _row_user(row[1:])

    def end_session(self, token: str) -> None:
        """Sign out."""
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))

    # ---- the web app's "stay signed in" cookie ----

    def cookie_value(self, token: str) -> str:
        """A signed value for the browser's session cookie: the live session's token and its expiry, with an
        HMAC under this store's own secret. It is worth nothing once the session ends (sign-out, password
        change, removal, expiry): :meth:`token_from_cookie` only opens it, :meth:`check_session` decides."""
        with self._db() as db:
            row = _first(db.query("SELECT expires_at FROM sessions WHERE token_hash = ?", (_token_hash(token),)))
        if row is None:
            raise SessionExpired("session unknown or ended: sign in again")
        payload = f"{token}.{int(row[0])}"
        return f"{payload}.{self._mac(payload)}"

    def token_from_cookie(self, value: str) -> str | None:
        """The session token inside a cookie made by :meth:`cookie_value`; None when it is malformed, forged
        or past its expiry."""
        parts = value.split(".") if isinstance(value, str) else []
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        payload = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(parts[2], self._mac(payload)) or int(parts[1]) <= self.clock():
            return None
        return parts[0]

    def grant(self, value: str) -> str:
        """A one-time code for ``value`` (a cookie value), redeemed within ``GRANT_SECONDS`` by :meth:`redeem`.

        The web app cannot set an HttpOnly cookie from its script; the page asks a small server route for it
        with this code instead. Only a hash of the code is stored, and the value sealed under the code, so
        this file never holds a usable token."""
        code = secrets.token_urlsafe(32)
        sealed = _xor(value.encode(), _keystream(code, len(value.encode())))
        now = self.clock()
        with self._db() as db:
            db.execute("DELETE FROM cookie_grants WHERE expires_at <= ?", (now,))
            db.execute("INSERT INTO cookie_grants VALUES (?, ?, ?)", (_token_hash(code), sealed, now + GRANT_SECONDS))
        return code

    def redeem(self, code: str) -> str | None:
        """The value a :meth:`grant` code stands for, once (the code is spent); None when unknown or expired."""
        if not isinstance(code, str) or not code:
            return None
        with self._db() as db:
            row = _first(db.query("SELECT sealed, expires_at FROM cookie_grants WHERE grant_hash = ?",
                                  (_token_hash(code),)))
            # only the transaction that deletes it may use it: two replicas racing on one code, one wins
            spent = db.execute("DELETE FROM cookie_grants WHERE grant_hash = ?", (_token_hash(code),))
        if row is None or not spent or row[1] <= self.clock():
            return None
        sealed = bytes(row[0])
        return _xor(sealed, _keystream(code, len(sealed))).decode("utf-8", "replace")

    def bound_to(self, token: str, browser: str) -> bool:
        """Whether the live session ``token`` was started in the browser whose secret is ``browser``."""
        with self._db() as db:
            row = _first(db.query("SELECT browser_hash FROM sessions WHERE token_hash = ? AND expires_at > ?",
                                  (_token_hash(token), self.clock())))
        return row is not None and (row[0] or "") == (_token_hash(browser) if browser else "")

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._secret(), payload.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def _secret(self) -> bytes:
        with self._db() as db:
            db.execute("INSERT INTO secrets VALUES ('cookie', ?) ON CONFLICT DO NOTHING", (secrets.token_bytes(32),))
            return bytes(db.query("SELECT value FROM secrets WHERE name = 'cookie'")[0][0])


def require_admin(user: User) -> None:
    """Raise PermissionDenied unless ``user`` is an admin (Documents, Insights, audit log)."""
    if not user.is_admin:
        raise PermissionDenied(f"{user.username} is not an admin; this page is for admins only")


def _insert_user(db: Transaction, user: User, password_hash: str | None) -> None:
    db.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)",
               (user.username, password_hash, user.role, json.dumps(list(user.groups)), user.created_at,
                user.created_at if password_hash else None))


def _first(rows: list[tuple]) -> tuple | None:
    return rows[0] if rows else None


def _row_user(row) -> User:
    username, hashed, role, groups, created = row
    return User(username, role, tuple(json.loads(groups)), hashed is not None, created)


def _user_key(username: str) -> str:
    return f"user:{str(username)[:128].lower()}"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _keystream(code: str, length: int) -> bytes:
    blocks = (hashlib.sha256(f"{i}:{code}".encode()).digest() for i in range(length // 32 + 1))
    return b"".join(blocks)[:length]


def _xor(data: bytes, pad: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, pad))


def _minutes(seconds: float) -> str:
    minutes = max(1, int(-(-seconds // 60)))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _check_name(username: str) -> str:
    if not isinstance(username, str) or not _NAME.match(username):
        raise UserError(f"user name {username!r} is not valid: 1-128 letters, digits or _ . @ + -, "
                        "starting with a letter or digit")
    return username


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def _check_groups(groups) -> tuple[str, ...]:
    out = []
    for group in groups:
        group = group.strip()
        if not GROUP_NAME.match(group):
            raise UserError(f"group name {group!r} is not valid (letters, digits, _ . @ -, starting with a "
                            "letter or digit)")
        if group not in out:
            out.append(group)
    return tuple(out)


def _check_password(password: str | None) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"password too short: use at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise UserError(f"password too long: at most {MAX_PASSWORD_CHARS} characters")
    return password
