"""Staying signed in across reloads: a signed, expiring, HttpOnly session cookie set by a small server route.

A Streamlit script cannot set cookies, and a cookie that page scripts could read would hand the session to any
injected script. So after a sign-in the page loads an invisible picture from ``/_kb/session?grant=CODE``: the
code is one-time and short-lived (``UserStore.grant``), only works in the browser that signed in (its Streamlit
XSRF secret, as for downloads), and the answer sets ``kb_session`` (HttpOnly, SameSite=Strict, expiring with
the session). On a reload the script reads it from ``st.context.cookies`` and checks the session as usual, so
signing out, a password change, removing the user or the session's expiry end it. ``/_kb/session/end`` clears
the cookie after signing out. The routes exist only in ``ui/server.py`` (``kb serve``); under a plain
``streamlit run ui/app.py`` the picture loads nothing and a reload asks to sign in again, as before.
"""

from __future__ import annotations

import logging
from typing import Callable

from kb.access.users import UserStore
from ui.guard import XSRF_COOKIE, app_user_store, browser_key

log = logging.getLogger(__name__)

COOKIE = "kb_session"
START_PATH = "/_kb/session"
END_PATH = "/_kb/session/end"


def start_tag(code: str) -> str:
    """The invisible picture whose request turns a grant into the cookie (decorative: empty alt text)."""
    return (f'<img src="{START_PATH}?grant={code}" alt="" width="1" height="1" '
            'style="position:absolute;opacity:0;pointer-events:none">')


def end_tag() -> str:
    return (f'<img src="{END_PATH}" alt="" width="1" height="1" '
            'style="position:absolute;opacity:0;pointer-events:none">')


def _secure(request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip() == "https"


class SessionCookieRoutes:
    """The two routes ``ui/server.py`` adds next to Streamlit's own."""

    def __init__(self, store: Callable[[], UserStore] | None = None):
        self._store = store or app_user_store

    def routes(self) -> list:
        from starlette.routing import Route

        return [Route(START_PATH, self.start, methods=["GET"]), Route(END_PATH, self.end, methods=["GET"])]

    async def start(self, request):
        import anyio
        from starlette.responses import Response

        code = request.query_params.get("grant", "")
        browser = browser_key(request.cookies.get(XSRF_COOKIE))
        found = await anyio.to_thread.run_sync(lambda: self._cookie_for(code, browser))
        if found is None:
            log.warning("session cookie refused: grant unknown, spent, expired or from another browser")
            return Response(status_code=403, headers={"cache-control": "no-store"})
        value, max_age = found
        response = Response(status_code=204, headers={"cache-control": "no-store"})
        response.set_cookie(COOKIE, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                            secure=_secure(request))
        return response

    async def end(self, request):
        from starlette.responses import Response

        response = Response(status_code=204, headers={"cache-control": "no-store"})
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))
        return response

    def _cookie_for(self, code: str, browser: str) -> tuple[str, int] | None:
        """(cookie value, seconds it lives) for a grant redeemed by the browser that signed in."""
        store = self._store()
        value = store.redeem(code)
        token = store.token_from_cookie(value) if value else None
        if token is None or not store.bound_to(token, browser):
            return None
        return value, max(0, int(value.split(".")[1]) - int(store.clock()))
