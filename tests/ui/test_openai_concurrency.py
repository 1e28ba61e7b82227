"""Answering through an OpenAI-compatible server that streams (vLLM, llama.cpp server), as the web app does it.

Plumbing, not quality: the server is a deterministic fake (tests/fake_openai.py, a real HTTP server that
echoes the source sentences closest to the question), the index uses the hashed embedder and the judge is
off. What is checked: several people asking at once are answered at once (the server sees overlapping
requests, nothing serialises them), each gets the complete, cited answer it would get alone, and verified
sentences reach the page while the server is still streaming.
"""

from __future__ import annotations

import threading
import time

import pytest

from kb import KnowledgeBase, Settings
from kb.embedding import HASHED_MODEL
from tests.fake_openai import FakeOpenAI, fake_answer

QUESTION = "How many days of annual leave do full-time staff get?"
QUESTIONS = [
    QUESTION,
    "Can unused holiday be rolled into next year, and until when?",
    "What is the holiday allowance for someone with 9 years at the company?",
    "On what day of the month are salaries paid?",
    "What is my yearly training budget?",
    "What bonus do I get if I refer an engineer who gets hired?",
]


@pytest.fixture
def fake():
    with FakeOpenAI(pause_s=0.01) as server:
        yield server


def _settings(index, url: str) -> Settings:
    return Settings(index_dir=index, embedding_model=HASHED_MODEL, judge_model="", answer_mode="generate",
                    generator="openai", openai_base_url=url, generator_model="fake", openai_timeout_s=20)


def test_fake_server_answers_with_cited_source_sentences():
    prompt = ("Sources:\n\n[1] (leave.pdf, page 1)\nThe office is in Leeds. Full-time staff get 25 days of leave."
              "\n\n[2] (faq.md)\nNothing about leave days here at all.\n\nQuestion: How many days of leave do staff get?")
    assert fake_answer(prompt).startswith("Full-time staff get 25 days of leave [1].")
    assert fake_answer("Hello") == "Hello."


@pytest.mark.slow
def test_people_asking_at_once_are_answered_at_once(hashed_sample_index, hashed_embedder, fake):
    kb = KnowledgeBase(_settings(hashed_sample_index, fake.url), embedder=hashed_embedder)
    kb.warm_up()  # as the web app does on start: the index is loaded before anyone asks
    alone = {q: kb.ask(q) for q in QUESTIONS}
    assert fake.peak == 1
    # deterministic on a busy machine: the server holds each request until all six have begun, so the figure
    # below is 6 when the client sends them together and 1 when anything makes them wait for each other
    fake.hold_until(len(QUESTIONS))
    start = threading.Barrier(len(QUESTIONS))
    answers: dict[str, object] = {}

    def asker(question: str) -> None:
        start.wait()
        try:
            answers[question] = kb.ask(question)
        except Exception as exc:  # reported below with the question
            answers[question] = exc

    threads = [threading.Thread(target=asker, args=(q,)) for q in QUESTIONS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert fake.peak == len(QUESTIONS), "the generator requests were serialised"
    for question in QUESTIONS:
        answer = answers[question]
        assert not isinstance(answer, Exception), (question, answer)
        assert not answer.refused and answer.mode == "generated", (question, answer.text)
        assert answer.citations and "[1]" in answer.text, (question, answer.text)
        assert (answer.text, [c.name for c in answer.citations]) == \
               (alone[question].text, [c.name for c in alone[question].citations]), question


def test_verified_sentences_reach_the_page_while_the_server_still_streams(hashed_sample_index, hashed_embedder,
                                                                           fake):
    kb = KnowledgeBase(_settings(hashed_sample_index, fake.url), embedder=hashed_embedder)
    shown: list[tuple[float, str]] = []
    answer = kb.ask(QUESTION, on_text=lambda text: shown.append((time.monotonic(), text)))
    served = fake.served[-1]
    deadline = time.monotonic() + 5  # the client can read [DONE] before the server's thread records its end
    while not served.finished and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not answer.refused and "25 days" in answer.text
    assert served.body["stream"] is True and served.pieces > 10
    assert len(shown) >= 2, shown
    assert shown[0][0] < served.finished, "the first sentence waited for the whole answer"
    assert answer.timings["first_text"] < answer.timings["total"]


@pytest.mark.slow
def test_the_web_app_answers_through_the_streaming_server(hashed_app_as, monkeypatch, fake):
    for key, value in {"KB_ANSWER_MODE": "generate", "KB_GENERATOR": "openai", "KB_OPENAI_BASE_URL": fake.url,
                       "KB_GENERATOR_MODEL": "fake", "KB_JUDGE_MODEL": ""}.items():
        monkeypatch.setenv(key, value)
    at = hashed_app_as("eve")
    at.chat_input[0].set_value(QUESTION).run()
    assert not at.exception, at.exception
    answer = at.session_state["turns"][-1]["answer"]
    assert not answer.refused and answer.mode == "generated" and "25 days" in answer.text
    text = "\n".join(m.value for m in at.markdown)
    assert "25 days" in text and ":blue-badge[**1** leave_policy.pdf · page" in text
    asked = [s for s in fake.served if QUESTION in s.body["messages"][-1]["content"]]
    assert len(asked) == 1 and asked[0].body["stream"] is True
