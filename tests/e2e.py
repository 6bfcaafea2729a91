"""Helpers for end-to-end tests: a config file for a Dovecot + sandbox pair, and the CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

FIXTURES = Path(__file__).parent / "fixtures"
SANDBOX_TOKEN = "sandbox-token-e2e"


def wait_for(predicate, timeout: float = 30.0, every: float = 0.05) -> None:
    """Wait until `predicate()` is true (a state, never a fixed time); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)


def cli() -> list[str]:
    """The installed `ats-inbox` script next to this Python, else `python -m daemon.cli`."""
    script = Path(sys.executable).with_name("ats-inbox")
    return [str(script)] if script.exists() else [sys.executable, "-m", "daemon.cli"]


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
    """Run `ats-inbox ARGS...` and capture what it printed."""
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run([*cli(), *args], capture_output=True, text=True, timeout=timeout, env=full_env,
                          check=False)
    return Result(done.returncode, done.stdout, done.stderr)


def wait_healthy(url: str, tries: int = 200) -> bool:
    """Poll a sandbox's /_sandbox/health until it answers; False when it never does."""
    for _ in range(tries):
        try:
            return httpx.get(url, timeout=1).json() == {"ok": True}
        except httpx.TransportError:
            time.sleep(0.05)
    return False


def imap_settings(dovecot, security: str = "ssl", trust: bool = True, **extra: object) -> dict[str, object]:
    """The [imap] table for the test Dovecot: IMAPS (or STARTTLS) trusting its certificate."""
    port = dovecot.imaps_port if security == "ssl" else dovecot.imap_port
    settings: dict[str, object] = {"host": "127.0.0.1", "port": port, "security": security,
                                   "username": dovecot.user, "password": dovecot.password,
                                   "processed_folder": "Processed", "review_folder": "Review", **extra}
    if trust:
        settings["ca_file"] = str(dovecot.cert_path)
    return settings


def write_config(path: Path, *, imap: dict[str, object], ats_url: str, database: Path,
                 extra: str = "") -> Path:
    """A config file in the public format, with the password in a file beside it."""
    password_file = path.parent / "imap-password"
    password_file.write_text(str(imap.pop("password")) + "\n")
    token_file = path.parent / "ats-token"
    token_file.write_text(SANDBOX_TOKEN + "\n")
    lines = ["[imap]", f'password_file = "{password_file}"']
    lines += [f"{key} = {_toml(value)}" for key, value in imap.items()]
    lines += ["[ats]", f'base_url = "{ats_url}"', f'token_file = "{token_file}"', 'source = "Email"',
              "[database]", f'url = "sqlite:///{database}"', "[schedule]", "interval_seconds = 1", extra]
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value: object) -> str:
    return str(value) if isinstance(value, int) else f'"{value}"'
