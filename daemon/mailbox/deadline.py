"""A deadline for one whole IMAP operation (its commands and their complete answers), and a stop
honoured during one.

The socket's timeout bounds each read only: a server that sends a byte a second never trips it,
and a pass would hang for as long as the server likes. `Watchdog.exchange()` watches one
operation from a thread of its own: once its deadline passes, or a stop was requested
`grace` seconds ago (an answer already on its way may still arrive), it shuts the
connection's socket down, which ends the blocked read or write at once. The operation then
raises MailboxUnavailable saying what was cut and why; the connection is unusable after that
(the runner reconnects, or the pass ends on the stop).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from daemon.errors import MailboxUnavailable

log = logging.getLogger(__name__)
STOP_GRACE = 2.0  # seconds an operation may go on after a stop was requested
TICK = 0.25  # how often the watch looks at the clock and the stop


class Watchdog:
    """Cuts the connection under an IMAP operation that overruns its deadline, or a stop."""

    def __init__(self, should_stop: Callable[[], bool] = lambda: False, *, grace: float = STOP_GRACE,
                 tick: float = TICK):
        self.should_stop, self.grace, self.tick = should_stop, grace, tick

    @contextmanager
    def exchange(self, action: str, seconds: float, sock: Callable[[], socket.socket | None]) -> Iterator[None]:
        """Run the body of the `with` as one operation that must end within `seconds`; `sock()`
        is the connection's socket (None while there is none yet)."""
        watch = _Watch(self, seconds, sock)
        thread = threading.Thread(target=watch.run, name="imap-deadline", daemon=True)
        thread.start()
        try:
            yield
        except Exception as exc:
            watch.end()
            if watch.why:
                raise MailboxUnavailable(watch.message(action)) from exc
            raise
        watch.end()
        if watch.why:  # cut as the answer completed: the connection is gone all the same
            raise MailboxUnavailable(watch.message(action))


class _Watch:
    """One operation's watch: `why` it was cut ("" while it was not)."""

    def __init__(self, dog: Watchdog, seconds: float, sock: Callable[[], socket.socket | None]):
        self.dog, self.seconds, self.sock = dog, seconds, sock
        self.why = ""
        self._done = threading.Event()
        self._lock = threading.Lock()  # a cut and the operation's end never cross

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        stop_at: float | None = None
        while not self._done.wait(max(0.0, min(self.dog.tick, deadline - time.monotonic()))):
            now = time.monotonic()
            if stop_at is None and self.dog.should_stop():
                stop_at = now + self.dog.grace
            if now >= deadline:
                self._cut("deadline")
            elif stop_at is not None and now >= stop_at:
                self._cut("stop")

    def end(self) -> None:
        with self._lock:
            self._done.set()

    def message(self, action: str) -> str:
        if self.why == "stop":
            return f"stopping: the IMAP connection was closed while {action}"
        return (f"the IMAP server did not finish answering within {self.seconds:.0f} s while {action} "
                "(imap.timeout_seconds)")

    def _cut(self, why: str) -> None:
        with self._lock:
            if self._done.is_set():
                return
            self.why = why
            self._done.set()
            sock = self.sock()
        log.warning("imap.cut", extra={"why": why, "seconds": round(self.seconds, 1)})
        if sock is None:
            return
        try:  # the plain socket's shutdown, also under TLS: the blocked read returns at once
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            log.debug("imap.cut_failed")
