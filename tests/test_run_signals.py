"""`ats-inbox run` in a subprocess: SIGTERM and SIGINT stop it cleanly, even mid-backoff; SIGHUP
asks for a reload of the rules and never kills it."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.e2e import cli

# Nothing listens on port 1: every pass fails at once to reach the mailbox, the daemon logs
# it and waits for the next pass, an hour away. Only a stop signal can end the wait.
CONFIG = """
[imap]
host = "127.0.0.1"
port = 1
security = "none"
username = "jobs"
password = "secret"
reconnect_attempts = 0
[ats]
base_url = "http://127.0.0.1:1"
token = "token"
[database]
url = "sqlite:///ats-inbox.db"
[schedule]
interval_seconds = 3600
"""


class Daemon:
    """`ats-inbox run` with its stderr collected line by line by a thread."""

    def __init__(self, config: Path):
        self.process = subprocess.Popen([*cli(), "run", "--config", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.process.stderr), daemon=True)
        self.reader.start()

    def wait_for_log(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(event in line for line in self.lines):
            assert self.process.poll() is None, "".join(self.lines)[-2000:]
            assert time.monotonic() < deadline, f"no {event} in: " + "".join(self.lines)[-2000:]
            time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_run_stops_cleanly_on_each_stop_signal(tmp_path, signum):
    """A stop signal while `run` waits for its next pass exits 0 within seconds, logging stopping and stopped."""
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    daemon = Daemon(config)
    try:
        daemon.wait_for_log("poll.will_retry")  # the first pass is over; the daemon waits an hour
        sent = time.monotonic()
        daemon.process.send_signal(signum)
        code = daemon.process.wait(timeout=20)
        took = time.monotonic() - sent
    finally:
        daemon.process.kill()
    daemon.reader.join(timeout=5)
    log = "".join(daemon.lines)
    assert code == 0, log[-2000:]
    assert "daemon.stopping" in log and signum.name in log and "daemon.stopped" in log
    assert took < 10


def test_sighup_reloads_instead_of_stopping(tmp_path):
    """SIGHUP to `run` (systemd's ExecReload) neither kills nor stops it; SIGTERM afterwards still does."""
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    daemon = Daemon(config)
    try:
        daemon.wait_for_log("poll.will_retry")
        daemon.process.send_signal(signal.SIGHUP)
        daemon.wait_for_log("daemon.reloaded")  # the hangup was handled (and the daemon still runs)
        assert daemon.process.poll() is None, "".join(daemon.lines)[-2000:]
        daemon.process.send_signal(signal.SIGTERM)
        code = daemon.process.wait(timeout=20)
    finally:
        daemon.process.kill()
    daemon.reader.join(timeout=5)
    assert code == 0
