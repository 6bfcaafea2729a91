"""Retries with full-jitter backoff and the circuit breaker, alone and inside AtsClient
(fake sleep and clock: nothing really sleeps)."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable

import httpx
import pytest

from daemon.ats.breaker import CircuitBreaker, CircuitOpen
from daemon.ats.client import AtsClient
from daemon.ats.retry import RetryPolicy, call_with_retry
from daemon.errors import (
    AtsRateLimited,
    AtsRejected,
    AtsUnavailable,
    OutcomeUnknown,
)


class FakeTime:
    """A clock that only moves when someone sleeps (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


class MaxRng:
    """Full jitter drawn at its upper bound, so waits are predictable."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Failing:
    """A callable that raises the given errors in turn, then returns "ok"."""

    def __init__(self, *errors: Exception):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def run(fn: Callable[[], str], policy: RetryPolicy, t: FakeTime) -> str:
    return call_with_retry(fn, policy, sleep=t.sleep, clock=t.clock, rng=MaxRng())


# -- RetryPolicy and call_with_retry --------------------------------------------------------


@pytest.mark.parametrize(
    ("retry", "retry_after", "expected"),
    [(0, None, 0.5), (1, None, 1.0), (3, None, 4.0), (10, None, 30.0),
     (0, 5.0, 5.0), (3, 2.0, 4.0), (0, 30.0, 30.0), (0, 31.0, None), (0, 0.0, 0.5)],
    ids=["first", "second", "fourth", "capped", "retry-after-wins", "jitter-wins",
         "retry-after-at-cap", "retry-after-over-cap-gives-up", "retry-after-zero"],
)
def test_delay_is_full_jitter_at_least_retry_after(retry, retry_after, expected):
    """The wait is uniform(0, min(cap, base*2**n)) but at least Retry-After; over cap: give up."""
    assert RetryPolicy().delay(retry, retry_after, MaxRng()) == expected


def test_delay_draws_from_zero_to_the_bound():
    """Full jitter: the random draw is between 0 and min(cap, base*2**n)."""
    calls = []

    class Spy:
        def uniform(self, a: float, b: float) -> float:
            calls.append((a, b))
            return a

    assert RetryPolicy(base=1.0, cap=10.0).delay(5, None, Spy()) == 0.0
    assert calls == [(0.0, 10.0)]


def test_delay_with_a_real_rng_stays_in_bounds():
    """With a real RNG every wait lies within [0, min(cap, base*2**n)]."""
    rng, policy = random.Random(42), RetryPolicy(base=0.5, cap=8.0)
    for n in range(8):
        assert 0.0 <= policy.delay(n, None, rng) <= min(8.0, 0.5 * 2**n)


@pytest.mark.parametrize("bad", [{"attempts": 0}, {"base": -1.0}, {"cap": -1.0}, {"total": -1.0}])
def test_policy_refuses_nonsense(bad):
    """Zero attempts or negative times are refused."""
    with pytest.raises(ValueError):  # noqa: PT011
        RetryPolicy(**bad)


def test_transient_errors_are_retried_until_success():
    """AtsUnavailable and AtsRateLimited are retried; the result comes back."""
    t, fn = FakeTime(), Failing(AtsUnavailable("down"), AtsRateLimited("slow"))
    assert run(fn, RetryPolicy(), t) == "ok"
    assert fn.calls == 3
    assert t.sleeps == [0.5, 1.0]


def test_retries_stop_at_attempts():
    """After `attempts` calls the last error is raised."""
    t = FakeTime()
    fn = Failing(*(AtsUnavailable(f"down {i}") for i in range(10)))
    with pytest.raises(AtsUnavailable, match="down 2"):
        run(fn, RetryPolicy(attempts=3), t)
    assert fn.calls == 3
    assert len(t.sleeps) == 2


def test_retries_stop_at_the_total_budget():
    """A wait that would overrun `total` is not taken: the error is raised instead."""
    t = FakeTime()
    fn = Failing(*(AtsUnavailable("down") for _ in range(10)))
    with pytest.raises(AtsUnavailable):
        run(fn, RetryPolicy(attempts=10, base=1.0, cap=100.0, total=10.0), t)
    assert t.sleeps == [1.0, 2.0, 4.0]  # the next, 8.0, would end at 15 > 10
    assert fn.calls == 4


def test_time_spent_in_calls_counts_against_the_budget():
    """Slow attempts use up the total budget too, not only the sleeps."""
    t = FakeTime()

    def slow() -> str:
        t.now += 50.0
        raise AtsUnavailable("timeout")

    with pytest.raises(AtsUnavailable):
        run(slow, RetryPolicy(attempts=10, total=120.0), t)
    assert len(t.sleeps) == 2


def test_retry_after_is_honoured():
    """The wait is at least the server's Retry-After."""
    t, fn = FakeTime(), Failing(AtsRateLimited("slow", retry_after=12.0))
    assert run(fn, RetryPolicy(), t) == "ok"
    assert t.sleeps == [12.0]


@pytest.mark.parametrize(
    "error",
    [AtsRateLimited("slow", retry_after=31.0), AtsUnavailable("503", retry_after=3600.0)],
)
def test_retry_after_beyond_cap_gives_up_at_once(error):
    """A Retry-After longer than `cap` is not waited for here: the error goes up at once."""
    t, fn = FakeTime(), Failing(error)
    with pytest.raises(AtsUnavailable) as info:
        run(fn, RetryPolicy(), t)
    assert info.value is error
    assert (fn.calls, t.sleeps) == (1, [])


def test_retry_after_beyond_the_remaining_budget_gives_up():
    """A Retry-After within `cap` but past the remaining total budget is not waited for."""
    t, fn = FakeTime(), Failing(AtsRateLimited("a"), AtsRateLimited("b", retry_after=20.0))
    with pytest.raises(AtsRateLimited, match="b"):
        run(fn, RetryPolicy(total=10.0), t)
    assert t.sleeps == [0.5]


@pytest.mark.parametrize(
    "error",
    [OutcomeUnknown("lost"), AtsRejected("no", status=422), CircuitOpen("open"), ValueError("bug")],
    ids=["outcome-unknown", "rejected", "circuit-open", "bug"],
)
def test_other_errors_are_not_retried(error):
    """OutcomeUnknown, AtsRejected, CircuitOpen and bugs go up on the first attempt."""
    t, fn = FakeTime(), Failing(error)
    with pytest.raises(type(error)):
        run(fn, RetryPolicy(), t)
    assert (fn.calls, t.sleeps) == (1, [])


# -- CircuitBreaker -------------------------------------------------------------------------


def test_breaker_opens_after_threshold_consecutive_failures():
    """`threshold` consecutive transient failures open the breaker; then calls fail fast."""
    t = FakeTime()
    breaker = CircuitBreaker(threshold=3, cooldown=60.0, clock=t.clock)
    for _ in range(3):
        with pytest.raises(AtsUnavailable):
            breaker.call(Failing(AtsUnavailable("down")))
    assert breaker.is_open
    fn = Failing()
    with pytest.raises(CircuitOpen, match="ATS circuit open"):
        breaker.call(fn)
    assert fn.calls == 0


def test_breaker_counts_only_consecutive_failures():
    """A success in between resets the count."""
    t = FakeTime()
    breaker = CircuitBreaker(threshold=2, clock=t.clock)
    for fn in (Failing(AtsUnavailable("x")), Failing(), Failing(AtsUnavailable("y"))):
        with contextlib.suppress(AtsUnavailable):
            breaker.call(fn)
    assert not breaker.is_open


@pytest.mark.parametrize(
    ("error", "opens"),
    [(AtsUnavailable("x"), True), (AtsRateLimited("x"), True), (OutcomeUnknown("x"), True),
     (AtsRejected("x", status=400), False), (ValueError("bug"), False)],
    ids=["unavailable", "rate-limited", "outcome-unknown", "rejected", "bug"],
)
def test_breaker_counts_ats_failures_not_answers(error, opens):
    """Transient errors and lost answers count; a 4xx refusal is an answer, a bug is ours."""
    breaker = CircuitBreaker(threshold=1, clock=FakeTime().clock)
    with pytest.raises(type(error)):
        breaker.call(Failing(error))
    assert breaker.is_open is opens


def _opened(t: FakeTime) -> CircuitBreaker:
    breaker = CircuitBreaker(threshold=1, cooldown=60.0, clock=t.clock)
    with pytest.raises(AtsUnavailable):
        breaker.call(Failing(AtsUnavailable("down")))
    return breaker


def test_breaker_half_open_success_closes():
    """After the cooldown one trial call goes through; its success closes the breaker."""
    t = FakeTime()
    breaker = _opened(t)
    t.now += 59.0
    assert breaker.is_open
    t.now += 1.0
    assert not breaker.is_open
    assert breaker.call(Failing()) == "ok"
    assert not breaker.is_open
    assert breaker.call(Failing()) == "ok"


def test_breaker_half_open_admits_one_trial_among_flows_calling_at_once():
    """Two flows call as the cooldown ends, both reading the clock before either is admitted (the clock
    holds the first until the second reads it, or 1 s): one is the trial, the other fails fast."""
    t = FakeTime()
    breaker = _opened(t)
    t.now += 60.0
    both_read = threading.Barrier(2, timeout=1.0)  # with the breaker's lock the second never reads meanwhile

    def clock() -> float:
        with contextlib.suppress(threading.BrokenBarrierError):
            both_read.wait()
        return t.now

    breaker._clock = clock
    trial_may_end, trials, refused = threading.Event(), [], []

    def trial() -> str:
        trials.append(1)
        trial_may_end.wait(timeout=30)
        return "ok"

    def flow() -> None:
        try:
            breaker.call(trial)
        except CircuitOpen:
            refused.append(1)
            trial_may_end.set()

    flows = [threading.Thread(target=flow) for _ in range(2)]
    for each in flows:
        each.start()
    for each in flows:
        each.join(timeout=30)
    assert (len(trials), len(refused)) == (1, 1)


def test_breaker_half_open_failure_reopens_for_a_full_cooldown():
    """A failed trial call opens the breaker again for another cooldown."""
    t = FakeTime()
    breaker = _opened(t)
    t.now += 60.0
    with pytest.raises(AtsUnavailable):
        breaker.call(Failing(AtsUnavailable("still down")))
    assert breaker.is_open
    t.now += 59.0
    with pytest.raises(CircuitOpen):
        breaker.call(Failing())
    t.now += 1.0
    assert breaker.call(Failing()) == "ok"


def test_breaker_allows_one_trial_at_a_time():
    """While the trial call is running, other calls fail fast."""
    t = FakeTime()
    breaker = _opened(t)
    t.now += 60.0
    inner: list[bool] = []

    def trial() -> str:
        inner.append(breaker.is_open)
        with pytest.raises(CircuitOpen):
            breaker.call(Failing())
        return "ok"

    assert breaker.call(trial) == "ok"
    assert inner == [True]
    assert not breaker.is_open


# -- inside the client ----------------------------------------------------------------------


def make_client(answers: list[httpx.Response | type[httpx.TransportError]], t: FakeTime, *,
                policy: RetryPolicy | None = None,
                breaker: CircuitBreaker | None = None) -> tuple[AtsClient, list[httpx.Request]]:
    """A client whose transport answers from `answers` in turn (the last one repeats)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, type):
            raise answer("boom", request=request)
        return answer

    client = AtsClient("https://ats.test", "t0ken", transport=httpx.MockTransport(handler),
                       retry=policy or RetryPolicy(), breaker=breaker, sleep=t.sleep,
                       clock=t.clock, rng=MaxRng())
    return client, seen


SOURCES_OK = httpx.Response(200, json=[{"id": 1, "name": "Email"}])


def test_client_retries_a_read_through_transient_failures():
    """A read that meets 503 and a connect error is retried and succeeds."""
    t = FakeTime()
    client, seen = make_client([httpx.Response(503), httpx.ConnectError, SOURCES_OK], t)
    assert [s.name for s in client.sources()] == ["Email"]
    assert len(seen) == 3
    assert t.sleeps == [0.5, 1.0]


def test_client_honours_retry_after_on_429():
    """A 429 with Retry-After: 9 waits 9 seconds before the next attempt."""
    t = FakeTime()
    client, seen = make_client([httpx.Response(429, headers={"Retry-After": "9"}), SOURCES_OK], t)
    client.sources()
    assert t.sleeps == [9.0]
    assert len(seen) == 2


def test_client_gives_up_after_attempts():
    """A read that keeps failing is tried `attempts` times, then AtsUnavailable goes up."""
    t = FakeTime()
    client, seen = make_client([httpx.Response(502)], t, policy=RetryPolicy(attempts=4))
    with pytest.raises(AtsUnavailable):
        client.pipelines()
    assert len(seen) == 4


def test_client_gives_up_at_the_total_budget():
    """Retries stop when the next wait would pass the total time budget."""
    t = FakeTime()
    client, seen = make_client([httpx.Response(500)], t,
                               policy=RetryPolicy(attempts=50, base=1.0, cap=5.0, total=12.0))
    with pytest.raises(AtsUnavailable):
        client.sources()
    assert t.sleeps == [1.0, 2.0, 4.0, 5.0]
    assert len(seen) == 5


@pytest.mark.parametrize("exc_type", [httpx.ReadTimeout, httpx.RemoteProtocolError])
def test_create_is_not_retried_after_a_lost_answer(exc_type):
    """A create whose answer was lost is sent once and reported OutcomeUnknown."""
    t = FakeTime()
    client, seen = make_client([exc_type, httpx.Response(201, json={"id": 1})], t)
    with pytest.raises(OutcomeUnknown):
        client.create_candidate(job_id=1, applicant_id=2, pipeline_id=3, stage_id=4, source_id=5)
    assert len(seen) == 1
    assert t.sleeps == []


def test_create_is_retried_when_nothing_was_sent():
    """A create that could not connect is safe to send again, and is."""
    t = FakeTime()
    client, seen = make_client([httpx.ConnectError, httpx.Response(201, json={"id": 8})], t)
    assert client.create_applicant(first_name="A", last_name="B", email="a@b.test", cv_ids=[1],
                                   source_id=2).wire == 8
    assert len(seen) == 2


def test_upload_is_retried_after_a_lost_answer():
    """A CV upload whose answer was lost is repeated (an orphan file at worst)."""
    t = FakeTime()
    client, seen = make_client([httpx.ReadTimeout, httpx.Response(201, json={"cv_id": 4})], t)
    assert client.upload_cv("cv.pdf", b"%PDF-", "application/pdf").cv_id.wire == 4
    assert len(seen) == 2


def test_rejection_is_not_retried():
    """A 4xx refusal is sent once."""
    t = FakeTime()
    client, seen = make_client([httpx.Response(422, json={"error": "bad"})], t)
    with pytest.raises(AtsRejected):
        client.add_comment(1, "hi")
    assert len(seen) == 1


def test_client_breaker_opens_and_stops_touching_the_network():
    """After `threshold` failed attempts the breaker opens: the next call sends nothing."""
    t = FakeTime()
    breaker = CircuitBreaker(threshold=3, cooldown=60.0, clock=t.clock)
    client, seen = make_client([httpx.ConnectError], t, policy=RetryPolicy(attempts=5),
                               breaker=breaker)
    with pytest.raises(CircuitOpen):
        client.sources()
    assert len(seen) == 3
    assert client.breaker.is_open
    with pytest.raises(CircuitOpen):
        client.pipelines()
    assert len(seen) == 3


def test_client_breaker_half_opens_after_cooldown_and_closes_on_success():
    """After the cooldown one request goes out; when it succeeds the breaker closes."""
    t = FakeTime()
    breaker = CircuitBreaker(threshold=1, cooldown=60.0, clock=t.clock)
    client, seen = make_client([httpx.ConnectError, SOURCES_OK], t,
                               policy=RetryPolicy(attempts=1), breaker=breaker)
    with pytest.raises(AtsUnavailable):
        client.sources()
    assert breaker.is_open
    t.now += 60.0
    assert [s.name for s in client.sources()] == ["Email"]
    assert not breaker.is_open
    assert len(seen) == 2


# -- the probe (`answers`): the runner's way to tell an outage from a failing message --------


def test_the_first_pass_after_an_outage_meets_an_open_circuit_and_the_probe_closes_it():
    """The ATS is back but the circuit is still cooling down: a message's call is not tried
    (CircuitOpen, which the runner does not charge), the probe asks the ATS itself, says it
    answers, and closes the circuit, so the next call goes out at once."""
    t = FakeTime()
    breaker = CircuitBreaker(threshold=1, cooldown=60.0, clock=t.clock)
    client, seen = make_client([httpx.ConnectError, SOURCES_OK], t,
                               policy=RetryPolicy(attempts=1), breaker=breaker)
    with pytest.raises(AtsUnavailable):
        client.sources()  # the outage: the circuit opens
    t.now += 30.0  # the ATS is back, the circuit is still cooling down
    with pytest.raises(CircuitOpen):
        client.pipelines()  # a message's call, never tried
    assert len(seen) == 1
    assert client.answers() is True
    assert not breaker.is_open
    assert [s.name for s in client.sources()] == ["Email"]
    assert len(seen) == 3


def test_a_probe_while_the_circuit_is_open_and_the_ats_is_down_says_down():
    """An open circuit and a failing probe: down, and the circuit stays open."""
    t = FakeTime()
    breaker = CircuitBreaker(threshold=1, cooldown=60.0, clock=t.clock)
    client, seen = make_client([httpx.ConnectError], t, policy=RetryPolicy(attempts=1),
                               breaker=breaker)
    with pytest.raises(AtsUnavailable):
        client.sources()
    assert client.answers() is False
    assert breaker.is_open
    with pytest.raises(CircuitOpen):
        client.pipelines()
    assert len(seen) == 2


@pytest.mark.parametrize("failure", [httpx.ConnectError, httpx.ReadTimeout, httpx.Response(503),
                                     httpx.Response(200, text="not json"), httpx.Response(401)],
                         ids=["connect", "timeout", "503", "unreadable", "401"])
def test_a_failing_probe_says_down(failure):
    """A probe that cannot connect, times out, gets a 5xx, an unreadable 2xx or a refusal: down."""
    t = FakeTime()
    client, seen = make_client([failure], t)
    assert client.answers() is False
    assert len(seen) == 1
    assert t.sleeps == []


def test_a_successful_probe_forgets_earlier_failures():
    """Failures before a successful probe do not count towards opening the circuit."""
    t = FakeTime()
    breaker = CircuitBreaker(threshold=2, cooldown=60.0, clock=t.clock)
    client, _ = make_client([httpx.Response(502), SOURCES_OK, httpx.Response(502)], t,
                            policy=RetryPolicy(attempts=1), breaker=breaker)
    with pytest.raises(AtsUnavailable):
        client.pipelines()
    assert client.answers() is True
    with pytest.raises(AtsUnavailable):
        client.pipelines()
    assert not breaker.is_open
