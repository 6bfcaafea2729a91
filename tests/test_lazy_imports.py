"""A command imports only what it uses: the heavy libraries a command does not need stay out of its process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from daemon.store import open_store

# The web stack, Prometheus' client, the scheduler and Alembic (with Mako): none of them is needed by `poll`.
NOT_FOR_POLL = ("starlette", "jinja2", "uvicorn", "nh3", "python_multipart", "multipart", "prometheus_client",
                "apscheduler", "alembic", "mako")
# The parser needs none of the daemon's libraries at all.
NOT_FOR_HELP = (*NOT_FOR_POLL, "sqlalchemy", "httpx", "imapclient")

PROBE = """
import json, sys
import daemon.cli
try:
    code = daemon.cli.main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def loaded(*args: str) -> tuple[int, set[str]]:
    """Run the CLI with `args` in a fresh interpreter: its exit code and the top-level packages it imported."""
    code, modules = loaded_modules(*args)
    return code, {name.split(".")[0] for name in modules}


def loaded_modules(*args: str) -> tuple[int, set[str]]:
    """Run the CLI with `args` in a fresh interpreter: its exit code and every module it imported."""
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120,
                          check=False)
    said = json.loads(done.stderr.strip().splitlines()[-1])
    return said["code"], set(said["modules"])


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def poll_config(tmp_path: Path) -> Path:
    """A configuration whose mailbox refuses connections, over a database already at the latest schema."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "password").write_text("secret\n")
    (tmp_path / "token").write_text("token\n")
    database = tmp_path / "state.db"
    open_store(f"sqlite:///{database}").close()
    config = tmp_path / "config.toml"
    config.write_text("\n".join([
        "[imap]", 'host = "127.0.0.1"', f"port = {closed_port()}", 'username = "jobs"',
        f'password_file = "{tmp_path / "password"}"',
        "[ats]", f'base_url = "http://127.0.0.1:{closed_port()}"', f'token_file = "{tmp_path / "token"}"',
        'source = "Email"', "[database]", f'url = "sqlite:///{database}"', "[rules]", f'path = "{tmp_path / "rules"}"',
    ]) + "\n")
    return config


def test_the_parser_and_poll_help_import_none_of_the_daemons_libraries():
    """Importing the CLI and `poll --help` load no database, HTTP, IMAP, web, metrics, scheduler or Alembic code."""
    code, modules = loaded("poll", "--help")
    assert code == 0
    assert modules.isdisjoint(NOT_FOR_HELP), modules & set(NOT_FOR_HELP)


def test_poll_over_a_database_at_head_imports_neither_web_metrics_scheduler_nor_alembic(tmp_path):
    """A whole `poll` (the store opened, the daemon assembled, the mailbox tried) never imports the web stack,
    prometheus_client, APScheduler or Alembic when the schema is at head and [metrics] and [web] are off."""
    code, modules = loaded("poll", "--config", str(poll_config(tmp_path)))
    assert code == 1  # the mailbox refused: the pass was tried with everything assembled
    assert {"sqlalchemy", "httpx", "imapclient"} <= modules
    assert modules.isdisjoint(NOT_FOR_POLL), modules & set(NOT_FOR_POLL)


def test_poll_on_sqlite_leaves_postgresql_s_dialect_out(tmp_path):
    """SQLAlchemy's PostgreSQL dialect (25 ms of a start) is loaded for a PostgreSQL store only."""
    code, modules = loaded_modules("poll", "--config", str(poll_config(tmp_path)))
    assert code == 1
    assert "sqlalchemy.dialects.sqlite" in modules
    assert not {name for name in modules if name.startswith("sqlalchemy.dialects.postgresql")}
