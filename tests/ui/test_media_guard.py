"""Downloads and page pictures (``/media/<id>``) go only to a signed-in browser whose user may read, under the
access rules as they are now, the document behind the id (issue 30): checked at every request, also after the
owner of the page that showed the file has signed out. Driven as the ASGI app the guard is, with the real user
store and the real access rules of a ``KnowledgeBase``; Streamlit's own media route is a stand-in that answers
the file (the guard decides before it is reached)."""

from __future__ import annotations

import asyncio
import binascii
import os
from pathlib import Path

import pytest

from kb import KnowledgeBase, Settings
from kb.access.users import UserStore
from ui.guard import MediaGuard, browser_key
from ui.media import ADMINS, MediaRegistry, media_id

PASSWORD = "correct horse battery"
HR_FILE = b"%PDF-1.4 the HR case file of Employee Kowalski"


def _xsrf_cookie(token: bytes) -> str:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(token))
    return f"2|{binascii.b2a_hex(mask).decode()}|{binascii.b2a_hex(masked).decode()}|1700000000"


def _status(app, path: str, cookie: str | None) -> int:
    sent: list[dict] = []
    headers = [(b"host", b"localhost")] + ([(b"cookie", f"_streamlit_xsrf={cookie}".encode())] if cookie else [])

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    asyncio.run(app({"type": "http", "method": "GET", "path": path, "headers": headers, "query_string": b""},
                    receive, send))
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


async def _streamlit(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": HR_FILE})


@pytest.fixture
def world(tmp_path):
    """Rules ``hr/** -> hr``; harriet (hr), eve (no groups) and ada (admin), each signed in in their own browser."""
    docs = tmp_path / "docs"
    (docs / "hr").mkdir(parents=True)
    rules = tmp_path / "access.rules"
    rules.write_text("hr/** -> hr\n")
    settings = Settings(index_dir=tmp_path / "index", docs_dir=docs, acl_rules=rules)
    store = UserStore(settings)
    kb = KnowledgeBase(settings)
    cookies, sessions = {}, {}
    for name, role, groups in (("harriet", "employee", ["hr"]), ("eve", "employee", []), ("ada", "admin", [])):
        store.add_user(name, PASSWORD, role, groups)
        cookies[name] = _xsrf_cookie(os.urandom(16))
        sessions[name] = store.create_session(store.get_user(name), browser_key(cookies[name])).token
    registry = MediaRegistry()
    guard = MediaGuard(_streamlit, store=lambda: store, registry=lambda: registry,
                       may_read=lambda user, path: user.is_admin if path == ADMINS else kb.can_read(path, user))
    return {"docs": docs, "rules": rules, "store": store, "cookies": cookies, "sessions": sessions,
            "registry": registry, "guard": guard}


def test_a_document_s_media_goes_only_to_readers_of_that_document(world):
    guard, cookies, registry = world["guard"], world["cookies"], world["registry"]
    case = str(world["docs"] / "hr" / "case-18.pdf")
    file_id = registry.register(HR_FILE, "application/pdf", "case-18.pdf", [case])  # harriet's page offered it
    url = f"/media/{file_id}.pdf"
    assert _status(guard, url, cookies["harriet"]) == 200
    assert _status(guard, url, cookies["eve"]) == 403  # her own live session, but no hr
    assert _status(guard, url, cookies["ada"]) == 200  # admins read everything
    assert _status(guard, url, None) == 403

    world["store"].end_session(world["sessions"]["harriet"])  # the owner signs out: the file stays in the store
    assert _status(guard, url, cookies["eve"]) == 403
    assert _status(guard, url, cookies["harriet"]) == 403

    world["rules"].write_text("hr/** -> hr-leads\n")  # the rules change: checked at the next request, no restart
    assert _status(guard, url, cookies["ada"]) == 200
    world["store"].set_access("ada", role="employee")  # and so do a user's role and groups
    assert _status(guard, url, cookies["ada"]) == 403


def test_media_the_app_did_not_record_and_admin_reports_are_refused_to_others(world):
    guard, cookies, registry = world["guard"], world["cookies"], world["registry"]
    unknown = media_id(HR_FILE, "application/pdf", "computed-from-a-copy.pdf")  # the id anyone can compute
    assert _status(guard, f"/media/{unknown}.pdf", cookies["ada"]) == 403
    report = registry.register(b"asked_at,question\n", "text/csv", "knowledge-gaps.csv", [ADMINS])
    assert _status(guard, f"/media/{report}.csv", cookies["eve"]) == 403
    assert _status(guard, f"/media/{report}.csv", cookies["ada"]) == 200


def test_the_same_bytes_from_two_documents_need_both(world):
    """Identical bytes (or, above 1 MB, Streamlit's sampled id) under an open and a restricted path: the reader
    must be allowed every document behind the id."""
    guard, cookies, registry = world["guard"], world["cookies"], world["registry"]
    registry.register(HR_FILE, "application/pdf", "memo.pdf", [str(world["docs"] / "memo.pdf")])
    file_id = registry.register(HR_FILE, "application/pdf", "memo.pdf", [str(world["docs"] / "hr" / "memo.pdf")])
    assert _status(guard, f"/media/{file_id}.pdf", cookies["eve"]) == 403
    assert _status(guard, f"/media/{file_id}.pdf", cookies["harriet"]) == 200


def test_the_registry_knows_the_ids_streamlit_gives_pictures_and_downloads(tmp_path):
    """The ids the app registers are the ones in Streamlit's URLs: an ``st.image`` of PNG bytes, and a download
    made when it is clicked (``st.download_button`` with a callable), through Streamlit's own media manager."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.testing.v1 import AppTest

    from ui import render

    pdf = tmp_path / "hr" / "leave_policy.pdf"
    pdf.parent.mkdir()
    pdf.write_bytes(b"%PDF-1.4 leave policy")
    registry = MediaRegistry()
    audited = []
    access = render.Access(may_read=lambda path: True, downloaded=audited.append, media=registry)
    download = render._download(pdf, "application/pdf", access)
    manager = MediaFileManager(MemoryMediaFileStorage("/media"))
    url = manager.execute_deferred(manager.add_deferred(download, "application/pdf", "1.2", pdf.name))
    assert registry.paths(Path(url).stem) == {str(pdf)} and audited == [str(pdf)]

    def picture():
        import io

        import streamlit as st
        from PIL import Image

        out = io.BytesIO()
        Image.new("RGB", (893, 1263), "white").save(out, format="PNG")
        st.session_state["png"] = out.getvalue()
        st.image(out.getvalue(), output_format="PNG", width="stretch")

    at = AppTest.from_function(picture).run()
    shown = Path(at.get("image")[0].proto.imgs[0].url).stem
    assert shown == registry.register(at.session_state["png"], "image/png", None, [str(pdf)])

    denied = render._download(pdf, "application/pdf", render.Access(may_read=lambda path: False,
                                                                    downloaded=audited.append, media=registry))
    with pytest.raises(PermissionError):
        denied()
    assert audited == [str(pdf)]
