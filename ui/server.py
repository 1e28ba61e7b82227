"""The web app with guarded downloads: ``streamlit run ui/server.py`` (what ``kb serve`` and scripts/run.sh run).

The same pages as ``ui/app.py``, served as a Streamlit ``st.App`` whose ``/media/`` files (downloads, page
pictures) go through :class:`ui.guard.MediaGuard`, which checks the signed-in session, and with the routes that
set and clear the session cookie (:mod:`ui.session_cookie`), so a reload stays signed in. Running
``ui/app.py`` directly still works, without either.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from ui.guard import MediaGuard
from ui.session_cookie import SessionCookieRoutes

MIDDLEWARE = [Middleware(MediaGuard)]
app = st.App(Path(__file__).with_name("app.py"), middleware=MIDDLEWARE, routes=SessionCookieRoutes().routes())
