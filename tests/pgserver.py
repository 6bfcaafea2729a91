"""A real PostgreSQL server on 127.0.0.1, owned by the tests (Debian's postgresql package).

`PostgreSQL(workdir)` runs `initdb` into `workdir/data` (trust authentication on loopback, the
superuser `postgres`), then `postgres -D data` as a child process in its own process group on
a free port. `stop()`, `start()` (same port, same data), `kill()` (SIGKILL of the whole group)
and `restart()` control it. `database(name, template=...)` creates a database and gives its
SQLAlchemy URL; `drop(name)` removes it even while clients are connected.

Works as root (as on CI): PostgreSQL refuses to run as root, so its tools run as the
`postgres` system user through `runuser`, and `workdir` is given to that user.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from contextlib import AbstractContextManager
from pathlib import Path

from tests.serverprocess import ServerProcess, free_port, started_in_temporary_folder

INSTALL_HINT = "apt-get install -y postgresql"
BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 15.0
SYSTEM_USER = "postgres"


class PostgreSQLUnavailable(RuntimeError):
    """PostgreSQL is not installed, or the server would not start."""


def _tool(name: str) -> str:
    for directory in BINARIES:
        if (directory / name).is_file():
            return str(directory / name)
    raise PostgreSQLUnavailable(f"'{name}' not found under /usr/lib/postgresql; install it with: {INSTALL_HINT}")


def _as_server_user(argv: list[str]) -> list[str]:
    """PostgreSQL will not run as root: then run it as the `postgres` system user."""
    return ["runuser", "-u", SYSTEM_USER, "--", *argv] if os.geteuid() == 0 else argv


class PostgreSQL(ServerProcess):
    """One PostgreSQL postmaster on loopback, its data and socket in `workdir`; `stop()` is a fast shutdown (SIGINT:
    clients are disconnected), `kill()` a SIGKILL to the whole group."""

    name = "PostgreSQL"
    stop_signal = signal.SIGINT
    shutdown_timeout = SHUTDOWN_TIMEOUT

    host = "127.0.0.1"

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir).resolve()
        self.port = 0

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{database}"

    # -- life cycle -----------------------------------------------------------------
    def start(self) -> None:
        """Start the server (first start: initdb) and wait until it answers queries."""
        self._refuse_if_running()
        if not self.port:
            self._set_up()
        with (self.workdir / "postgres.log").open("ab") as log:
            self._launch(_as_server_user([_tool("postgres"), "-D", str(self.data), "-p", str(self.port)]), log)
        self._wait_until_ready()

    def _ended(self, pgid: int, sig: signal.Signals) -> None:
        if sig == signal.SIGKILL:  # the children of a killed postmaster die with the group
            (self.data / "postmaster.pid").unlink(missing_ok=True)

    def _set_up(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam(SYSTEM_USER)
            os.chown(self.workdir, entry.pw_uid, entry.pw_gid)
        done = subprocess.run(
            _as_server_user([_tool("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                             "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"]),
            capture_output=True, text=True, check=False)
        if done.returncode:
            raise PostgreSQLUnavailable(f"initdb failed: {done.stderr[-2000:]}")
        self.port = free_port()
        settings = (f"listen_addresses = '{self.host}'\nunix_socket_directories = '{self.workdir}'\n"
                    "timezone = 'Europe/Berlin'\n"  # not UTC: naive times read in the server's zone would show
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(settings)

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if not self.running:
                raise PostgreSQLUnavailable(f"postgres exited: {self._log_tail()}")
            ready = subprocess.run([_tool("pg_isready"), "-h", self.host, "-p", str(self.port), "-U", "postgres"],
                                   capture_output=True, check=False)
            if ready.returncode == 0:
                return
            time.sleep(0.05)
        raise PostgreSQLUnavailable(f"postgres did not accept connections: {self._log_tail()}")

    def _log_tail(self) -> str:
        path = self.workdir / "postgres.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    # -- databases ------------------------------------------------------------------
    def execute(self, *statements: str) -> None:
        """Statements outside a transaction (CREATE DATABASE cannot run inside one)."""
        self.execute_in("postgres", *statements)

    def execute_in(self, database: str, *statements: str) -> None:
        """Statements in `database`, each committed on its own."""
        import psycopg

        with psycopg.connect(host=self.host, port=self.port, user="postgres", dbname=database,
                             autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement)

    def database(self, name: str, template: str = "template0") -> str:
        """A new database `name` copied from `template`; its SQLAlchemy URL."""
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def drop(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def running() -> AbstractContextManager[PostgreSQL]:
    """A PostgreSQL started in its own temp dir (the postgres user, when run as root, enters it), then stopped and
    removed."""
    return started_in_temporary_folder("ats-inbox-postgres-", lambda workdir: PostgreSQL(workdir / "pg"))


