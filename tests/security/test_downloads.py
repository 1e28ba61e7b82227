"""Files the web app serves (downloads, page pictures) answer only a browser with a live session (issue 12).

Streamlit serves them from ``/media/<id>`` to anyone with the URL while the Streamlit session lives; the app
now runs behind ``ui.guard.MediaGuard`` (``ui/server.py``, what ``kb serve`` starts), which checks that the
request's browser cookie is bound to a signed-in, unexpired session. Driven here as the ASGI app it is.
"""

from __future__ import annotations

import asyncio
import binascii
import os

import pytest

from kb.access.users import SessionExpired, UserStore
from kb.settings import Settings

PASSWORD = "correct horse battery"


def _xsrf_cookie(token: bytes) -> str:
    """A Streamlit v2 XSRF cookie value for ``token`` (a fresh mask each time, as Streamlit writes it)."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(token))
    return f"2|{binascii.b2a_hex(mask).decode()}|{binascii.b2a_hex(masked).decode()}|1700000000"


def _request(app, path: str, cookie: str | None = None) -> int:
    sent: list[dict] = []
    headers = [(b"host", b"localhost")] + ([(b"cookie", f"_streamlit_xsrf={cookie}".encode())] if cookie else [])
    scope = {"type": "http", "method": "GET", "path": path, "headers": headers, "query_string": b""}

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


async def _streamlit(scope, receive, send):  # what Streamlit's own /media route answers: the file
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"%PDF- the HR case file"})


@pytest.fixture
def store(tmp_path):
    users = UserStore(Settings(index_dir=tmp_path, session_ttl_minutes=1))
    users.add_user("harriet", PASSWORD, "employee", ["hr"])
    return users


def test_media_needs_the_signed_in_browser(store):
    from ui.guard import MediaGuard, browser_key
    from ui.media import MediaRegistry

    registry = MediaRegistry()
    file_id = registry.register(b"%PDF- the HR case file", "application/pdf", "case.pdf", ["hr/case.pdf"])
    guarded = MediaGuard(_streamlit, store=lambda: store, registry=lambda: registry,
                         may_read=lambda user, path: "hr" in user.groups)  # the per-document check: tests/ui
    url = f"/media/{file_id}.pdf"
    token = os.urandom(16)
    session = store.create_session(store.get_user("harriet"), browser_key(_xsrf_cookie(token)))
    assert _request(guarded, url) == 403  # the copied URL alone
    assert _request(guarded, url, _xsrf_cookie(os.urandom(16))) == 403  # another browser
    assert _request(guarded, url, _xsrf_cookie(token)) == 200  # the signed-in browser
    assert _request(guarded, "/kb" + url, _xsrf_cookie(token)) == 200  # under a base URL path
    assert _request(guarded, "/media/3f2a.pdf", _xsrf_cookie(token)) == 403  # an id the app never showed
    assert _request(guarded, "/_stcore/health") == 200  # everything else is Streamlit's business
    store.end_session(session.token)  # sign out: the link dies with the session
    assert _request(guarded, url, _xsrf_cookie(token)) == 403


def test_an_expired_session_no_longer_opens_files(tmp_path):
    from ui.guard import browser_key

    now = [1000.0]
    store = UserStore(Settings(index_dir=tmp_path, session_ttl_minutes=1), clock=lambda: now[0])
    store.add_user("harriet", PASSWORD)
    key = browser_key(_xsrf_cookie(b"0123456789abcdef"))
    store.create_session(store.get_user("harriet"), key)
    assert store.check_browser(key).username == "harriet"
    now[0] += 61
    with pytest.raises(SessionExpired):
        store.check_browser(key)
    with pytest.raises(SessionExpired):
        store.check_browser("")  # a session without a bound browser opens nothing


def test_kb_serve_runs_the_app_behind_the_guard():
    from kb.sync.service import default_app
    from ui import server
    from ui.guard import MediaGuard

    assert default_app().name == "server.py"
    assert any(m.cls is MediaGuard for m in server.MIDDLEWARE)
