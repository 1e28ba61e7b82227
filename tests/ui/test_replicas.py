"""Two web-app replicas in two processes on one PostgreSQL (setting ``database_url``), as behind a load balancer:
a user created and signed in on one is known to the other, a conversation held on one opens on the other,
feedback given on one is on the other's Insights, and both write to one audit log. Each replica is
``tests/ui/replica.py``, driving ui/app.py with AppTest on the hashed-embedder index (quote mode: no generator).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ui.conftest import PASSWORD

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LEAVE = "How many days of annual leave do full-time staff get?"
HOTEL = "What is the hotel limit per night in London?"
COMMENT = "Part-time staff are missing"


class ReplicaProcess:
    """A running ``tests/ui/replica.py``; ``call(op, **arguments)`` sends one command and returns its answer."""

    def __init__(self, name: str, env: dict, log: Path):
        self.name, self.log = name, log
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.ui.replica"], cwd=ROOT, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("w"))

    def call(self, op: str, **arguments) -> dict:
        self.proc.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"replica {self.name} died; its log:\n{self._log()}"
        answer = json.loads(line)
        assert "failed" not in answer, f"replica {self.name}: {answer['failed']}\nits log:\n{self._log()}"
        assert not answer.get("exceptions"), f"replica {self.name}: {answer['exceptions']}\nits log:\n{self._log()}"
        return answer

    def _log(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def replicas(hashed_app_env, postgres_url, tmp_path):
    """Two replicas of the web app on the same index and the same (fresh) PostgreSQL database. Their SQLite
    files are pointed into tmp_path, so that the test can tell that nothing went there."""
    env = {**os.environ, **hashed_app_env, "KB_DATABASE_URL": postgres_url,
           "KB_APP_DB": str(tmp_path / "unused-app.sqlite"), "KB_USERS_DB": str(tmp_path / "unused-users.sqlite")}
    started = [ReplicaProcess(name, env, tmp_path / f"replica-{name}.log") for name in ("a", "b")]
    yield started
    for replica in started:
        replica.close()


def test_two_replicas_share_sign_ins_conversations_feedback_and_the_audit_log(replicas, tmp_path):
    a, b = replicas
    # a fresh install: both offer to create the first administrator; it happens on a
    assert a.call("open")["first_admin_form"] and b.call("open")["first_admin_form"]
    ada = a.call("first_admin", name="ada", password=PASSWORD)
    assert ada["user"] == "ada" and ada["token"]

    # b knows her: a new visit there asks to sign in (no set-up form any more), and her password works
    visit = b.call("open")
    assert visit["sign_in_form"] and not visit["first_admin_form"]
    assert b.call("sign_in", name="ada", password=PASSWORD)["user"] == "ada"
    # the browser signed in on a, sent to b by the load balancer, is signed in there too
    moved = b.call("open", token=ada["token"])
    assert moved["user"] == "ada" and not moved["sign_in_form"]
    # and the "stay signed in" cookie a signed is one b accepts (the signing secret is shared)
    assert b.call("from_cookie", value=a.call("cookie")["value"])["user"] == "ada"

    # a conversation held on a opens on b, and feedback given on a is on b's Insights
    conversation = a.call("ask", question=LEAVE)["conversation"]
    a.call("feedback", comment=COMMENT)
    assert b.call("open", token=ada["token"], conversation=conversation)["turns"] == [LEAVE]
    seen = b.call("insights")
    assert any(g["Question"] == LEAVE and g["Comment"] == COMMENT for g in seen["gaps"]), seen["gaps"]
    assert seen["metrics"]["Questions"] == "1"

    # b's question and a's land in one audit log, which both show
    b.call("open", token=ada["token"])
    b.call("ask", question=HOTEL)
    for replica in (a, b):
        log = replica.call("insights")["audit"]
        asked = {r["Question"] for r in log if r["Action"] == "ask"}
        assert asked == {LEAVE, HOTEL}, (replica.name, log)
        assert sum(r["Action"] == "sign-in" for r in log) == 2  # first admin on a, the password on b
    assert not list(tmp_path.glob("unused-*.sqlite*"))  # nothing went to SQLite
