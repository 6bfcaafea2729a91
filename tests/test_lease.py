"""The mailbox lease: one daemon at a time; a dead or expired holder is taken over."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from daemon.errors import StoreBusy
from daemon.store.instances import InstanceHeartbeat
from daemon.store.lease import MailboxLease, holder_is_gone, this_process
from daemon.store.spread import owner_of
from tests.e2e import wait_for


@pytest.fixture
def store(either):
    """A store on SQLite, then on PostgreSQL (conftest's `either`)."""
    return either


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    return int(done.stdout)


def test_a_live_holder_keeps_the_lease(store):
    """While one live process holds it, another cannot take it; renewal by the holder works."""
    mine = MailboxLease(store, "box", owner=this_process())
    other = MailboxLease(store, "box", owner="elsewhere.example:1")
    assert mine.acquire()
    assert not other.acquire()
    assert mine.acquire()


def test_a_released_lease_is_free(store):
    """Released at the end of a pass, the lease can be taken by the next daemon."""
    first = MailboxLease(store, "box", owner=this_process())
    first.acquire()
    first.release()
    assert MailboxLease(store, "box", owner="elsewhere.example:1").acquire()


def test_a_dead_holder_on_this_host_is_taken_over(store):
    """A holder killed with -9 leaves its lease; a process of this host that is gone loses it at once."""
    host = this_process().rpartition(":")[0]
    crashed = f"{host}:{dead_pid()}"
    assert holder_is_gone(crashed)
    MailboxLease(store, "box", owner=crashed).acquire()
    assert MailboxLease(store, "box", owner=this_process()).acquire()


def test_an_expired_lease_is_taken_over(store):
    """A holder on another host that stopped renewing loses the lease when it expires."""
    MailboxLease(store, "box", owner="elsewhere.example:1", ttl=-1).acquire()
    assert MailboxLease(store, "box", owner=this_process()).acquire()


def test_a_lease_on_another_host_is_taken_over_once_its_deadline_passed(store):
    """A holder on another machine that stops renewing keeps the mailbox until its deadline, not after."""
    MailboxLease(store, "box", owner="elsewhere.example:1", ttl=1.5).acquire()
    mine = MailboxLease(store, "box", owner=this_process())
    assert not mine.acquire()
    wait_for(mine.acquire, timeout=10)
    assert mine.holder().owner == this_process()


def test_renew_keeps_a_held_lease_and_never_takes_one(store):
    """renew() pushes the holder's deadline on; it never takes a lease nobody or another instance holds."""
    mine = MailboxLease(store, "box", owner=this_process(), ttl=60)
    assert not mine.renew()  # not held by anyone yet
    assert mine.acquire()
    before = mine.holder().until
    assert mine.renew()
    assert mine.holder().until >= before
    assert not MailboxLease(store, "box", owner="elsewhere.example:1").acquire()
    assert mine.holder().owner == this_process()


def test_a_holder_whose_lease_was_taken_over_learns_it_on_renewal(store):
    """The deadline passed and another instance took the mailbox: the old holder's renew() says False."""
    late = MailboxLease(store, "box", owner="elsewhere.example:1", ttl=-1)
    assert late.acquire()
    assert MailboxLease(store, "box", owner=this_process()).acquire()
    assert not late.renew()
    assert MailboxLease(store, "box").holder().owner == this_process()


@pytest.mark.parametrize("left_by", [None, "dead.example:1"])
def test_instances_racing_for_a_free_lease_give_it_to_exactly_one(store, left_by):
    """Eight instances asking at once for a lease nobody holds, or one whose deadline passed: one gets it."""
    if left_by:
        MailboxLease(store, "box", owner=left_by, ttl=-1).acquire()
    barrier = threading.Barrier(8)
    won = []

    def take(n: int) -> None:
        barrier.wait()
        while True:
            try:
                won.append(MailboxLease(store, "box", owner=f"host{n}.example:1").acquire())
                return
            except StoreBusy:
                continue

    threads = [threading.Thread(target=take, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(won) == [False] * 7 + [True]


def test_live_instances_are_those_whose_heartbeat_has_not_run_out(store):
    """An instance that beats is live; one whose beat ran out, or that left, is not."""
    InstanceHeartbeat(store, "a.example:1", ttl=60).beat()
    InstanceHeartbeat(store, "b.example:1", ttl=-1).beat()
    gone = InstanceHeartbeat(store, "c.example:1", ttl=60)
    gone.beat()
    gone.leave()
    assert store.live_instances() == ["a.example:1"]
    three = ["m1", "m2", "m3"]
    b = InstanceHeartbeat(store, "b.example:1")
    assert [m for m in three if b.turn(MailboxLease(store, m, owner="b.example:1")).take] == [
        m for m in three if owner_of(m, ["a.example:1", "b.example:1"], three) == "b.example:1"]


def test_a_frozen_instance_mid_transaction_does_not_keep_its_lease_row_locked(postgres_url):
    """An instance stopped (SIGSTOP, a frozen machine) between a lease's row lock and its commit: its session sits
    idle in its transaction, so the server ends it after half a lease period, and another instance takes the lease
    once it has run out instead of waiting on the row for as long as the frozen one sleeps."""
    from sqlalchemy import select

    from daemon.store import open_store
    from daemon.store.models import Lease

    frozen, other = (open_store(postgres_url, idle_transaction_seconds=1) for _ in range(2))
    try:
        assert frozen.acquire_lease("box", "frozen.example:1", ttl_seconds=-1)  # its lease has run out
        connection = frozen.engine.connect()
        connection.execute(select(Lease).where(Lease.name == "box").with_for_update())  # then it stops
        took: list[bool] = []
        taker = threading.Thread(target=lambda: took.append(other.acquire_lease("box", "b.example:1", 60)),
                                 daemon=True)
        taker.start()
        taker.join(timeout=20)
        assert took == [True], "the lease row stayed locked by the frozen instance's transaction"
        connection.invalidate()
    finally:
        frozen.close()
        other.close()
