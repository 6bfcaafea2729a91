"""The sandbox's token: from --token, --token-file or $ATS_INBOX_SANDBOX_TOKEN, never required
on the command line, and checked before the sandbox starts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from daemon.cli import main
from daemon.errors import ConfigError
from daemon.sandbox.secret import SANDBOX_TOKEN_ENV, sandbox_token
from tests.e2e import cli, wait_healthy

TOKEN = "s3cret-sandbox-token"


def test_a_token_file_is_read_and_stripped(tmp_path: Path):
    """The file's token is used without its trailing newline."""
    path = tmp_path / "token"
    path.write_text(f"{TOKEN}\n")
    assert sandbox_token(None, path, {}) == TOKEN


@pytest.mark.parametrize(("token", "file_text", "environ", "expected"), [
    (None, None, {}, None),
    (None, None, {SANDBOX_TOKEN_ENV: TOKEN}, TOKEN),
    (None, "from-file", {SANDBOX_TOKEN_ENV: TOKEN}, "from-file"),
    ("from-argv", None, {SANDBOX_TOKEN_ENV: TOKEN}, "from-argv"),
])
def test_which_token_wins(tmp_path: Path, token, file_text, environ, expected):
    """--token, then --token-file, then the environment; none of them: no token."""
    path = None
    if file_text is not None:
        path = tmp_path / "token"
        path.write_text(file_text)
    assert sandbox_token(token, path, environ) == expected


@pytest.mark.parametrize(("content", "fragment"), [
    (b"", "blank"), (b"  \n", "blank"), (b"\xff\xfe", "cannot read"),
    ("tök".encode(), "printable ASCII"), (b"two words", "printable ASCII"),
])
def test_a_bad_token_file_is_a_config_error(tmp_path: Path, content: bytes, fragment: str):
    """A blank, non-UTF-8 or non-ASCII token file is refused, naming the file."""
    path = tmp_path / "token"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=fragment) as info:
        sandbox_token(None, path, {})
    assert "token" in str(info.value)


def test_a_missing_token_file_exits_2_naming_it(tmp_path: Path, capsys):
    """`ats-inbox sandbox --token-file MISSING` exits 2 before serving, naming the file."""
    missing = tmp_path / "nope"
    assert main(["sandbox", "--db", str(tmp_path / "ats.db"), "--token-file", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_token_and_token_file_together_are_refused(tmp_path: Path, capsys):
    """--token and --token-file exclude each other."""
    with pytest.raises(SystemExit) as info:
        main(["sandbox", "--token", "a", "--token-file", str(tmp_path / "t")])
    assert info.value.code == 2


def test_the_help_warns_that_a_token_in_argv_is_visible(capsys):
    """--token's help says that other users can see it and names the alternatives."""
    with pytest.raises(SystemExit):
        main(["sandbox", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "visible to other users" in text
    assert "--token-file" in text and SANDBOX_TOKEN_ENV in text


@pytest.mark.parametrize("how", ["file", "env"])
def test_the_served_sandbox_requires_the_token_from_a_file_or_the_environment(tmp_path: Path,
                                                                              how: str):
    """`ats-inbox sandbox --token-file PATH` (or the env var) serves with that token required:
    the API and the views refuse requests without it; the token is not in the process's argv."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    args = ["sandbox", "--port", str(port), "--db", str(tmp_path / "ats.db")]
    env = {k: v for k, v in os.environ.items() if k != SANDBOX_TOKEN_ENV}
    if how == "file":
        args += ["--token-file", str(token_file)]
    else:
        env[SANDBOX_TOKEN_ENV] = TOKEN
    server = subprocess.Popen([*cli(), *args], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_healthy(f"{base}/_sandbox/health")
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(f"{base}/api/v1/sources/all").status_code == 401
        assert httpx.get(f"{base}/_sandbox/state").status_code == 401
        assert httpx.get(f"{base}/api/v1/sources/all", headers=bearer).status_code == 200
        assert httpx.get(f"{base}/_sandbox/state", headers=bearer).status_code == 200
        assert TOKEN not in Path(f"/proc/{server.pid}/cmdline").read_bytes().decode(errors="replace")
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=5) == 0
    finally:
        server.kill()
        server.wait()


