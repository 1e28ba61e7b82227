"""Sign-in, roles and per-document access in the web app (AppTest, real models, real user store).

Who is who: see tests/ui/conftest.py (ada admin, eve employee, harriet employee in group hr).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.conftest import APP, PASSWORD, TIMEOUT, sign_in

pytestmark = [pytest.mark.model, pytest.mark.slow]

LEAVE = "How many days of annual leave do full-time staff get?"


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [c.value for c in at.sidebar.caption]
    return "\n".join(parts)


def test_nothing_is_shown_before_sign_in_and_a_wrong_password_is_refused(app_as):
    at = app_as(None)
    assert not at.chat_input and [t.value for t in at.title] == ["Company knowledge base"]
    sign_in(at, "eve", "not the password")
    assert any("Wrong user name or password" in e.value for e in at.error)
    assert not at.chat_input
    sign_in(at, "nobody-by-this-name", PASSWORD)  # unknown names get the same answer
    assert any("Wrong user name or password" in e.value for e in at.error)


def test_repeated_failures_lock_the_name_even_for_the_right_password(app_as, app_env):
    from kb import Settings
    from kb.access.users import UserStore

    UserStore(Settings(index_dir=Path(app_env["KB_INDEX_DIR"]))).add_user("lockme", PASSWORD)
    at = app_as(None)
    for _ in range(5):
        sign_in(at, "lockme", "wrong password!")
    assert any("too many failed sign-ins" in e.value.lower() for e in at.error)
    sign_in(at, "lockme", PASSWORD)
    assert any("too many failed sign-ins" in e.value.lower() for e in at.error) and not at.chat_input


def test_employees_get_ask_only_and_admin_pages_refuse_them(app_as):
    from streamlit.testing.v1 import AppTest

    at = app_as("eve")
    assert at.chat_input and "**eve** (employee)" in _texts(at)
    for page in ("documents.py", "insights.py"):
        with pytest.raises(ValueError, match="Known pages"):  # the navigation does not register them
            at.switch_page(f"views/{page}")
        # and a page opened directly checks the role itself
        direct = AppTest.from_file(str(APP.parent / "views" / page), default_timeout=TIMEOUT)
        direct.session_state["user"] = at.session_state["user"]
        direct.run()
        assert any("Only administrators" in e.value for e in direct.error)
        assert not direct.file_uploader and not direct.metric and not direct.dataframe
    at.button(key="sign-out").click().run()
    assert not at.chat_input and any(b.label == "Sign in" for b in at.button)


def test_documents_an_employee_may_not_read_never_reach_them(app_as, app_env):
    rules = Path(app_env["KB_ACL_RULES"])
    docs = app_env["KB_DOCS_DIR"]
    rules.write_text("hr/** -> hr\n")
    try:
        eve = app_as("eve")
        assert "hr" not in eve.sidebar.multiselect(key="filter_collections").options
        eve.chat_input[0].set_value(LEAVE).run()
        answer = eve.session_state["turns"][-1]["answer"]
        shown = [c.path for c in answer.citations] + [h.chunk.path for h in answer.hits]
        assert shown and not [p for p in shown if p.startswith(f"{docs}/hr/")], shown
        assert "leave_policy.pdf" not in _texts(eve)

        harriet = app_as("harriet")
        harriet.chat_input[0].set_value(LEAVE).run()
        answer = harriet.session_state["turns"][-1]["answer"]
        assert answer.citations and answer.citations[0].name == "leave_policy.pdf"
        assert any(d.label == "Download leave_policy.pdf" for d in harriet.get("download_button"))

        rules.write_text("hr/** -> hr-leads\n")  # takes effect at once, without re-indexing
        harriet.run()
        assert "You no longer have access to this document." in _texts(harriet)
        assert not any(d.label == "Download leave_policy.pdf" for d in harriet.get("download_button"))

        ada = app_as("ada")  # admins read everything, and see the audit log
        ada.switch_page("views/insights.py").run()
        assert not ada.exception, ada.exception
        log = ada.dataframe[-1].value
        asked = log[(log["User"] == "eve") & (log["Action"] == "ask")]
        assert LEAVE in set(asked["Question"])
        assert not any("leave_policy.pdf" in d for d in asked["Documents shown"])
        assert any("leave_policy.pdf" in d for d in log[log["User"] == "harriet"]["Documents shown"])
    finally:
        rules.write_text("")


def test_a_fresh_install_offers_to_create_the_first_admin(app_env, monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    for key, value in app_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("KB_USERS_DB", str(tmp_path / "users.sqlite"))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert any("first administrator" in m.value for m in at.markdown)

    def submit(name, password, again):
        at.text_input(key="setup_user").input(name)
        at.text_input(key="setup_password").input(password)
        at.text_input(key="setup_again").input(again)
        next(b for b in at.button if b.label == "Create administrator").click().run()
        assert not at.exception, at.exception

    submit("boss", PASSWORD, PASSWORD + "x")
    assert any("differ" in e.value for e in at.error)
    submit("boss", "short", "short")
    assert any("at least 10 characters" in e.value for e in at.error)
    submit("boss", PASSWORD, PASSWORD)
    assert at.chat_input and "**boss** (admin)" in _texts(at)
    at.switch_page("views/documents.py").run()
    assert at.file_uploader  # the new admin manages documents

    second = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    second.run()  # once an admin exists, nobody else can claim the set-up form
    assert not any("first administrator" in m.value for m in second.markdown)
    assert any(b.label == "Sign in" for b in second.button)


def test_only_a_browser_on_the_server_itself_may_create_the_first_admin():
    from ui.auth import _is_local

    assert _is_local("127.0.0.1") and _is_local("::1") and _is_local(None)
    assert _is_local("::ffff:127.0.0.1")  # IPv4 loopback on a dual-stack socket, as Streamlit reports it
    assert not _is_local("::ffff:10.0.0.7") and not _is_local("not an address")
    assert not _is_local("10.0.0.7") and not _is_local("192.168.1.20") and not _is_local("2001:db8::1")
