"""The daemon loop: a thin APScheduler shell around one pass (which knows nothing of it)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from daemon.errors import AtsInboxError, ConfigError, DatabaseReplaced
from daemon.ops.stopping import StopSignal

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Lane:
    """One mailbox's passes: its pass function, and the event its IDLE watcher sets (None: no IDLE)."""

    name: str
    one_pass: Callable[[Callable[[], bool]], object]
    wake: threading.Event | None = None


def run_forever(one_pass: Callable[[Callable[[], bool]], object], interval_seconds: int,
                stop: StopSignal, wake: threading.Event | None = None, *,
                after_pass: Callable[[], None] | None = None, chores: Sequence[Callable[[], None]] = (),
                on_stop: Callable[[], None] | None = None, every: float = 1.0) -> None:
    """Run `one_pass` now and every `interval_seconds`, never two at once, until `stop` is requested.

    `wake` (set by the IDLE watcher, daemon/ops/idle.py): a pass now, or right after the one in
    progress (which may have swept before the new mail came); wakes during a pass make one more.

    `one_pass` gets `stop.requested`: on a stop the pass in progress finishes the message in
    hand, then the loop ends. The caller installs the signal handlers (`stop.installed()`).

    `after_pass` runs in the pass's thread after every pass, however it ended (the systemd
    watchdog ping: a pass that hangs never gets there). The main thread, meanwhile, runs each
    of `chores` every `every` seconds (alerts, reporting a reload), and `on_stop` as soon as a
    stop is requested, before waiting for the pass in hand. A chore that fails is logged.

    A failed pass is logged and the next one tries again, except for what a person must
    fix first, raised here once the scheduler stopped: a configuration error in the first
    pass (a folder the server cannot have, a refused token: the daemon never ran right) and
    a database replaced under the daemon (going on would submit the mailbox again).
    """
    run_lanes([Lane("poll", one_pass, wake)], interval_seconds, stop, after_pass=after_pass, chores=chores,
              on_stop=on_stop, every=every)


def run_lanes(lanes: Sequence[Lane], interval_seconds: int, stop: StopSignal, *,
              after_pass: Callable[[], None] | None = None, chores: Sequence[Callable[[], None]] = (),
              on_stop: Callable[[], None] | None = None, every: float = 1.0) -> None:
    """`run_forever` for several mailboxes, each in a lane of its own: its own scheduled job (never two passes
    of one mailbox at once), a worker thread for each lane (a mailbox whose server hangs or fails holds only its
    own thread, never another's turn), its own wake-ups and its own failures. With several lanes a configuration
    error of one mailbox is logged and tried again on its schedule (the others go on); a database replaced
    under the daemon still stops it all."""
    guarded = [_Guarded(lane.one_pass, stop, after_pass, lane=lane.name, alone=len(lanes) == 1) for lane in lanes]
    scheduler = BackgroundScheduler(timezone=UTC, executors={"default": ThreadPoolExecutor(max(1, len(lanes)))})
    wakers = []
    for lane, guard in zip(lanes, guarded, strict=True):
        guard.wake = lane.wake
        scheduler.add_job(guard, IntervalTrigger(seconds=interval_seconds), id=f"poll:{lane.name}",
                          max_instances=1, coalesce=True, misfire_grace_time=interval_seconds,
                          next_run_time=datetime.now(UTC))
        if lane.wake is not None:
            wakers.append(threading.Thread(target=_on_wake, args=(guard, lane.wake, stop),
                                           name=f"wake-{lane.name}", daemon=True))
    scheduler.start()
    for waker in wakers:
        waker.start()
    log.info("daemon.started", extra={"interval_seconds": interval_seconds, "mailboxes": len(lanes)})
    if chores:
        while not stop.sleep(every):
            for chore in chores:
                _safely(chore)
    else:
        stop.wait()
    if on_stop is not None:
        _safely(on_stop)
    scheduler.shutdown(wait=True)
    for waker in wakers:
        waker.join()
    log.info("daemon.stopped")
    fatal = next((guard.fatal for guard in guarded if guard.fatal is not None), None)
    if fatal is not None:
        raise fatal


def _on_wake(guarded: _Guarded, wake: threading.Event, stop: StopSignal) -> None:
    """A pass each time `wake` is set, until `stop`."""
    while not stop.requested():
        if wake.wait(0.5) and not stop.requested():
            guarded.now()


class _Guarded:
    """One scheduled pass: a failure is logged and the daemon keeps running, unless it is fatal."""

    def __init__(self, one_pass: Callable[[Callable[[], bool]], object], stop: StopSignal,
                 after_pass: Callable[[], None] | None = None, *, lane: str = "poll", alone: bool = True):
        self.one_pass, self.stop, self.after_pass = one_pass, stop, after_pass
        self.lane, self.alone = lane, alone  # alone: the daemon's only mailbox (its first failure may be fatal)
        self.passes = 0
        self.fatal: AtsInboxError | None = None
        self._one_at_a_time = threading.Lock()
        self.wake: threading.Event | None = None  # cleared as each pass starts: it sweeps what came before

    def __call__(self) -> None:
        """The scheduled pass; skipped when a woken one is running (it covers this one)."""
        if self._one_at_a_time.acquire(blocking=False):
            try:
                self._run()
            finally:
                self._one_at_a_time.release()

    def now(self) -> None:
        """A woken pass: after the one in progress, unless a pass started since the wake (it covers it)."""
        with self._one_at_a_time:
            if self.wake is None or self.wake.is_set():
                self._run()

    def _run(self) -> None:
        if self.wake is not None:
            self.wake.clear()  # set again during this pass: one more pass after it
        if self.stop.requested():
            return
        self.passes += 1
        try:
            self._pass()
        finally:
            if self.after_pass is not None:
                _safely(self.after_pass)

    def _pass(self) -> None:
        try:
            self.one_pass(self.stop.requested)
        except (ConfigError, DatabaseReplaced) as exc:
            if isinstance(exc, DatabaseReplaced) or (self.passes == 1 and self.alone):
                log.error("daemon.fatal", extra={"error": type(exc).__name__, "detail": str(exc)[:300]})
                self.fatal = exc
                self.stop.request("fatal error")
                return
            log.error("poll.will_retry", extra={"error": type(exc).__name__, "detail": str(exc)[:300],
                                                "mailbox": self.lane})
        except AtsInboxError as exc:
            log.warning("poll.will_retry", extra={"error": type(exc).__name__, "detail": str(exc)[:300],
                                                  "mailbox": self.lane})
        except Exception:
            log.exception("poll.crashed", extra={"mailbox": self.lane})


def _safely(action: Callable[[], None]) -> None:
    """A side duty of the loop (a ping, an alert): its failure is logged, never the loop's end."""
    try:
        action()
    except Exception:
        log.exception("daemon.chore_failed")
