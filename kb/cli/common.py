"""What every ``kb`` command shares: options, settings, JSON output, progress bars, error rendering."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import click

from kb.errors import KBError
from kb.files import valid_utf8

if TYPE_CHECKING:  # pragma: no cover
    from kb.knowledge_base import KnowledgeBase
    from kb.settings import Settings

NOISY_LOGGERS = ("sentence_transformers", "transformers", "faiss", "bm25s", "httpx", "huggingface_hub")

index_option = click.option("--index", "index", type=click.Path(path_type=Path), default=None,
                            help="Index folder (default: setting index_dir, indexes/default).")
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
progress_option = click.option("--progress/--no-progress", default=None,
                               help="Progress bars (default: when stderr is a terminal).")
user_option = click.option("--user", "username", default=None, metavar="NAME",
                           help="Read as this user (see `kb users`): only the documents the access rules give them.")
admin_option = click.option("--as-admin", is_flag=True,
                            help="Read every document, as an admin (with access rules set, this or --user is "
                                 "required).")


def setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
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
        user = UserStore(kb.settings).get_user(username)
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


def progress_bar(enabled: bool) -> Callable[[str, int, int], None] | None:
    """A progress callback drawing one tqdm bar per stage on stderr."""
    if not enabled:
        return None
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}
    labels = {"parse": "parsing files", "index": "building index"}

    def update(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=labels.get(stage, stage), unit="file" if stage == "parse"
                                     else "step", file=sys.stderr, leave=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


def show_progress(flag: bool | None) -> bool:
    """--progress/--no-progress, defaulting to whether stderr is a terminal."""
    return sys.stderr.isatty() if flag is None else flag


def jsonl(handle, field: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-empty line of a JSONL input that has ``field``."""
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            item[field]
        except (ValueError, KeyError, TypeError):
            raise click.UsageError(f'line {number} of the batch file is not a JSON object with a "{field}" '
                                   "field") from None
        yield number, item


def print_hits(hits) -> None:
    if not hits:
        click.echo("no matching passages")
    for hit in hits:
        c = hit.chunk
        where = f"{c.name}" + (f" p.{c.page}" if c.page else "") + (f" — {c.heading}" if c.heading else "")
        snippet = " ".join(c.text.split())
        click.echo(f"{hit.rank:>2}. [{hit.score:.4f}] {where}\n    {snippet[:300]}{'…' if len(snippet) > 300 else ''}")


class Group(click.Group):
    """The ``kb`` group: a KBError ends the command with its message and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KBError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)
