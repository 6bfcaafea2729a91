"""This instance's heartbeat in the shared store, and its share of the mailboxes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from daemon.errors import StoreBusy
from daemon.store.lease import TTL_SECONDS, MailboxLease, holder_is_gone, this_process
from daemon.store.repository import Store
from daemon.store.spread import Turn, turn

log = logging.getLogger(__name__)


class InstanceHeartbeat:
    """Says in the store that this instance is alive (for `ttl` seconds each time) and which of the
    mailboxes are its share among the live instances. Shared by the daemon's lanes (thread-safe)."""

    def __init__(self, store: Store, name: str | None = None, ttl: float = TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic, mailboxes: Sequence[str] = ()):
        """`mailboxes`: the lease names of the mailboxes this instance's configuration serves (none: say nothing,
        count as serving any). Each mailbox is spread only over the live instances that serve it."""
        self.store, self.ttl, self.clock = store, ttl, clock
        self.name = name or this_process()
        self.mailboxes = tuple(mailboxes)
        self._lock = threading.Lock()
        self._beaten: float | None = None
        self._differing: frozenset[str] = frozenset()  # instances already warned of
        self._live: dict[str, frozenset[str]] | None = None  # the live instances the last beat found, as served
        self._changed: list[Callable[[], None]] = []

    def when_the_spread_changes(self, callback: Callable[[], None]) -> None:
        """Call `callback` after a beat that finds other live instances than the last one (one joined, left or
        fell silent, or serves other mailboxes now): the spread moves mailboxes then, between instances already
        running too, and a mailbox that became this instance's must not wait for its next scheduled pass to be
        taken and watched."""
        self._changed.append(callback)

    def beat(self) -> None:
        with self._lock:
            self.store.beat(self.name, self.ttl, self.mailboxes)
            self._beaten = self.clock()
        live = self.store.instance_mailboxes()
        self._warn_of_other_configurations(live)
        changed, self._live = self._live is not None and live != self._live, live
        if changed:
            log.info("instance.spread_changed", extra={"instances": len(live)})
            for callback in self._changed:
                callback()

    def _warn_of_other_configurations(self, live: dict[str, frozenset[str]]) -> None:
        """One warning per live instance configured with other mailboxes than this one's (a half-rolled-out
        configuration): nothing goes unserved (each mailbox goes to an instance that serves it), but the spread is
        uneven until they agree."""
        if not self.mailboxes:
            return
        mine = frozenset(self.mailboxes)
        differing = frozenset(name for name, served in live.items() if served and served != mine)
        for name in sorted(differing - self._differing):
            log.warning("instance.mailboxes_differ", extra={"instance": name, "then": (
                "each mailbox is spread over the instances whose [[mailbox]] tables name it; give every instance "
                "the same tables")})
        self._differing = differing

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

    def turn(self, lease: MailboxLease) -> Turn:
        """Whether to try `lease` now (`daemon.store.spread.turn`), from the heartbeats and the lease's holder;
        instances of this host whose process is gone count as dead at once."""
        self.beat_if_due()
        now, beats = self.store.heartbeats()
        alive = {name: beat for name, beat in beats.items() if name == self.name or not holder_is_gone(name)}
        holder = lease.holder()
        return turn(self.name, lease.name, alive, holder.owner if holder else None,
                    holder.until if holder else None, now, self.mailboxes)

    def leave(self) -> None:
        self.store.leave(self.name)
