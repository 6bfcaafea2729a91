"""What the servers the tests start as processes (Dovecot, PostgreSQL) share: a process group of their own, stopped
or killed whole and waited for, and a backstop that stops every one still running when the interpreter exits."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, TypeVar

_running: weakref.WeakSet[ServerProcess] = weakref.WeakSet()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A server's process group: `stop()` sends `stop_signal` to it, `kill()` SIGKILL, each waited for
    (`shutdown_timeout`, then SIGKILL); `_ended()` tidies up after either."""

    name = "the server"
    stop_signal = signal.SIGTERM
    shutdown_timeout = 10.0
    _process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _refuse_if_running(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running")

    def _launch(self, argv: Sequence[str], output: IO[bytes] | int) -> None:
        """Start `argv` in a process group of its own (so stop() and kill() reach its children)."""
        self._process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                                         start_new_session=True)
        _running.add(self)

    def stop(self) -> None:
        self._end(self.stop_signal)

    def kill(self) -> None:
        """SIGKILL to the whole process group at once, as a crash or a pulled plug would (sessions drop)."""
        self._end(signal.SIGKILL)

    def start(self) -> None:
        raise NotImplementedError

    def restart(self) -> None:
        """Stop, then start again on the same ports with the same data."""
        self.stop()
        self.start()

    def _end(self, sig: signal.Signals) -> None:
        process, self._process = self._process, None
        _running.discard(self)
        if process is None:
            return
        if process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
        try:
            process.wait(timeout=self.shutdown_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=self.shutdown_timeout)
        self._ended(process.pid, sig)

    def _ended(self, pgid: int, sig: signal.Signals) -> None:
        """After the server's main process exited (by `sig`)."""


Server = TypeVar("Server", bound=ServerProcess)


@contextmanager
def started_in_temporary_folder(prefix: str, make: Callable[[Path], Server]) -> Iterator[Server]:
    """The server `make` builds in a new temporary folder (mode 0755: a server running as its own system user
    enters it; pytest's are not o+x), started, then stopped and the folder removed."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    workdir.chmod(0o755)
    server = make(workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@atexit.register
def _stop_leftovers() -> None:
    """Backstop: no server outlives the Python process that started it."""
    for server in list(_running):
        server.stop()
