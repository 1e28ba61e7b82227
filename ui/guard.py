"""File downloads only for a signed-in browser: an ASGI middleware in front of Streamlit's ``/media/`` route.

Streamlit serves every ``st.download_button`` file and ``st.image`` picture from ``/media/<id>`` to anyone who
has the URL, cookie or not, for as long as the Streamlit session lives. Our sign-in token lives in the tab's
session state, which such a request does not carry; what it does carry is the browser's Streamlit XSRF cookie.
At sign-in the app binds the session to that cookie's secret (``UserStore.create_session(user, browser)``), and
this middleware answers ``/media/`` only when the request's cookie belongs to a live session: a copied URL, a
signed-out or expired session, or another browser gets 403.
"""

from __future__ import annotations

import binascii
import logging
import re
from http.cookies import CookieError, SimpleCookie
from typing import Awaitable, Callable

from kb.access.users import AuthError, UserStore
from kb.settings import Settings

log = logging.getLogger(__name__)

XSRF_COOKIE = "_streamlit_xsrf"  # set by Streamlit on the page request (server.enableXsrfProtection, the default)
# Streamlit's media route, under any base path; not /static/media/ (the app's own fonts, icons included)
_MEDIA = re.compile(r"(?:^|/)media/")
_STATIC = re.compile(r"(?:^|/)static/")
_REFUSED = b"Sign in to the knowledge base to open this file (the link works only in the signed-in browser)."


def browser_key(cookie: str | None) -> str:
    """The secret inside a Streamlit XSRF cookie (its value changes mask between responses, the token does
    not); "" when there is none or it cannot be read."""
    if not cookie:
        return ""
    value = cookie.strip("\"'")
    try:
        if value.startswith("2|"):
            _, mask_hex, masked_hex, _ = value.split("|")
            mask, masked = binascii.a2b_hex(mask_hex), binascii.a2b_hex(masked_hex)
            return bytes(m ^ b for m, b in zip(mask * (len(masked) // max(len(mask), 1) + 1), masked)).hex()
        return binascii.a2b_hex(value).hex()
    except (ValueError, binascii.Error):
        return ""


def _cookie(scope: dict, name: str) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == b"cookie":
            try:
                jar = SimpleCookie(value.decode("latin-1"))
            except CookieError:
                continue
            if name in jar:
                return jar[name].value
    return None


def app_user_store() -> UserStore:
    """The web app's user store for the current settings (the one its pages use: same database, same pool)."""
    from ui.resources import user_store  # streamlit's side of the app: loaded when first needed

    return user_store(Settings.load())


class MediaGuard:
    """ASGI middleware: ``/media/...`` is answered only for a browser bound to a live session, else 403."""

    def __init__(self, app, store: Callable[[], UserStore] | None = None):
        self.app = app
        self._store = store or app_user_store

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        path = scope.get("path", "")
        if scope.get("type") == "http" and _MEDIA.search(path) and not _STATIC.search(path):
            key = browser_key(_cookie(scope, XSRF_COOKIE))
            try:
                user = await _in_thread(lambda: self._store().check_browser(key))
            except AuthError as exc:
                log.warning("refused %s without a signed-in browser (%s)", scope.get("path"), exc)
                await _respond(send, 403, _REFUSED)
                return
            log.debug("media %s for %s", scope.get("path"), user.username)
        await self.app(scope, receive, send)


async def _in_thread(call):
    import anyio

    return await anyio.to_thread.run_sync(call)  # SQLite and argon2 must not block the event loop


async def _respond(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
