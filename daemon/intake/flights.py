"""Messages in flight: the flows of up to `concurrency` messages running at once, landing in order.

Each message's flow runs in a worker thread, even with concurrency 1; everything else stays on
the runner's thread, which meanwhile reads the next mail and lands the last (so with one flow at
a time, the ATS's answers are waited for while the runner works). Flights land in the order they
started (UID order), but a message starts as soon as any worker is free: a slow flight at the
head (a large CV, an ATS slow to answer) holds back only the landing of those after it, up to
`_WINDOW` flights a worker. Two mails from one sender are never in flight at once: the second
waits for the first to land. A sweep starts one message at a time and opens up to `concurrency`
once a message went through without error; any failure closes it to one again (so an outage or a
failing endpoint meets one message, not a burst).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from daemon.domain import MessageKey
from daemon.intake.outcome import Outcome
from daemon.store.models import MessageRecord

_WINDOW = 2  # flights started and not yet landed, at most, per flow allowed to run: a slow flight at the head
# does not hold back the start of others, and what waits to land (and the heartbeat each landing renews)
# stays close


@dataclass(slots=True)
class Flight:
    """A message started in this sweep: its flow running (`future`), or already settled."""

    key: MessageKey
    record: MessageRecord | None
    sender: str = ""
    future: Future | None = None

    @property
    def running(self) -> bool:
        return self.future is not None


def _went_through(future: Future) -> bool:
    """A flow done without error (whose outcome leaves the sweep open)."""
    return future.done() and future.exception() is None and future.result().disposition is None


class Flights:
    """The flights of one sweep, in the order they started."""

    def __init__(self, concurrency: int):
        self.concurrency = concurrency
        self._queue: deque[Flight] = deque()
        self._executor: ThreadPoolExecutor | None = None
        self._open = False  # the last flow went through without error: `concurrency` flows may run

    def __enter__(self) -> Flights:
        self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="flow")
        self._open = False
        return self

    def __exit__(self, *exc: object) -> None:
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None

    def __bool__(self) -> bool:
        return bool(self._queue)

    def settled(self, key: MessageKey, record: MessageRecord | None) -> None:
        """A message that needs no flow (a copy, a marked mail, given up, changed meanwhile)."""
        self._queue.append(Flight(key, record))

    def start(self, key: MessageKey, record: MessageRecord, sender: str, flow: Callable[..., Outcome],
              *args: object) -> None:
        if self._executor is None:
            raise RuntimeError("flights start only inside `with flights:`")
        self._queue.append(Flight(key, record, sender, self._executor.submit(flow, *args)))

    def went_through(self, ok: bool) -> None:
        """A flow landed: without error it opens the sweep to `concurrency`, else closes it to one."""
        self._open = ok

    def blocking(self, sender: str) -> Iterator[Flight]:
        """The flights to land before a message from `sender` may start: until none from `sender`
        is in flight and a worker is free. Closed (one at a time), every flight lands first; open, a flow
        that went through frees its worker at once, before it lands (one that failed only once it landed
        and closed the sweep), and at most `_WINDOW` flights a worker wait to land."""
        while self._queue:
            if (self._sender_in_flight(sender) or not self._open
                    or len(self._queue) >= _WINDOW * self.concurrency):
                yield self._queue.popleft()
                continue
            busy = [f.future for f in self._queue if f.future is not None and not _went_through(f.future)]
            if len(busy) < self.concurrency:
                return
            running = [future for future in busy if not future.done()]
            if running:  # the next starts once one is done (and lands after that start, in its turn)
                wait(running, return_when=FIRST_COMPLETED)
                continue
            yield self._queue.popleft()  # only failed flows hold the workers: they land (in order), closing it

    def ready(self) -> Iterator[Flight]:
        """The flights at the head whose flows are done, in order."""
        while self._queue and (not self._queue[0].running or self._queue[0].future.done()):
            yield self._queue.popleft()

    def remaining(self) -> Iterator[Flight]:
        """Every flight, in order (each waited for when it lands)."""
        while self._queue:
            yield self._queue.popleft()

    def _sender_in_flight(self, sender: str) -> bool:
        return bool(sender) and any(f.running and f.sender == sender for f in self._queue)
