"""A stop request from SIGTERM, SIGINT or SIGHUP, and sleeps that end when one comes.

`run` and `poll` install one `StopSignal`; the pass asks `requested()` between messages,
and every wait (the schedule, retry and reconnect backoff, an ATS `Retry-After`) sleeps
with `sleep()`, which returns as soon as a stop is requested. So a stop never cuts a
create in half and never waits out a long backoff. In `poll`, SIGHUP stops like SIGTERM;
in `run` it asks for a reload of the routing rules instead (`on_hangup`). Either way its
default action, which would kill the process mid-create, is never taken.

A second SIGINT (Ctrl-C twice) raises KeyboardInterrupt: a person at a terminal who
insists gets the process back at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class StopSignal:
    """A one-way flag: once a stop is requested it stays requested."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._requested = False  # set directly by the signal handler; the event is set from a thread

    def requested(self) -> bool:
        """Whether a stop was requested."""
        return self._requested or self._event.is_set()

    def request(self, reason: str = "requested") -> None:
        """Ask everything that waits on this to stop (thread-safe; not from a signal handler)."""
        if not self._event.is_set():
            log.info("daemon.stopping", extra={"reason": reason})
        self._requested = True
        self._event.set()

    def sleep(self, seconds: float) -> bool:
        """Wait up to `seconds`; return True at once if a stop is (or gets) requested, else False."""
        if self.requested():
            return True
        return self._event.wait(max(0.0, seconds))

    def wait(self) -> None:
        """Block until a stop is requested."""
        while not self._event.wait(3600):
            pass

    @contextmanager
    def installed(self, on_hangup: Callable[[], None] | None = None) -> Iterator[StopSignal]:
        """Handle SIGTERM and SIGINT as a stop request while inside, and SIGHUP too unless
        `on_hangup` is given (then SIGHUP calls it); restore the old handlers after.

        Must be entered in the main thread (Python delivers signals only there).
        """
        previous = {signum: signal.signal(signum, self._handle) for signum in STOP_SIGNALS}
        if on_hangup is not None:
            signal.signal(signal.SIGHUP, lambda _signum, _frame: on_hangup())
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGINT and self.requested():
            raise KeyboardInterrupt
        self._requested = True
        # Event.set() takes a lock the interrupted main thread may hold (inside Event.wait):
        # set it from a short-lived thread instead of from the handler.
        name = signal.Signals(signum).name
        threading.Thread(target=self.request, args=(name,), name="stop-signal", daemon=True).start()
