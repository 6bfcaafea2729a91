"""This instance's heartbeat in the shared store, and its share of the mailboxes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from daemon.errors import StoreBusy
from daemon.store.lease import TTL_SECONDS, MailboxLease, holder_is_gone, this_process
from daemon.store.repository import Store
from daemon.store.spread import Turn, mailboxes_for, turn

log = logging.getLogger(__name__)


class InstanceHeartbeat:
    """Says in the store that this instance is alive (for `ttl` seconds each time) and which of the
    mailboxes are its share among the live instances. Shared by the daemon's lanes (thread-safe)."""

    def __init__(self, store: Store, name: str | None = None, ttl: float = TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.store, self.ttl, self.clock = store, ttl, clock
        self.name = name or this_process()
        self._lock = threading.Lock()
        self._beaten: float | None = None

    def beat(self) -> None:
        with self._lock:
            self.store.beat(self.name, self.ttl)
            self._beaten = self.clock()

    def beat_if_due(self) -> None:
        """A beat when a tenth of the period has passed since the last one (not a write every second). While the
        database cannot be reached the beat waits for its next period, with one warning (no traceback a second):
        the passes say the outage themselves, and missed beats only let others take this instance's share."""
        if self._beaten is not None and self.clock() - self._beaten < self.ttl / 10:
            return
        try:
            self.beat()
        except StoreBusy as exc:
            self._beaten = self.clock()
            log.warning("instance.beat_missed", extra={"error": type(exc).__name__})

    def share(self, mailboxes: Sequence[str]) -> list[str]:
        """The mailboxes this instance should try to lease now."""
        return mailboxes_for(self.name, self.store.live_instances(), mailboxes)

    def turn(self, lease: MailboxLease) -> Turn:
        """Whether to try `lease` now (`daemon.store.spread.turn`), from the heartbeats and the lease's holder;
        instances of this host whose process is gone count as dead at once."""
        self.beat_if_due()
        now, deadlines = self.store.instance_deadlines()
        alive = {name: until for name, until in deadlines.items() if name == self.name or not holder_is_gone(name)}
        holder = lease.holder()
        return turn(self.name, lease.name, alive, holder.owner if holder else None,
                    holder.until if holder else None, now)

    def leave(self) -> None:
        self.store.leave(self.name)
