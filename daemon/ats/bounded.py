"""One HTTP exchange with a deadline for the whole of it and a cap on the answer's size.

httpx's timeouts bound each read, not the request: a server sending a byte every few seconds
keeps a request alive for ever, and an answer of any size is read into memory. `exchange`
sends a request and reads its answer so that:

- the whole exchange (connect, send, status line, headers, body) ends `seconds` after it
  began: the body is streamed and the deadline checked between its chunks, and on a real
  socket every read and write waits at most what is left (`bound()` wraps the network
  streams of an httpx client's connection pools, so a trickle in the headers is cut too);
- with `stopped`, the exchange is abandoned within STOP_POLL seconds of a stop;
- the body is read `limit` bytes at most (decoded, so a compressed bomb is cut too).

Past the deadline it raises `httpx.ReadTimeout` ("no complete answer within N s, the whole
exchange"); on a stop `httpx.ReadError` ("stopping"); past the limit `AnswerTooLarge`. The
caller decides what each means for its call (an unknown outcome for a create).
"""

from __future__ import annotations

import logging
import math
import threading
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpcore
import httpx

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 8 * 1024 * 1024  # a page of 100 jobs with their texts is well under 1 MB
STOP_POLL = 0.5  # how often a silent socket looks for a stop
_DROPPED_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


class AnswerTooLarge(Exception):
    """The answer went past the size limit; reading stopped there."""

    def __init__(self, limit: int):
        super().__init__(f"the answer was larger than {limit} bytes")
        self.limit = limit


def never() -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Deadline:
    """When one exchange must be over, on `clock`, and whether a stop was asked for."""

    seconds: float
    ends: float
    clock: Callable[[], float]
    stopped: Callable[[], bool]

    def left(self) -> float:
        """Seconds left; raises (as httpcore does) when none are, or when stopping."""
        if self.stopped():
            raise httpcore.ReadError("stopping: the exchange was abandoned")
        left = self.ends - self.clock()
        if left <= 0:
            raise httpcore.ReadTimeout(self.expired())
        return left

    def expired(self) -> str:
        return f"no complete answer within {self.seconds:g} s (the whole exchange)"


_current = threading.local()


@contextmanager
def _within(deadline: Deadline) -> Iterator[None]:
    previous = getattr(_current, "deadline", None)
    _current.deadline = deadline
    try:
        yield
    finally:
        _current.deadline = previous


def exchange(client: httpx.Client, request: httpx.Request, *, seconds: float,
             clock: Callable[[], float], stopped: Callable[[], bool] = never,
             limit: int = MAX_ANSWER_BYTES) -> httpx.Response:
    """Send `request` and read its whole answer within `seconds` and `limit` bytes; the answer
    comes back fully read (its body decoded)."""
    deadline = Deadline(seconds, clock() + seconds, clock, stopped)
    with _within(deadline):
        response = client.send(request, stream=True)
        try:
            body = _read(response, deadline, limit)
        finally:
            response.close()
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _DROPPED_HEADERS]
    return httpx.Response(response.status_code, headers=headers, content=body, request=request)


def _read(response: httpx.Response, deadline: Deadline, limit: int) -> bytes:
    chunks, size = [], 0
    try:
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise AnswerTooLarge(limit)
            chunks.append(chunk)
            deadline.left()
    except httpcore.ReadTimeout as exc:
        raise httpx.ReadTimeout(str(exc), request=response.request) from exc
    except httpcore.ReadError as exc:
        raise httpx.ReadError(str(exc), request=response.request) from exc
    return b"".join(chunks)


# -- the network streams of a real client --------------------------------------------------


def bound(client: httpx.Client) -> httpx.Client:
    """Make every socket read and write of `client` wait at most what its exchange has left.

    httpx has no hook for this: the connection pools' network backend is wrapped (httpcore's
    `_network_backend`, the pool of httpx's default transport and of its proxy mounts). A
    transport without one (a test's MockTransport) is left alone: its body is still bounded
    by `exchange`."""
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None and not isinstance(backend, _Backend):
            pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
    return client


def _now() -> Deadline | None:
    return typing.cast(Deadline | None, getattr(_current, "deadline", None))


def _shorter(timeout: float | None, deadline: Deadline | None) -> float | None:
    if deadline is None:
        return timeout
    left = min(deadline.left(), STOP_POLL)
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    """A socket stream whose reads and writes end with the exchange's deadline or a stop."""

    def __init__(self, inner: httpcore.NetworkStream):
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        deadline = _now()
        if deadline is None:
            return self.inner.read(max_bytes, timeout)
        budget = math.inf if timeout is None else timeout
        while True:
            wait = _shorter(timeout, deadline)
            try:
                return self.inner.read(max_bytes, wait)
            except httpcore.ReadTimeout:
                budget -= wait or 0.0
                if budget <= 0:
                    raise
                deadline.left()  # raises once the deadline passed or a stop came

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _whole(timeout, _now()))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: typing.Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _Stream(self.inner.start_tls(ssl_context, server_hostname, _whole(timeout, _now())))

    def get_extra_info(self, info: str) -> typing.Any:
        return self.inner.get_extra_info(info)


def _whole(timeout: float | None, deadline: Deadline | None) -> float | None:
    """A timeout for one step that cannot be cut in slices: at most what is left."""
    if deadline is None:
        return timeout
    left = deadline.left()
    return left if timeout is None else min(timeout, left)


def _connecting(timeout: float | None) -> float | None:
    """The connect timeout: at most what is left; nothing was sent yet, so no time left is a
    connect timeout and a stop a connect error (the request is safe to send again)."""
    try:
        return _whole(timeout, _now())
    except httpcore.ReadTimeout as exc:
        raise httpcore.ConnectTimeout(str(exc)) from exc
    except httpcore.ReadError as exc:
        raise httpcore.ConnectError(str(exc)) from exc


class _Backend(httpcore.NetworkBackend):
    """httpcore's backend, its streams bounded by the exchange's deadline."""

    def __init__(self, inner: httpcore.NetworkBackend):
        self.inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        return _Stream(self.inner.connect_tcp(host, port, _connecting(timeout), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        return _Stream(self.inner.connect_unix_socket(path, _connecting(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)
