"""This instance's heartbeat in the shared store, and its share of the mailboxes."""

from __future__ import annotations

from collections.abc import Sequence

from daemon.store.lease import TTL_SECONDS, this_process
from daemon.store.repository import Store
from daemon.store.spread import mailboxes_for


class InstanceHeartbeat:
    """Says in the store that this instance is alive (for `ttl` seconds each time) and which of the
    mailboxes are its share among the live instances."""

    def __init__(self, store: Store, name: str | None = None, ttl: float = TTL_SECONDS):
        self.store, self.ttl = store, ttl
        self.name = name or this_process()

    def beat(self) -> None:
        self.store.beat(self.name, self.ttl)

    def share(self, mailboxes: Sequence[str]) -> list[str]:
        """The mailboxes this instance should try to lease now."""
        return mailboxes_for(self.name, self.store.live_instances(), mailboxes)

    def leave(self) -> None:
        self.store.leave(self.name)
