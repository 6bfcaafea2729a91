"""The daemon loop: which failed passes it survives and which stop it."""

from __future__ import annotations

import threading

import pytest

from daemon.errors import AtsUnavailable, ConfigError, DatabaseReplaced
from daemon.ops.scheduler import run_forever
from daemon.ops.stopping import StopSignal


class Passes:
    """A pass function that fails as scripted, then requests a stop after the last entry.

    Each pass sets `wake` (as IDLE does on new mail), so the next one runs at once instead
    of a whole interval later."""

    def __init__(self, stop, script):
        self.stop, self.script, self.calls = stop, list(script), 0
        self.wake = threading.Event()

    def __call__(self, should_stop):
        self.calls += 1
        self.wake.set()
        if not self.script:
            self.stop.request("test done")
            return
        error = self.script.pop(0)
        if error is not None:
            raise error


@pytest.mark.parametrize("error", [DatabaseReplaced("the database file was deleted"),
                                   ConfigError("no folder INBOX/Review", key="imap.review_folder")])
def test_a_fatal_error_stops_the_daemon_and_is_raised(error):
    """A replaced database, or a configuration error in the first pass: the loop ends and says why."""
    stop = StopSignal()
    passes = Passes(stop, [error, None, None])
    with pytest.raises(type(error)):
        run_forever(passes, 1, stop)
    assert passes.calls == 1


def test_transient_failures_and_a_later_configuration_error_are_survived():
    """An ATS outage, or a configuration error after passes that worked: logged, the next pass runs."""
    stop = StopSignal()
    passes = Passes(stop, [None, AtsUnavailable("503"), ConfigError("token refused", key="ats.token")])
    run_forever(passes, 1, stop, wake=passes.wake)
    assert passes.calls == 4
