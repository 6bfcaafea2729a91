"""`ats-inbox run`: the scheduled daemon picks up new mail and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from daemon.sandbox import Fault
from tests import invariant
from tests.e2e import cli, wait_for
from tests.test_run_signals import Daemon
from tests.world import World, application

pytestmark = pytest.mark.imap


def start(world: World) -> subprocess.Popen:
    return subprocess.Popen([*cli(), "run", "--config", str(world.config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def stopped(daemon: Daemon) -> str:
    """The whole log of a daemon that was sent a stop, once it has exited (30 s at most)."""
    daemon.process.wait(timeout=30)
    daemon.reader.join(timeout=5)
    return "".join(daemon.lines)


def test_run_picks_up_mail_on_schedule_and_stops_on_sigterm(world):
    """Mail delivered while the daemon runs is processed by a later pass; SIGTERM exits 0."""
    daemon = Daemon(world.config)
    try:
        daemon.wait_for_log("poll.finished")  # a pass is over: the mail comes in while the daemon runs
        world.deliver(application(1))
        wait_for(lambda: len(world.sandbox.state()["actions"]) == 1)
        daemon.process.send_signal(signal.SIGTERM)
        err = stopped(daemon)
    finally:
        daemon.process.kill()
    assert daemon.process.returncode == 0, err[-2000:]
    assert "daemon.stopped" in err
    assert set(world.check().values()) == {"submitted"}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_sigterm_finishes_the_message_in_hand(world, signum):
    """A stop request (SIGTERM or SIGINT) during a slow ATS call lets that message finish."""
    world.sandbox.add_fault(Fault("POST", "/api/v1/candidate", after_commit=True, delay=2.0, times=-1))
    world.deliver(application(1), application(2, "Senior Python Developer"))
    daemon = start(world)
    try:
        wait_for(lambda: world.sandbox.state()["requests"].get("POST /api/v1/candidate", 0) >= 1)
        daemon.send_signal(signum)
        _, err = daemon.communicate(timeout=30)
    finally:
        daemon.kill()
    assert daemon.returncode == 0, err[-2000:]
    assert "daemon.stopping" in err and signum.name in err
    statuses = sorted(r.status for r in invariant.records(world.database))
    assert statuses == ["submitted"]  # the first finished; the second was not started
    assert len(world.sandbox.state()["actions"]) == 1


def test_a_stop_during_a_retry_after_wait_ends_at_once(world):
    """SIGTERM while the daemon waits out a 25 s Retry-After: it stops within seconds, nothing sent twice."""
    world.sandbox.add_fault(Fault("POST", "/api/v1/candidate", status=503, retry_after="25", times=-1))
    world.deliver(application(1))
    daemon = Daemon(world.config)
    try:
        daemon.wait_for_log('"ats.retry"')  # logged as the wait of the Retry-After begins
        stopped_at = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
        err = stopped(daemon)
        took = time.monotonic() - stopped_at
    finally:
        daemon.process.kill()
    assert daemon.process.returncode == 0, err[-2000:]
    assert took < 5, f"the stop took {took:.1f} s"
    [record] = invariant.records(world.database)
    assert (record.status, record.attempts) == ("pending", 0)
