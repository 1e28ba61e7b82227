"""Screenshots of what a person sees, light and dark: the sign-in page, the Ask page with a cited answer, and
with a refusal. ``python -m tests.ui.screenshots --out tests/artifacts/after`` (``--app-root DIR`` for another
checkout's web app, e.g. the code before a change: ``git archive HEAD~1 | tar -x -C /tmp/before``).

The app runs as ``kb serve`` runs it, on the sample documents indexed with the product's defaults (the index of
``bench.browser_first_text``, built on first use), in headless Chromium (Debian's ``/usr/bin/chromium``)."""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

from bench.browser_first_text import ARGS, BOX, CACHE, CHROMIUM, PASSWORD, ROOT, ensure_index, serve

ANSWERED = "How many days of annual leave do full-time staff get?"
REFUSED = "What is the weather on Mars today?"


def shoot(url: str, out: Path, scheme: str, user: str) -> list[Path]:
    """The three pictures in one colour scheme ("light" or "dark"), signed in as ``user``; returns their paths."""
    from playwright.sync_api import expect, sync_playwright

    shots = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 1000}, color_scheme=scheme).new_page()
            page.set_default_timeout(180_000)
            page.goto(url)
            expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=120_000)
            page.wait_for_timeout(1500)
            shots.append(out / f"sign-in-{scheme}.png")
            page.screenshot(path=str(shots[-1]), full_page=True)
            page.get_by_label("User name", exact=True).fill(user)
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            for question, name in ((ANSWERED, "answer"), (REFUSED, "refusal")):
                new = page.get_by_role("button", name="New conversation")
                if new.count() and new.is_enabled():
                    new.click()
                    expect(page.get_by_test_id("stChatMessage")).to_have_count(0, timeout=60_000)
                box = page.get_by_placeholder(BOX)
                expect(box).to_be_visible(timeout=120_000)
                box.fill(question)
                box.press("Enter")
                expect(page.get_by_test_id("stChatMessage").get_by_test_id("stFeedback").first).to_be_visible(
                    timeout=600_000)  # 👍/👎: the answer is drawn in full
                page.wait_for_timeout(2000)  # page pictures, fonts
                messages = page.get_by_test_id("stChatMessage")  # the question at the top, its answer below it
                messages.nth(messages.count() - 2).evaluate("e => e.scrollIntoView({block: 'start'})")
                page.wait_for_timeout(500)
                shots.append(out / f"ask-{name}-{scheme}.png")
                page.screenshot(path=str(shots[-1]), full_page=True)
        finally:
            browser.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.ui.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "artifacts" / "after")
    parser.add_argument("--app-root", type=Path, default=ROOT, help="the checkout whose web app is shown")
    parser.add_argument("--url", default="", help="an app already running on that index instead of starting one")
    parser.add_argument("--index", type=Path, default=CACHE / "browser-first-text" / "index")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    user = f"shots{int(time.time())}"  # a new user: a sidebar without earlier runs' conversations
    env = ensure_index(args.index, [user])
    with contextlib.nullcontext(args.url) if args.url else serve(args.app_root.resolve(), env,
                                                                args.out / "streamlit.log") as url:
        for scheme in ("light", "dark"):
            for path in shoot(url, args.out, scheme, user):
                print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
