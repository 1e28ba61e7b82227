"""The "stay signed in" cookie (issue 13): signed, expiring, HttpOnly, set only for the browser that signed in,
and worth nothing once the session ends (sign-out, password change, removal, expiry). The routes are driven as
the Starlette app ``ui/server.py`` mounts them; the full reload is in tests/ui/test_browser.py."""

from __future__ import annotations

import binascii
import os

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kb.access.users import SessionExpired, UserStore
from kb.settings import Settings

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    users = UserStore(Settings(index_dir=tmp_path, session_ttl_minutes=60), clock=clock)
    users.add_user("harriet", PASSWORD, "employee", ["hr"])
    return users


def _xsrf(token: bytes) -> str:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(token))
    return f"2|{binascii.b2a_hex(mask).decode()}|{binascii.b2a_hex(masked).decode()}|1700000000"


def _client(store) -> TestClient:
    from ui.session_cookie import SessionCookieRoutes

    return TestClient(Starlette(routes=SessionCookieRoutes(lambda: store).routes()))


def test_the_cookie_value_is_signed_expiring_and_only_opens_a_live_session(store, clock):
    session = store.create_session(store.authenticate("harriet", PASSWORD), "browser-1")
    value = store.cookie_value(session.token)
    assert store.token_from_cookie(value) == session.token
    token, expires, mac = value.split(".")
    assert int(expires) == int(session.expires_at)
    assert store.token_from_cookie(f"{token}.{int(expires) + 3600}.{mac}") is None  # a longer life is forged
    changed = "B" if token.endswith("A") else "A"  # one letter of the token changed (never to itself: 1 in 64 was)
    assert store.token_from_cookie(f"{token[:-1]}{changed}.{expires}.{mac}") is None
    assert store.token_from_cookie("garbage") is None and store.token_from_cookie("") is None
    other = UserStore(Settings(users_db=store.path.with_name("other.sqlite")))
    assert other.token_from_cookie(value) is None  # another installation's secret
    clock.now = session.expires_at + 1
    assert store.token_from_cookie(value) is None  # expired


@pytest.mark.parametrize("end", ["sign-out", "password change", "removal"])
def test_ending_the_session_makes_the_cookie_worthless(store, end):
    session = store.create_session(store.authenticate("harriet", PASSWORD), "browser-1")
    value = store.cookie_value(session.token)
    if end == "sign-out":
        store.end_session(session.token)
    elif end == "password change":
        store.set_password("harriet", "a brand new password")
    else:
        store.remove_user("harriet")
    token = store.token_from_cookie(value)  # the signature still holds ...
    with pytest.raises(SessionExpired):
        store.check_session(token)  # ... but the session it names is gone
    assert not store.bound_to(token, "browser-1")


def test_a_grant_sets_an_httponly_strict_cookie_once_and_only_for_its_browser(store):
    from ui.guard import XSRF_COOKIE, browser_key
    from ui.session_cookie import COOKIE, START_PATH

    secret = os.urandom(16)
    session = store.create_session(store.authenticate("harriet", PASSWORD), browser_key(_xsrf(secret)))
    value = store.cookie_value(session.token)
    code = store.grant(value)
    assert value.encode() not in store.path.read_bytes()  # the file never holds a usable cookie

    thief = _client(store)
    thief.cookies.set(XSRF_COOKIE, _xsrf(os.urandom(16)))  # another browser with the code
    assert thief.get(START_PATH, params={"grant": code}).status_code == 403
    code = store.grant(value)  # that attempt spent the code; the app hands out a fresh one on sign-in

    client = _client(store)
    client.cookies.set(XSRF_COOKIE, _xsrf(secret))  # the same browser, its cookie freshly masked
    response = client.get(START_PATH, params={"grant": code})
    assert response.status_code == 204
    header = response.headers["set-cookie"]
    assert header.startswith(f"{COOKIE}={value}") or header.startswith(f'{COOKIE}="{value}"')
    assert "HttpOnly" in header and "SameSite=strict" in header and "Path=/" in header
    assert "Max-Age=3600" in header or "Max-Age=3599" in header
    assert client.get(START_PATH, params={"grant": code}).status_code == 403  # one time only
    assert client.get(START_PATH, params={"grant": "made-up"}).status_code == 403


def test_signing_out_clears_the_cookie(store):
    from ui.session_cookie import COOKIE, END_PATH

    header = _client(store).get(END_PATH).headers["set-cookie"]
    assert header.startswith(f"{COOKIE}=") and "Max-Age=0" in header and "HttpOnly" in header


def test_expired_grants_are_refused(store, clock):
    session = store.create_session(store.authenticate("harriet", PASSWORD))
    code = store.grant(store.cookie_value(session.token))
    clock.now += 121
    assert store.redeem(code) is None


def test_the_download_guard_leaves_the_apps_own_fonts_alone():
    """Streamlit's fonts (the Material icons included) live under /static/media/: refused to a browser before
    sign-in, every icon showed as its name ("logout", "add_comment") or a box."""
    import asyncio

    from ui.guard import MediaGuard

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"font"})

    class NoSessions:
        def check_browser(self, key):
            raise SessionExpired("not signed in")

    guard = MediaGuard(app, store=NoSessions)

    def status(path: str) -> int:
        sent = []

        async def receive():
            return {"type": "http.request", "body": b""}

        async def send(message):
            sent.append(message)

        asyncio.run(guard({"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""},
                          receive, send))
        return next(m["status"] for m in sent if m["type"] == "http.response.start")

    assert status("/static/media/MaterialSymbols-Rounded.nEdyypZU.woff2") == 200
    assert status("/media/0123abcd.pdf") == 403
    assert status("/kb/media/0123abcd.pdf") == 403  # under a base URL path too
