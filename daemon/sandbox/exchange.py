"""One request to the sandbox and what becomes of it, the same over HTTP and in process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

JSON_TYPE = "application/json"
PAD_CHUNK = 64 * 1024
Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer to send."""

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class Incoming:
    """One request as the sandbox sees it, whether it came over a socket or in process."""

    method: str
    target: str  # the path and query, as sent (percent-encoded)
    authorization: str = ""
    content_type: str = ""
    body: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query)


@dataclass(frozen=True, slots=True)
class Reply:
    """What becomes of a request: after `delay` seconds its answer, or, when `answer` is
    None, the connection is closed without one. The answer's body is followed by `pad`
    bytes of JSON whitespace, and sent with `trickle` seconds between its bytes."""

    answer: Answer | None
    delay: float = 0.0
    trickle: float = 0.0
    pad: int = 0

    def body_length(self) -> int:
        """The length of the answer's body as sent, padding included."""
        return (len(self.answer.body) if self.answer is not None else 0) + self.pad

    def body_chunks(self) -> Iterator[bytes]:
        """The body as sent: the answer's, then the padding, made a chunk at a time."""
        if self.answer is not None and self.answer.body:
            yield self.answer.body
        left = self.pad
        while left > 0:
            yield b" " * min(left, PAD_CHUNK)
            left -= PAD_CHUNK
