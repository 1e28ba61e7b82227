"""`kb users add/remove/list/passwd/set` through click's runner against a real users file."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kb.cli import main


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_USERS_DB", str(tmp_path / "users.sqlite"))
    monkeypatch.setenv("KB_INDEX_DIR", str(tmp_path / "index"))
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


def test_add_list_passwd_set_remove(run, tmp_path):
    from kb.access.users import UserStore
    from kb.settings import Settings

    result = run("users", "add", "alice", "--role", "admin", "--groups", "hr, finance", "--password-stdin",
                 input="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert run("users", "add", "dana@example.com", "--no-password").exit_code == 0
    listed = json.loads(run("users", "list", "--json").output)["users"]
    assert [(u["username"], u["role"], u["groups"], u["has_password"]) for u in listed] == [
        ("alice", "admin", ["hr", "finance"], True), ("dana@example.com", "employee", [], False)]
    assert "password" not in json.dumps(listed).replace("has_password", "")
    store = UserStore(Settings(users_db=tmp_path / "users.sqlite"))
    assert store.authenticate("alice", "a long enough password").is_admin
    # interactive prompt with confirmation
    assert run("users", "passwd", "alice", input="new long password\nnew long password\n").exit_code == 0
    assert store.authenticate("alice", "new long password").username == "alice"
    assert run("users", "set", "alice", "--role", "employee", "--groups", "").exit_code == 0
    assert store.get_user("alice").role == "employee" and store.get_user("alice").groups == ()
    assert run("users", "remove", "alice").exit_code == 0
    assert "alice" not in run("users", "list").output


def test_errors_exit_1_with_a_message(run):
    run("users", "add", "bob", "--password-stdin", input="a long enough password\n")
    result = run("users", "add", "bob", "--password-stdin", input="a long enough password\n")
    assert result.exit_code == 1 and "already exists" in result.output
    result = run("users", "add", "carol", "--password-stdin", input="short\n")
    assert result.exit_code == 1 and "too short" in result.output
    result = run("users", "remove", "nobody")
    assert result.exit_code == 1 and "no user named" in result.output
    assert run("users", "add", "x", "--role", "root").exit_code == 2
    assert run("users", "--help").exit_code == 0


def test_users_take_index_like_every_command_and_never_create_a_store_silently(tmp_path, monkeypatch):
    monkeypatch.delenv("KB_USERS_DB", raising=False)
    monkeypatch.delenv("KB_INDEX_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    index = tmp_path / "indexes" / "sample"
    listed = invoke("users", "list", "--index", str(index))
    assert listed.exit_code == 0 and f"no users file at {index / 'users.sqlite'}" in listed.output
    assert "kb users add NAME --role admin" in listed.output
    assert json.loads(invoke("users", "list", "--json", "--index", str(index)).output) == {
        "users": [], "store": str(index / "users.sqlite"), "exists": False}
    for args in (["remove", "ada"], ["set", "ada", "--role", "admin"], ["passwd", "ada", "--password-stdin"]):
        result = invoke("users", *args, "--index", str(index), input="a long enough password\n")
        assert result.exit_code == 1 and "no users file at" in result.output, result.output
    assert not (tmp_path / "indexes").exists()  # nothing was created by reading

    added = invoke("users", "add", "ada", "--role", "admin", "--password-stdin", "--index", str(index),
                   input="a long enough password\n")
    assert added.exit_code == 0 and f"created {index / 'users.sqlite'}" in added.output
    assert "ada" in invoke("users", "list", "--index", str(index)).output
    # without --index (and without KB_INDEX_DIR), the default index has no users: say where they are
    elsewhere = invoke("users", "list")
    assert "no users file at" in elsewhere.output and "--index indexes/sample" in elsewhere.output
    assert not (tmp_path / "indexes" / "default").exists()
    # a kb.toml that names the app's index is what both the app and the CLI read
    (tmp_path / "kb.toml").write_text(f'index_dir = "{index}"\n')
    assert "ada" in invoke("users", "list").output
