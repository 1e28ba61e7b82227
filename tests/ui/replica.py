"""One web-app replica for tests/ui/test_replicas.py: its own Python process, driving ui/app.py through AppTest
as browsers would, with the settings of its environment (``KB_DATABASE_URL``: the PostgreSQL they share).

``python -m tests.ui.replica`` reads one JSON command per line on stdin, ``{"op": ..., **arguments}``, and
answers each with one JSON line on stdout: what the current browser session shows (who is signed in, which
form, errors) and what the command asked for. Everything else the app prints goes to stderr.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
TIMEOUT = 240


class Replica:
    """The browser sessions of one replica: ``open`` starts a new one, the other commands act on it."""

    def __init__(self) -> None:
        self.at: AppTest | None = None

    def open(self, token: str | None = None, conversation: int | None = None) -> dict:
        """A new browser session; ``token``: one that already holds a sign-in, as when a load balancer sends a
        signed-in browser to this replica; ``conversation``: the one its URL names (``?c=ID``)."""
        self.at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        if token:
            self.at.session_state["auth_token"] = token
        if conversation is not None:
            self.at.query_params["c"] = str(conversation)
        return self._run()

    def first_admin(self, name: str, password: str) -> dict:
        at = self.at
        at.text_input(key="setup_user").input(name)
        at.text_input(key="setup_password").input(password)
        at.text_input(key="setup_again").input(password)
        return self._run(next(b for b in at.button if b.label == "Create administrator").click())

    def sign_in(self, name: str, password: str) -> dict:
        at = self.at
        at.text_input(key="login_user").input(name)
        at.text_input(key="login_password").input(password)
        return self._run(next(b for b in at.button if b.label == "Sign in").click())

    def ask(self, question: str) -> dict:
        shown = self._run(self.at.chat_input[0].set_value(question))
        turn = self.at.session_state["turns"][-1]
        return {**shown, "qid": turn["qid"], "refused": turn["answer"].refused,
                "conversation": self.at.session_state["conversation"]}

    def feedback(self, comment: str) -> dict:
        """👎 with a comment on the last answer, as the Ask page saves them."""
        qid = self.at.session_state["turns"][-1]["qid"]
        self._run(self.at.feedback[-1].set_value(0))
        return self._run(self.at.text_input(key=f"fbc-{qid}").input(comment))

    def insights(self) -> dict:
        """The Insights page's knowledge gaps and audit log, as the admin sees them."""
        shown = self._run(self.at.switch_page("views/insights.py"))
        tables = [d.value for d in self.at.dataframe]
        gaps = next((t for t in tables if "Why" in t.columns), None)
        audit = next((t for t in tables if "Action" in t.columns), None)
        metrics = {m.label: m.value for m in self.at.metric}
        return {**shown, "metrics": metrics,
                "gaps": [] if gaps is None else gaps[["Question", "Why", "Comment"]].to_dict("records"),
                "audit": [] if audit is None else audit[["User", "Action", "Question"]].to_dict("records")}

    def cookie(self) -> dict:
        """The signed "stay signed in" cookie this replica would hand the browser for its session."""
        from ui.guard import app_user_store

        return {"value": app_user_store().cookie_value(self.at.session_state["auth_token"])}

    def from_cookie(self, value: str) -> dict:
        """Whose live session a browser's cookie brings to this replica (None: forged or ended)."""
        from ui.guard import app_user_store

        store = app_user_store()
        token = store.token_from_cookie(value)
        return {"user": store.check_session(token).username if token else None}

    def _run(self, *_changed) -> dict:
        """Run the session with the widgets as just changed, and say what it shows."""
        at = self.at.run()
        state = at.session_state
        user = state["user"] if "user" in state else None
        return {"user": user.username if user else None,
                "token": state["auth_token"] if "auth_token" in state else None,
                "turns": [t["question"] for t in state["turns"]] if "turns" in state else [],
                "first_admin_form": any("first administrator" in m.value for m in at.markdown),
                "sign_in_form": any(b.label == "Sign in" for b in at.button),
                "errors": [e.value for e in at.error], "exceptions": [str(e.value) for e in at.exception]}


def main() -> None:
    out, sys.stdout = sys.stdout, sys.stderr  # the answers alone on stdout
    replica = Replica()
    for line in sys.stdin:
        command = json.loads(line)
        try:
            result = getattr(replica, command.pop("op"))(**command)
        except Exception:
            result = {"failed": traceback.format_exc()}
        out.write(json.dumps(result, default=str) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
