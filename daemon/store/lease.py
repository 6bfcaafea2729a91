"""One daemon at a time per mailbox folder: a lease in the shared database.

The holder renews it after every message; a lease whose time ran out, or whose holder
process is gone from this host (a crash, `kill -9`), can be taken over at once.
"""

from __future__ import annotations

import logging
import os
import socket

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


class MailboxLease:
    def __init__(self, store: Store, name: str, owner: str | None = None, ttl: float = TTL_SECONDS):
        self.store, self.name, self.ttl = store, name, ttl
        self.owner = owner or this_process()

    def acquire(self) -> bool:
        """Take or renew the lease; False while another live daemon holds it."""
        return self.store.acquire_lease(self.name, self.owner, self.ttl, is_stale=holder_is_gone)

    def release(self) -> None:
        self.store.release_lease(self.name, self.owner)
