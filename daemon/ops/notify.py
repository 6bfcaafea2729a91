"""Telling systemd how the daemon is doing: the sd_notify protocol over $NOTIFY_SOCKET.

One datagram per message, `KEY=value` lines (sd_notify(3)); nothing is sent when the
daemon does not run under a `Type=notify` unit (no $NOTIFY_SOCKET). What we send:

    READY=1       configuration, rules and database are good and the mailbox opened
    STATUS=...    one line on what the daemon is doing (`systemctl status` shows it)
    WATCHDOG=1    real progress of the main loop: a message handled, a pass finished, an
                  IDLE round trip answered (`progress()`); never from a timer, so a hung
                  IMAP or HTTP read stops the pings and `WatchdogSec=` restarts the daemon
    RELOADING=1   a SIGHUP is being handled (READY=1 follows)
    STOPPING=1    a stop was requested; the message in hand is finished first

`PassReport` turns the service's pass events into these messages.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from daemon.errors import AtsInboxError, MailboxUnavailable
from daemon.intake.runner import PassSummary

log = logging.getLogger(__name__)
MAX_STATUS_CHARS = 200


class Notifier:
    """sd_notify to one socket address; `address` None: every call does nothing."""

    def __init__(self, address: str | None = None, watchdog_seconds: float | None = None):
        self.address = _socket_address(address) if address else None
        self.watchdog_seconds = watchdog_seconds  # None: no watchdog asked for
        self._socket: socket.socket | None = None
        self.ready = False
        self._pass_moved: float | None = None  # while a pass runs: when it last made progress
        self._clock = time.monotonic

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Notifier:
        """The notifier systemd asked for, if any: $NOTIFY_SOCKET, and $WATCHDOG_USEC when
        $WATCHDOG_PID is unset or is this process."""
        usec, pid = environ.get("WATCHDOG_USEC", ""), environ.get("WATCHDOG_PID", "")
        ours = not pid or pid == str(os.getpid())
        seconds = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 and ours else None
        return cls(environ.get("NOTIFY_SOCKET") or None, seconds)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str) -> None:
        """One datagram of `KEY=value` lines; a failure is logged, never raised."""
        if self.address is None:
            return
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto("\n".join(fields).encode(), self.address)
        except OSError as exc:
            log.warning("systemd.notify_failed", extra={"error": type(exc).__name__})

    def status(self, text: str) -> None:
        self.send(f"STATUS={_one_line(text)}")

    def ready_now(self, text: str = "") -> None:
        """READY=1 (with a status line); later calls only update the status."""
        fields = [f"STATUS={_one_line(text)}"] if text else []
        if not self.ready:
            self.ready = True
            fields.insert(0, "READY=1")
            log.info("systemd.ready", extra={"notify": self.enabled})
        if fields:
            self.send(*fields)

    def progress(self) -> None:
        """WATCHDOG=1: call only after real progress of the main loop."""
        if self.watchdog_seconds is not None:
            self.send("WATCHDOG=1")

    def pass_moving(self) -> None:
        """A pass runs and just made progress (started, or finished a message)."""
        self._pass_moved = self._clock()

    def pass_done(self) -> None:
        """The pass ended, however: the loop is free again. WATCHDOG=1."""
        self._pass_moved = None
        self.progress()

    def side_progress(self) -> None:
        """Progress of a loop beside the passes (IDLE): WATCHDOG=1, unless a pass has been stuck
        for half the watchdog interval, so that a hung read in a pass still trips the watchdog."""
        moved = self._pass_moved
        if moved is not None and self.watchdog_seconds is not None \
                and self._clock() - moved > self.watchdog_seconds / 2:
            return
        self.progress()

    def reloading(self) -> None:
        self.send("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def reloaded(self, text: str) -> None:
        self.send("READY=1", f"STATUS={_one_line(text)}")

    def stopping(self, text: str = "stopping after the message in hand") -> None:
        self.send("STOPPING=1", f"STATUS={_one_line(text)}")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


_process_notifier = Notifier()


def install(notifier: Notifier) -> None:
    """Make `notifier` the one `progress()` pings (one per process: systemd watches the process)."""
    global _process_notifier  # one $NOTIFY_SOCKET per process
    _process_notifier = notifier


def progress() -> None:
    """WATCHDOG=1 for the process, if systemd watches it: call after each real step of the main
    loop that is not a pass (e.g. an IDLE round trip answered). Never from a timer thread.
    Held back while a pass is stuck (see `Notifier.side_progress`)."""
    _process_notifier.side_progress()


class PassReport:
    """The service's pass events as systemd messages (see daemon.ops.service.PassObserver).

    READY=1 comes after the first message handled or the first pass that opened the mailbox;
    a first pass that cannot reach the mailbox leaves the unit starting, saying why.
    """

    def __init__(self, notifier: Notifier, interval_seconds: int, clock=datetime.now):
        self.notifier, self.interval = notifier, interval_seconds
        self._clock = clock
        self._down_since: dict[str, datetime] = {}  # "ATS" / "mailbox" -> since when

    def pass_started(self, pass_id: int) -> None:
        self.notifier.pass_moving()
        self.notifier.status(f"pass {pass_id}: working")

    def progress(self) -> None:
        self.notifier.pass_moving()
        if not self.notifier.ready:
            self.notifier.ready_now()
        self.notifier.progress()

    def message_handled(self, status: str, seconds: float) -> None:
        pass

    def pass_ended(self, pass_id: int, summary: PassSummary | None, error: Exception | None) -> None:
        text = self._status(pass_id, summary, error)
        if isinstance(error, MailboxUnavailable) and not self.notifier.ready:
            self.notifier.status(f"starting: {text}")
        else:
            self.notifier.ready_now(text)
        self.notifier.pass_done()

    def _status(self, pass_id: int, summary: PassSummary | None, error: Exception | None) -> str:
        now = self._clock()
        if summary is not None and summary.busy:
            return "standing by: another ats-inbox instance is working on this mailbox"
        down = "ATS" if summary is not None and summary.ats_down else (
            "mailbox" if isinstance(error, MailboxUnavailable) else "")
        for what in list(self._down_since):
            if what != down:
                del self._down_since[what]
        if down:
            since = self._down_since.setdefault(down, now)
            detail = summary.last_error if summary is not None else str(error)
            return f"waiting: {down} down since {since:%H:%M} (pass {pass_id}: {detail})"
        if error is not None:
            said = str(error) if isinstance(error, AtsInboxError) else f"internal error ({type(error).__name__})"
            return f"pass {pass_id} failed at {now:%H:%M}: {said}; next try within {self.interval} s"
        assert summary is not None
        waiting = f", {summary.pending} waiting for a retry" if summary.pending else ""
        return (f"pass {pass_id} at {now:%H:%M}: {summary.submitted} submitted, {summary.set_aside} set aside"
                f"{waiting} ({summary.seen} seen)")


def _socket_address(name: str) -> str:
    """An abstract socket is written with a leading "@" and addressed with a leading NUL."""
    return "\0" + name[1:] if name.startswith("@") else name


def _one_line(text: str) -> str:
    return " ".join(text.split())[:MAX_STATUS_CHARS]


class Reload:
    """SIGHUP (systemd's ExecReload): RELOADING=1 at once, the rules read again before the next
    message, then READY=1 with a status saying what came of it (`check`, from the main loop)."""

    def __init__(self, notifier: Notifier, request_reload: Callable[[], None], check: Callable[[], str]):
        self.notifier, self._request, self._check = notifier, request_reload, check
        self._pending = False

    def requested(self) -> None:
        """The signal handler: nothing that takes a lock (a datagram and two flags)."""
        self.notifier.reloading()
        self._request()
        self._pending = True

    def report(self) -> None:
        """A chore of the main loop: after a SIGHUP, READY=1 and what the reload found."""
        if not self._pending:
            return
        self._pending = False
        said = self._check()
        log.info("daemon.reloaded", extra={"said": said})
        self.notifier.reloaded(said)
