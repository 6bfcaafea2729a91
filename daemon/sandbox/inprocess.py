"""The sandbox as an httpx transport: requests go straight to `SandboxATS.handle`, with no
socket and no thread, so pipeline tests run the real routes, rules and faults in process.

What a client sees is what it would see over HTTP:

    an answer                        the same status, headers and body
    a fault's delay > read timeout   httpx.ReadTimeout (an after-commit fault did the work)
    a shorter delay                  passed to `sleep` (default: not waited), then answered
    a dropped connection             httpx.RemoteProtocolError (before or after the work:
                                     over HTTP the client cannot tell either)
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from daemon.sandbox.exchange import Incoming, Reply

Sleep = Callable[[float], None]
Handle = Callable[[Incoming], Reply]


def no_wait(seconds: float) -> None:
    """A delay that is not waited: the in-process default."""


def in_process_transport(handle: Handle, sleep: Sleep = no_wait) -> httpx.MockTransport:
    """A transport whose every request is answered by `handle`."""
    return httpx.MockTransport(lambda request: _exchange(handle, sleep, request))


def _exchange(handle: Handle, sleep: Sleep, request: httpx.Request) -> httpx.Response:
    reply = handle(Incoming(request.method, request.url.raw_path.decode("ascii"),
                            request.headers.get("Authorization", ""),
                            request.headers.get("Content-Type", ""), request.read()))
    if reply.delay > 0:
        read_timeout = request.extensions.get("timeout", {}).get("read")
        if read_timeout is not None and reply.delay > read_timeout:
            raise httpx.ReadTimeout(f"no answer within {read_timeout}s", request=request)
        sleep(reply.delay)
    if reply.answer is None:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.",
                                        request=request)
    answer = reply.answer
    headers = [("Content-Type", answer.content_type)] if answer.content_type else []
    return httpx.Response(answer.status, headers=[*headers, *answer.headers],
                          content=answer.body, request=request)
