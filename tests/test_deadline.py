"""The IMAP watchdog (daemon/mailbox/deadline.py): an operation that overruns its deadline, or goes on past a
stop, has its socket shut down and says why; one thread watches all the operations of a watchdog. In process,
over socket pairs: a blocked read stands for a server that does not answer."""

from __future__ import annotations

import socket
import threading

import pytest

from daemon.errors import MailboxUnavailable
from daemon.mailbox import deadline
from daemon.mailbox.deadline import Watchdog
from tests.e2e import wait_for


@pytest.fixture
def pair():
    ours, server = socket.socketpair()
    yield ours, server
    ours.close()
    server.close()


def watching_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "imap-deadline"]


def test_an_operation_past_its_deadline_is_cut_and_says_so(pair):
    ours, _server = pair
    with pytest.raises(MailboxUnavailable, match=r"did not finish answering within .* while fetching"), \
            Watchdog().exchange("fetching", 0.2, lambda: ours):
        assert ours.recv(1) == b""  # the shutdown ends the read the server never answers


def test_an_operation_that_ends_in_time_is_not_cut(pair):
    ours, server = pair
    server.sendall(b"* OK\r\n")
    with Watchdog().exchange("fetching", 30, lambda: ours):
        assert ours.recv(6) == b"* OK\r\n"
    server.sendall(b"still open")
    assert ours.recv(10) == b"still open"


def test_a_stop_cuts_an_operation_once_its_grace_is_over(pair):
    ours, _server = pair
    stopping = threading.Event()
    threading.Timer(0.1, stopping.set).start()
    with pytest.raises(MailboxUnavailable, match="stopping: the IMAP connection was closed while idling"), \
            Watchdog(stopping.is_set, grace=0.1, tick=0.05).exchange("idling", 600, lambda: ours):
        assert ours.recv(1) == b""


def test_operations_one_after_another_are_watched_by_one_thread(pair):
    ours, server = pair
    dog = Watchdog()
    watchers = set()
    for number in range(50):
        server.sendall(b"%d\r\n" % number)
        with dog.exchange("marking", 30, lambda: ours):
            watchers.add(dog._watcher)
            ours.recv(16)
    assert len(watchers) == 1
    assert watchers <= set(watching_threads())


def test_two_operations_at_once_only_the_late_one_is_cut():
    dog = Watchdog()
    late, late_server = socket.socketpair()
    slow, slow_server = socket.socketpair()
    outcomes: dict[str, str] = {}

    def operation(name: str, seconds: float, sock: socket.socket) -> None:
        try:
            with dog.exchange(name, seconds, lambda: sock):
                sock.recv(1)
            outcomes[name] = "done"
        except MailboxUnavailable:
            outcomes[name] = "cut"

    threads = [threading.Thread(target=operation, args=("searching", 0.2, late)),
               threading.Thread(target=operation, args=("fetching", 30, slow))]
    for thread in threads:
        thread.start()
    wait_for(lambda: "searching" in outcomes)
    slow_server.sendall(b"x")  # the other one's answer comes after the first was cut
    for thread in threads:
        thread.join()
    assert outcomes == {"searching": "cut", "fetching": "done"}
    for sock in (late, late_server, slow, slow_server):
        sock.close()


def test_after_a_rest_the_watching_thread_ends_and_the_next_operation_is_watched_again(pair, monkeypatch):
    monkeypatch.setattr(deadline, "REST", 0.05)
    ours, server = pair
    dog = Watchdog()
    server.sendall(b"x")
    with dog.exchange("marking", 30, lambda: ours):
        ours.recv(1)
    wait_for(lambda: dog._watcher is None)
    with pytest.raises(MailboxUnavailable, match="did not finish answering"), \
            dog.exchange("moving", 0.2, lambda: ours):
        ours.recv(1)
