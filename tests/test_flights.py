"""Messages in flight: started up to the concurrency, landed in order, one per sender at a time.
In process, with flows that wait on events: nothing timed."""

from __future__ import annotations

import threading

from daemon.domain import MessageKey
from daemon.intake.flights import Flights
from daemon.intake.outcome import Disposition, Outcome

SUBMITTED = Outcome("submitted")


def key(uid: int) -> MessageKey:
    return MessageKey("jobs@example.com", "INBOX", 1, uid)


def flow(gate: threading.Event | None = None, outcome: Outcome = SUBMITTED):
    def run() -> Outcome:
        if gate is not None:
            gate.wait(timeout=30)
        return outcome
    return run


def started(flights: Flights, uid: int, sender: str, gate: threading.Event | None = None,
            outcome: Outcome = SUBMITTED) -> None:
    flights.start(key(uid), object(), sender, flow(gate, outcome))  # type: ignore[arg-type]


def test_a_slow_flight_at_the_head_does_not_hold_back_the_next_start():
    """Concurrency 2, the first flow still running and the second done: a worker is free, so the third
    message starts without waiting for the first; they still land in the order they started."""
    gate = threading.Event()
    with Flights(2) as flights:
        flights.went_through(True)
        started(flights, 1, "a@example.org", gate)
        started(flights, 2, "b@example.org")
        list(flights._queue)[1].future.result(timeout=30)
        assert list(flights.blocking("c@example.org")) == []
        started(flights, 3, "c@example.org")
        gate.set()
        assert [flight.key.uid for flight in flights.remaining()] == [1, 2, 3]


def test_with_every_worker_busy_the_next_waits_for_any_one_to_finish():
    """Both workers busy: the next start waits until one flow is done, whichever, not for the head to land."""
    first, second = threading.Event(), threading.Event()
    with Flights(2) as flights:
        flights.went_through(True)
        started(flights, 1, "a@example.org", first)
        started(flights, 2, "b@example.org", second)
        finisher = threading.Thread(target=second.set)
        finisher.start()
        assert list(flights.blocking("c@example.org")) == []  # returned once the second was done
        finisher.join()
        head, second_flight = list(flights._queue)
        assert second_flight.future.done() and not head.future.done()
        first.set()
        assert [flight.key.uid for flight in flights.remaining()] == [1, 2]


def test_a_second_mail_from_a_sender_in_flight_waits_for_the_first_to_land():
    gate = threading.Event()
    with Flights(4) as flights:
        flights.went_through(True)
        started(flights, 1, "a@example.org", gate)
        started(flights, 2, "b@example.org")
        waiting = flights.blocking("a@example.org")
        gate.set()
        assert [flight.key.uid for flight in waiting] == [1]


def test_flights_waiting_to_land_stay_bounded_behind_a_slow_head():
    """The head still running and every later one done: at two flights a worker, the next start lands
    the head first (waiting for it), so what waits to land is bounded."""
    gate = threading.Event()
    with Flights(2) as flights:
        flights.went_through(True)
        started(flights, 1, "head@example.org", gate)
        for uid in range(2, 4):
            started(flights, uid, f"p{uid}@example.org")
            list(flights._queue)[-1].future.result(timeout=30)
            assert list(flights.blocking(f"p{uid + 1}@example.org")) == []
        assert len(flights._queue) == 3
        started(flights, 4, "p4@example.org")
        list(flights._queue)[-1].future.result(timeout=30)
        blocked = flights.blocking("p5@example.org")
        gate.set()
        assert next(blocked).key.uid == 1


def test_a_failed_flow_holds_its_worker_until_it_lands():
    """Flows that failed (the ATS answering 503, say) keep their workers until they land: with every worker held
    by one, the next start lands them first, in order, and the landing of a failure closes the sweep to one
    at a time. Flows that went through free theirs before they land."""
    failed = Outcome("pending", disposition=Disposition.ATS_WIDE, error=RuntimeError("503"))
    with Flights(2) as flights:
        flights.went_through(True)
        started(flights, 1, "a@example.org", outcome=failed)
        started(flights, 2, "b@example.org", outcome=failed)
        for flight in list(flights._queue):
            flight.future.result(timeout=30)
        landed = []
        for flight in flights.blocking("c@example.org"):
            landed.append(flight.key.uid)
            flights.went_through(False)  # as the runner does when it lands a failed flow
        assert landed == [1, 2]
    with Flights(2) as flights:
        flights.went_through(True)
        started(flights, 1, "a@example.org")
        started(flights, 2, "b@example.org")
        for flight in list(flights._queue):
            flight.future.result(timeout=30)
        assert list(flights.blocking("c@example.org")) == []


def test_one_at_a_time_the_next_flow_starts_only_once_the_last_is_done():
    """Concurrency 1: the flow runs in a worker, not in the caller's thread (which meanwhile reads the next
    mail), and the next start waits until that flow is done: never two flows at once."""
    gate, threads = threading.Event(), []

    def first() -> Outcome:
        threads.append(threading.get_ident())
        gate.wait(timeout=30)
        return SUBMITTED

    with Flights(1) as flights:
        flights.went_through(True)
        flights.start(key(1), object(), "a@example.org", first)  # type: ignore[arg-type]
        head = flights._queue[0]
        opener = threading.Thread(target=gate.set)
        opener.start()
        assert list(flights.blocking("b@example.org")) == []  # returned once the first flow was done
        opener.join()
        assert head.future.done() and threads != [threading.get_ident()]


def test_one_at_a_time_a_flow_that_went_through_lands_while_the_next_runs():
    """Concurrency 1, open: the flow that went through frees the worker; the next starts, and the first lands
    after that start, still first."""
    gate = threading.Event()
    with Flights(1) as flights:
        flights.went_through(True)
        started(flights, 1, "a@example.org")
        flights._queue[0].future.result(timeout=30)
        assert list(flights.blocking("b@example.org")) == []
        started(flights, 2, "b@example.org", gate)
        assert [flight.key.uid for flight in flights.ready()] == [1]
        gate.set()
        assert [flight.key.uid for flight in flights.remaining()] == [2]


def test_one_at_a_time_closed_each_flight_lands_before_the_next_starts():
    """Concurrency 1, closed (a sweep's start, or after a failure): the flow lands (its verdict written, its mail
    marked, the lease renewed) before the next message starts."""
    with Flights(1) as flights:
        flights.went_through(False)
        started(flights, 1, "a@example.org")
        assert [flight.key.uid for flight in flights.blocking("b@example.org")] == [1]
