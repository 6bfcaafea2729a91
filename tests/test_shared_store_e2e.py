"""Several `ats-inbox run` daemons on one PostgreSQL and one Dovecot folder, and `db copy` from SQLite:
every mail submitted exactly once, through a kill -9 mid-message and a PostgreSQL restart."""

from __future__ import annotations

import signal

import pytest
from sqlalchemy import select

from daemon.store import open_store
from daemon.store.models import Lease
from tests import invariant
from tests.e2e import run_cli, wait_for
from tests.test_run_signals import Daemon
from tests.world import World, application

pytestmark = pytest.mark.imap
JOBS = ("Data Analyst", "Senior Python Developer", "Python Developer", "Customer Support Specialist")


def on_postgresql(world: World, url: str) -> None:
    """The world's config pointed at the PostgreSQL database `url`."""
    text = world.config.read_text().replace(f'url = "sqlite:///{world.database}"', f'url = "{url}"')
    world.config.write_text(text)


def mails(first: int, last: int) -> list[bytes]:
    return [application(n, JOBS[n % len(JOBS)]) for n in range(first, last + 1)]


def confirmed(world: World) -> int:
    return len(world.sandbox.state()["actions"])


def stop_all(daemons: list[Daemon]) -> None:
    for daemon in daemons:
        if daemon.process.poll() is None:
            daemon.process.send_signal(signal.SIGTERM)
    for daemon in daemons:
        try:
            daemon.process.wait(timeout=30)
        finally:
            daemon.process.kill()


def lease_holder_pid(url: str) -> int | None:
    """The process id of the daemon holding the folder's lease now (the one lease of the test)."""
    store = open_store(url, migrate=False)
    try:
        with store.reading() as session:
            owner = session.scalar(select(Lease.owner))
    finally:
        store.close()
    return int(owner.rpartition(":")[2]) if owner else None


def test_db_copy_then_a_pass_on_postgresql_submits_nothing_twice(world, postgres_url):
    """Mail taken in on SQLite, the state copied with `db copy`, then a pass on PostgreSQL: only new mail is sent."""
    world.deliver(*mails(1, 3))
    world.poll()
    copied = run_cli("db", "copy", "--to", postgres_url, "--config", str(world.config))
    assert copied.code == 0, copied.stderr[-2000:]
    assert "messages" in copied.stdout and "steps" in copied.stdout
    on_postgresql(world, postgres_url)
    world.deliver(*mails(4, 5))
    world.poll()
    assert set(invariant.check(world.sandbox.state(), postgres_url, world.delivered).values()) == {"submitted"}
    assert len(world.sandbox.state()["candidates"]) == 5


def test_three_daemons_on_one_postgresql_submit_every_mail_once(world, postgres_url):
    """Three daemons share one folder through PostgreSQL while mail keeps arriving: each mail is sent exactly once."""
    on_postgresql(world, postgres_url)
    daemons = [Daemon(world.config) for _ in range(3)]
    try:
        for first in (1, 5, 9):
            world.deliver(*mails(first, first + 3))
            wait_for(lambda first=first: confirmed(world) >= first, timeout=90)
        wait_for(lambda: confirmed(world) == 12, timeout=120)
        assert all(d.process.poll() is None for d in daemons), "a daemon exited while sharing the folder"
    finally:
        stop_all(daemons)
    assert set(invariant.check(world.sandbox.state(), postgres_url, world.delivered).values()) == {"submitted"}
    assert [d.process.returncode for d in daemons] == [0, 0, 0]


def test_a_daemon_killed_mid_message_is_taken_over_without_duplicate_or_loss(world, postgres_url):
    """kill -9 of the daemon holding the folder while the ATS is slow: another one takes over, nothing twice or lost."""
    from daemon.sandbox import Fault

    on_postgresql(world, postgres_url)
    world.sandbox.add_fault(Fault("POST", "/api/v1/candidate", after_commit=True, delay=1.5, times=2))
    world.deliver(*mails(1, 4))
    daemons = [Daemon(world.config) for _ in range(2)]
    try:
        wait_for(lambda: world.sandbox.state()["requests"].get("POST /api/v1/candidate", 0) >= 1, timeout=60)
        holder = lease_holder_pid(postgres_url)
        [victim] = [d for d in daemons if d.process.pid == holder]
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=10)
        survivor = next(d for d in daemons if d is not victim)
        world.deliver(*mails(5, 6))
        wait_for(lambda: sum(1 for r in invariant.records(postgres_url) if r.status != "pending") == 6, timeout=120)
    finally:
        stop_all(daemons)
    outcome = invariant.check(world.sandbox.state(), postgres_url, world.delivered)
    assert set(outcome.values()) <= {"submitted", "uncertain"}
    assert survivor.process.returncode == 0


def test_postgresql_restarted_mid_pass_the_daemons_wait_and_go_on(world, postgres_url, postgres):
    """PostgreSQL stopped while two daemons work and started again: they wait, then take in every mail once."""
    on_postgresql(world, postgres_url)
    daemons = [Daemon(world.config) for _ in range(2)]
    try:
        world.deliver(*mails(1, 4))
        for daemon in daemons:  # both past their start (one the server cannot reach at start exits 1, for systemd)
            daemon.wait_for_log('"daemon.started"', timeout=60)
        wait_for(lambda: confirmed(world) >= 1, timeout=60)
        postgres.stop()
        world.deliver(*mails(5, 8))
        postgres.start()
        wait_for(lambda: confirmed(world) == 8, timeout=180)
        exited = [d for d in daemons if d.process.poll() is not None]
        assert not exited, "a daemon exited while PostgreSQL was down: " + "".join(exited[0].lines)[-3000:]
    finally:
        stop_all(daemons)
    outcome = invariant.check(world.sandbox.state(), postgres_url, world.delivered)
    assert set(outcome.values()) <= {"submitted", "uncertain"}
