"""File downloads only for a reader who may open the file: an ASGI middleware in front of Streamlit's ``/media/``.

Streamlit serves every ``st.download_button`` file and ``st.image`` picture from ``/media/<id>`` to anyone who
has the URL, cookie or not, for as long as the file is kept; the id is a hash of the bytes, type and name, so
anyone holding a copy of a file can compute it. Our sign-in token lives in the tab's session state, which such a
request does not carry; what it does carry is the browser's Streamlit XSRF cookie. At sign-in the app binds the
session to that cookie's secret (``UserStore.create_session(user, browser)``). When the app puts a document's
bytes (a download, a page picture) into Streamlit's media store it records which documents they came from in a
:class:`MediaRegistry`; this middleware answers ``/media/<id>`` only when the request's cookie belongs to a live
session whose user may read, under the access rules as they are now, every document behind that id. A copied
URL, a signed-out or expired session, another browser, another user without access, and any media the app did
not record get 403.
"""

from __future__ import annotations

import binascii
import logging
import re
from http.cookies import CookieError, SimpleCookie
from typing import Awaitable, Callable

from kb.access.users import AuthError, User, UserStore
from kb.errors import KBError
from kb.settings import Settings
from ui.media import ADMINS, MediaRegistry

log = logging.getLogger(__name__)

XSRF_COOKIE = "_streamlit_xsrf"  # set by Streamlit on the page request (server.enableXsrfProtection, the default)
# Streamlit's media route, under any base path; not /static/media/ (the app's own fonts, icons included)
_MEDIA = re.compile(r"(?:^|/)media/")
_STATIC = re.compile(r"(?:^|/)static/")
_REFUSED = b"Sign in to the knowledge base to open this file (the link works only in the signed-in browser)."
_FORBIDDEN = b"You may not open this file: it comes from a document your access does not include."
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


def app_may_read(user: User, path: str) -> bool:
    """Whether ``user`` may open the document at ``path`` under the app's access rules as they are now (broken or
    refused rules open nothing); :data:`ADMINS` media only for admins."""
    from ui.resources import knowledge_base

    if path == ADMINS:
        return user.is_admin
    try:
        return knowledge_base(Settings.load()).can_read(path, user)
    except KBError as exc:
        log.warning("media of %s refused: %s", path, exc)
        return False


def app_media_registry() -> MediaRegistry:
    from ui.resources import media_registry

    return media_registry()


class MediaGuard:
    """ASGI middleware: ``/media/<id>`` is answered only for a browser bound to a live session whose user may
    read every document the registry records behind ``id``; else 403."""

    def __init__(self, app, store: Callable[[], UserStore] | None = None,
                 registry: Callable[[], MediaRegistry] | None = None,
                 may_read: Callable[[User, str], bool] | None = None):
        self.app = app
        self._store = store or app_user_store
        self._registry = registry or app_media_registry
        self._may_read = may_read or app_may_read

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        path = scope.get("path", "")
        if scope.get("type") == "http" and _MEDIA.search(path) and not _STATIC.search(path):
            key = browser_key(_cookie(scope, XSRF_COOKIE))
            try:
                user = await _in_thread(lambda: self._store().check_browser(key))
            except AuthError as exc:
                log.warning("refused %s without a signed-in browser (%s)", path, exc)
                await _respond(send, 403, _REFUSED)
                return
            file_id = path.rsplit("/", 1)[-1].split(".", 1)[0]
            documents = self._registry().paths(file_id)
            allowed = bool(documents) and await _in_thread(
                lambda: all(self._may_read(user, d) for d in documents))
            if not allowed:
                log.warning("refused %s to %s: %s", path, user.username,
                            "not a file the app showed" if not documents else "no access to its document")
                await _respond(send, 403, _FORBIDDEN)
                return
            log.debug("media %s for %s", path, user.username)
        await self.app(scope, receive, send)


async def _in_thread(call):
    import anyio

    return await anyio.to_thread.run_sync(call)  # SQLite and argon2 must not block the event loop


async def _respond(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
