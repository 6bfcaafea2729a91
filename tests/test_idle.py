"""Instant pickup: the IDLE watcher, the scheduler's wake-up, and both against Dovecot.

The watcher's logic runs against `FakeServer` (a hand-written Listener); the IMAP side
(`IdleConnection`), the latency of a whole pass woken by IDLE, a Dovecot restart and a stop
run against the real Dovecot.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest

from daemon.config import ImapSettings, load_settings
from daemon.errors import ConfigError, MailboxUnavailable
from daemon.mailbox.imap import IdleConnection
from daemon.ops import assembly, idle
from daemon.ops.idle import Backoff, IdleWatcher
from daemon.ops.scheduler import run_forever
from daemon.ops.stopping import StopSignal
from tests import e2e
from tests.test_imap_mailbox import settings as imap_settings
from tests.test_run_signals import Daemon
from tests.world import World, application

FAST = Backoff(first=0.01, most=0.05)


def wait_for(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    e2e.wait_for(predicate, timeout, every=0.01)


# -- the watcher, against a fake server ------------------------------------------------------

class FakeServer:
    """The IMAP side as the watcher sees it: announcements, dropped connections, refusals."""

    def __init__(self, offers_idle: bool = True):
        self.offers_idle = offers_idle
        self.announce = threading.Event()  # new mail: the next wait() says so
        self.drop = threading.Event()  # the connection dies: the next wait() raises
        self.refusals: list[Exception] = []  # raised by the next open()s
        self.noop_fails = False
        self.opened = self.idles = self.finished = self.closed = 0

    def listener(self) -> FakeListener:
        return FakeListener(self)


class FakeListener:
    def __init__(self, server: FakeServer):
        self.server = server

    def open(self) -> bool:
        self.server.opened += 1
        if self.server.refusals:
            raise self.server.refusals.pop(0)
        return self.server.offers_idle

    def start(self) -> bool:
        self.server.idles += 1
        return False

    def wait(self, seconds: float) -> bool:
        if self.server.drop.is_set():
            self.server.drop.clear()
            raise MailboxUnavailable("the IMAP server closed the IDLE connection")
        if self.server.announce.wait(seconds):
            self.server.announce.clear()
            return True
        return False

    def finish(self) -> bool:
        if self.server.noop_fails:
            self.server.noop_fails = False
            raise MailboxUnavailable("IMAP error while ending IDLE: TimeoutError: timed out")
        self.server.finished += 1
        return False

    def close(self) -> None:
        self.server.closed += 1


class CountingStop(StopSignal):
    """A StopSignal that records the backoff sleeps asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        return super().sleep(seconds)


@contextmanager
def watching(server: FakeServer, idle_seconds: float = 60.0, backoff: Backoff = FAST,
             progress: Callable[[], None] = lambda: None, wanted: Callable[[], bool] = lambda: True,
             ) -> Iterator[tuple[IdleWatcher, threading.Event, CountingStop]]:
    wake, stop = threading.Event(), CountingStop()
    watcher = IdleWatcher(server.listener, wake, stop, idle_seconds=idle_seconds, progress=progress,
                          backoff=backoff, step=0.02, wanted=wanted)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        yield watcher, wake, stop
    finally:
        stop.request("test over")
        thread.join(timeout=2)
        assert not thread.is_alive()


def test_new_mail_announced_during_idle_wakes_the_scheduler():
    """An EXISTS during IDLE sets `wake` at once; the first connection itself wakes nobody."""
    server = FakeServer()
    with watching(server) as (watcher, wake, _stop):
        wait_for(lambda: server.idles == 1)
        assert not wake.is_set()
        server.announce.set()
        assert wake.wait(0.5)
        assert watcher.connections == 1


def test_idle_is_reissued_every_idle_seconds_and_each_answered_round_feeds_the_watchdog():
    """Every `idle_seconds`: DONE and NOOP answered, the progress hook called, IDLE again; one connection."""
    server, pings = FakeServer(), []
    with watching(server, idle_seconds=0.1, progress=lambda: pings.append(1)) as (watcher, _wake, _stop):
        wait_for(lambda: server.finished >= 3)
    assert server.opened == 1 and server.idles >= 3
    assert len(pings) == watcher.rounds >= 3


@pytest.mark.parametrize("death", ["dropped", "noop failed"])
def test_a_dead_connection_is_replaced_after_a_backoff_and_the_reconnect_wakes(death):
    """EOF/BYE while listening, or a DONE/NOOP not answered: reconnect after a backoff, then wake (mail may
    have come meanwhile)."""
    server = FakeServer()
    with watching(server, idle_seconds=0.05 if death == "noop failed" else 60) as (watcher, wake, stop):
        wait_for(lambda: server.idles == 1)
        if death == "dropped":
            server.drop.set()
        else:
            server.noop_fails = True
        wait_for(lambda: watcher.connections == 2)
        assert wake.wait(0.5)
        assert server.closed >= 1
        assert stop.sleeps and stop.sleeps[0] <= FAST.first


def test_reconnect_waits_grow_and_a_configuration_error_waits_the_longest():
    """Failed connects back off 1x, 2x, 4x (jittered, capped); a ConfigError (a revoked refresh token) waits
    the longest backoff."""
    server = FakeServer()
    server.refusals = [MailboxUnavailable("refused")] * 3 + [ConfigError("revoked", key="imap.oauth2_refresh_token")]
    backoff = Backoff(first=0.01, most=0.2)
    with watching(server, backoff=backoff) as (watcher, wake, stop):
        wait_for(lambda: watcher.connections == 1)
        assert wake.wait(0.5)  # connected after failures: a pass now
    first, second, third, config_wait = stop.sleeps[:4]
    assert 0.005 <= first <= 0.01 and 0.01 <= second <= 0.02 and 0.02 <= third <= 0.04
    assert config_wait == 0.2


def test_a_mailbox_held_by_another_instance_is_not_watched_until_it_comes_back():
    """With several instances, a watcher listens only while its instance holds the mailbox: no connection before,
    the connection dropped when the mailbox goes to another instance, and a new one (with a wake: mail may have
    come meanwhile) when it comes back."""
    server, holds = FakeServer(), threading.Event()
    with watching(server, wanted=holds.is_set) as (watcher, wake, _stop):
        time.sleep(0.1)  # a few of the watcher's steps: it stays away
        assert server.opened == 0 and watcher.connections == 0
        holds.set()  # this instance's pass took the mailbox
        wait_for(lambda: server.idles == 1)
        assert not wake.is_set()
        holds.clear()  # another instance took it over
        wait_for(lambda: server.closed == 1)
        time.sleep(0.1)
        assert server.opened == 1
        holds.set()
        wait_for(lambda: watcher.connections == 2)
        assert wake.wait(0.5)
        assert server.opened == 2


def test_backoff_doubles_up_to_its_cap_with_up_to_half_taken_off():
    """Backoff.delay: first * 2**(n-1), capped at `most`, times a factor between 0.5 and 1."""
    backoff = Backoff(first=1, most=60)
    assert [backoff.delay(n, rand=lambda: 0.0) for n in (1, 2, 3, 7, 30)] == [1, 2, 4, 60, 60]
    assert backoff.delay(3, rand=lambda: 1.0) == 2


def test_a_server_without_idle_leaves_the_scheduled_passes_alone():
    """No IDLE capability: the watcher closes its connection and ends; nothing wakes."""
    server = FakeServer(offers_idle=False)
    with watching(server) as (_watcher, wake, _stop):
        wait_for(lambda: server.closed == 1)
        time.sleep(0.05)
        assert server.opened == 1 and server.idles == 0 and not wake.is_set()


def test_idle_off_starts_no_watcher():
    """`[imap] idle = false`: no thread, no connection."""
    settings = ImapSettings(host="127.0.0.1", port=1, security="none", username="u", password="p", ca_file="",
                            folder="INBOX", processed_folder="", review_folder="", ignored_folder="", batch_size=1,
                            max_message_bytes=1024, timeout_seconds=1.0, reconnect_attempts=0, idle=False)
    assert idle.start(settings, threading.Event(), StopSignal()) is None


@pytest.mark.parametrize("where", ["in IDLE", "in a backoff"])
def test_a_stop_ends_the_watcher_at_once(where):
    """A stop request ends an IDLE (or a long reconnect wait) within a fraction of a second."""
    server = FakeServer()
    if where == "in a backoff":
        server.refusals = [MailboxUnavailable("refused")] * 5
    wake, stop = threading.Event(), StopSignal()
    watcher = IdleWatcher(server.listener, wake, stop, idle_seconds=600, backoff=Backoff(first=30, most=60))
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    wait_for(lambda: server.idles == 1 if where == "in IDLE" else server.opened == 1)
    time.sleep(0.05)
    asked = time.monotonic()
    stop.request("test")
    thread.join(timeout=2)
    assert not thread.is_alive() and time.monotonic() - asked < 0.5
    assert server.closed == server.opened


# -- the scheduler's wake-up ------------------------------------------------------------------

class SlowPasses:
    """A pass function taking `seconds`, recording when each started and whether two overlapped."""

    def __init__(self, seconds: float = 0.0):
        self.seconds, self.started, self.running, self.overlapped = seconds, [], 0, False
        self.lock = threading.Lock()

    def __call__(self, should_stop) -> None:
        with self.lock:
            self.running += 1
            self.overlapped |= self.running > 1
            self.started.append(time.monotonic())
        time.sleep(self.seconds)
        with self.lock:
            self.running -= 1


@contextmanager
def scheduled(passes: SlowPasses) -> Iterator[tuple[threading.Event, StopSignal]]:
    wake, stop = threading.Event(), StopSignal()
    loop = threading.Thread(target=run_forever, args=(passes, 3600, stop), kwargs={"wake": wake}, daemon=True)
    loop.start()
    try:
        wait_for(lambda: passes.started)  # the pass at start-up
        yield wake, stop
    finally:
        stop.request("test over")
        loop.join(timeout=5)
        assert not loop.is_alive()


def test_a_wake_runs_a_pass_at_once_between_scheduled_passes():
    """With an hour between scheduled passes, a wake starts one within a fraction of a second."""
    passes = SlowPasses()
    with scheduled(passes) as (wake, _stop):
        wait_for(lambda: len(passes.started) == 1 and not passes.running)  # the first pass is over
        woken = time.monotonic()
        wake.set()
        wait_for(lambda: len(passes.started) == 2, timeout=2)
        assert passes.started[1] - woken < 0.6


def test_wakes_during_a_pass_make_one_more_pass_after_it_never_two_at_once():
    """Three wakes while a pass runs: one more pass, started after it ended (it may have swept too early)."""
    passes = SlowPasses(seconds=0.3)
    with scheduled(passes) as (wake, _stop):
        for _ in range(3):
            wake.set()
            time.sleep(0.02)
        wait_for(lambda: len(passes.started) == 2, timeout=3)
        time.sleep(0.6)
    assert len(passes.started) == 2 and not passes.overlapped
    assert passes.started[1] - passes.started[0] >= 0.3


# -- against Dovecot -------------------------------------------------------------------------

def over(dovecot, security: str):
    """Settings for the session's Dovecot over plain IMAP or IMAPS (trusting its certificate)."""
    if security == "none":
        return imap_settings(dovecot)
    return replace(imap_settings(dovecot), port=dovecot.imaps_port, security="ssl", ca_file=str(dovecot.cert_path))


@pytest.mark.imap
@pytest.mark.parametrize("security", ["none", "ssl"])
def test_the_idle_connection_hears_an_append_within_two_seconds(dovecot, security):
    """IdleConnection against Dovecot: IDLE offered, an APPEND announced within 2 s, DONE and NOOP answered."""
    listener = IdleConnection(over(dovecot, security))
    try:
        assert listener.open() is True
        listener.start()
        appended = time.monotonic()
        dovecot.append("INBOX", application(1))
        deadline = appended + 2
        while not listener.wait(0.1):
            assert time.monotonic() < deadline, "no EXISTS within 2 s"
        assert listener.finish() is False
    finally:
        listener.close()


@pytest.mark.imap
@pytest.mark.parametrize("security", ["none", "ssl"])
def test_a_server_killed_during_idle_is_noticed_at_once(dovecot, security):
    """Dovecot killed (no BYE, the socket just closes) while in IDLE: wait() raises MailboxUnavailable."""
    listener = IdleConnection(over(dovecot, security))
    try:
        listener.open()
        listener.start()
        dovecot.kill()
        with pytest.raises(MailboxUnavailable):
            listen_for(listener, seconds=2)
    finally:
        listener.close()
        dovecot.start()


def listen_for(listener: IdleConnection, seconds: float) -> None:
    """wait() in short steps for `seconds` (what the watcher does)."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        listener.wait(0.1)


class CountedIdle(IdleConnection):
    """An IdleConnection that notes itself in `idling` when it first enters IDLE (the state tests wait for)."""

    def __init__(self, settings, idling: list[IdleConnection]):
        super().__init__(settings)
        self.idling = idling

    def start(self) -> bool:
        told = super().start()
        if self not in self.idling:
            self.idling.append(self)
        return told


class Connections:
    """Makes the watcher's connections to Dovecot; `idling` lists those that reached IDLE, in order."""

    def __init__(self, settings):
        self.settings, self.idling = settings, []

    def __call__(self) -> IdleConnection:
        return CountedIdle(self.settings, self.idling)


def dovecot_watcher(settings, wake: threading.Event, stop: StopSignal) -> tuple[IdleWatcher, threading.Thread]:
    watcher = IdleWatcher(Connections(settings), wake, stop, idle_seconds=settings.idle_seconds,
                          backoff=Backoff(first=0.1, most=0.5))
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    return watcher, thread


@pytest.mark.imap
def test_idle_survives_a_dovecot_restart(dovecot):
    """The server restarts: the watcher reconnects, wakes the scheduler, and hears the next mail."""
    wake, stop = threading.Event(), StopSignal()
    watcher, thread = dovecot_watcher(imap_settings(dovecot), wake, stop)
    try:
        wait_for(lambda: watcher.connections == 1)
        dovecot.restart()
        wait_for(lambda: watcher.connections == 2, timeout=10)
        assert wake.wait(1)
        wake.clear()
        wait_for(lambda: len(watcher.listener.idling) == 2)  # in IDLE again
        dovecot.append("INBOX", application(1))
        assert wake.wait(2)
    finally:
        stop.request("test over")
        thread.join(timeout=2)
    assert not thread.is_alive()


@pytest.mark.imap
def test_a_stop_ends_idle_against_dovecot_at_once(dovecot):
    """A stop while the watcher is in IDLE on Dovecot ends it within half a second."""
    wake, stop = threading.Event(), StopSignal()
    watcher, thread = dovecot_watcher(imap_settings(dovecot), wake, stop)
    wait_for(lambda: len(watcher.listener.idling) == 1)  # in IDLE
    asked = time.monotonic()
    stop.request("test")
    thread.join(timeout=2)
    assert not thread.is_alive() and time.monotonic() - asked < 0.5


@pytest.mark.imap
def test_mail_appended_during_idle_is_submitted_within_two_seconds_p95(world: World):
    """The real pass (Dovecot, the journal, the sandbox ATS) woken by IDLE, with an hour between scheduled
    passes: 20 mails appended 0.15 s apart each reach the ATS, the 95th percentile within 2 s of its APPEND.

    (Dovecot itself announces new mail about 0.5 s after it lands; a pass takes about 0.2 s.)"""
    settings = load_settings(world.config)
    wake, stop = threading.Event(), StopSignal()
    service = assembly.service(settings, stop)
    loop = threading.Thread(target=run_forever, args=(service.run_pass, 3600, stop), kwargs={"wake": wake},
                            daemon=True)
    watcher, thread = dovecot_watcher(settings.imap, wake, stop)
    loop.start()
    appended: list[float] = []
    submitted: list[float] = []  # the pass sweeps by UID, so the n-th submission is the n-th mail
    try:
        wait_for(lambda: watcher.connections == 1 and service.store.last_pass() is not None)
        deadline = time.monotonic() + 30
        while len(submitted) < 20:
            assert time.monotonic() < deadline, f"{len(submitted)} of 20 submitted"
            if len(appended) < 20 and time.monotonic() >= (appended[-1] + 0.15 if appended else 0):
                world.deliver(application(len(appended)))
                appended.append(time.monotonic())
            now, done = time.monotonic(), len(world.sandbox.state()["actions"])
            submitted += [now] * (done - len(submitted))
            time.sleep(0.01)
    finally:
        stop.request("test over")
        loop.join(timeout=10)
        thread.join(timeout=2)
        service.close()
    latencies = sorted(s - a for a, s in zip(appended, submitted, strict=True))
    print(f"IDLE to ATS over 20 appends: p50 {latencies[9]:.3f} s, p95 {latencies[18]:.3f} s, "
          f"max {latencies[19]:.3f} s")
    assert latencies[18] < 2.0, latencies
    assert set(world.check().values()) == {"submitted"}


@pytest.mark.imap
def test_run_takes_new_mail_at_once_with_idle_and_stops_on_sigterm(world: World):
    """`ats-inbox run` with an hour between passes: a mail delivered after the first pass reaches the ATS
    within seconds (IDLE woke it); SIGTERM ends the daemon, watcher included, with exit 0."""
    world.config.write_text(world.config.read_text().replace("interval_seconds = 1\n", "interval_seconds = 3600\n"))
    world.deliver(application(1))
    daemon = Daemon(world.config)
    try:
        wait_for(lambda: len(world.sandbox.state()["actions"]) == 1, timeout=30)
        # The watcher has examined the folder: mail from now on is announced, on its way into IDLE or in it.
        daemon.wait_for_log("idle.listening")
        delivered = time.monotonic()
        world.deliver(application(2))
        wait_for(lambda: len(world.sandbox.state()["actions"]) == 2, timeout=5)
        took = time.monotonic() - delivered
        stopped = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
        daemon.process.wait(timeout=30)
        stop_took = time.monotonic() - stopped
    finally:
        daemon.process.kill()
    daemon.reader.join(timeout=5)
    err = "".join(daemon.lines)
    assert daemon.process.returncode == 0, err[-2000:]
    assert "idle.listening" in err and "idle.wake" in err and "idle.stopped" in err
    assert took < 3 and stop_took < 5
    assert set(world.check().values()) == {"submitted"}
