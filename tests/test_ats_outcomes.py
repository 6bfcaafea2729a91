"""The outcome table of failed ATS calls, row by row, through AtsClient on httpx.MockTransport
(fake sleep and clock: nothing really sleeps)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from daemon.ats.client import AtsClient
from daemon.ats.outcomes import NOT_DONE, TABLE, UNKNOWN, Failure, status_failure, verdict
from daemon.ats.retry import RetryPolicy
from daemon.errors import AtsRateLimited, AtsUnavailable, OutcomeUnknown
from tests.test_ats_retry import FakeTime, MaxRng

Answer = Callable[[httpx.Request], httpx.Response]


def raising(exc_type: type[Exception]) -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)
    return answer


def status(code: int, **headers: str) -> Answer:
    return lambda _r: httpx.Response(code, json={"error": {"message": "no"}}, headers=headers)


@dataclass(frozen=True)
class Example:
    """One way a call can fail, and the row of the table it belongs to."""

    name: str
    row: Failure
    answer: Answer


def _row(what: str, sent: bool) -> Failure:
    return Failure(what, sent=sent)


EXAMPLES = [
    Example("ConnectError", _row("connection error", False), raising(httpx.ConnectError)),
    Example("ProxyError", _row("connection error", False), raising(httpx.ProxyError)),
    Example("UnsupportedProtocol", _row("connection error", False),
            raising(httpx.UnsupportedProtocol)),
    Example("ConnectTimeout", _row("timeout", False), raising(httpx.ConnectTimeout)),
    Example("PoolTimeout", _row("timeout", False), raising(httpx.PoolTimeout)),
    Example("LocalProtocolError", _row("protocol error", False), raising(httpx.LocalProtocolError)),
    Example("ReadError", _row("connection error", True), raising(httpx.ReadError)),
    Example("WriteError", _row("connection error", True), raising(httpx.WriteError)),
    Example("ReadTimeout", _row("timeout", True), raising(httpx.ReadTimeout)),
    Example("WriteTimeout", _row("timeout", True), raising(httpx.WriteTimeout)),
    Example("RemoteProtocolError", _row("protocol error", True), raising(httpx.RemoteProtocolError)),
    Example("DecodingError", _row("unreadable answer", True), raising(httpx.DecodingError)),
    Example("429", _row("not-done status", True), status(429, **{"Retry-After": "3"})),
    Example("503", _row("not-done status", True), status(503, **{"Retry-After": "4"})),
    Example("500", _row("other 5xx", True), status(500)),
    Example("502-html", _row("other 5xx", True), lambda _r: httpx.Response(
        502, text="<html>Bad Gateway</html>", headers={"Content-Type": "text/html"})),
    Example("504", _row("other 5xx", True), status(504)),
    Example("599", _row("other 5xx", True), status(599)),
    Example("303", _row("303 See Other", True), lambda _r: httpx.Response(
        303, headers={"Location": "/api/v1/applicant/1"})),
    Example("200-not-json", _row("unreadable 2xx", True), lambda _r: httpx.Response(200, text="ok")),
    Example("201-no-id", _row("unreadable 2xx", True),
            lambda _r: httpx.Response(201, json={"ok": True})),
    Example("204", _row("unreadable 2xx", True), lambda _r: httpx.Response(204)),
]
EXPECTED = {  # the issue's table, written out again so that a change to TABLE is seen here
    _row("connection error", False): NOT_DONE, _row("timeout", False): NOT_DONE,
    _row("protocol error", False): NOT_DONE, _row("connection error", True): UNKNOWN,
    _row("timeout", True): UNKNOWN, _row("protocol error", True): UNKNOWN,
    _row("unreadable answer", True): UNKNOWN, _row("not-done status", True): NOT_DONE,
    _row("other 5xx", True): UNKNOWN, _row("303 See Other", True): UNKNOWN,
    _row("unreadable 2xx", True): UNKNOWN,
}
THREE_TRIES = RetryPolicy(attempts=3)
OK = {"applicant": {"id": 77}, "upload": {"cv_id": 5}, "sources": [{"id": 1, "name": "Email"}]}
CALLS: dict[str, Callable[[AtsClient], Any]] = {
    "applicant": lambda c: c.create_applicant(first_name="A", last_name="B", email="a@b.test",
                                              cv_ids=[1], source_id=2),
    "upload": lambda c: c.upload_cv("cv.pdf", b"%PDF-", "application/pdf"),
    "sources": lambda c: c.sources(),
}


def failing_once(example: Example, call: str, t: FakeTime, *,
                 retry: RetryPolicy = THREE_TRIES, **options: Any) -> tuple[AtsClient, list[httpx.Request]]:
    """A client whose first request fails as `example` says and whose next one succeeds."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return example.answer(request)
        return httpx.Response(201, json=OK[call])

    client = AtsClient("https://ats.test", "tok-0123456789", retry=retry,
                       transport=httpx.MockTransport(handler), sleep=t.sleep, clock=t.clock,
                       rng=MaxRng(), **options)
    return client, seen


def test_the_table_is_the_issues_table():
    """Connect-time failures, 429 and 503 are "not done"; everything after sending is "unknown"."""
    assert dict(TABLE) == EXPECTED


def test_every_row_has_an_example():
    """Each row of the table is exercised by at least one failure below."""
    assert {example.row for example in EXAMPLES} == set(TABLE)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_a_create_is_sent_again_only_when_not_done(example: Example):
    """A create that failed "not done" is retried (honouring Retry-After) and succeeds; one
    that failed "unknown" is OutcomeUnknown after exactly one request, with no wait."""
    t = FakeTime()
    client, seen = failing_once(example, "applicant", t)
    if verdict(example.row) is NOT_DONE:
        assert CALLS["applicant"](client).wire == 77
        assert len(seen) == 2
        assert t.sleeps == [{"429": 3.0, "503": 4.0}.get(example.name, 0.5)]
    else:
        with pytest.raises(OutcomeUnknown):
            CALLS["applicant"](client)
        assert len(seen) == 1
        assert t.sleeps == []


@pytest.mark.parametrize("call", ["upload", "sources"])
@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.name != "303"], ids=lambda e: e.name)
def test_reads_and_the_upload_are_sent_again_either_way(example: Example, call: str):
    """For a read or the CV upload "unknown" is still safe to repeat: retried, then it works."""
    t = FakeTime()
    client, seen = failing_once(example, call, t)
    assert CALLS[call](client)
    assert len(seen) == 2
    assert len(t.sleeps) == 1


def test_a_303_on_the_upload_is_sent_again():
    """The upload answered 303 (it may have stored the file): an orphan file at worst, retried."""
    t = FakeTime()
    [see_other] = [e for e in EXAMPLES if e.name == "303"]
    client, seen = failing_once(see_other, "upload", t)
    assert CALLS["upload"](client).cv_id.wire == 5
    assert len(seen) == 2


@pytest.mark.parametrize(("not_done", "code", "expected"), [
    ({429, 503, 502}, 502, None),  # a deployment that knows its gateway: 502 is safe to resend
    ({429}, 503, OutcomeUnknown),  # one that does not trust 503 either
    ({503}, 429, OutcomeUnknown),
])
def test_the_not_done_statuses_are_a_parameter(not_done, code, expected):
    """`not_done_statuses` decides which 5xx/429 answers to a create are sent again."""
    t = FakeTime()
    example = Example(str(code), status_failure(code, not_done), status(code))
    client, seen = failing_once(example, "applicant", t, not_done_statuses=not_done)
    if expected is None:
        assert CALLS["applicant"](client).wire == 77
        assert len(seen) == 2
    else:
        with pytest.raises(expected):
            CALLS["applicant"](client)
        assert len(seen) == 1


def test_a_429_taken_out_of_the_set_is_still_rate_limited_on_a_read():
    """Reads are always safe: a 429 on a read is AtsRateLimited with its Retry-After."""
    t = FakeTime()
    example = Example("429", _row("other 5xx", True), status(429, **{"Retry-After": "6"}))
    client, _ = failing_once(example, "sources", t, not_done_statuses={503},
                             retry=RetryPolicy(attempts=1))
    with pytest.raises(AtsRateLimited) as info:
        CALLS["sources"](client)
    assert info.value.retry_after == 6.0


@pytest.mark.parametrize("bad", [{404}, {200}, {429, 302}])
def test_only_429_and_5xx_can_mean_not_done(bad):
    """A not-done set with other statuses is refused when the client is built."""
    with pytest.raises(ValueError, match="429 and 5xx"):
        AtsClient("https://ats.test", "t", not_done_statuses=bad)


def test_a_503_on_a_create_carries_retry_after_but_a_500_does_not():
    """Retry-After is passed on only for "not done" answers (the others are not retried)."""
    t = FakeTime()
    client, _ = failing_once(Example("500", _row("other 5xx", True),
                                     status(500, **{"Retry-After": "9"})), "upload", t,
                             retry=RetryPolicy(attempts=1))
    with pytest.raises(AtsUnavailable) as info:
        CALLS["upload"](client)
    assert info.value.retry_after is None
