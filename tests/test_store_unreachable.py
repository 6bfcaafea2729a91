"""PostgreSQL at start-up: a server that cannot be reached is transient (exit 1: systemd restarts the daemon), a
login or database the server refuses is a configuration error (exit 2: it does not). On a real PostgreSQL."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from daemon.errors import ConfigError, StoreBusy
from daemon.store import open_store
from tests.e2e import run_cli, write_config

ROLE = "ats_with_password"
WRONG = "Wr0ng-Secret"


@pytest.fixture
def password_role(postgres):
    """A role that must give its password (scram), on the session's server whose other roles are trusted."""
    hba = postgres.data / "pg_hba.conf"
    line = f"host all {ROLE} 127.0.0.1/32 scram-sha-256\n"
    if line not in hba.read_text():
        hba.write_text(line + hba.read_text())
        postgres.execute(f"DROP ROLE IF EXISTS {ROLE}", f"CREATE ROLE {ROLE} LOGIN PASSWORD 'right'",
                         "SELECT pg_reload_conf()")
    return ROLE


def config(tmp_path: Path, url: str) -> Path:
    """A configuration whose database is `url` (the mailbox is never reached: the store is opened first)."""
    path = write_config(tmp_path / "config.toml", imap={"host": "127.0.0.1", "port": 1, "username": "jobs",
                                                        "password": "x", "security": "none"},
                        ats_url="http://127.0.0.1:1", database=tmp_path / "unused.db")
    path.write_text(path.read_text().replace(f'url = "sqlite:///{tmp_path / "unused.db"}"', f'url = "{url}"'))
    return path


def with_login(url: str, user: str, password: str | None = None, database: str | None = None) -> str:
    parsed = make_url(url).set(username=user, password=password)
    return parsed.set(database=database or parsed.database).render_as_string(hide_password=False)


def test_a_stopped_server_is_transient_and_run_exits_1(postgres, tmp_path):
    """PostgreSQL stopped: open_store raises StoreBusy, and `run` exits 1 so that systemd starts it again."""
    url = postgres.url()
    postgres.stop()
    try:
        with pytest.raises(StoreBusy, match="cannot reach the database server"):
            open_store(url)
        done = run_cli("run", "--config", str(config(tmp_path, url)))
    finally:
        postgres.start()
    assert done.code == 1, done.stderr[-2000:]
    assert "cannot reach the database server" in done.stderr
    assert "configuration error" not in done.stderr


def test_a_server_that_never_answers_is_transient(tmp_path):
    """A host that accepts the connection and says nothing: StoreBusy after the connect timeout, not a hang."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        accepted = []
        threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
        port = silent.getsockname()[1]
        with pytest.raises(StoreBusy):
            open_store(f"postgresql+psycopg://ats@127.0.0.1:{port}/ats?connect_timeout=1")
        for connection, _ in accepted:
            connection.close()


@pytest.mark.parametrize("login", ["wrong password", "no password", "unknown role", "unknown database"])
def test_a_login_or_database_the_server_refuses_is_a_configuration_error(postgres, password_role, tmp_path, login,
                                                                         monkeypatch):
    """A bad password, a missing one, an unknown role or database: ConfigError, and `run` exits 2 (no restart)."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    url = {"wrong password": with_login(postgres.url(), password_role, WRONG),
           "no password": with_login(postgres.url(), password_role),
           "unknown role": with_login(postgres.url(), "nobody_here"),
           "unknown database": with_login(postgres.url(), "postgres", database="no_such_database")}[login]
    with pytest.raises(ConfigError, match="cannot open the database"):
        open_store(url)
    done = run_cli("run", "--config", str(config(tmp_path, url)), env={"PGPASSFILE": str(tmp_path / "none")})
    assert done.code == 2, done.stderr[-2000:]
    assert "configuration error" in done.stderr
    assert WRONG not in done.stderr  # the password itself is never shown


def test_the_right_password_opens_the_store(postgres, password_role):
    """The same role with its password gets in: the refusals above are the password's, not the setup's."""
    store = open_store(with_login(postgres.url(), password_role, "right"), migrate=False)
    try:
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT current_user").scalar() == password_role
    finally:
        store.close()
