"""An instance's turn at a mailbox's lease, read from the real store's heartbeats and lease (SQLite and PostgreSQL)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from daemon.errors import StoreBusy
from daemon.store.instances import InstanceHeartbeat
from daemon.store.lease import MailboxLease
from daemon.store.spread import owner_of

A, B = "a.example:1", "b.example:1"
BS = next(f"jobs-{n}@example.org/INBOX" for n in range(50) if owner_of(f"jobs-{n}@example.org/INBOX", [A, B]) == B)


@pytest.fixture
def store(either):
    """A store on SQLite, then on PostgreSQL (conftest's `either`)."""
    return either


def test_a_mailbox_of_another_live_instance_is_left_to_it_until_its_heartbeat_runs_out(store):
    """a does not try b's mailbox while b beats, nor while b holds its lease; once b's beat ran out, a may."""
    a, b = InstanceHeartbeat(store, A, ttl=60), InstanceHeartbeat(store, B, ttl=60)
    a.beat()
    b.beat()
    assert not a.turn(MailboxLease(store, BS, owner=A)).take
    assert b.turn(MailboxLease(store, BS, owner=B)).take
    assert MailboxLease(store, BS, owner=B, ttl=60).acquire()
    assert a.turn(MailboxLease(store, BS, owner=A)).reason == "held by another live instance"
    InstanceHeartbeat(store, B, ttl=-1).beat()  # b silent for a lease period: its beat has run out
    assert a.turn(MailboxLease(store, BS, owner=A)).take


def test_an_instance_whose_process_is_gone_from_this_host_counts_as_dead_at_once(store):
    """A daemon of this host killed with -9: its share is the others' before its heartbeat runs out."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead = f"{socket.gethostname()}:{int(done.stdout)}"
    mailbox = next(f"m{n}" for n in range(50) if owner_of(f"m{n}", [A, dead]) == dead)
    InstanceHeartbeat(store, dead, ttl=60).beat()
    assert MailboxLease(store, mailbox, owner=dead, ttl=60).acquire()
    me = InstanceHeartbeat(store, A, ttl=60)
    assert me.turn(MailboxLease(store, mailbox, owner=A)).take
    assert MailboxLease(store, mailbox, owner=A, ttl=60).acquire()


def test_alone_an_instance_tries_every_mailbox(store):
    """One daemon (SQLite's case): every mailbox is its turn, from its very first pass."""
    me = InstanceHeartbeat(store, A, ttl=60)
    assert all(me.turn(MailboxLease(store, f"m{n}", owner=A)).take for n in range(20))


class Unreachable:
    """A store whose database cannot be reached: every beat raises StoreBusy, and counts its tries."""

    def __init__(self) -> None:
        self.tries = 0

    def beat(self, name: str, ttl: float, mailboxes: object = ()) -> None:
        self.tries += 1
        raise StoreBusy("the database cannot be reached")


def test_a_beat_the_database_cannot_take_waits_for_its_next_period_with_one_warning(caplog):
    """With the database down, the heartbeat tries once a tenth of its period (not every second of the main loop)
    and logs a warning, not a traceback; it beats again once the period has passed."""
    now = [0.0]
    store = Unreachable()
    beat = InstanceHeartbeat(store, "a.example:1", ttl=100, clock=lambda: now[0])  # type: ignore[arg-type]
    for _ in range(5):
        beat.beat_if_due()
    assert store.tries == 1
    assert [r.message for r in caplog.records] == ["instance.beat_missed"]
    now[0] = 10.0
    beat.beat_if_due()
    assert store.tries == 2


def test_a_mailbox_goes_only_to_the_instances_whose_configuration_serves_it(store, caplog):
    """b's [[mailbox]] tables lack a mailbox the spread would give b: a takes it (it is never left unserved), b never
    tries it; each is warned once that the other is configured differently."""
    both = [f"jobs-{n}@example.org/INBOX" for n in range(20)]
    hers = next(m for m in both if owner_of(m, [A, B], both) == B)
    a = InstanceHeartbeat(store, A, ttl=60, mailboxes=both)
    b = InstanceHeartbeat(store, B, ttl=60, mailboxes=[m for m in both if m != hers])
    a.beat()
    b.beat()
    assert a.turn(MailboxLease(store, hers, owner=A)).take
    assert not b.turn(MailboxLease(store, hers, owner=B)).take
    shared = [m for m in both if m != hers]
    taken = [m for m in shared for me, name in ((a, A), (b, B)) if me.turn(MailboxLease(store, m, owner=name)).take]
    assert sorted(taken) == sorted(shared)  # the rest spread over both as before, each to one of them
    a.beat()
    b.beat()
    warned = sorted(r.instance for r in caplog.records if r.message == "instance.mailboxes_differ")
    assert warned == [A, B]


def test_a_beat_that_finds_other_live_instances_tells_the_lanes_once(store):
    """One joins, serves other mailboxes, or falls silent: the spread moves mailboxes between the instances already
    running too, so the beat that sees it wakes every lane for its turn (not at each beat, and not at the first
    one)."""
    a = InstanceHeartbeat(store, A, ttl=60)
    told: list[int] = []
    a.when_the_spread_changes(lambda: told.append(1))
    a.beat()
    a.beat()
    assert told == []
    InstanceHeartbeat(store, B, ttl=60).beat()  # b joins
    a.beat()
    a.beat()
    assert told == [1]
    InstanceHeartbeat(store, B, ttl=60, mailboxes=["m1"]).beat()  # b's configuration changed: it serves m1 only
    a.beat()
    assert told == [1, 1]
    InstanceHeartbeat(store, B, ttl=-1).beat()  # b silent for a lease period: its beat has run out
    a.beat()
    assert told == [1, 1, 1]
