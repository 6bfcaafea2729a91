"""A circuit breaker: stop calling an ATS that keeps failing, try again after a cooldown.

    closed --threshold consecutive failures--> open --cooldown passed--> half-open
    half-open: one trial call; success -> closed, failure -> open again

Failures are the transient ones (`TransientError`) and lost answers (`OutcomeUnknown`):
both say the ATS is not answering. A refusal (`PermanentError`, a 4xx) is an answer, so
it counts as a success. Several flows call it at once (`[ats] concurrency`): its state changes
under a lock, so while a trial call is in flight every other call fails fast.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from daemon.errors import AtsUnavailable, OutcomeUnknown, PermanentError, TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")


class CircuitOpen(AtsUnavailable):
    """The breaker is open: the call was not attempted. Not worth retrying right away."""


class CircuitBreaker:
    """Counts consecutive failures and fails fast while the ATS is considered down."""

    def __init__(self, threshold: int = 5, cooldown: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        if threshold < 1 or cooldown < 0:
            raise ValueError("threshold must be >= 1 and cooldown >= 0")
        self.threshold, self.cooldown, self._clock = threshold, cooldown, clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        """True while calls would fail fast (cooling down, or a trial call is in flight)."""
        if self._opened_at is None:
            return False
        return self._trial or self._clock() - self._opened_at < self.cooldown

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` unless the circuit is open, and record how it went."""
        self._admit()
        try:
            result = fn()
        except (TransientError, OutcomeUnknown):
            self._failed()
            raise
        except PermanentError:
            self._succeeded()
            raise
        except BaseException:
            with self._lock:
                self._trial = False  # not the ATS's fault: let the next call be the trial
            raise
        self._succeeded()
        return result

    def reset(self) -> None:
        """The ATS was seen answering (e.g. by a probe): close the circuit."""
        self._succeeded()

    def _admit(self) -> None:
        with self._lock:
            if self.is_open:
                left = max(0.0, self.cooldown - (self._clock() - (self._opened_at or 0.0)))
                raise CircuitOpen(f"ATS circuit open after repeated failures; next try in {left:.0f}s",
                                  retry_after=left)
            if self._opened_at is not None:
                self._trial = True
                log.info("ats.circuit.half_open")

    def _failed(self) -> None:
        with self._lock:
            self._failures += 1
            if self._trial or self._failures >= self.threshold:
                if self._opened_at is None or self._trial:
                    log.warning("ats.circuit.opened", extra={"failures": self._failures})
                self._opened_at, self._trial = self._clock(), False

    def _succeeded(self) -> None:
        with self._lock:
            if self._opened_at is not None:
                log.info("ats.circuit.closed")
            self._failures, self._opened_at, self._trial = 0, None, False
