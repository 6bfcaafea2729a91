"""Instant pickup: a thread that listens in IMAP IDLE and asks the scheduler for a pass at once.

IDLE (RFC 2177) is only a wake-up hint: the pass it starts sweeps the folder by UID as every
pass does, so a missed or doubled announcement costs nothing but latency. The scheduled
passes go on beside it as the safety net, and are the only mode when `[imap] idle = false`
or the server offers no IDLE.

The watcher, on a connection of its own (daemon.mailbox.imap.IdleConnection):
- IDLEs on the watched folder and sets `wake` whenever the server announces new mail;
- every `idle_seconds` (well inside the 29 minutes of RFC 2177) ends the IDLE with DONE and
  checks the connection with NOOP, both answered within the socket timeout, calls
  `progress()` (a watchdog hook: an IDLE round trip was answered) and IDLEs again;
- takes any sign of a dead connection (EOF, BYE, a read timeout, a failing DONE or NOOP) as
  a reason to reconnect, after a jittered backoff; each reconnect sets `wake` as well, since
  mail may have arrived while it was away;
- looks at the stop signal every `step` seconds, and on a stop drops its connection at once;
- listens only while `wanted()` says so: with several instances sharing the mailboxes, only the
  one that holds a mailbox watches it (the others would hold connections for nothing, and
  servers cap them per user); it drops its connection when the mailbox goes to another
  instance, and connects (and wakes) when the mailbox comes back.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from daemon.config import ImapSettings
from daemon.errors import ConfigError, MailboxUnavailable
from daemon.mailbox.imap import IdleConnection

log = logging.getLogger(__name__)
STEP_SECONDS = 0.25  # how often an IDLE looks at the stop signal


class Listener(Protocol):
    """What the watcher needs of the IMAP side (daemon.mailbox.imap.IdleConnection)."""

    def open(self) -> bool: ...  # connect and log in; whether the server offers IDLE
    def start(self) -> bool: ...  # IDLE; whether new mail was announced on the way in
    def wait(self, seconds: float) -> bool: ...  # whether new mail was announced
    def finish(self) -> bool: ...  # DONE and NOOP, answered; whether new mail was announced
    def close(self) -> None: ...


class Stopping(Protocol):
    """What the watcher needs of a stop signal (daemon.ops.stopping.StopSignal)."""

    def requested(self) -> bool: ...
    def sleep(self, seconds: float) -> bool: ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between reconnects: doubling from `first` up to `most`, each with up to half taken off."""

    first: float = 1.0
    most: float = 60.0

    def delay(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        return min(self.most, self.first * 2 ** max(0, failures - 1)) * (1 - rand() / 2)


def _nothing() -> None:
    """No watchdog hook."""


def _always() -> bool:
    """The mailbox is always this daemon's to watch (one instance)."""
    return True


class IdleWatcher:
    """Listens for new mail and sets `wake`, until `stop`; see the module's docstring."""

    def __init__(self, listener: Callable[[], Listener], wake: threading.Event, stop: Stopping, *,
                 idle_seconds: float, progress: Callable[[], None] = _nothing, backoff: Backoff = Backoff(),
                 step: float = STEP_SECONDS, clock: Callable[[], float] = time.monotonic,
                 wanted: Callable[[], bool] = _always, mailbox: str = ""):
        self.listener, self.wake, self.stop, self.idle_seconds = listener, wake, stop, idle_seconds
        self.progress, self.backoff, self.step, self.clock = progress, backoff, step, clock
        self.wanted, self.mailbox = wanted, mailbox
        self.connections = 0  # connections that reached IDLE
        self.rounds = 0  # IDLE round trips answered

    def run(self) -> None:
        """Listen until a stop is requested, or until the server turns out to offer no IDLE."""
        failures = 0
        while not self.stop.requested():
            if not self.wanted():  # another instance's mailbox for now: no connection, look again soon
                self.stop.sleep(self.step)
                continue
            listener = self.listener()
            try:
                if not listener.open():
                    log.info("idle.unsupported", extra={"then": "scheduled passes only", "mailbox": self.mailbox})
                    return
                self._connected(reconnect=bool(self.connections or failures))
                failures = 0
                self._listen(listener)
            except (MailboxUnavailable, ConfigError) as exc:
                failures += 1
                self._lost(exc, failures)
            except Exception:  # a bug must not end instant pickup for good
                failures += 1
                log.exception("idle.crashed", extra={"mailbox": self.mailbox})
                self.stop.sleep(self.backoff.delay(failures))
            finally:
                listener.close()
        log.info("idle.stopped", extra={"mailbox": self.mailbox})

    def _connected(self, *, reconnect: bool) -> None:
        self.connections += 1
        log.info("idle.listening", extra={"reconnect": reconnect, "mailbox": self.mailbox})
        if reconnect:
            self._wake("reconnected")

    def _listen(self, listener: Listener) -> None:
        """IDLE rounds of `idle_seconds` until a stop; raises when the connection fails."""
        while not self.stop.requested():
            if listener.start():
                self._wake("new mail")
            until = self.clock() + self.idle_seconds
            while not self.stop.requested() and (left := until - self.clock()) > 0:
                if listener.wait(min(self.step, left)):
                    self._wake("new mail")
                if not self.wanted():
                    log.info("idle.released", extra={"why": "the mailbox went to another instance",
                                                     "mailbox": self.mailbox})
                    return
            if self.stop.requested():
                return
            if listener.finish():
                self._wake("new mail")
            self.rounds += 1
            self.progress()

    def _wake(self, why: str) -> None:
        log.info("idle.wake", extra={"why": why, "mailbox": self.mailbox})
        self.wake.set()

    def _lost(self, exc: Exception, failures: int) -> None:
        """Log why the connection is gone and wait before the next try (longer for a configuration error)."""
        delay = self.backoff.most if isinstance(exc, ConfigError) else self.backoff.delay(failures)
        level = logging.ERROR if isinstance(exc, ConfigError) else logging.WARNING
        log.log(level, "idle.connection_lost", extra={"error": type(exc).__name__, "detail": str(exc)[:300],
                                                      "failures": failures, "retry_in": round(delay, 1),
                                                      "mailbox": self.mailbox})
        self.stop.sleep(delay)


def start(settings: ImapSettings, wake: threading.Event, stop: Stopping, *,
          progress: Callable[[], None] = _nothing, name: str = "",
          wanted: Callable[[], bool] = _always) -> threading.Thread | None:
    """The watcher for `settings` (the mailbox `name`, one of several) in a thread of its own, started; None
    when `[imap] idle = false`. Each mailbox has its own: one whose server is down backs off alone. `wanted`:
    whether this instance holds the mailbox now (it listens only then)."""
    if not settings.idle:
        return None
    watcher = IdleWatcher(lambda: IdleConnection(settings), wake, stop, idle_seconds=settings.idle_seconds,
                          progress=progress, wanted=wanted, mailbox=name)
    thread = threading.Thread(target=watcher.run, name=f"imap-idle-{name}" if name else "imap-idle", daemon=True)
    thread.start()
    return thread
