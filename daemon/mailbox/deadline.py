"""A deadline for one whole IMAP operation (its commands and their complete answers), and a stop
honoured during one.

The socket's timeout bounds each read only: a server that sends a byte a second never trips it,
and a pass would hang for as long as the server likes. `Watchdog.exchange()` has each operation
watched from another thread (one per watchdog, kept while operations follow each other): once its
deadline passes, or a stop was requested `grace` seconds ago (an answer already on its way may
still arrive), that thread shuts the connection's socket down, which ends the blocked read or
write at once. The operation then raises MailboxUnavailable saying what was cut and why; the
connection is unusable after that (the runner reconnects, or the pass ends on the stop).
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
REST = 5.0  # seconds the watching thread waits for another operation before it ends (the next starts another)


class Watchdog:
    """Cuts the connection under an IMAP operation that overruns its deadline, or a stop.

    One thread watches every operation of this watchdog under way: started with the first, it stays for
    the next ones, without ticking while none is under way, and ends after REST seconds without any. (A
    thread started for each operation cost every mail's IMAP command a thread's start, and with flows
    running, a wait for the GIL.)"""

    def __init__(self, should_stop: Callable[[], bool] = lambda: False, *, grace: float = STOP_GRACE,
                 tick: float = TICK):
        self.should_stop, self.grace, self.tick = should_stop, grace, tick
        self._changed = threading.Condition()  # guards the three below
        self._watches: set[_Watch] = set()  # the operations under way
        self._watcher: threading.Thread | None = None
        self._asleep = False  # the watcher waits for an operation to begin
        self._wakes_at = 0.0  # when the watcher looks next (while awake)

    @contextmanager
    def exchange(self, action: str, seconds: float, sock: Callable[[], socket.socket | None]) -> Iterator[None]:
        """Run the body of the `with` as one operation that must end within `seconds`; `sock()`
        is the connection's socket (None while there is none yet)."""
        watch = _Watch(self, seconds, sock)
        self._begin(watch)
        try:
            yield
        except Exception as exc:
            self._end(watch)
            if watch.why:
                raise MailboxUnavailable(watch.message(action)) from exc
            raise
        self._end(watch)
        if watch.why:  # cut as the answer completed: the connection is gone all the same
            raise MailboxUnavailable(watch.message(action))

    def _begin(self, watch: _Watch) -> None:
        with self._changed:
            self._watches.add(watch)
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name="imap-deadline", daemon=True)
                self._watcher.start()
            elif self._asleep or watch.deadline < self._wakes_at:
                self._changed.notify()

    def _end(self, watch: _Watch) -> None:
        watch.end()
        with self._changed:
            self._watches.discard(watch)

    def _watch(self) -> None:
        """Look at each operation under way every `tick` seconds at most, and when the earliest deadline
        passes; asleep while there is none, and gone after REST seconds of that."""
        while True:
            with self._changed:
                if not self._watches:
                    self._asleep = True
                    self._changed.wait(REST)
                    self._asleep = False
                    if not self._watches:
                        self._watcher = None
                        return
                watches = list(self._watches)
            now = time.monotonic()
            for watch in watches:
                watch.look(now)
            with self._changed:
                wait = max(0.0, min([self.tick, *(w.deadline - now for w in watches)]))
                self._wakes_at = now + wait
                self._changed.wait(wait)


class _Watch:
    """One operation's watch: `why` it was cut ("" while it was not)."""

    def __init__(self, dog: Watchdog, seconds: float, sock: Callable[[], socket.socket | None]):
        self.dog, self.seconds, self.sock = dog, seconds, sock
        self.deadline = time.monotonic() + seconds
        self.why = ""
        self._stop_at: float | None = None
        self._done = False
        self._lock = threading.Lock()  # a cut and the operation's end never cross

    def look(self, now: float) -> None:
        """Cut the operation if its deadline passed, or a stop was requested `grace` seconds ago."""
        if self._stop_at is None and self.dog.should_stop():
            self._stop_at = now + self.dog.grace
        if now >= self.deadline:
            self._cut("deadline")
        elif self._stop_at is not None and now >= self._stop_at:
            self._cut("stop")

    def end(self) -> None:
        with self._lock:
            self._done = True

    def message(self, action: str) -> str:
        if self.why == "stop":
            return f"stopping: the IMAP connection was closed while {action}"
        return (f"the IMAP server did not finish answering within {self.seconds:.0f} s while {action} "
                "(imap.timeout_seconds)")

    def _cut(self, why: str) -> None:
        with self._lock:
            if self._done:
                return
            self.why = why
            self._done = True
            sock = self.sock()
        log.warning("imap.cut", extra={"why": why, "seconds": round(self.seconds, 1)})
        if sock is None:
            return
        try:  # the plain socket's shutdown, also under TLS: the blocked read returns at once
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            log.debug("imap.cut_failed")
