"""``kb users add/remove/list/passwd/set``: manage the web app's local users (see ``kb.users``)."""

from __future__ import annotations

import sys

import click


def _store(ctx: click.Context):
    from kb.access.users import UserStore
    from kb.settings import Settings

    return UserStore(Settings.load(ctx.obj["config"]))


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
@click.option("--role", type=click.Choice(["employee", "admin"]), default="employee", show_default=True,
              help="admin sees the Documents and Insights pages, the audit log and every document.")
@click.option("--groups", default="", help="Comma-separated groups, e.g. hr,finance (see the access rules file).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--no-password", is_flag=True, help="No local password: the user signs in through OIDC only.")
@click.pass_context
def add(ctx, username, role, groups, password_stdin, no_password):
    """Add USERNAME (asks for the password unless --password-stdin or --no-password)."""
    if password_stdin and no_password:
        raise click.UsageError("give at most one of --password-stdin and --no-password")
    password = None if no_password else _password(password_stdin)
    user = _store(ctx).add_user(username, password, role, _groups(groups) or [])
    click.echo(f"added {user.username} ({user.role}; groups: {', '.join(user.groups) or '-'})")


@users.command()
@click.argument("username")
@click.pass_context
def remove(ctx, username):
    """Remove USERNAME and end their sessions."""
    _store(ctx).remove_user(username)
    click.echo(f"removed {username}")


@users.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
@click.pass_context
def list_(ctx, as_json):
    """List users with their role and groups (never passwords)."""
    people = _store(ctx).list_users()
    if as_json:
        import json

        click.echo(json.dumps({"users": [u.to_json() for u in people]}, ensure_ascii=False))
        return
    if not people:
        click.echo("no users yet: add one with `kb users add NAME --role admin`")
    for user in people:
        sign_in = "password" if user.has_password else "OIDC only"
        click.echo(f"{user.username:<32} {user.role:<9} {sign_in:<10} groups: {', '.join(user.groups) or '-'}")


@users.command()
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of stdin.")
@click.pass_context
def passwd(ctx, username, password_stdin):
    """Set a new password for USERNAME (ends their sessions)."""
    _store(ctx).set_password(username, _password(password_stdin))
    click.echo(f"password of {username} changed; their sessions have ended")


@users.command(name="set")
@click.argument("username")
@click.option("--role", type=click.Choice(["employee", "admin"]), default=None, help="New role.")
@click.option("--groups", default=None, help="New comma-separated groups (replaces the old ones; '' for none).")
@click.pass_context
def set_(ctx, username, role, groups):
    """Change the role and/or groups of USERNAME (effective at their next page view)."""
    if role is None and groups is None:
        raise click.UsageError("give --role and/or --groups")
    user = _store(ctx).set_access(username, role, _groups(groups))
    click.echo(f"{user.username}: {user.role}; groups: {', '.join(user.groups) or '-'}")


COMMANDS = (users,)
