"""Which mailboxes an instance should try to hold, given the live instances (rendezvous hashing with
bounded loads).

Each instance ranks the mailboxes by a hash of (instance, mailbox); the (instance, mailbox) pairs are
taken from the highest hash down, each mailbox going to the first instance that still has room for
it, where room is an even share: of n mailboxes over k instances, each holds n // k or one more.
Every instance computes the same answer from the same heartbeats without talking to the others;
the spread is even whatever the numbers (plain rendezvous hashing left one of three instances
without any of eight mailboxes one time in ten); and when an instance joins or leaves, its own
share moves and only a few others do (one of fifty on average, with three instances).
Pure: the instances and the mailboxes each serves come from the store's heartbeats (`Store.heartbeats`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache


@lru_cache(maxsize=65536)
def _weight(instance: str, mailbox: str) -> int:
    digest = hashlib.sha256(f"{instance}\0{mailbox}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def serves(mailboxes: Collection[str], mailbox: str) -> bool:
    """Whether an instance whose heartbeat names `mailboxes` serves `mailbox` (naming none: any)."""
    return not mailboxes or mailbox in mailboxes


Instances = Mapping[str, Collection[str]] | Iterable[str]


def _served(instances: Instances) -> Mapping[str, Collection[str]]:
    """`instances` as a mapping of each to the mailboxes it serves (a plain list: each serves any)."""
    return instances if isinstance(instances, Mapping) else dict.fromkeys(instances, ())


def spread(mailboxes: Iterable[str], instances: Instances) -> dict[str, str]:
    """Each of `mailboxes` with the instance that should hold it. `instances`: the live ones, each with the
    mailboxes it serves (none named: any); a mailbox goes only to an instance that serves it, and when each
    instance serving it already has its even share, to the first of them all the same (instances configured
    differently: never unserved, but uneven). No instance: an empty spread."""
    served = _served(instances)
    return dict(_spread(tuple(sorted(set(mailboxes))),
                        tuple(sorted((name, frozenset(names)) for name, names in served.items()))))


@lru_cache(maxsize=256)  # every mailbox's turn asks for the same spread, each pass
def _spread(universe: tuple[str, ...], served: tuple[tuple[str, frozenset[str]], ...]) -> tuple[tuple[str, str], ...]:
    if not served or not universe:
        return ()
    even, extra = divmod(len(universe), len(served))
    pairs = sorted(((_weight(instance, mailbox), instance, mailbox) for instance, names in served
                    for mailbox in universe if serves(names, mailbox)), reverse=True)
    held = dict.fromkeys((instance for instance, _ in served), 0)
    owners: dict[str, str] = {}
    for _, instance, mailbox in pairs:
        if mailbox in owners or held[instance] > even or (held[instance] == even and not extra):
            continue
        if held[instance] == even:
            extra -= 1
        held[instance] += 1
        owners[mailbox] = instance
    for _, instance, mailbox in pairs:  # all its instances full (configured differently): the first of them
        owners.setdefault(mailbox, instance)
    return tuple(owners.items())


def owner_of(mailbox: str, live: Instances, mailboxes: Iterable[str] = ()) -> str | None:
    """The live instance that should hold `mailbox`, spread with the others of `mailboxes`; None when none is
    alive (or none serves it)."""
    return spread([mailbox, *mailboxes], live).get(mailbox)


def mailboxes_for(instance: str, live: Instances, mailboxes: Sequence[str], served: Collection[str] = ()) -> list[str]:
    """The mailboxes `instance` (serving `served`; none named: any) should hold, in their given order, spread
    with those the live instances serve. An instance missing from `live` (its first heartbeat not written yet)
    counts itself in, so it never sits idle at start."""
    everyone = {**_served(live)}
    everyone.setdefault(instance, served)
    owners = spread([*mailboxes, *(m for names in everyone.values() for m in names)], everyone)
    return [mailbox for mailbox in mailboxes if owners.get(mailbox) == instance]


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What an instance's last heartbeat says: alive until `until`, serving `mailboxes` (none named: any)."""

    until: datetime
    mailboxes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Turn:
    """Whether an instance should try a mailbox's lease now, and why (for the log)."""

    take: bool
    reason: str
    mine: bool = False  # the spread gives the mailbox to this instance (whoever holds its lease now)
    let_go: bool = False  # this instance still holds the lease of another's share (a release that failed): free it


def turn(me: str, mailbox: str, beats: Mapping[str, Heartbeat], holder: str | None,
         holder_until: datetime | None, now: datetime, served: Collection[str] = ()) -> Turn:
    """Should `me` (serving `served`; none named: any) try the lease of `mailbox`? `beats`: each known instance's
    last heartbeat (its deadline: the beat plus one lease period; an instance known to be dead left out);
    `holder`/`holder_until`: the lease's holder now and its deadline (None: nobody).

    A lease another live instance serving the mailbox holds is left alone. Otherwise the spread of the mailboxes
    the live instances serve decides; a lease of another's share this instance still holds (its release failed,
    e.g. while the database was down) is to be let go, else neither would work on the mailbox until it ran out;
    an instance silent for a lease period has dropped out of it, so its share goes to the others. A lease
    held by an instance no longer alive may be taken by anyone (the store takes it once its deadline
    passed, or at once when its process is gone from this host)."""
    live = {instance: beat.mailboxes for instance, beat in beats.items() if beat.until > now}
    mine = bool(mailboxes_for(me, live, [mailbox], served))
    if holder is not None and holder != me and holder_until is not None and holder_until > now:
        if holder in live and serves(live[holder], mailbox):
            return Turn(False, "held by another live instance", mine)
        return Turn(True, "its holder stopped beating", mine)
    if mine:
        return Turn(True, "this instance's share", mine)
    if holder == me and holder_until is not None and holder_until > now:
        return Turn(False, "another live instance's share", mine, let_go=True)
    return Turn(False, "another live instance's share", mine)
