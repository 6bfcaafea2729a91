"""Injected failures for the sandbox ATS: what a flaky ATS or its proxy does to a client.

A `Fault` names a request (method and path, or a route template such as
`/api/v1/candidates/{id}/actions`; any `{...}` stands for one path segment) and what
happens to it:

    before commit (default)  sleep `delay`, answer `status` (+ `Retry-After`, `body`),
                             or with drop=True close the socket; the state is not touched
    after_commit=True        do the real work, then sleep `delay` and answer normally,
                             or with drop=True close the socket without any answer

and, to either answer, how it is sent: `trickle` seconds between its bytes (over HTTP the
status line and headers too; in process the body), `pad` bytes of JSON whitespace after
its body (an answer as large as wanted, made as it is sent, never held in memory).

A fault is used `times` times (-1: forever); the first matching fault wins.
`FaultBook` is the thread-safe list the server consults once per API request.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

FOREVER = -1


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected failure; see the module docstring."""

    method: str
    path: str
    status: int = 503
    retry_after: str | None = None
    delay: float = 0.0
    times: int = 1
    after_commit: bool = False
    drop: bool = False
    body: str | None = None
    trickle: float = 0.0
    pad: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", self.method.upper())
        problem = _problem(self)
        if problem:
            raise ValueError(f"invalid fault: {problem}")

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request for `path` (no query string)."""
        return self.method == method.upper() and _pattern(self.path).fullmatch(path) is not None

    @classmethod
    def from_json(cls, raw: Any) -> Fault:
        """A fault from a JSON object with the field names; ValueError if it is not one."""
        if not isinstance(raw, dict):
            raise ValueError("a fault must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}")
        for name, kinds in _JSON_TYPES.items():
            if name in raw and not _is(raw[name], kinds):
                raise ValueError(f"fault field {name!r} has the wrong type")
        try:
            return cls(**raw)
        except TypeError as exc:  # a required field is missing
            raise ValueError(str(exc)) from exc

    def to_json(self) -> dict[str, Any]:
        """The fault as a JSON object (the same fields `from_json` reads)."""
        return asdict(self)


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "method": (str,), "path": (str,), "status": (int,), "retry_after": (str, type(None)),
    "delay": (int, float), "times": (int,), "after_commit": (bool,), "drop": (bool,),
    "body": (str, type(None)), "trickle": (int, float), "pad": (int,),
}


def _is(value: Any, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in kinds:
        return False
    return isinstance(value, kinds)


def _problem(fault: Fault) -> str:
    checks = [
        (bool(fault.method.isalpha()), "method must be an HTTP method"),
        (fault.path.startswith("/"), "path must start with '/'"),
        (100 <= fault.status <= 599, "status must be 100-599"),
        (fault.delay >= 0, "delay must be >= 0"),
        (fault.trickle >= 0, "trickle must be >= 0"),
        (fault.pad >= 0, "pad must be >= 0"),
        ((fault.retry_after or "").isprintable(), "retry_after must be one printable line"),
        (fault.times == FOREVER or fault.times >= 1, "times must be >= 1, or -1 for forever"),
    ]
    return next((message for ok, message in checks if not ok), "")


def _pattern(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^/{}]*\})", path)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


class FaultBook:
    """The active faults, in the order they were added, with how often each is left."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[list[Any]] = []  # [fault, times left]

    def add(self, fault: Fault) -> None:
        """Add a fault after the existing ones."""
        with self._lock:
            self._entries.append([fault, fault.times])

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._entries.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching the request, used up once; None when none matches."""
        with self._lock:
            for entry in self._entries:
                fault, left = entry
                if fault.matches(method, path):
                    if left != FOREVER:
                        entry[1] = left - 1
                    self._entries = [e for e in self._entries if e[1] != 0]
                    return fault
        return None

    def listing(self) -> list[dict[str, Any]]:
        """The active faults as JSON objects, each with `left` (its remaining uses)."""
        with self._lock:
            return [{**fault.to_json(), "left": left} for fault, left in self._entries]
