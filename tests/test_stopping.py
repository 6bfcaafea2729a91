"""StopSignal: SIGTERM, SIGINT and SIGHUP request a stop; sleeps end as soon as one is requested."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from daemon.ops.stopping import StopSignal
from tests.e2e import wait_for


def test_sleep_wakes_promptly_when_another_thread_requests_a_stop():
    """A long sleep returns True within a fraction of a second of a stop from another thread."""
    stop = StopSignal()
    threading.Timer(0.05, stop.request).start()
    started = time.monotonic()
    assert stop.sleep(30) is True
    assert time.monotonic() - started < 1.0


def test_sleep_runs_its_course_without_a_stop():
    """Without a stop request, sleep waits the time asked and returns False."""
    stop = StopSignal()
    started = time.monotonic()
    assert stop.sleep(0.05) is False
    assert time.monotonic() - started >= 0.05
    assert not stop.requested()


def test_sleep_after_a_stop_returns_at_once():
    """Once a stop was requested, every later sleep returns True immediately."""
    stop = StopSignal()
    stop.request()
    started = time.monotonic()
    assert stop.sleep(30) is True and stop.requested()
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_each_stop_signal_requests_a_stop_and_wakes_a_sleep(signum):
    """SIGTERM, SIGINT and SIGHUP delivered to the process set the stop and end a sleep; nothing dies."""
    stop = StopSignal()
    with stop.installed():
        threading.Timer(0.05, os.kill, (os.getpid(), signum)).start()
        assert stop.sleep(30) is True
    assert stop.requested()


def test_wait_in_the_main_thread_ends_on_a_signal():
    """`run` blocks in wait() in the main thread; a SIGHUP ends the wait instead of killing the process."""
    stop = StopSignal()
    with stop.installed():
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGHUP)).start()
        stop.wait()
    assert stop.requested()


def test_handlers_are_restored_on_leaving():
    """After `installed()` the previous handlers are back (tests and embedders keep theirs)."""
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    with StopSignal().installed():
        assert signal.getsignal(signal.SIGHUP) != before[signal.SIGHUP]
    assert {s: signal.getsignal(s) for s in before} == before


def test_second_sigint_interrupts_at_once():
    """Ctrl-C twice: the second raises KeyboardInterrupt instead of waiting for the message in hand."""
    stop = StopSignal()
    with stop.installed():
        os.kill(os.getpid(), signal.SIGINT)
        stop.sleep(1)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # the handler runs as soon as os.kill returns


def test_with_a_hangup_handler_sighup_calls_it_and_does_not_stop():
    """In `run`, SIGHUP asks for a reload: the handler runs, no stop is requested."""
    stop, calls = StopSignal(), []
    with stop.installed(on_hangup=lambda: calls.append("reload")):
        os.kill(os.getpid(), signal.SIGHUP)
        wait_for(lambda: calls, timeout=2)
    assert calls == ["reload"] and not stop.requested()
