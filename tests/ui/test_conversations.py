"""Conversations kept per user (the Ask page's sidebar: open, rename, delete; the URL reopens one), and the
Documents and Insights rough edges of issue 13, through AppTest on the hashed-embedder index (no model loads:
these are about the app's plumbing, not about answer quality)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kb.types import Answer

pytestmark = pytest.mark.slow

LEAVE = "How many days of annual leave do full-time staff get?"
HOTEL = "What is the hotel limit per night in London?"


def _ask(at, question: str):
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def _conversation_buttons(at) -> list[str]:
    return [b.label for b in at.sidebar.button if b.key and b.key.startswith("conv-") and b.key[5:].isdigit()]


def test_conversations_are_listed_opened_renamed_and_deleted(hashed_app_as, hashed_app_env):
    from kb import Settings
    from kb.activity.store import ActivityStore

    store = ActivityStore(Settings(index_dir=Path(hashed_app_env["KB_INDEX_DIR"])).app_db_path)
    for earlier in store.conversations("eve"):  # the session's app store is shared (the browser test signs in
        store.delete_conversation("eve", earlier.id)  # as eve too): start from an empty list
    store.close()
    at = hashed_app_as("eve")
    _ask(at, LEAVE)
    first = at.session_state["conversation"]
    assert at.query_params["c"] == str(first) and _conversation_buttons(at) == [LEAVE]
    _ask(at, "And for part-time staff?")
    assert len(at.session_state["turns"]) == 2 and _conversation_buttons(at) == [LEAVE]  # the same conversation

    at.sidebar.button(key="conv-new").click().run()
    assert not at.session_state["turns"] and "c" not in at.query_params
    _ask(at, HOTEL)
    second = at.session_state["conversation"]
    assert second != first and _conversation_buttons(at) == [HOTEL, LEAVE]  # the latest first

    at.sidebar.button(key=f"conv-{first}").click().run()  # open the first again
    assert not at.exception, at.exception
    assert [t["question"] for t in at.session_state["turns"]] == [LEAVE, "And for part-time staff?"]
    assert at.query_params["c"] == str(first)
    assert [m.value for m in at.chat_message[0].markdown][0] == LEAVE

    at.sidebar.text_input(key=f"conv-title-{first}").input("Annual leave").run()  # rename, saved on change
    assert "Annual leave" in _conversation_buttons(at)

    at.sidebar.button(key=f"conv-delete-{first}").click().run()
    assert not at.exception, at.exception
    assert _conversation_buttons(at) == [HOTEL] and not at.session_state["turns"]

    store = ActivityStore(Settings(index_dir=Path(hashed_app_env["KB_INDEX_DIR"])).app_db_path)
    try:
        assert [c.title for c in store.conversations("eve")] == [HOTEL]
        assert not {first, second} & {c.id for c in store.conversations("harriet")}  # the app store is shared
    finally:
        store.close()

    # another user never sees it, even with its id in the URL
    harriet = hashed_app_as("harriet")
    assert not {f"conv-{first}", f"conv-{second}"} & {b.key for b in harriet.sidebar.button}
    harriet.query_params["c"] = str(second)
    harriet.run()
    assert not harriet.session_state["turns"] and "c" not in harriet.query_params


def test_the_url_reopens_the_conversation_with_its_answers_and_feedback(hashed_app_as):
    at = hashed_app_as("harriet")
    _ask(at, LEAVE)
    conversation, qid = at.session_state["conversation"], at.session_state["turns"][-1]["qid"]
    at.feedback[0].set_value(0).run()
    at.text_input(key=f"fbc-{qid}").input("Part-time is missing").run()  # saved without a button

    again = hashed_app_as("harriet")  # a new browser session, as after a reload
    again.query_params["c"] = str(conversation)
    again.run()
    assert not again.exception, again.exception
    turns = again.session_state["turns"]
    assert [t["question"] for t in turns] == [LEAVE]
    assert again.feedback[0].value == 0 and again.text_input(key=f"fbc-{qid}").value == "Part-time is missing"
    shown = "\n".join(m.value for m in again.markdown)
    answer = turns[0]["answer"]
    assert ("kb-refusal" in shown) if answer.refused else (":blue-badge[**1**" in shown)


def test_upload_limit_agrees_and_rejected_files_leave_the_picker(hashed_app_as, hashed_app_env):
    at = hashed_app_as("ada")
    at.switch_page("views/documents.py").run()
    assert not at.exception, at.exception
    picker = at.file_uploader[0]
    assert "up to 50 MB each" in picker.label and picker.proto.max_upload_size_mb == 50
    assert "New folder…" in at.selectbox(key="upload_collection").options
    assert not [o for o in at.selectbox(key="upload_collection").options if "➕" in o]

    assert at.selectbox(key="upload_collection").value is None  # no folder chosen for the admin (easy to misfile)

    # a rejected file says why in words as soon as it is picked (not in a tooltip), and a new pick replaces it
    at.file_uploader[0].set_value([("invoice.pdf", b"MZ\x90\x00 this is a program, not a PDF",
                                    "application/pdf")]).run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["Rejected: invoice.pdf has extension .pdf but its content is a program"]
    assert at.button[[b.label for b in at.button].index("Upload and index")].disabled
    at.file_uploader[0].set_value([("setup.exe", b"MZ\x90\x00", "application/octet-stream")]).run()
    assert [e.value for e in at.error] == ["Rejected: file type '.exe' is not accepted; upload .pdf, .docx, .txt, .md "
                                           "files"] or all("setup.exe" in e.value or ".exe" in e.value for e in at.error)
    at.file_uploader[0].set_value([("bike_scheme.md", b"# Cycle to work\n\nBikes on loan.\n", "text/markdown")]).run()
    assert not at.error
    assert at.button[[b.label for b in at.button].index("Upload and index")].disabled  # until a folder is chosen
    at.selectbox(key="upload_collection").set_value("general").run()
    at.button[[b.label for b in at.button].index("Upload and index")].click().run()
    assert not at.exception, at.exception
    assert (Path(hashed_app_env["KB_DOCS_DIR"]) / "general" / "bike_scheme.md").is_file()
    assert not at.file_uploader[0].value  # the picker is emptied after an upload
    log = at.dataframe[-1].value
    assert list(log.columns)[:2] == ["When", "Who"] and "ada" in list(log["Who"])


def test_insights_of_a_single_day_are_readable_and_gaps_tell_the_refusals_apart(hashed_app_as, hashed_app_env):
    from kb import Settings
    from kb.activity.store import ActivityStore
    from kb.types import Chunk, Hit

    store = ActivityStore(Settings(index_dir=Path(hashed_app_env["KB_INDEX_DIR"])).app_db_path)
    chunk = Chunk("c", "d", "/docs/general/faq.docx", "faq.docx", "Dogs stay at home.", 0, 0, 10)
    now = time.time()
    for question, kind in (("Can I bring my dog?", "not_stated"), ("Mars weather?", "not_covered")):
        store.record_answer(Answer(question, "-", True, "refused", hits=[Hit(chunk, 0.1, 1)], refusal=kind,
                                   timings={"total": 2.0}), asked_at=now)
    store.close()
    at = hashed_app_as("ada")
    at.switch_page("views/insights.py").run()
    assert not at.exception, at.exception
    import json

    per_day = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert per_day["encoding"]["x"]["type"] in ("nominal", "ordinal")  # one bar per day, not a sliver on a time axis
    assert per_day["encoding"]["y"]["scale"]["domainMin"] == 0  # never a negative count
    for chart in at.get("vega_lite_chart"):  # no zoom or pan: the mouse wheel scrolls the page
        spec = json.loads(chart.proto.spec)
        assert "params" not in spec and '"bind": "scales"' not in chart.proto.spec
    gaps = at.dataframe[0].value
    why = dict(zip(gaps["Question"], gaps["Why"]))
    assert why["Can I bring my dog?"].startswith("Not stated") and why["Mars weather?"].startswith("Not covered")
    assert set(gaps[gaps["Question"] == "Can I bring my dog?"]["Closest document"]) == {"faq.docx"}
    from kb import Settings
    from ui.render import gaps_csv

    store = ActivityStore(Settings(index_dir=Path(hashed_app_env["KB_INDEX_DIR"])).app_db_path)
    report = gaps_csv(store.gaps(), "/docs").decode()  # the CSV download: documents by folder, no server paths
    store.close()
    assert "general/faq.docx" in report and "/docs/" not in report
