"""What every ``kb`` command shares: options, settings, JSON output, progress bars, error rendering."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import click

from kb.errors import KBError

if TYPE_CHECKING:  # pragma: no cover
    from kb.knowledge_base import KnowledgeBase
    from kb.settings import Settings

NOISY_LOGGERS = ("sentence_transformers", "transformers", "faiss", "bm25s", "httpx", "huggingface_hub")

index_option = click.option("--index", "index", type=click.Path(path_type=Path), default=None,
                            help="Index folder (default: setting index_dir, indexes/default).")
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
progress_option = click.option("--progress/--no-progress", default=None,
                               help="Progress bars (default: when stderr is a terminal).")


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


def emit(data) -> None:
    """One JSON document on stdout (the stable contract of ``--json``)."""
    click.echo(json.dumps(data, ensure_ascii=False))


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
