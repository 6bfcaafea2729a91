"""The daemon loop: a thin APScheduler shell around one pass (which knows nothing of it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from daemon.errors import AtsInboxError
from daemon.stopping import StopSignal

log = logging.getLogger(__name__)


def run_forever(one_pass: Callable[[Callable[[], bool]], object], interval_seconds: int,
                stop: StopSignal) -> None:
    """Run `one_pass` now and every `interval_seconds`, never two at once, until `stop` is requested.

    `one_pass` gets `stop.requested`: on a stop the pass in progress finishes the message in
    hand, then the loop ends. The caller installs the signal handlers (`stop.installed()`).
    """
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(_guarded, IntervalTrigger(seconds=interval_seconds), args=(one_pass, stop),
                      id="poll", max_instances=1, coalesce=True, misfire_grace_time=interval_seconds,
                      next_run_time=datetime.now(UTC))
    scheduler.start()
    log.info("daemon.started", extra={"interval_seconds": interval_seconds})
    stop.wait()
    scheduler.shutdown(wait=True)
    log.info("daemon.stopped")


def _guarded(one_pass: Callable[[Callable[[], bool]], object], stop: StopSignal) -> None:
    """A failed pass is logged and the daemon keeps running; the next pass tries again."""
    if stop.requested():
        return
    try:
        one_pass(stop.requested)
    except AtsInboxError as exc:
        log.warning("poll.will_retry", extra={"error": type(exc).__name__, "detail": str(exc)[:300]})
    except Exception:
        log.exception("poll.crashed")
