"""Which mailboxes an instance should try to hold, given the live instances (rendezvous hashing).

Each mailbox goes to the live instance with the highest hash of (instance, mailbox): every
instance computes the same answer from the same list without talking to the others, the
mailboxes are spread evenly, and when an instance joins or leaves only its own share moves.
Pure: the list of live instances comes from the store's heartbeats (`Store.live_instances`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence


def _weight(instance: str, mailbox: str) -> int:
    digest = hashlib.sha256(f"{instance}\0{mailbox}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def owner_of(mailbox: str, live: Iterable[str]) -> str | None:
    """The live instance that should hold `mailbox`; None when none is alive."""
    return max(live, key=lambda instance: (_weight(instance, mailbox), instance), default=None)


def mailboxes_for(instance: str, live: Iterable[str], mailboxes: Sequence[str]) -> list[str]:
    """The mailboxes `instance` should hold, in their given order. An instance missing from `live`
    (its first heartbeat not written yet) counts itself in, so it never sits idle at start."""
    everyone = {*live, instance}
    return [mailbox for mailbox in mailboxes if owner_of(mailbox, everyone) == instance]
