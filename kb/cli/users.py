"""``kb users add/remove/list/passwd/set``: manage the web app's local users (see ``kb.access.users``).

Every subcommand takes ``--index`` (the users file defaults to ``<index>/users.sqlite``) and the global
``--config``, like the other commands. Only ``add`` creates the users file; the others say where they looked.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kb.cli.common import index_option, load_settings


def _store(ctx: click.Context, index: Path | None, create: bool = False):
    """The users store of these settings; without ``create``, a missing file is an error naming where it
    was looked for (reading must never leave an empty store behind)."""
    from kb.access.users import UserError, UserStore

    store = UserStore(load_settings(ctx, index))
    if not create and not store.exists:
        raise UserError(f"no users file at {store.path.resolve()}: {_hint(store.path)}")
    return store


def _hint(path: Path) -> str:
    """How to get at the right users file: other index folders' users next to this one, and how to create one."""
    others = sorted(p for p in path.parent.parent.glob("*/users.sqlite") if p != path) if path.parent.parent.is_dir() \
        else []
    found = f"users files exist at {', '.join(str(p) for p in others[:3])} (pass --index {others[0].parent}); " \
        if others else ""
    return (f"{found}give --index DIR (or set users_db / index_dir, as the web app's settings do), or create "
            "the first admin with `kb users add NAME --role admin`")


def _groups(text: str | None) -> list[str] | None:
    return None if text is None else [g for g in (p.strip() for p in text.split(",")) if g]


def _password(password_stdin: bool, confirm: bool = True) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=confirm)


@click.group(name="users")
def users() -> None:
    """Manage local users of the web app: roles (employee, admin) and groups for the access rules."""


@users.command()
@click.argument("username")
@index_option
@click.option("--role", type=click.Choice(["employee", "admin"]), default="employee", show_default=True,
              help="admin sees the Documents and Insights pages, the audit log and every document.")
@click.option("--groups", default="", help="Comma-separated groups, e.g. hr,finance (see the access rules file).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--no-password", is_flag=True, help="No local password: the user signs in through OIDC only.")
@click.pass_context
def add(ctx, username, index, role, groups, password_stdin, no_password):
    """Add USERNAME (asks for the password unless --password-stdin or --no-password); creates the users file."""
    if password_stdin and no_password:
        raise click.UsageError("give at most one of --password-stdin and --no-password")
    store = _store(ctx, index, create=True)
    password = None if no_password else _password(password_stdin)
    created = not store.exists
    user = store.add_user(username, password, role, _groups(groups) or [])
    click.echo(f"added {user.username} ({user.role}; groups: {', '.join(user.groups) or '-'})"
               + (f"; created {store.path}" if created else ""))


@users.command()
@click.argument("username")
@index_option
@click.pass_context
def remove(ctx, username, index):
    """Remove USERNAME and end their sessions."""
    _store(ctx, index).remove_user(username)
    click.echo(f"removed {username}")


@users.command(name="list")
@index_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
@click.pass_context
def list_(ctx, index, as_json):
    """List users with their role and groups (never passwords)."""
    import json

    from kb.access.users import UserStore

    store = UserStore(load_settings(ctx, index))
    people = store.list_users() if store.exists else []
    if as_json:
        click.echo(json.dumps({"users": [u.to_json() for u in people], "store": store.where,
                               "exists": store.exists}, ensure_ascii=False))
        return
    if not store.exists:
        click.echo(f"no users file at {store.path.resolve()}: {_hint(store.path)}")
        return
    if not people:
        click.echo(f"no users yet in {store.where}: add one with `kb users add NAME --role admin`")
    for user in people:
        sign_in = "password" if user.has_password else "OIDC only"
        click.echo(f"{user.username:<32} {user.role:<9} {sign_in:<10} groups: {', '.join(user.groups) or '-'}")


@users.command()
@click.argument("username")
@index_option
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of stdin.")
@click.pass_context
def passwd(ctx, username, index, password_stdin):
    """Set a new password for USERNAME (ends their sessions, in every browser)."""
    store = _store(ctx, index)
    store.set_password(username, _password(password_stdin))
    click.echo(f"password of {username} changed; their sessions have ended")


@users.command(name="set")
@click.argument("username")
@index_option
@click.option("--role", type=click.Choice(["employee", "admin"]), default=None, help="New role.")
@click.option("--groups", default=None, help="New comma-separated groups (replaces the old ones; '' for none).")
@click.pass_context
def set_(ctx, username, index, role, groups):
    """Change the role and/or groups of USERNAME (effective at their next page view)."""
    if role is None and groups is None:
        raise click.UsageError("give --role and/or --groups")
    user = _store(ctx, index).set_access(username, role, _groups(groups))
    click.echo(f"{user.username}: {user.role}; groups: {', '.join(user.groups) or '-'}")


COMMANDS = (users,)
