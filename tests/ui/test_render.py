"""How answers look, through AppTest of the render functions alone (no index, no model): table rows with their
headers, the plain-words caption of quoted answers, the two refusal kinds, the follow-up note, the copy button
and feedback comments saved as they change."""

from __future__ import annotations

import html

from streamlit.testing.v1 import AppTest

from ui.render import copy_text, quoted_caption, table_row

ROW = ("Method: FIDO2 security key; Who may use it: Required for system administrators and Finance approvers; "
       "Notes: Issued by the IT Service Desk; keep it separate from your laptop bag")


def _answer_app() -> None:
    """The script AppTest runs: one answer as the Ask page draws it (built here, no knowledge base)."""
    import streamlit as st

    from kb.types import Answer, Chunk, Citation, Hit
    from ui import render

    kind = st.session_state.get("kind", "table")
    chunk = Chunk("c1", "d1", "/docs/it/it_security_policy.docx", "it_security_policy.docx",
                  "The approved methods are:\n" + st.session_state["row"], 0, 0, 100,
                  heading_path=("Multi-factor authentication",))
    hit = Hit(chunk, 0.03, 1, 1, 0.71, 2, 5.2)
    if kind == "refused":
        answer = Answer("Can I use SMS codes forever?", st.session_state["refusal_text"], True, "refused", hits=[hit],
                        refusal=st.session_state.get("refusal", ""))
    else:
        quote = st.session_state["row"]
        answer = Answer("Which MFA method must administrators use?", f"“{quote}” [1]", False, "extractive",
                        citations=[Citation(1, chunk.path, chunk.name, None, chunk.heading, quote, "c1")], hits=[hit],
                        timings={"total": 1.2}, follow_up_of=st.session_state.get("follow_up_of", ""),
                        retrieval_query=st.session_state.get("searched", "Which MFA method must administrators use?"))
    render.style()
    render.answer_body(answer, "7", expand_first=True)
    if not answer.refused:
        render.copy_button(answer, "7")
    render.feedback(7, "7", lambda qid, rating, comment: st.session_state.setdefault("saved", []).append(
        (qid, rating, comment)))


def _run(**state) -> AppTest:
    at = AppTest.from_function(_answer_app, default_timeout=30)
    at.session_state["row"] = ROW
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_table_row_splits_into_headers_and_values_and_prose_does_not():
    assert table_row(f"“{ROW}” [1]") == (
        ["Method", "Who may use it", "Notes"],
        ["FIDO2 security key", "Required for system administrators and Finance approvers",
         "Issued by the IT Service Desk; keep it separate from your laptop bag"])
    assert table_row("City or region: London; Hotel limit per night: £180; Per diem per day: £55")[0] == [
        "City or region", "Hotel limit per night", "Per diem per day"]
    assert table_row("Give notice of at least twice the length of the leave: for example, two weeks.") is None
    assert table_row("Note: this applies to all staff; contractors: see section 4") is None
    assert table_row("The limit is £75 per head.") is None


def test_a_quoted_table_row_is_shown_as_a_table_under_its_headers():
    at = _run()
    table = at.table[0].value
    assert list(table.columns) == ["Source", "Method", "Who may use it", "Notes"]
    assert table.iloc[0]["Method"] == "FIDO2 security key" and table.iloc[0]["Source"] == "[1]"
    assert f"“{ROW}”" not in "\n".join(m.value for m in at.markdown)  # not the flattened "Header: value; …" line
    captions = [c.value for c in at.caption]
    assert any("Quoted from it_security_policy.docx: the document's own words." in c for c in captions)
    assert not any("could not be verified" in c for c in captions)


def test_the_caption_of_a_quote_names_the_document_in_plain_words():
    from kb.types import Citation

    one = [Citation(1, "/d/leave_policy.pdf", "leave_policy.pdf", 2, "", "q", "c")]
    assert "Quoted from leave_policy.pdf, page 2" in quoted_caption(one)
    two = one + [Citation(2, "/d/faq.docx", "faq.docx", None, "", "r", "d")]
    assert "Quoted from leave_policy.pdf, faq.docx" in quoted_caption(two)
    assert "Quoted from the policy" in quoted_caption([])


def test_the_two_refusals_differ_in_wording_and_colour():
    covered = _run(kind="refused", refusal="not_covered", refusal_text="The knowledge base does not cover this.")
    text = "\n".join(m.value for m in covered.markdown)
    assert "kb-refusal kb-not-covered" in text and "Not found in the documents" in text
    stated = _run(kind="refused", refusal="not_stated",
                  refusal_text="The documents talk about this, but none of the passages says it.")
    text = "\n".join(m.value for m in stated.markdown)
    assert "kb-refusal kb-not-stated" in text and "Not stated in the documents" in text
    assert "**Closest passages**" in text
    assert not stated.get("html") or "Copy" not in stated.get("html")[0].proto.body  # nothing to copy


def test_a_follow_up_says_which_question_it_continued():
    at = _run(follow_up_of="How many days of annual leave do full-time staff get?")
    assert any("Taking this as a follow-up to “How many days of annual leave do full-time staff get?”" in c.value
               for c in at.caption)


def test_a_corrected_question_says_what_was_searched_and_an_uncorrected_one_says_nothing():
    at = _run(searched="Which MFA method must administrators use?")
    assert not any("Searched for" in c.value for c in at.caption)
    at = _run(searched="Which MFA method must administrators use? password")
    assert any("Searched for “Which MFA method must administrators use? password”" in c.value for c in at.caption)


def test_the_copy_button_carries_the_answer_and_its_sources_escaped():
    from kb.types import Answer, Citation

    at = _run()
    body = at.get("html")[0].proto.body
    assert 'aria-label="Copy the answer"' in body and "navigator.clipboard.writeText" in body
    shown = f"“{ROW}” [1]\n[1] it_security_policy.docx · Multi-factor authentication"
    assert f'data-text="{html.escape(shown, quote=True)}"' in body
    answer = Answer("q", 'He said "<b>" & left [1]', False, "generated",
                    citations=[Citation(1, "/d/a.pdf", "a.pdf", 3, "H", "q", "c")])
    assert copy_text(answer) == 'He said "<b>" & left [1]\n[1] a.pdf · page 3 · H'


def test_a_feedback_comment_is_saved_when_it_changes_without_a_send_button():
    at = _run()
    at.feedback[0].set_value(0).run()  # 👎
    assert at.session_state["saved"] == [(7, -1, "")]
    assert not [b for b in at.button if b.label == "Send"]
    at.text_input(key="fbc-7").input("The table is out of date").run()
    assert at.session_state["saved"][-1] == (7, -1, "The table is out of date")


def test_a_finished_answer_s_status_line_names_the_same_kind_as_its_box():
    """The status line over a "not stated" refusal no longer says "Not found" before the box says "Not stated"."""
    from kb.types import Answer
    from ui.render import BANNERS, status_label

    stated = Answer("q", "The documents talk about this, but none says it.", True, "refused", refusal="not_stated")
    covered = Answer("q", "The knowledge base does not cover this.", True, "refused", refusal="not_covered")
    answered = Answer("q", "Full-time staff get 25 days [1]", False, "extractive")
    assert status_label(stated) == BANNERS["not_stated"].title == "Not stated in the documents"
    assert status_label(covered) == BANNERS["not_covered"].title == "Not found in the documents"
    assert status_label(answered) == "Answer checked against the sources"


def test_text_from_a_document_the_reader_lost_is_hidden_and_the_rest_kept():
    from kb.types import Answer, Citation
    from ui.render import HIDDEN, redacted

    answer = Answer("q", "“Staff get 25 days.” [1] “The office is in Leeds.” [2]", False, "extractive",
                    citations=[Citation(1, "/d/hr/leave.pdf", "leave.pdf", 1, "", "Staff get 25 days.", "a"),
                               Citation(2, "/d/general/office.md", "office.md", None, "", "The office is in Leeds.",
                                        "b")])
    assert redacted(answer, lambda path: True) is answer
    shown = redacted(answer, lambda path: "/hr/" not in path)
    assert shown.text == f"{HIDDEN} “The office is in Leeds.” [2]"
    assert [c.quote for c in shown.citations] == ["", "The office is in Leeds."]
    assert answer.text.startswith("“Staff get 25 days.”")  # the stored answer is left as it was
    everything = redacted(answer, lambda path: False)
    assert everything.text == HIDDEN and "25 days" not in copy_text(everything)
