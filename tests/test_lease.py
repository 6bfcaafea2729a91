"""The mailbox lease: one daemon at a time; a dead or expired holder is taken over."""

from __future__ import annotations

import subprocess
import sys

import pytest

from daemon.store import open_store
from daemon.store.lease import MailboxLease, holder_is_gone, this_process


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    yield s
    s.close()


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
