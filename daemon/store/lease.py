"""One daemon at a time per mailbox folder: a lease in the shared database.

A lease has a deadline; its holder renews it while it works (after every message) and releases it
at the end of a pass. Another instance, on this machine or another one sharing the PostgreSQL
store, takes it over once the deadline passed, which is at most one lease period (`ttl`) after
its holder died; the step journal makes that takeover safe. A holder whose process is gone from
this host (a crash, `kill -9`) is taken over at once. Deadlines are on the database's clock
(PostgreSQL's), and the lease row is locked while it changes (`SELECT ... FOR UPDATE`), so two
instances never both take it.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime

from daemon.store.repository import Store

log = logging.getLogger(__name__)
TTL_SECONDS = 300.0


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_is_gone(owner: str) -> bool:
    """True when `owner` is a process of this host that no longer runs."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """Who holds a lease, and until when unless it renews it."""

    owner: str
    until: datetime


class MailboxLease:
    def __init__(self, store: Store, name: str, owner: str | None = None, ttl: float = TTL_SECONDS):
        self.store, self.name, self.ttl = store, name, ttl
        self.owner = owner or this_process()

    def acquire(self) -> bool:
        """Take or renew the lease; False while another live daemon holds it."""
        return self.store.acquire_lease(self.name, self.owner, self.ttl, is_stale=holder_is_gone)

    def renew(self) -> bool:
        """Push the deadline one period on; False when the lease is no longer ours (it ran out and
        another instance took it): then stop working on the mailbox."""
        renewed = self.store.acquire_lease(self.name, self.owner, self.ttl, take=False)
        if not renewed:
            log.warning("lease.lost", extra={"lease": self.name})
        return renewed

    def holder(self) -> LeaseHolder | None:
        """Who holds it now (possibly past its deadline); None when nobody does."""
        found = self.store.lease_holder(self.name)
        return LeaseHolder(*found) if found else None

    def release(self) -> None:
        self.store.release_lease(self.name, self.owner)
