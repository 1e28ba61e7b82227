"""Browser first text: seconds from Enter in the Ask page's chat box to the first answer text a person sees.

The web app runs as ``kb serve`` runs it (``streamlit run ui/server.py``) on an index of ``sample_docs`` built
with the real models and default settings (quote mode, the judge on). A real headless Chromium (Debian's
``/usr/bin/chromium`` through Playwright, as ``tests/ui/test_browser.py``) signs in and asks the sample
questions one by one, starting a new conversation before every question that is not a follow-up. The clock
is the page's own (``performance.now()``): it starts at the Enter key's ``keydown`` and stops when the new
assistant message first shows text outside its status line (``first_text``), and when its 👍/👎 appear, i.e.
the answer is drawn in full with its sources (``complete``). The footer's "Answered in X s" is read back and
compared with ``complete``.

``--load N`` measures a second time while N other signed-in browsers ask questions without pause (each its own
Chromium, in its own process): the app under load. ``--app-root DIR`` runs another checkout's ``ui/`` (say the
code before a change, exported with ``git archive``) on the same index, so before and after compare like for
like; run both on the same machine at similar load (the load average is in the JSON).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import CACHE, ROOT, Column, Run, make_parser, print_table

log = logging.getLogger("bench.browser_first_text")

NAME = "browser_first_text"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "bench password 1234"
BOX = "Ask about policies"

# Installed in the page before each question: timestamps on the page's clock for Enter, the new assistant
# message's first text (markdown outside the status line, a spinner and the source panels) and its 👍/👎
# (drawn last, with the finished answer). Generic DOM, so that older versions of the app are measured alike.
PROBE = """(before) => {
  const probe = {enter: null, first: null, complete: null, footer: null, text: ""};
  window.__kbProbe = probe;
  const assistants = () => [...document.querySelectorAll('[data-testid="stChatMessage"]')]
    .filter((m) => m.querySelector('[data-testid="stChatMessageAvatarAssistant"]'));
  const check = () => {
    if (probe.enter === null) return;
    const message = assistants()[before];
    if (!message) return;
    if (probe.first === null) {
      const texts = [...message.querySelectorAll('[data-testid="stMarkdownContainer"]')]
        .filter((m) => !m.closest('[data-testid="stExpander"]') && !m.closest('[data-testid="stCaptionContainer"]')
                       && !m.closest('[data-testid="stSpinner"]'))
        .map((m) => m.innerText.replace(/[\\s▌]+/g, " ").trim()).filter((t) => t);
      if (texts.length) { probe.first = performance.now(); probe.text = texts[0].slice(0, 200); }
    }
    if (probe.first !== null && probe.complete === null && message.querySelector('[data-testid="stFeedback"]')) {
      probe.complete = performance.now();
      const footer = [...message.querySelectorAll('[data-testid="stCaptionContainer"]')]
        .map((c) => c.innerText).find((t) => /Answered in/.test(t));
      probe.footer = footer || null;
    }
  };
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true, characterData: true});
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && probe.enter === null) probe.enter = performance.now();
  }, {capture: true});
}"""


def parse_args(argv: list[str] | None = None):
    parser = make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--app-root", default=".",
                        help="the checkout whose ui/server.py (and kb package) serves the page; several as "
                             "LABEL=DIR,LABEL=DIR are measured side by side, each question asked in one after the "
                             "other (e.g. before=/tmp/before,after=.); an http:// URL instead of a DIR measures an "
                             "app already running on the same index (warm models)")
    parser.add_argument("--label", default="", help="a name for this run in the JSON file name")
    parser.add_argument("--index", type=Path, default=CACHE / "browser-first-text" / "index",
                        help="index of sample_docs (built with the real models when missing)")
    parser.add_argument("--questions", type=Path, default=ROOT / "sample_docs" / "questions.jsonl")
    parser.add_argument("--limit", type=int, default=0, help="ask only the first N questions (0: all)")
    parser.add_argument("--load", default="0,2", help="comma-separated numbers of other browsers asking at the "
                                                      "same time (0: the app otherwise idle)")
    parser.add_argument("--timeout", type=float, default=180.0, help="give up on one question after this long")
    parser.add_argument("--background", nargs=2, metavar=("URL", "USER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.limit = args.limit or 8
        args.load = "0"
    return args


def questions(path: Path, limit: int) -> list[dict]:
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return items[:limit] if limit else items


def ensure_index(index: Path, users: list[str]) -> dict:
    """The sample documents indexed with the product's defaults (built once), with the bench's users."""
    from kb import KnowledgeBase, Settings
    from kb.access.users import UserStore

    docs = index.parent / "docs"
    settings = Settings(index_dir=index, docs_dir=docs)
    if not (index / "CURRENT").exists():
        shutil.rmtree(index.parent, ignore_errors=True)
        shutil.copytree(ROOT / "sample_docs", docs)
        log.info("indexing %s with the real embedding model", docs)
        KnowledgeBase(settings).ingest([docs])
    store = UserStore(settings)
    known = {u.username for u in store.list_users()}
    for name in users:
        if name not in known:
            store.add_user(name, PASSWORD, "employee", ())
    return {"KB_INDEX_DIR": str(index), "KB_DOCS_DIR": str(docs), "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(root: Path, env: dict, log_path: Path):
    """``streamlit run ROOT/ui/server.py`` (ROOT's kb package first on the path) until the block ends."""
    port = _free_port()
    out = open(log_path, "wb")
    environ = {**os.environ, **env, "PYTHONPATH": str(root)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(root / "ui" / "server.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--client.toolbarMode", "viewer"], cwd=root, env=environ, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"the app did not start: see {log_path}") from None
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        out.close()


def sign_in(page, url: str, user: str) -> None:
    from playwright.sync_api import expect

    page.set_default_timeout(180_000)  # a busy machine: the first page load alone can take a minute
    page.goto(url)
    page.get_by_label("User name", exact=True).fill(user)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_placeholder(BOX)).to_be_visible(timeout=120_000)


def _assistant_count(page) -> int:
    return page.locator('[data-testid="stChatMessage"]:has([data-testid="stChatMessageAvatarAssistant"])').count()


def ask(page, question: str, timeout: float) -> dict:
    """Ask in the open conversation; the probe's timings in seconds (None where it never happened)."""
    before = _assistant_count(page)
    page.evaluate(PROBE, before)
    box = page.get_by_placeholder(BOX)
    box.fill(question)
    box.press("Enter")
    page.wait_for_function("() => window.__kbProbe.complete !== null", timeout=timeout * 1000, polling=100)
    probe = page.evaluate("() => window.__kbProbe")
    footer = probe.get("footer") or ""
    shown = None
    if "Answered in" in footer:
        with contextlib.suppress(ValueError, IndexError):
            shown = float(footer.split("Answered in", 1)[1].split("s", 1)[0].strip())
    return {"first_text": (probe["first"] - probe["enter"]) / 1000, "complete": (probe["complete"] - probe["enter"]) / 1000,
            "footer_seconds": shown, "text": probe["text"]}


def new_conversation(page) -> None:
    button = page.get_by_role("button", name="New conversation")
    if button.count() and button.is_enabled():
        button.click()
        page.wait_for_function("() => !document.querySelector('[data-testid=\"stChatMessage\"]')", timeout=60_000)


def measure(apps: dict[str, str], items: list[dict], timeout: float, user: str) -> dict[str, list[dict]]:
    """Ask every question in each app in turn (question 1 in A, then in B, then question 2...), so that apps
    compared side by side meet the same load; rows per app label."""
    from playwright.sync_api import sync_playwright

    rows: dict[str, list[dict]] = {label: [] for label in apps}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            pages = {}
            for label, url in apps.items():
                pages[label] = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
                sign_in(pages[label], url, user)
                ask(pages[label], items[0]["question"], 600)  # the models load on the first question: not timed
            for item in items:
                for label, page in pages.items():
                    if not item.get("follow_up_of"):
                        new_conversation(page)
                    try:
                        row = ask(page, item["question"], timeout)
                    except Exception as exc:  # one stuck question must not lose the others' figures
                        log.warning("%s %s: %s", label, item.get("id"), exc)
                        row = {"first_text": None, "complete": None, "footer_seconds": None, "text": "",
                               "error": str(exc)}
                    rows[label].append({"id": item.get("id"), "question": item["question"], **row})
                    log.info("%s %s: first text %s s, complete %s s, footer %s", label, item.get("id"),
                             _s(row["first_text"]), _s(row["complete"]), row["footer_seconds"])
        finally:
            browser.close()
    return rows


def _s(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def background(url: str, user: str, items: list[dict]) -> None:
    """A load generator: one signed-in browser asking the questions over and over until it is stopped."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        sign_in(page, url, user)
        for n in range(10**9):
            item = items[n % len(items)]
            if not item.get("follow_up_of"):
                new_conversation(page)
            with contextlib.suppress(Exception):
                ask(page, item["question"], 600)


def summary(rows: list[dict], label: str, load: int) -> dict:
    """p50/p95 of first text and complete answer, and how far the footer's time is from the complete one."""
    def pct(key: str, q: float):
        values = [r[key] for r in rows if r.get(key) is not None]
        return round(float(np.percentile(values, q)), 3) if values else None

    gaps = [r["complete"] - r["footer_seconds"] for r in rows if r.get("footer_seconds") is not None
            and r.get("complete") is not None]
    return {"run": label, "load": load, "n": sum(r.get("first_text") is not None for r in rows),
            "first_p50": pct("first_text", 50), "first_p95": pct("first_text", 95),
            "complete_p50": pct("complete", 50), "complete_p95": pct("complete", 95),
            "footer_gap_p50": round(float(np.median(gaps)), 3) if gaps else None,
            "errors": sum("error" in r for r in rows)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.background:
        background(*args.background, questions(args.questions, 0))
        return 0
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    roots = dict(part.split("=", 1) if "=" in part else ("this checkout" if part == "." else part, part)
                 for part in args.app_root.split(","))
    run = Run.start(f"{NAME}-{args.label}" if args.label else NAME, args)
    items = questions(args.questions, args.limit)
    loads = [int(x) for x in args.load.split(",") if x.strip()]
    users = ["bench"] + [f"load{i}" for i in range(1, max(loads + [0]) * len(roots) + 1)]
    env = ensure_index(args.index, users)
    results, rows_all = [], {}
    with contextlib.ExitStack() as stack:
        apps = {label: root if root.startswith("http") else stack.enter_context(
                    serve(Path(root).resolve(), env, args.index.parent / f"streamlit-{label.replace(' ', '-')}.log"))
                for label, root in roots.items()}
        for load in loads:
            names = iter(users[1:])
            loaders = [subprocess.Popen([sys.executable, "-m", "bench.browser_first_text", "--questions",
                                         str(args.questions), "--background", url, next(names)], cwd=ROOT,
                                        start_new_session=True) for url in apps.values() for _ in range(load)]
            try:
                if loaders:
                    time.sleep(30)  # let them sign in and start asking
                rows = measure(apps, items, args.timeout, "bench")
            finally:
                for proc in loaders:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(30)
            for label, app_rows in rows.items():
                results.append(summary(app_rows, label, load))
                rows_all[f"{label}, load {load}"] = app_rows
    print_table(results, [Column("run", "app", align="<"), Column("load", "other askers"), Column("n", "questions"),
                          Column("first_p50", "first text p50 s", ".2f"), Column("first_p95", "p95 s", ".2f"),
                          Column("complete_p50", "complete p50 s", ".2f"), Column("complete_p95", "p95 s", ".2f"),
                          Column("footer_gap_p50", "complete - footer p50 s", ".2f"), Column("errors", "errors")],
                title="Enter -> first answer text in headless Chromium")
    run.finish(args.results_dir, summary=results, questions=rows_all, apps=roots)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
