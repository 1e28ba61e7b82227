"""Sign-in for the web app: who is using it, decided once per run before any page is drawn.

Local accounts (``kb users``) sign in with a form; a fresh install with no users at all offers to create the
first admin. With ``auth = "oidc"`` the identity comes from Streamlit's ``st.login`` and the role and groups
from ``kb users``. The signed-in user's session token lives in ``st.session_state`` and, behind
``ui/server.py``, in a signed HttpOnly cookie that brings it back after a reload (``ui.session_cookie``; setting
``remember_sign_in``); the role and groups are read again from the user store on every run, so ``kb users set``
takes effect at the next page view.
"""

from __future__ import annotations

import ipaddress
import logging

import streamlit as st

from kb.access.audit import AuditLog
from kb.access.users import AccountLocked, AuthError, SessionExpired, User, UserError, UserStore
from kb.settings import Settings
from ui import resources
from ui.guard import XSRF_COOKIE, browser_key
from ui.session_cookie import COOKIE, end_tag, start_tag

log = logging.getLogger(__name__)
TOKEN = "auth_token"
GRANT = "auth_cookie_grant"  # a sign-in's one-time code for the session cookie, until the page has used it
FORGET = "auth_cookie_forget"  # the cookie is to be cleared (signed out, or its session has ended)


def users(s: Settings) -> UserStore:
    """The user store for these settings (one per configuration, like ``resources.knowledge_base``)."""
    return resources.user_store(s)


def audit(s: Settings) -> AuditLog:
    """The audit log, in the app database of these settings (shared with the other stores and replicas)."""
    return AuditLog(s, db=resources.database(s, s.app_db_path))


def _client() -> str | None:
    """The browser's address, for the per-client sign-in limit (None when not served over a socket)."""
    try:
        address = st.context.ip_address
    except Exception:  # an older Streamlit
        return None
    return address if isinstance(address, str) else None


def _is_local(client: str | None) -> bool:
    """Whether the browser runs on this machine (None: no socket, e.g. AppTest), where the first admin may be
    created from the page; anyone else must wait for `kb users add`."""
    if client is None or client == "localhost":
        return True
    try:
        address = ipaddress.ip_address(client.split("%")[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # "::ffff:127.0.0.1" on a dual-stack socket
    return (mapped or address).is_loopback


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def current_user(s: Settings) -> User | None:
    """The signed-in user, or ``None`` after drawing the sign-in (or first set-up) form."""
    if s.auth == "oidc":
        return _oidc_user(s)
    store = users(s)
    token = st.session_state.get(TOKEN)
    if token:
        try:
            user = store.check_session(token)
        except SessionExpired as exc:
            st.session_state.pop(TOKEN, None)
            st.session_state["auth_notice"] = _sentence(str(exc))
            st.session_state[FORGET] = True
        else:
            _cookie_tags(st.session_state)
            return user
    user = _from_cookie(s, store)
    if user is not None:
        return user
    if not store.has_users():
        if _is_local(_client()):
            _first_admin_form(s, store)
        else:
            st.title("Company knowledge base")
            st.info("Nobody has an account yet. An administrator creates the first one on the server with "
                    "`kb users add NAME --role admin` (or opens this page on the server itself).")
    else:
        _sign_in_form(s, store)
    return None


def sign_out(s: Settings) -> None:
    token = st.session_state.pop(TOKEN, None)
    if token:
        users(s).end_session(token)  # the cookie holds this token: it is worth nothing from now on
    st.session_state[FORGET] = True
    st.session_state.pop(GRANT, None)
    for key in ("turns", "conversation"):  # the next person at this browser must not see the conversation
        st.session_state.pop(key, None)
    st.query_params.pop("c", None)
    if s.auth == "oidc":
        st.logout()


def _cookie() -> str:
    """The session cookie as the browser sent it when this page was loaded ("" without one)."""
    try:
        return st.context.cookies.get(COOKIE) or ""
    except Exception:  # no request context (AppTest)
        return ""


def _from_cookie(s: Settings, store: UserStore) -> User | None:
    """The user of a session the browser's cookie brings back after a reload (local sign-in only)."""
    value = _cookie() if s.remember_sign_in and not st.session_state.get(FORGET) else ""
    if not value:
        return None
    token = store.token_from_cookie(value)
    try:
        user = store.check_session(token) if token else None
    except SessionExpired:
        user = None
    if user is None or not store.bound_to(token, _browser()):
        st.session_state[FORGET] = True  # forged, expired, ended, or copied from another browser
        return None
    st.session_state[TOKEN] = token
    log.info("session of %s resumed from its cookie", user.username)
    return user


def _cookie_tags(state) -> None:
    """Hand the browser its cookie after a sign-in (a one-time code the server route redeems), or clear it."""
    code = state.pop(GRANT, None)
    if code:
        st.html(start_tag(code))
    elif state.pop(FORGET, None):
        st.html(end_tag())


def _browser() -> str:
    """This browser's secret (its Streamlit XSRF cookie), which ``ui.guard`` checks on file downloads."""
    try:
        return browser_key(st.context.cookies.get(XSRF_COOKIE))
    except Exception:  # no request context (AppTest): downloads are then not served through the guard
        return ""


def _start(s: Settings, user: User) -> None:
    store = users(s)
    token = store.create_session(user, _browser()).token
    st.session_state[TOKEN] = token
    st.session_state.pop(FORGET, None)
    if s.remember_sign_in:
        st.session_state[GRANT] = store.grant(store.cookie_value(token))
    audit(s).record(user, "sign-in")
    st.rerun()


def _sign_in_form(s: Settings, store: UserStore) -> None:
    _cookie_tags(st.session_state)
    st.title("Company knowledge base")
    notice = st.session_state.pop("auth_notice", "")
    if notice:
        st.info(notice)
    with st.form("sign-in"):
        name = st.text_input("User name", key="login_user")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        st.caption("No account yet? Ask an administrator (`kb users add`).")
        return
    try:
        user = store.authenticate(name.strip(), password, client=_client())
    except AccountLocked as exc:
        st.error(_sentence(str(exc)), icon=":material/lock:")
        return
    except AuthError:
        st.error("Wrong user name or password.")
        return
    _start(s, user)


def _first_admin_form(s: Settings, store: UserStore) -> None:
    st.title("Welcome: set up the knowledge base")
    st.markdown("Nobody has an account yet. Create the **first administrator**; admins add everyone else with "
                "`kb users add` and manage documents on the Documents page.")
    with st.form("first-admin"):
        name = st.text_input("User name", key="setup_user")
        password = st.text_input("Password (at least 10 characters)", type="password", key="setup_password")
        again = st.text_input("Password again", type="password", key="setup_again")
        submitted = st.form_submit_button("Create administrator", type="primary")
    if not submitted:
        return
    if password != again:
        st.error("The two passwords differ.")
        return
    try:
        user = store.add_first_admin(name.strip(), password)
    except UserError as exc:
        st.error(_sentence(str(exc)))
        return
    _start(s, user)


def _oidc_user(s: Settings) -> User | None:
    if not st.user.is_logged_in:
        st.title("Company knowledge base")
        st.button("Sign in with your company account", type="primary", on_click=st.login)
        return None
    identity = st.user.get("email") or st.user.get("sub") or ""
    try:
        user = users(s).external_user(str(identity))
        if not st.session_state.get(TOKEN):  # a session bound to this browser, for the download guard
            st.session_state[TOKEN] = users(s).create_session(user, _browser()).token
        return user
    except AuthError as exc:
        st.error(str(exc))
        st.button("Sign out", on_click=st.logout)
        return None


def signed_in() -> User:
    """The user ``app.py`` signed in for this run (pages run only after that)."""
    user = st.session_state.get("user")
    if user is None:
        st.error("Please sign in.")
        st.stop()
    return user


def admin_only() -> User:
    """For admin pages: the signed-in admin, or stop with an error (pages_for hides them from others too)."""
    user = signed_in()
    if not user.is_admin:
        st.error("Only administrators can open this page.", icon=":material/block:")
        st.stop()
    return user
