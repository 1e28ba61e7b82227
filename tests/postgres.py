"""A throw-away PostgreSQL server for the tests (fixtures ``postgres_server``, ``postgres_url`` in conftest.py).

``initdb`` and ``pg_ctl`` from Debian's ``postgresql`` package (``/usr/lib/postgresql/<version>/bin``, or the
folder ``KB_TEST_PG_BIN`` names), a data folder of its own, the unix socket in that folder and a free port on
127.0.0.1 (for password logins over TCP). The fastest settings that are still PostgreSQL: no fsync, no
synchronous commit.

PostgreSQL refuses to run as root. As root the server runs as ``nobody``, in a folder ``nobody`` owns under
the system temp folder: pytest's own temp folders are root's alone (0700), and ``nobody`` cannot enter them.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROLE = "kb"
PASSWORD = "pg-test-Secret-7421"  # for logins over TCP; tests check that no message ever shows it
SERVER_USER = "nobody"
_names = itertools.count(1)


class Unavailable(Exception):
    """The test server cannot start here; the message says why (shown as the skip reason)."""


def find_bin() -> Path | None:
    """The folder of ``pg_ctl``: ``$KB_TEST_PG_BIN``, else the newest ``/usr/lib/postgresql/*/bin``."""
    if os.environ.get("KB_TEST_PG_BIN"):
        candidates = [Path(os.environ["KB_TEST_PG_BIN"])]
    else:
        found = Path("/usr/lib/postgresql").glob("*/bin")
        candidates = sorted(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    return next((p for p in candidates if (p / "pg_ctl").is_file() and (p / "initdb").is_file()), None)


@dataclass
class PostgresServer:
    """A running test server: ``url()`` for a database over the socket, ``create_database()`` for a fresh one."""

    bin: Path
    root: Path
    port: int
    as_user: list[str] = field(default_factory=list)  # the runuser prefix when we are root

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def url(self, dbname: str = "postgres") -> str:
        """A URL over the unix socket (trusted: no password)."""
        return f"postgresql://{ROLE}@/{dbname}?host={self.socket_dir}&port={self.port}"

    def tcp_url(self, dbname: str = "postgres", password: str = PASSWORD) -> str:
        """A URL over TCP on 127.0.0.1, which asks for the password (scram-sha-256)."""
        return f"postgresql://{ROLE}:{password}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self) -> str:
        """A new, empty database; returns its URL (over the socket)."""
        import psycopg

        name = f"test_{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run(self.as_user, self.bin, self.root, args, check)


def start(base: Path) -> PostgresServer:
    """Start a server in a new folder under ``base`` (as root: under the system temp folder, as ``nobody``)."""
    pg_bin = find_bin()
    if pg_bin is None:
        raise Unavailable("no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin: "
                          "`apt-get install postgresql`, or set KB_TEST_PG_BIN")
    as_user: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            raise Unavailable("running as root, and there is no runuser to start PostgreSQL as another user")
        try:
            import pwd

            owner = pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise Unavailable(f"running as root, and there is no user {SERVER_USER!r} to run PostgreSQL as") from None
        root = Path(tempfile.mkdtemp(prefix="kb-pg-"))
        (root / "socket").mkdir()
        for path in (root, root / "socket"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        as_user = [runuser, "-u", SERVER_USER, "--"]
    else:
        root = Path(tempfile.mkdtemp(prefix="pg-", dir=base))
        (root / "socket").mkdir()
    server = PostgresServer(pg_bin, root, 0, as_user)
    try:
        (root / "password").write_text(PASSWORD + "\n")
        os.chmod(root / "password", 0o644)
        server._run("initdb", "-D", str(server.data), "-U", ROLE, "--pwfile", str(root / "password"),
                    "--auth-local", "trust", "--auth-host", "scram-sha-256", "-E", "UTF8", "--no-sync",
                    "--no-instructions")
        for attempt in range(3):  # the free port may be taken between finding it and the server binding it
            server.port = _free_port()
            with open(server.data / "postgresql.conf", "a") as conf:
                conf.write(f"\nport = {server.port}\nlisten_addresses = '127.0.0.1'\n"
                           f"unix_socket_directories = '{server.socket_dir}'\nfsync = off\nsynchronous_commit = off\n"
                           "full_page_writes = off\nmax_connections = 200\nshared_buffers = 32MB\n")
            done = server._run("pg_ctl", "-D", str(server.data), "-l", str(root / "server.log"), "-w", "-t", "60",
                               "start", check=False)
            if done.returncode == 0:
                return server
        log = (root / "server.log").read_text(errors="replace")[-2000:] if (root / "server.log").exists() else ""
        raise Unavailable(f"pg_ctl start failed: {done.stdout}{done.stderr}{log}".strip())
    except BaseException:
        server.stop()
        raise


def _run(as_user: list[str], pg_bin: Path, cwd: Path, args: tuple[str, ...],
         check: bool) -> subprocess.CompletedProcess:
    done = subprocess.run([*as_user, str(pg_bin / args[0]), *args[1:]], cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    if check and done.returncode != 0:
        raise Unavailable(f"{args[0]} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")
    return done


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
