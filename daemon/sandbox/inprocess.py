"""The sandbox as an httpx transport: requests go straight to `SandboxATS.handle`, with no
socket and no thread, so pipeline tests run the real routes, rules and faults in process.

What a client sees is what it would see over HTTP:

    an answer                        the same status, headers and body
    a fault's delay > read timeout   httpx.ReadTimeout (an after-commit fault did the work)
    a shorter delay                  passed to `sleep` (default: not waited), then answered
    a dropped connection             httpx.RemoteProtocolError (before or after the work:
                                     over HTTP the client cannot tell either)
    a trickle, a padded answer       a streamed body, made as it is read: `sleep(trickle)`
                                     before each byte, the padding a chunk at a time
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

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
    if reply.trickle <= 0 and reply.pad <= 0:
        return httpx.Response(answer.status, headers=[*headers, *answer.headers],
                              content=answer.body, request=request)
    headers.append(("Content-Length", str(reply.body_length())))
    return httpx.Response(answer.status, headers=[*headers, *answer.headers],
                          stream=_Streamed(reply, sleep), request=request)


class _Streamed(httpx.SyncByteStream):
    """A body read as it is made: a byte at a time after `sleep(trickle)`, or in chunks."""

    def __init__(self, reply: Reply, sleep: Sleep):
        self.reply, self.sleep = reply, sleep

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.reply.body_chunks():
            if self.reply.trickle <= 0:
                yield chunk
                continue
            for index in range(len(chunk)):
                self.sleep(self.reply.trickle)
                yield chunk[index:index + 1]
