"""The ``kb`` command group. Output with ``--json`` is a stable, machine-readable contract."""

from __future__ import annotations

import os
from pathlib import Path

import click

from kb.cli import answers, index, sync, tune, users
from kb.cli.common import Group, setup_logging


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(path_type=Path), default=None,
              help="Settings file (default: $KB_CONFIG or ./kb.toml).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, config: Path | None, verbose: int) -> None:
    """A private, local company knowledge base: ingest documents, search them, ask them."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models come from packages or local folders, never a hub
    # the libraries' own model-loading bars would draw over ours ("Loading models…", progress bars)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    setup_logging(verbose)
    ctx.obj = {"config": config}


for _module in (index, answers, sync, tune, users):
    for _command in _module.COMMANDS:
        main.add_command(_command)
