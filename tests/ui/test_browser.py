"""End to end in a real headless Chromium: start the app, ask, wait for the cited answer, take a screenshot; and,
on the hashed-embedder index behind ``ui/server.py``, both colour schemes readable, a reload that keeps the
sign-in and the conversation, the copy button, and signing out for good. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import contextlib
import os
import re
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

BUSY_MS = 120_000  # a page load, a click's rerun: on a busy 2-core machine these take tens of seconds

pytestmark = [pytest.mark.model, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _serve(env: dict, tmp_path: Path, script: str):
    port = _free_port()
    log = open(tmp_path / "streamlit.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / script), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--client.toolbarMode", "viewer"],
        cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            assert proc.poll() is None, (tmp_path / "streamlit.log").read_text()
            time.sleep(0.5)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def server(app_env, tmp_path):
    with _serve(app_env, tmp_path, "app.py") as url:
        yield url


@pytest.fixture
def hashed_server(hashed_app_env, tmp_path):
    """The app as ``kb serve`` runs it (ui/server.py: download guard, session cookie), without models."""
    with _serve(hashed_app_env, tmp_path, "server.py") as url:
        yield url

def _sign_in(page, url: str, user: str) -> None:
    """Open the app and sign in; on a busy 2-core machine a page load or a click's rerun takes tens of seconds."""
    page.set_default_timeout(BUSY_MS)
    page.goto(url)
    page.get_by_label("User name", exact=True).fill(user)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()



def test_ask_in_a_real_browser_shows_a_cited_answer(server):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # checks of what a click changed, on a busy machine

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            started = time.time()
            _sign_in(page, server, "eve")  # an employee (see conftest.USERS)
            box = page.get_by_placeholder("Ask about policies")
            box.fill("How many days of annual leave do full-time staff get?")
            box.press("Enter")
            source = page.get_by_text("leave_policy.pdf · page", exact=False).first
            expect(source).to_be_visible(timeout=240_000)
            answer_seconds = time.time() - started
            expect(page.get_by_text("25 days", exact=False).first).to_be_visible()
            expect(page.locator("mark.kb-quote").first).to_be_visible()
            expect(page.get_by_role("img").first).to_be_visible(timeout=30_000)  # the cited page, highlighted
            page.screenshot(path=str(ARTIFACTS / "ask.png"), full_page=True)

            # the same question again, the models loaded: how soon each stage and the first words show
            page.get_by_role("button", name="New conversation").click()
            expect(page.get_by_text("25 days", exact=False)).to_have_count(0, timeout=30_000)
            box.fill("How many days of annual leave do full-time staff get?")
            box.press("Enter")
            pressed = time.time()
            stage = page.get_by_test_id("stChatMessage").get_by_text("Searching the documents", exact=False).or_(
                page.get_by_test_id("stChatMessage").get_by_text("Reading ", exact=False))
            expect(stage.first).to_be_visible(timeout=120_000)
            stage_seconds = time.time() - pressed
            page.screenshot(path=str(ARTIFACTS / "ask-stage.png"))  # what the user sees while the answer is made
            expect(page.get_by_text("25 days", exact=False).first).to_be_visible(timeout=120_000)
            text_seconds = time.time() - pressed
            (ARTIFACTS / "ask.txt").write_text(
                f"first answer {answer_seconds:.1f} s after opening the page (models loading meanwhile); asked "
                f"again with the models loaded: first stage shown {stage_seconds:.1f} s and first answer text "
                f"{text_seconds:.1f} s after pressing Enter\n")
        finally:
            browser.close()


# WCAG contrast of an element's text against what is really behind it (translucent layers composed)
CONTRAST = """(element) => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const layers = [];
  for (let node = element; node && node.nodeType === 1; node = node.parentElement) {
    const bg = parse(getComputedStyle(node).backgroundColor);
    if (bg && bg[3] > 0) { layers.push(bg); if (bg[3] >= 1) break; }
  }
  let back = [255, 255, 255];
  for (const layer of layers.reverse()) back = back.map((v, i) => v * (1 - layer[3]) + layer[i] * layer[3]);
  const fg = parse(getComputedStyle(element).color);
  if (!fg) return null;  // mid-transition a colour may be reported in another space (oklab): ask again
  const text = fg.slice(0, 3).map((v, i) => v * fg[3] + back[i] * (1 - fg[3]));
  const lum = (c) => { const s = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * s[0] + 0.7152 * s[1] + 0.0722 * s[2]; };
  const [hi, lo] = [lum(text), lum(back)].sort((a, b) => b - a);
  return {ratio: (hi + 0.05) / (lo + 0.05), background: lum(back)};
}"""


def _contrast(page, locator) -> dict:
    """CONTRAST of ``locator`` once its colours have settled (a busy machine may still be transitioning)."""
    for _ in range(40):
        measured = locator.evaluate(CONTRAST)
        if measured is not None:
            return measured
        page.wait_for_timeout(250)
    raise AssertionError("the text colour never settled to an rgb() value")


def _readable(page, scheme: str) -> None:
    """The passage and its highlighted quote read at WCAG AA (4.5:1) in ``scheme``, on that scheme's background."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    passage = page.locator(".kb-passage").first
    expect(passage).to_be_visible(timeout=BUSY_MS)
    page.wait_for_timeout(500)  # the theme's transition
    text = _contrast(page, passage)
    assert text["ratio"] >= 4.5 and (text["background"] < 0.2) == (scheme == "dark"), (scheme, text)
    quote = _contrast(page, page.locator("mark.kb-quote").first)
    assert quote["ratio"] >= 4.5, (scheme, quote)
    # the question, answer and caption in view for the screenshot; a rerun may swap the element mid-scroll
    # ("not attached to the DOM" on a busy machine), so it is looked up again
    for _ in range(10):
        try:
            page.get_by_test_id("stChatMessage").first.evaluate("(e) => e.scrollIntoView()")
            break
        except PlaywrightError:
            page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"theme-{scheme}.png"), full_page=True)
    (ARTIFACTS / f"theme-{scheme}.txt").write_text(f"passage contrast {text['ratio']:.1f}:1, highlighted quote "
                                                   f"{quote['ratio']:.1f}:1\n")


def test_both_themes_readable_a_reload_keeps_sign_in_and_conversation_and_sign_out_ends_it(hashed_server):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # checks of what a click changed, on a busy machine

    question = "How many days of annual leave do full-time staff get?"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000}, color_scheme="light")
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hashed_server)
            page = context.new_page()
            _sign_in(page, hashed_server, "eve")
            box = page.get_by_placeholder("Ask about policies")
            box.fill(question)
            box.press("Enter")
            _readable(page, "light")
            picture = page.get_by_role("img", name="Page 1 of leave_policy.pdf, with the quoted passage marked in yellow")
            expect(picture).to_be_visible(timeout=BUSY_MS)  # the page picture has alt text
            unnamed = page.evaluate("""() => [...document.querySelectorAll('button, [role=button]')]
                .filter((b) => b.offsetParent !== null)
                .filter((b) => !(b.getAttribute('aria-label') || b.getAttribute('title') || b.innerText.trim()
                                 || b.getAttribute('aria-labelledby')))
                .map((b) => b.outerHTML.slice(0, 120))""")
            assert not unnamed, unnamed  # every button has an accessible name
            cookie = next(c for c in context.cookies() if c["name"] == "kb_session")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > time.time()

            page.get_by_role("button", name="Copy the answer").click()
            copied = page.evaluate("() => navigator.clipboard.readText()")
            assert "[1] leave_policy.pdf" in copied, copied

            page.get_by_test_id("stMainMenuButton").click()  # the theme can be switched from the app's menu
            expect(page.get_by_role("menuitemradio", name="Dark")).to_be_visible()
            page.keyboard.press("Escape")

            page.emulate_media(color_scheme="dark")  # the system setting changes, then the page is reloaded
            page.reload()
            expect(page.get_by_placeholder("Ask about policies")).to_be_visible(timeout=BUSY_MS)
            expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
            expect(page.get_by_test_id("stChatMessage").get_by_text(question)).to_be_visible()
            expect(page).to_have_url(re.compile(r"\?c="))  # the URL names the conversation once it is saved
            _readable(page, "dark")

            # a quoted table row (the onboarding guide's contacts table) is shown under its column headers
            box = page.get_by_placeholder("Ask about policies")
            box.fill("Who do I contact about pay, payslips and tax codes?")
            box.press("Enter")
            table = page.get_by_test_id("stTable").first
            expect(table.get_by_role("columnheader", name="Need help with")).to_be_visible(timeout=BUSY_MS)
            expect(table.get_by_role("columnheader", name="Contact", exact=True)).to_be_visible()
            expect(table.get_by_role("cell", name="Meera Shah, Payroll Manager")).to_be_visible()
            cell = _contrast(page, table.get_by_role("cell", name="Meera Shah, Payroll Manager"))
            assert cell["ratio"] >= 4.5, cell
            table.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "table-dark.png"))

            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30_000)
            page.wait_for_timeout(500)  # the page asks the server to clear the cookie
            page.reload()
            expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30_000)
            expect(page.get_by_placeholder("Ask about policies")).to_have_count(0)
        finally:
            browser.close()


def _placeholder(page, text: str):
    """A select box by the words it shows while empty (a text or, where it can be typed in, a placeholder)."""
    return page.get_by_placeholder(text).or_(page.get_by_text(text, exact=True)).first


def test_what_an_admin_trips_over_stays_fixed(hashed_server, hashed_app_env):
    """Issue 31's smaller items, as a person meets them: Copy says "Copied", New conversation clears ``?c=``, the
    dark theme survives a reload on /insights, the chart leaves the mouse wheel to the page, a rejected upload
    says why in words and a new pick clears it, a delete keeps the tab, and signing out leaves no page menu."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # checks of what a click changed, on a busy machine

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hashed_server)
            page = context.new_page()
            _sign_in(page, hashed_server, "ada")
            box = page.get_by_placeholder("Ask about policies")
            box.fill("How many days of annual leave do full-time staff get?")
            box.press("Enter")
            copy = page.get_by_role("button", name="Copy the answer")
            expect(copy).to_be_visible(timeout=120_000)
            copy.click()
            expect(copy).to_have_text("Copied")  # feedback that it worked
            expect(page).to_have_url(re.compile(r"\?c="))  # the URL names the conversation once it is saved
            page.get_by_role("button", name="New conversation").click()
            expect(page.get_by_test_id("stChatMessage")).to_have_count(0, timeout=30_000)
            page.wait_for_timeout(500)
            assert "c=" not in page.url, page.url

            page.get_by_test_id("stMainMenuButton").click()  # the dark theme, picked in the menu on the Ask page
            page.get_by_role("menuitemradio", name="Dark").click()
            page.keyboard.press("Escape")
            page.get_by_role("link", name="Insights").click()
            expect(page.get_by_role("heading", name="Insights")).to_be_visible(timeout=BUSY_MS)
            page.reload()  # ... is still dark after a reload on /insights
            expect(page.get_by_role("heading", name="Questions per day")).to_be_visible(timeout=BUSY_MS)
            page.wait_for_timeout(500)
            dark = _contrast(page, page.get_by_role("heading", name="Insights"))
            assert dark["background"] < 0.2, dark
            page.screenshot(path=str(ARTIFACTS / "insights-dark.png"), full_page=True)

            chart = page.locator(".vega-embed").first  # the wheel over the chart scrolls the page, no zoom
            chart.scroll_into_view_if_needed()
            where = chart.bounding_box()
            page.mouse.move(where["x"] + where["width"] / 2, where["y"] + where["height"] / 2)
            page.mouse.wheel(0, 300)
            page.wait_for_timeout(500)
            assert chart.bounding_box()["y"] < where["y"] - 100  # the page moved up under the mouse
            labels = chart.locator("text").all_text_contents()  # SVG text has no innerText
            assert not [t for t in labels if t.strip().startswith(("-", "−"))], labels  # no negative axis

            page.get_by_role("link", name="Documents").click()
            picker = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
            expect(picker).to_be_attached(timeout=BUSY_MS)
            picker.set_input_files([{"name": "setup.exe", "mimeType": "application/octet-stream",
                                     "buffer": b"MZ\x90\x00 a program"}])
            reason = page.get_by_text("Rejected: file type '.exe' is not accepted", exact=False)
            expect(reason).to_be_visible(timeout=30_000)  # in words on the page, not only in a tooltip
            page.locator('[data-testid="stFileChipDeleteBtn"] button').first.click()  # the picked file's x
            expect(reason).to_have_count(0, timeout=30_000)  # the old rejection goes with the file
            picker.set_input_files([{"name": "memo.txt", "mimeType": "text/plain",
                                     "buffer": b"The canteen closes at 3 pm on Fridays.\n"}])
            # each step waits for the redraw the one before caused: a pick made while the page is redrawn is lost
            expect(page.get_by_test_id("stFileChipName").filter(has_text="memo.txt")).to_be_visible(timeout=BUSY_MS)
            expect(page.get_by_test_id("stFileChipIconSpinner")).to_have_count(0, timeout=BUSY_MS)
            expect(reason).to_have_count(0)  # and no old rejection comes back with the new pick
            expect(page.get_by_text("Choose the folder the files belong in")).to_be_visible(timeout=BUSY_MS)
            _placeholder(page, "Choose a folder").click()  # no folder is chosen for the admin
            page.get_by_role("option", name="general").click()
            upload = page.get_by_role("button", name="Upload and index")
            expect(upload).to_be_enabled(timeout=BUSY_MS)
            upload.click()
            expect(page.get_by_text("Uploaded memo.txt", exact=False)).to_be_visible(timeout=BUSY_MS)

            page.get_by_role("tab", name="All documents").click()
            _placeholder(page, "Choose a document").click()
            page.keyboard.type("memo")  # the list shows its first documents; typing narrows it
            page.get_by_role("option", name="general/memo.txt").click()
            confirm = page.get_by_text("Yes, delete the file")
            for _ in range(2):  # a redraw still under way from the upload can show the first tab again: back once
                try:
                    expect(confirm).to_be_visible(timeout=BUSY_MS // 2)
                    break
                except AssertionError:
                    page.get_by_role("tab", name="All documents").click()
            confirm.click()
            page.get_by_role("button", name="Delete", exact=True).click()
            expect(page.get_by_text("Deleted ", exact=False).first).to_be_visible(timeout=BUSY_MS)
            expect(page.get_by_role("tab", name="All documents")).to_have_attribute("aria-selected", "true")

            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30_000)
            expect(page.get_by_role("link", name="Insights")).to_have_count(0)
            expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
        finally:
            browser.close()


def test_the_model_loading_notice_goes_once_the_models_are_ready(hashed_app_env, tmp_path):
    """Without a click: the sidebar's "Loading the language model…" disappears when the warm-up ends (generate mode,
    so that the generator's load keeps it on screen long enough to be seen)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # checks of what a click changed, on a busy machine

    with _serve({**hashed_app_env, "KB_ANSWER_MODE": "generate"}, tmp_path, "server.py") as url, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            _sign_in(page, url, "eve")
            notice = page.get_by_text("Loading the language model…")
            expect(notice).to_be_visible(timeout=BUSY_MS)
            expect(notice).to_have_count(0, timeout=300_000)
        finally:
            browser.close()
