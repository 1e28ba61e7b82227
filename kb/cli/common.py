"""What every ``kb`` command shares: options, settings, JSON output, progress bars, error rendering."""

from __future__ import annotations

import json
import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import click

from kb.errors import InvalidQuestion, KBError
from kb.files import valid_utf8
from kb.text.questions import check_question

if TYPE_CHECKING:  # pragma: no cover
    from kb.knowledge_base import KnowledgeBase
    from kb.settings import Settings

NOISY_LOGGERS = ("sentence_transformers", "transformers", "faiss", "bm25s", "httpx", "huggingface_hub")

index_option = click.option("--index", "index", type=click.Path(path_type=Path), default=None,
                            help="Index folder (default: setting index_dir, indexes/default).")
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
progress_option = click.option("--progress/--no-progress", default=None,
                               help="Progress on stderr (default: bars on a terminal, plain lines otherwise, "
                                    "nothing with --json).")
user_option = click.option("--user", "username", default=None, metavar="NAME",
                           help="Read as this user (see `kb users`): only the documents the access rules give them.")
admin_option = click.option("--as-admin", is_flag=True,
                            help="Read every document, as an admin (with access rules set, this or --user is "
                                 "required).")


def setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    # the handler filters too: bm25s sets its own logger to DEBUG when it is imported (after this runs), and a
    # logger's level, not the root's, decides what reaches the root's handlers
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def load_settings(ctx: click.Context, index: Path | None = None, **overrides) -> "Settings":
    """Settings from the file given with --config (or kb.toml / $KB_CONFIG), KB_* and these flags."""
    from kb.settings import Settings

    return Settings.load(ctx.obj["config"], index_dir=index, **overrides)


def open_kb(ctx: click.Context, index: Path | None = None, **overrides) -> "KnowledgeBase":
    from kb.knowledge_base import KnowledgeBase

    return KnowledgeBase(load_settings(ctx, index, **overrides))


def reader(kb: "KnowledgeBase", username: str | None, as_admin: bool):
    """Who a ``kb search`` / ``kb ask`` reads as: the user named by --user, an admin with --as-admin, or (only
    without access rules) nobody in particular. With rules set, a broken rules file stops the command here."""
    from kb.access.users import User, UserError, UserStore
    from kb.settings import is_set

    if username and as_admin:
        raise click.UsageError("give --user NAME or --as-admin, not both")
    rules = kb.settings.acl_rules
    if username:
        store = UserStore(kb.settings)
        if not store.exists:  # reading must not create an empty users file
            raise UserError(f"no user named {username!r}: there is no users file at {store.path} (give --index, "
                            "or see `kb users list`)")
        user = store.get_user(username)
        if user is None:
            raise UserError(f"no user named {username!r} (see `kb users list`)")
    elif as_admin:
        user = User("(kb --as-admin)", "admin")
    elif is_set(rules):
        raise click.UsageError(f"access rules are set (acl_rules = {rules}): give --user NAME to read as that "
                               "user, or --as-admin to read every document")
    else:
        return None
    if is_set(rules):
        kb.check_access()  # fail closed before any passage is printed
    return user


def emit(data) -> None:
    """One JSON document on stdout (the stable contract of ``--json``); always valid UTF-8."""
    click.echo(json.dumps(_valid(data), ensure_ascii=False))


def _valid(data):
    """``data`` with text that is not valid UTF-8 (lone surrogates from an odd file name) escaped as \\xNN."""
    if isinstance(data, str):
        return valid_utf8(data)
    if isinstance(data, dict):
        return {_valid(k): _valid(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_valid(v) for v in data]
    return data


STAGES = {"parse": ("parsing files", "file"), "embed": ("embedding passages", "passage"),
          "index": ("building index", "step"), "questions": ("questions", "question")}


def progress_bar(mode: str | bool | None) -> Callable[[str, int, int], None] | None:
    """A progress callback for ``mode`` (see :func:`show_progress`): "bar" draws one tqdm bar per stage on
    stderr, "lines" prints a plain line per tenth of each stage (logs, CI), None shows nothing."""
    if mode is True:
        mode = "bar"
    if mode == "lines":
        return _progress_lines()
    if mode != "bar":
        return None
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(stage: str, done: int, total: int) -> None:
        label, unit = STAGES.get(stage, (stage, "step"))
        for other, open_bar in list(bars.items()):  # a finished stage's bar goes once the next one moves
            if other != stage and open_bar.n >= (open_bar.total or 0):
                open_bar.close()
                del bars[other]
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=label, unit=unit, file=sys.stderr, leave=False)
        if bar.total != total:  # the embedding stage's total grows while files are still being parsed
            bar.total = total
        bar.n = done
        bar.refresh()
        if done >= total and stage != "embed":  # more chunks may come while files are still being parsed
            bar.close()
            del bars[stage]

    return update


def _progress_lines() -> Callable[[str, int, int], None]:
    shown: dict[str, tuple[int, int]] = {}  # stage -> (tenth, done) last printed

    def update(stage: str, done: int, total: int) -> None:
        label, _ = STAGES.get(stage, (stage, "step"))
        tenth = 10 if total <= 0 or done >= total else done * 10 // total
        last_tenth, last_done = shown.get(stage, (-1, -1))
        # a stage whose total grows (embedding while files are parsed) may finish more than once
        if last_tenth < tenth or (tenth == 10 and done > last_done):
            shown[stage] = (tenth, done)
            click.echo(f"{label}: {done}/{total}", err=True)

    return update


def show_progress(flag: bool | None, as_json: bool = False, lines: bool = False) -> str | None:
    """How to show progress: --progress forces bars, --no-progress nothing; by default bars when stderr is a
    terminal, otherwise plain lines where ``lines`` (ingest, reindex), and nothing extra with --json."""
    if flag is not None:
        return "bar" if flag else None
    if as_json:
        return None
    if sys.stderr.isatty():
        return "bar"
    return "lines" if lines else None


class Spinner:
    """"⠋ Loading models…" on a terminal's stderr while a slow call runs (nothing when stderr is not a tty)."""

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, text: str, enabled: bool | None = None):
        self.text = text
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "Spinner":
        if self.enabled:
            self._thread = threading.Thread(target=self._spin, name="kb-spinner", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            sys.stderr.write("\r\033[K")  # clear the line: what follows starts clean
            sys.stderr.flush()

    def _spin(self) -> None:
        frame = 0
        while not self._stop.wait(0.1 if frame else 0):
            sys.stderr.write(f"\r{self.FRAMES[frame % len(self.FRAMES)]} {self.text}")
            sys.stderr.flush()
            frame += 1


MAX_BATCH_LINE_BYTES = 1 << 20  # a --batch line longer than this is refused unread (a question is far shorter)
_UTF8_BOM, _UTF16_BOMS = b"\xef\xbb\xbf", (b"\xff\xfe", b"\xfe\xff")


def batch_file(kind: str):
    """The ``--batch FILE`` option of ``kb ask`` / ``kb search``, read as bytes by :func:`batch_lines`."""
    return click.option("--batch", type=click.File("rb"), default=None,
                        help=f'JSONL file (or - for stdin) of {{"id", "{kind}"}} lines; one JSON line out per line '
                             "in. A line that cannot be used is reported (with its line number) and the others go "
                             "on; the command then exits with status 2.")


@dataclass
class BatchLine:
    """One line of a ``--batch`` file: its checked text, or why it cannot be used."""

    number: int
    id: Any  # the line's "id", else its line number
    text: str = ""
    error: str = ""
    problem: str = ""  # InvalidQuestion's problem, or "not_utf8", "too_long_line", "not_json", "no_field"

    def to_json(self) -> dict:
        return {"id": self.id, "line": self.number, "error": self.error, "problem": self.problem}


def batch_lines(handle, field: str, settings: "Settings", what: str) -> Iterator[BatchLine]:
    """Each non-blank line of a JSONL ``--batch`` file (opened in binary) as a :class:`BatchLine`: the ``field``
    of its JSON object, checked like a typed question (``kb.text.questions``), or a specific error. A UTF-8
    byte-order mark is skipped; a UTF-16 file is refused as a whole (every line would be unreadable); no line is
    held in memory beyond ``MAX_BATCH_LINE_BYTES``."""
    number = 0
    while True:
        raw = handle.readline(MAX_BATCH_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if number == 1:
            if raw.startswith(_UTF16_BOMS):
                raise click.UsageError("the batch file is UTF-16 text (it starts with a UTF-16 byte-order mark); "
                                       "save it as UTF-8")
            raw = raw.removeprefix(_UTF8_BOM)  # what Windows editors add: not part of the first line's JSON
        line = BatchLine(number, number)
        if len(raw) > MAX_BATCH_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of the line without holding it
                raw = handle.readline(MAX_BATCH_LINE_BYTES)
            line.error, line.problem = (f"line {number} is longer than {MAX_BATCH_LINE_BYTES:,} bytes; a line "
                                        f'holds one JSON object such as {{"id": 1, "{field}": "..."}}',
                                        "too_long_line")
            yield line
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line.error, line.problem = (f"line {number} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                                        f"position {exc.start + 1}): save the file as UTF-8", "not_utf8")
            yield line
            continue
        if not text.strip():
            continue
        try:
            item = json.loads(text)
        except ValueError as exc:
            line.error, line.problem = f"line {number} is not valid JSON ({exc})", "not_json"
            yield line
            continue
        if not isinstance(item, dict) or field not in item:
            got = "an object without it" if isinstance(item, dict) else json.dumps(item)[:40]
            line.error, line.problem = (f'line {number} must be a JSON object with a "{field}" field, like '
                                        f'{{"id": 1, "{field}": "..."}}, not {got}', "no_field")
            yield line
            continue
        line.id = item.get("id", number)
        try:
            line.text = check_question(item[field], settings, what)
        except InvalidQuestion as exc:
            line.error, line.problem = f"line {number}: {exc}", exc.problem
        yield line


def run_batch(ctx: click.Context, handle, field: str, what: str, settings: "Settings", as_json: bool,
              each: Callable[[BatchLine], None]) -> None:
    """``each(line)`` for every usable line of a ``--batch`` file (see :func:`batch_lines`). A line that cannot
    be used gets a JSON line of its own with --json (so ids still line up), a message on stderr otherwise; the
    command then exits with status 2, after the others were answered."""
    refused = lines = 0
    for line in batch_lines(handle, field, settings, what):
        lines += 1
        if not line.error:
            each(line)
            continue
        refused += 1
        if as_json:
            emit(line.to_json())
        else:
            click.echo(f"error: {line.error}", err=True)
    if refused:
        click.echo(f"error: {refused} of {lines} batch line(s) could not be used (see above); the others were "
                   "answered", err=True)
        ctx.exit(2)


def evidence(hit) -> str:
    """Why a passage ranks where it does, in words: 'meaning #1, keyword #2, judge 0.83' (the raw scores are
    in --json)."""
    parts = []
    if hit.dense_rank is not None:
        parts.append(f"meaning #{hit.dense_rank}")
    if hit.keyword_rank is not None:
        parts.append(f"keyword #{hit.keyword_rank}")
    if getattr(hit, "judge_score", None) is not None:
        parts.append(f"judge {hit.judge_score:.2f}")
    return ", ".join(parts) or "no retriever rank"


def print_hits(hits) -> None:
    if not hits:
        click.echo("no matching passages")
    for hit in hits:
        c = hit.chunk
        where = f"{c.name}" + (f" p.{c.page}" if c.page else "") + (f" — {c.heading}" if c.heading else "")
        snippet = " ".join(c.text.split())
        click.echo(f"{hit.rank:>2}. {where}  ({evidence(hit)})\n    {snippet[:300]}{'…' if len(snippet) > 300 else ''}")


class Group(click.Group):
    """The ``kb`` group: a KBError ends the command with its message and exit status 1 (2 for a question or
    query that is refused as typed, like a usage error)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InvalidQuestion as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)
        except KBError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)
