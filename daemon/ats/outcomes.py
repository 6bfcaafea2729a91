"""Which failed ATS calls may be sent again: one table, the only place that decides it.

A call that failed was either not done by the ATS ("not done": safe to send again) or may
have been done ("unknown": the ATS may have acted before its answer went missing). The
table is keyed by what failed and whether the request had been sent:

    what failed                                        sent  verdict
    connection error   (connect refused, proxy, bad URL)  no    not done
    timeout            (connect, pool)                     no    not done
    protocol error     (ours, before sending)              no    not done
    connection error   (read/write error: dropped)         yes   unknown
    timeout            (read, write)                       yes   unknown
    protocol error     (the server's: dropped mid-answer)  yes   unknown
    unreadable answer  (undecodable body)                  yes   unknown
    not-done status    (`not_done_statuses`: 429, 503)     yes   not done (Retry-After honoured)
    other 5xx          (500, 502, 504, ...; 429 if taken   yes   unknown  (a gateway answered
                        out of `not_done_statuses`)                     502 after the ATS
                                                                         committed: a duplicate)
    303 See Other      (to a POST: it acted, see there)    yes   unknown
    unreadable 2xx     (no JSON, no id)                    yes   unknown

What the client raises follows from the verdict and the kind of call:

    not done   every call: AtsRateLimited (429) or AtsUnavailable, retried
    unknown    creates: OutcomeUnknown (held as uncertain, never sent again)
               reads and the CV upload: AtsUnavailable (repeating them is harmless)

Answers that are not failures of this kind are decided in client.py: other 4xx are
refusals (AtsRejected); other 3xx, a 404 on a directory read, and an HTML page where the
ATS's JSON belongs come from the wrong server (AtsMisdirected).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import httpx


class Verdict(enum.Enum):
    """Did the ATS act on a failed call?"""

    NOT_DONE = "not done"  # safe to send again
    UNKNOWN = "unknown"  # it may have: sending again may duplicate


NOT_DONE, UNKNOWN = Verdict.NOT_DONE, Verdict.UNKNOWN
DEFAULT_NOT_DONE_STATUSES = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed call: what failed, and whether the request had been sent."""

    what: str
    sent: bool


TABLE: Mapping[Failure, Verdict] = MappingProxyType({
    Failure("connection error", sent=False): NOT_DONE,
    Failure("timeout", sent=False): NOT_DONE,
    Failure("protocol error", sent=False): NOT_DONE,
    Failure("connection error", sent=True): UNKNOWN,
    Failure("timeout", sent=True): UNKNOWN,
    Failure("protocol error", sent=True): UNKNOWN,
    Failure("unreadable answer", sent=True): UNKNOWN,
    Failure("not-done status", sent=True): NOT_DONE,
    Failure("other 5xx", sent=True): UNKNOWN,
    Failure("303 See Other", sent=True): UNKNOWN,
    Failure("unreadable 2xx", sent=True): UNKNOWN,
})

# Errors raised before any byte of the request left us.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError,
             httpx.UnsupportedProtocol, httpx.LocalProtocolError)


def transport_failure(exc: httpx.HTTPError) -> Failure:
    """The table's key for an httpx transport (or decoding) error."""
    if isinstance(exc, httpx.TimeoutException):
        what = "timeout"
    elif isinstance(exc, httpx.ProtocolError):
        what = "protocol error"
    elif isinstance(exc, httpx.DecodingError):
        what = "unreadable answer"
    else:
        what = "connection error"
    return Failure(what, sent=not isinstance(exc, _NOT_SENT))


def status_failure(status: int, not_done_statuses: Collection[int] = DEFAULT_NOT_DONE_STATUSES,
                   ) -> Failure | None:
    """The table's key for a failed answer's status; None for a status the table does not
    decide (a refusal or a misdirection: see the module docstring)."""
    if status in not_done_statuses:
        return Failure("not-done status", sent=True)
    if status >= 500 or status == 429:
        return Failure("other 5xx", sent=True)
    if status == 303:
        return Failure("303 See Other", sent=True)
    return None


UNREADABLE_2XX = Failure("unreadable 2xx", sent=True)


def check_not_done_statuses(statuses: Collection[int]) -> frozenset[int]:
    """The statuses as a set; ValueError unless each is 429 or a 5xx."""
    wrong = sorted(s for s in statuses if not (s == 429 or 500 <= s <= 599))
    if wrong:
        raise ValueError(f"only 429 and 5xx can mean 'not done', not {wrong}")
    return frozenset(statuses)


def verdict(failure: Failure) -> Verdict:
    """Did the ATS act on this failed call? (Unlisted failures: it may have.)"""
    return TABLE.get(failure, UNKNOWN)
