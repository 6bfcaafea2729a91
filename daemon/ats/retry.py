"""Bounded retries with full-jitter backoff for one ATS call.

Only transient failures are retried (`AtsUnavailable`, which includes `AtsRateLimited`):
never `OutcomeUnknown` (repeating a create could duplicate it), never `AtsRejected`, and
never `CircuitOpen` (the breaker already said to stay away). The wait before retry n
(n = 0, 1, ...) is `uniform(0, min(cap, base * 2**n))`, but at least the server's
`Retry-After`. We give up, raising the last error, when the attempts are used, when the
wait would overrun the `total` budget, or when the server asks for more than `cap`
seconds: the caller then leaves the message for a later poll instead of blocking here.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from daemon.ats.breaker import CircuitOpen
from daemon.errors import AtsUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


class Uniform(Protocol):
    """The part of `random.Random` the backoff uses."""

    def uniform(self, a: float, b: float) -> float: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one call tries: attempts in all, backoff base and cap, total time budget."""

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    total: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or min(self.base, self.cap, self.total) < 0:
            raise ValueError("attempts must be >= 1 and base, cap, total >= 0")

    def delay(self, retry: int, retry_after: float | None, rng: Uniform) -> float | None:
        """Seconds to wait before retry number `retry` (0-based), or None to give up."""
        if retry_after is not None and retry_after > self.cap:
            return None
        jitter = rng.uniform(0.0, min(self.cap, self.base * 2**retry))
        return max(jitter, retry_after or 0.0)


NO_RETRY = RetryPolicy(attempts=1)


def call_with_retry(fn: Callable[[], T], policy: RetryPolicy, *,
                    sleep: Callable[[float], None] = time.sleep,
                    clock: Callable[[], float] = time.monotonic,
                    rng: Uniform = random) -> T:
    """Call `fn` until it succeeds or the policy gives up; re-raise the last error."""
    start = clock()
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn()
        except CircuitOpen:
            raise
        except AtsUnavailable as exc:
            wait = _next_wait(policy, attempt, exc, clock() - start, rng)
            if wait is None:
                raise
            log.warning("ats.retry", extra={"attempt": attempt, "wait_seconds": round(wait, 3),
                                            "error": type(exc).__name__})
            sleep(wait)
    raise AssertionError("unreachable: the last attempt either returns or raises")


def _next_wait(policy: RetryPolicy, attempt: int, exc: AtsUnavailable, elapsed: float,
               rng: Uniform) -> float | None:
    if attempt >= policy.attempts:
        return None
    wait = policy.delay(attempt - 1, exc.retry_after, rng)
    if wait is None or elapsed + wait > policy.total:
        return None
    return wait
