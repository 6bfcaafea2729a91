"""Which mailboxes an instance should try to hold, given the live instances (rendezvous hashing).

Each mailbox goes to the live instance with the highest hash of (instance, mailbox): every
instance computes the same answer from the same list without talking to the others, the
mailboxes are spread evenly, and when an instance joins or leaves only its own share moves.
Pure: the list of live instances comes from the store's heartbeats (`Store.live_instances`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime


def _weight(instance: str, mailbox: str) -> int:
    digest = hashlib.sha256(f"{instance}\0{mailbox}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def serves(mailboxes: Collection[str], mailbox: str) -> bool:
    """Whether an instance whose heartbeat names `mailboxes` serves `mailbox` (naming none: any)."""
    return not mailboxes or mailbox in mailboxes


def owner_of(mailbox: str, live: Iterable[str]) -> str | None:
    """The live instance that should hold `mailbox`; None when none is alive."""
    return max(live, key=lambda instance: (_weight(instance, mailbox), instance), default=None)


def mailboxes_for(instance: str, live: Iterable[str], mailboxes: Sequence[str]) -> list[str]:
    """The mailboxes `instance` should hold, in their given order. An instance missing from `live`
    (its first heartbeat not written yet) counts itself in, so it never sits idle at start."""
    everyone = {*live, instance}
    return [mailbox for mailbox in mailboxes if owner_of(mailbox, everyone) == instance]


@dataclass(frozen=True, slots=True)
class Turn:
    """Whether an instance should try a mailbox's lease now, and why (for the log)."""

    take: bool
    reason: str
    mine: bool = False  # the spread gives the mailbox to this instance (whoever holds its lease now)
    let_go: bool = False  # this instance still holds the lease of another's share (a release that failed): free it


def turn(me: str, mailbox: str, alive_until: Mapping[str, datetime], holder: str | None,
         holder_until: datetime | None, now: datetime) -> Turn:
    """Should `me` try the lease of `mailbox`? `alive_until`: each known instance's heartbeat deadline (its
    last beat plus one lease period; an instance known to be dead left out); `holder`/`holder_until`: the
    lease's holder now and its deadline (None: nobody).

    A lease another live instance holds is left alone. Otherwise the spread over the live instances decides; a
    lease of another's share this instance still holds (its release failed, e.g. while the database was down) is
    to be let go, else neither would work on the mailbox until it ran out;
    an instance silent for a lease period has dropped out of it, so its share goes to the others. A lease
    held by an instance no longer alive may be taken by anyone (the store takes it once its deadline
    passed, or at once when its process is gone from this host)."""
    live = [instance for instance, until in alive_until.items() if until > now]
    mine = owner_of(mailbox, {*live, me}) == me
    if holder is not None and holder != me and holder_until is not None and holder_until > now:
        if holder in live:
            return Turn(False, "held by another live instance", mine)
        return Turn(True, "its holder stopped beating", mine)
    if mine:
        return Turn(True, "this instance's share", mine)
    if holder == me and holder_until is not None and holder_until > now:
        return Turn(False, "another live instance's share", mine, let_go=True)
    return Turn(False, "another live instance's share", mine)
