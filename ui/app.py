"""The web app's entry point: ``streamlit run ui/app.py`` (settings from kb.toml and KB_* variables).

Nobody sees anything before signing in (``ui.auth``). Employees get the Ask page; admins also get Documents
and Insights, decided in ``pages_for`` only (and checked again by those pages themselves).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import streamlit as st

from kb.errors import DatabaseError
from ui import auth, render, resources  # the installed package (``kb`` ships the web app with it)

log = logging.getLogger(__name__)
VIEWS = Path(__file__).parent / "views"
PAGE_PATHS = ["", "documents", "insights"]  # the URL paths of the pages below (the start page's is "")


def pages_for(role: str) -> list:
    """The pages a role may open; the one place where access is decided."""
    ask = st.Page(VIEWS / "ask.py", title="Ask", icon=":material/chat:", default=True)
    admin = [st.Page(VIEWS / "documents.py", title="Documents", icon=":material/folder_open:"),
             st.Page(VIEWS / "insights.py", title="Insights", icon=":material/insights:")]
    return [ask] + (admin if role == "admin" else [])


def account(user) -> None:
    """The sidebar's line about who is signed in, with the sign-out button."""
    groups = f" · groups: {', '.join(user.groups)}" if user.groups else ""
    st.sidebar.caption(f":material/account_circle: **{user.username}** ({user.role}){groups}")
    if st.sidebar.button("Sign out", icon=":material/logout:", key="sign-out"):
        auth.sign_out(resources.settings())
        st.rerun()


def index_summary() -> None:
    """The sidebar's line about the index in use: documents and age (a newer version shows on the next run)."""
    from kb.index.manifest import Manifest

    kb = resources.knowledge_base()
    current = kb.folder.current()
    if current is None:
        st.sidebar.warning(f"No index at {kb.folder.root} yet: an admin can add documents on the Documents page.")
        return
    # the manifest alone, not kb.reader(): opening the reader loads the embedding model (~15 s), which
    # the first question does anyway, and which would keep a first-time visitor staring at a blank page
    manifest = Manifest.read(current)
    documents = len(manifest.indexed)
    st.sidebar.caption(f":material/library_books: **{documents} documents** · {manifest.chunks} passages  \n"
                       f"Index updated {render.ago(time.time() - manifest.created_at)} ({current.name})")
    loading = not resources.warmup(start=False).done.is_set()
    with st.sidebar:  # while the models load, the notice checks again every second, so it goes once they are ready
        st.fragment(model_notice, run_every=1.0 if loading else None)()


def model_notice() -> None:
    """"Loading the language model…" while the background warm-up runs; its error if it failed; else nothing."""
    warm = resources.warmup(start=False)
    if warm.started and not warm.done.is_set():
        st.caption(":material/hourglass_top: Loading the language model…")
    elif warm.error:
        st.error(f"Model failed to load: {warm.error}")


def setup_logging(level: str) -> None:
    """The app's log on stderr at the settings' level; the handler filters too, because bm25s sets its own
    logger to DEBUG when imported and a logger's level, not the root's, decides what reaches the handlers."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        if handler.level == logging.NOTSET:
            handler.setLevel(level)


def main() -> None:
    st.session_state["run_started"] = time.perf_counter()  # what the Ask page counts a question's wait from
    st.set_page_config(page_title="Company knowledge base", page_icon=":material/menu_book:", layout="wide")
    setup_logging(resources.settings().log_level)
    render.style()
    try:
        user = auth.current_user(resources.settings())
    except DatabaseError as exc:  # e.g. database_url names a server that is down: say which, not a traceback
        log.error("%s", exc)
        st.title("Company knowledge base")
        st.error(f"Sign-in is not available: {exc}", icon=":material/error:")
        return
    if user is None:  # the sign-in form is on the page
        st.session_state.pop("user", None)  # pages must never see who was signed in before
        # no pages while signed out: the menu of the last signed-in run must not stay in the sidebar
        st.navigation([st.Page(lambda: None, title="Sign in", url_path="sign-in", default=True)], position="hidden")
        render.theme_memory(PAGE_PATHS)
        resources.warmup()  # load the models while the user types their password
        return
    st.session_state["user"] = user
    page = st.navigation(pages_for(user.role))
    account(user)
    index_summary()
    page.run()
    render.theme_memory(PAGE_PATHS)
    # only after the page is drawn, so the first visitor does not wait for models competing for the CPU
    resources.warmup()


main()
