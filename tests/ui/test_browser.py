"""End to end in a real headless Chromium: start the app, ask, wait for the cited answer, take a screenshot."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ui.conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.model, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(app_env, tmp_path):
    port = _free_port()
    log = open(tmp_path / "streamlit.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ, **app_env}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            assert proc.poll() is None, (tmp_path / "streamlit.log").read_text()
            time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_ask_in_a_real_browser_shows_a_cited_answer(server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            started = time.time()
            page.goto(server)
            page.get_by_label("User name", exact=True).fill("eve")  # an employee (see conftest.USERS)
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            box = page.get_by_placeholder("Ask about policies")
            expect(box).to_be_visible(timeout=60_000)
            box.fill("How many days of annual leave do full-time staff get?")
            box.press("Enter")
            source = page.get_by_text("leave_policy.pdf · page", exact=False).first
            expect(source).to_be_visible(timeout=240_000)
            answer_seconds = time.time() - started
            expect(page.get_by_text("25 days", exact=False).first).to_be_visible()
            expect(page.locator("mark.kb-quote").first).to_be_visible()
            expect(page.get_by_role("img").first).to_be_visible(timeout=30_000)  # the cited page, highlighted
            page.screenshot(path=str(ARTIFACTS / "ask.png"), full_page=True)
            (ARTIFACTS / "ask.txt").write_text(f"first answer {answer_seconds:.1f} s after opening the page\n")
        finally:
            browser.close()
