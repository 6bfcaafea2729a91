"""Three `ats-inbox run` daemons, one PostgreSQL, eight mailboxes (Dovecot folders) with mail arriving throughout:
the mailboxes are spread over the three, every mail is submitted exactly once, and a daemon killed with -9 in the
middle of a message has its mailboxes taken over within the lease period, nothing twice and nothing lost."""

from __future__ import annotations

import json
import signal
import time

import pytest
from sqlalchemy import select

from daemon.mail.identity import content_key
from daemon.sandbox import Fault
from daemon.store import open_store
from daemon.store.models import Lease
from tests import invariant
from tests.e2e import imap_settings, wait_for, write_config
from tests.test_run_signals import Daemon
from tests.test_shared_store_e2e import stop_all
from tests.world import World, application

pytestmark = pytest.mark.imap
MAILBOXES = [f"m{n}" for n in range(1, 9)]
LEASE_SECONDS = 5


def eight_mailboxes(world: World, url: str):
    """Eight [[mailbox]] folders of one Dovecot account on the PostgreSQL `url`, with a short lease."""
    imap = imap_settings(world.dovecot, security="none", trust=False, port=world.dovecot.imap_port,
                         processed_folder="", review_folder="", idle_seconds=10)
    path = write_config(world.tmp / "instances.toml", imap=imap, ats_url=world.url, database=world.database)
    text = path.read_text().replace(f'url = "sqlite:///{world.database}"',
                                    f'url = "{url}"\nlease_seconds = {LEASE_SECONDS}')
    tables = [f'[[mailbox]]\nname = "{name}"\nfolder = "{name.upper()}"' for name in MAILBOXES]
    path.write_text(text + "\n".join(tables) + "\n")
    for name in MAILBOXES:
        world.dovecot.create_folder(name.upper())
    return path


def deliver_round(world: World, first: int) -> int:
    """One mail into each mailbox, numbered from `first`; the next free number."""
    for offset, name in enumerate(MAILBOXES):
        world.deliver(application(first + offset, email=f"{name}-{first + offset}@example.org"), folder=name.upper())
    return first + len(MAILBOXES)


def served(daemon: Daemon, since: int = 0) -> set[str]:
    """The mailboxes whose passes this daemon started (from its log lines after the `since`-th)."""
    found = set()
    for line in daemon.lines[since:]:
        if '"poll.started"' in line:
            found.add(json.loads(line).get("mailbox", ""))
    return found


def watched(daemon: Daemon) -> set[str]:
    """The mailboxes this daemon listens to with IDLE now (from its log: connected, then released or lost)."""
    listening: set[str] = set()
    for line in daemon.lines:
        if '"idle.' not in line:
            continue
        entry = json.loads(line)
        if entry.get("event") == "idle.listening":
            listening.add(entry.get("mailbox", ""))
        elif entry.get("event") in ("idle.released", "idle.connection_lost", "idle.stopped"):
            listening.discard(entry.get("mailbox", ""))
    return listening


def each_watched_once(daemons: list[Daemon]) -> bool:
    watching = [mailbox for d in daemons for mailbox in watched(d)]
    return sorted(watching) == MAILBOXES


def settled(url: str) -> int:
    return sum(1 for r in invariant.records(url) if r.status != "pending")


def lease_owners(url: str) -> set[str]:
    store = open_store(url, migrate=False)
    try:
        with store.reading() as session:
            return set(session.scalars(select(Lease.owner)))
    finally:
        store.close()


def test_three_daemons_share_eight_mailboxes_and_take_over_from_one_killed_mid_message(world, postgres_url):
    """Each daemon serves some of the eight mailboxes and every mail is submitted once; after a kill -9 of one in the
    middle of a create call, the others serve its mailboxes within the lease period, with nothing twice or lost."""
    config = eight_mailboxes(world, postgres_url)
    daemons = [Daemon(config) for _ in range(3)]
    try:
        number = deliver_round(world, 1)
        wait_for(lambda: settled(postgres_url) == 8, timeout=60)
        wait_for(lambda: all(served(d) for d in daemons), timeout=30)
        spread = [len(d.lines) for d in daemons]  # every daemon has beaten: the spread has settled
        number = deliver_round(world, number)  # mail arriving while they run
        wait_for(lambda: settled(postgres_url) == 16, timeout=60)
        shares = [served(d, mark) for d, mark in zip(daemons, spread, strict=True)]
        assert sum(len(share) for share in shares) == len(set().union(*shares)), f"a mailbox served twice: {shares}"
        assert all(d.process.poll() is None for d in daemons), "a daemon exited while sharing the mailboxes"
        assert len(set().union(*(served(d) for d in daemons))) == 8
        wait_for(lambda: each_watched_once(daemons), timeout=10)  # IDLE only for a daemon's own share

        world.sandbox.add_fault(Fault("POST", "/api/v1/candidate", after_commit=True, delay=3, times=3))
        number = deliver_round(world, number)  # mails 17 to 24
        wait_for(lambda: world.sandbox.state()["requests"].get("POST /api/v1/candidate", 0) >= 17, timeout=60)
        holders = {int(owner.rpartition(":")[2]) for owner in lease_owners(postgres_url)}
        victim = next(d for d in daemons if d.process.pid in holders)  # mid-pass: a create call in flight
        victim.process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        victim.process.wait(timeout=10)
        victim.reader.join(timeout=10)  # its last lines read
        its = served(victim, spread[daemons.index(victim)])  # its share (a pass begun before the mark included)
        survivors = [d for d in daemons if d is not victim]
        after = [len(d.lines) for d in survivors]
        number = deliver_round(world, number)
        wait_for(lambda: its <= set().union(*(served(d, m) for d, m in zip(survivors, after, strict=True))),
                 timeout=LEASE_SECONDS * 4)
        taken_over = time.monotonic() - killed
        print(f"shares {[sorted(share) for share in shares]}, {sorted(its)} taken over in {taken_over:.1f} s")
        wait_for(lambda: settled(postgres_url) == 32, timeout=60)
    finally:
        stop_all(daemons)
    assert taken_over <= LEASE_SECONDS + 2, f"its mailboxes were taken over after {taken_over:.1f} s"
    outcome = invariant.check(world.sandbox.state(), postgres_url, world.delivered)
    assert len(outcome) == 32 and set(outcome.values()) <= {"submitted", "uncertain"}
    in_flight = {content_key(raw)  # mails 17 to 24 of the victim's mailboxes
                 for raw, name in zip(world.delivered[16:24], MAILBOXES, strict=True) if name in its}
    uncertain = {key for key, status in outcome.items() if status == "uncertain"}
    assert uncertain <= in_flight, "only a create call in flight in the killed daemon may be uncertain"
    assert [d.process.returncode for d in survivors] == [0, 0], "".join(survivors[0].lines)[-3000:]


def test_a_frozen_daemon_has_its_mailboxes_taken_over_once_its_heartbeat_runs_out(world, postgres_url):
    """A daemon frozen mid-message (SIGSTOP: a hung machine or one cut off from the network; its process still
    exists, so only its silence tells) has its mailboxes served by the others once its heartbeat and leases run
    out; thawed, it finishes its call, and serves its share again once the others let go of it; every mail is
    settled once, no applicant or candidate twice."""
    config = eight_mailboxes(world, postgres_url)
    daemons = [Daemon(config) for _ in range(3)]
    frozen = None
    try:
        number = deliver_round(world, 1)
        wait_for(lambda: settled(postgres_url) == 8, timeout=60)
        wait_for(lambda: each_watched_once(daemons), timeout=30)  # every daemon has its share
        world.sandbox.add_fault(Fault("POST", "/api/v1/candidate", after_commit=True, delay=3, times=3))
        number = deliver_round(world, number)  # mails 9 to 16
        wait_for(lambda: world.sandbox.state()["requests"].get("POST /api/v1/candidate", 0) >= 9, timeout=60)
        holders = {int(owner.rpartition(":")[2]) for owner in lease_owners(postgres_url)}
        frozen = next(d for d in daemons if d.process.pid in holders)  # a create call in flight
        its = watched(frozen)
        frozen.process.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        others = [d for d in daemons if d is not frozen]
        after = [len(d.lines) for d in others]
        number = deliver_round(world, number)  # mails 17 to 24
        wait_for(lambda: its <= set().union(*(served(d, m) for d, m in zip(others, after, strict=True))),
                 timeout=LEASE_SECONDS * 4)
        taken_over = time.monotonic() - stopped
        wait_for(lambda: settled(postgres_url) >= 23, timeout=60)  # all but, perhaps, the frozen one's own
        thawed = len(frozen.lines)
        frozen.process.send_signal(signal.SIGCONT)
        number = deliver_round(world, number)  # mails 25 to 32, with all three running again
        wait_for(lambda: settled(postgres_url) == 32, timeout=60)
        wait_for(lambda: each_watched_once(daemons), timeout=30)
        print(f"{sorted(its)} taken over in {taken_over:.1f} s; after the thaw the frozen daemon served "
              f"{sorted(served(frozen, thawed))}")
    finally:
        if frozen is not None:
            frozen.process.send_signal(signal.SIGCONT)
        stop_all(daemons)
    # its heartbeat and lease run out within one lease period, then the others' next pass (interval 1 s) takes them
    assert taken_over <= LEASE_SECONDS + 4, f"its mailboxes were taken over after {taken_over:.1f} s"
    outcome = invariant.check(world.sandbox.state(), postgres_url, world.delivered)
    assert len(outcome) == 32 and set(outcome.values()) <= {"submitted", "uncertain"}
    assert [d.process.returncode for d in daemons] == [0, 0, 0], "".join(frozen.lines)[-3000:]


def test_a_daemon_that_stops_has_its_mailboxes_served_at_once_though_passes_are_an_hour_apart(world, postgres_url):
    """Two daemons share the eight mailboxes with passes an hour apart (IDLE tells each of new mail in its own
    share). One stops: the other's heartbeat finds the set of live instances changed and every one of its lanes
    takes its turn at once, so the stopped one's mailboxes are served within seconds, not at the next pass."""
    config = eight_mailboxes(world, postgres_url)
    config.write_text(config.read_text().replace("interval_seconds = 1", "interval_seconds = 3600"))
    staying, leaving = Daemon(config), Daemon(config)
    try:
        number = deliver_round(world, 1)
        wait_for(lambda: settled(postgres_url) == 8, timeout=60)
        wait_for(lambda: each_watched_once([staying, leaving]), timeout=30)
        its = watched(leaving)
        assert its, "the spread gave the second daemon no mailbox"
        leaving.process.send_signal(signal.SIGTERM)
        assert leaving.process.wait(timeout=30) == 0
        stopped = time.monotonic()
        deliver_round(world, number)  # into every mailbox, the stopped daemon's too
        wait_for(lambda: settled(postgres_url) == 16, timeout=LEASE_SECONDS * 6)
        taken_over = time.monotonic() - stopped
        wait_for(lambda: watched(staying) == set(MAILBOXES), timeout=30)  # and it listens to all of them now
        print(f"{sorted(its)} served by the other daemon {taken_over:.1f} s after the stop")
    finally:
        stop_all([staying, leaving])
    outcome = invariant.check(world.sandbox.state(), postgres_url, world.delivered)
    assert len(outcome) == 16 and set(outcome.values()) == {"submitted"}
    assert staying.process.returncode == 0, "".join(staying.lines)[-3000:]
