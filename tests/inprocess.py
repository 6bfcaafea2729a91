"""A Service over a FakeMailbox and the sandbox ATS in process (no socket, no IMAP server), and a
datagram socket that listens like systemd's $NOTIFY_SOCKET: for the notify, metrics and alerts tests."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from daemon.ats.breaker import CircuitBreaker
from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.errors import MailboxUnavailable
from daemon.intake.flow import FlowOptions, MessageFlow
from daemon.intake.runner import Runner, RunnerOptions
from daemon.ops.service import Service
from daemon.sandbox import SandboxATS
from daemon.sandbox.faults import FOREVER, Fault
from daemon.store import open_store
from tests import invariant
from tests.e2e import FIXTURES
from tests.fakes import FakeMailbox
from tests.mailfactory import build_email

PDF = (FIXTURES / "resumes" / "rendercv-john-doe-classic.pdf").read_bytes()
# Every call a message makes first, and the probe: with these refused the pass stops, "ats down".
ATS_CALLS = (("POST", "/api/v1/jobs/search"), ("GET", "/api/v1/pipelines/all"), ("GET", "/api/v1/sources/all"),
             ("POST", "/api/v1/upload-cv-file"))


def application(n: int, subject: str = "Data Analyst", attach: bool = True) -> bytes:
    files = [("cv.pdf", PDF, "application/pdf")] if attach else []
    return build_email(sender=(f"P {n}", f"p{n}@example.org"), subject=subject, attachments=files)


def ats_down(sandbox: SandboxATS) -> None:
    """The sandbox answers 503 to everything a pass asks, until `sandbox.clear_faults()`."""
    for method, path in ATS_CALLS:
        sandbox.add_fault(Fault(method, path, status=503, times=FOREVER))


class Unreachable(FakeMailbox):
    """A mailbox whose server refuses the login while `refusing` is set."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.refusing = True

    def open(self):
        if self.refusing:
            raise MailboxUnavailable("IMAP login refused while logging in: check imap.username and the password")
        return super().open()


class Wedged(FakeMailbox):
    """A mailbox whose open() hangs (like a read with no answer) while `hung` is set, until `release`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.hung, self.release, self.entered = threading.Event(), threading.Event(), threading.Event()

    def open(self):
        if self.hung.is_set():
            self.entered.set()
            self.release.wait(30)
        return super().open()


@contextmanager
def service_over(tmp_path: Path, mailbox: FakeMailbox) -> Iterator[tuple[Service, SandboxATS]]:
    sandbox = SandboxATS(tmp_path / "ats.db")
    client = AtsClient("http://sandbox.test", "t", timeout=5, transport=sandbox.transport(), sleep=lambda _: None)
    store = open_store(f"sqlite:///{tmp_path / 'daemon.db'}")
    service = Service(store=store, client=client, directory=AtsDirectory(client, source_name="Email"),
                      options=RunnerOptions(), flow_options=FlowOptions(), mailbox_factory=lambda: mailbox)
    try:
        yield service, sandbox
    finally:
        service.close()
        sandbox.stop()


class NotifySocket:
    """A datagram socket bound like systemd's: each datagram received is a list of `KEY=value` lines."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="n", dir="/tmp")  # a short path: AF_UNIX allows 108 bytes
        self.path = os.path.join(self.folder, "notify")
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(self.path)
        self.socket.settimeout(0.05)
        self.messages: list[list[str]] = []

    def drain(self) -> list[list[str]]:
        """Every datagram received so far (kept in `messages` too)."""
        while True:
            try:
                data = self.socket.recv(4096)
            except TimeoutError:
                return self.messages
            self.messages.append(data.decode().split("\n"))

    def lines(self) -> list[str]:
        return [line for message in self.drain() for line in message]

    def wait_for(self, wanted: str, timeout: float = 10) -> list[str]:
        """The lines so far, once one starting with `wanted` came (AssertionError when it does not)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.lines()
            if any(line.startswith(wanted) for line in lines):
                return lines
        raise AssertionError(f"no {wanted!r} in {self.lines()}")

    def close(self) -> None:
        self.socket.close()
        os.unlink(self.path)
        os.rmdir(self.folder)

class FakeClock:
    """Time moved by hand (`now += ...`) and by sleeps, which take no real time."""

    def __init__(self):
        self.now, self.slept = 0.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class ThreadClock(FakeClock):
    """A fake clock for flows running at once: a sleep moves time on for the sleeping thread only, moving `now`
    moves it for every thread. A real sleep of one thread does not make another's request take longer; on one
    shared fake clock it did (another flow's back-off of 30 s, taken at once, timed out a request in flight)."""

    def __init__(self):
        super().__init__()
        self._own = threading.local()

    def __call__(self) -> float:
        return self.now + getattr(self._own, "slept", 0.0)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self._own.slept = getattr(self._own, "slept", 0.0) + seconds


class InProcessWorld:
    """A fake mailbox, a real store, the sandbox ATS through an in-process transport; `clock` is a FakeClock
    (ThreadClock for flows running at once)."""

    def __init__(self, tmp_path, clock: FakeClock | None = None):
        self.sandbox = SandboxATS(tmp_path / "sandbox.db")
        self.clock = clock or FakeClock()
        self.client = AtsClient("http://sandbox.test", "t", timeout=5, transport=self.sandbox.transport(),
                                sleep=self.clock.sleep, clock=self.clock, breaker=CircuitBreaker(clock=self.clock))
        self.database = tmp_path / "ats-inbox.db"
        self.store = open_store(f"sqlite:///{self.database}")
        self.directory = AtsDirectory(self.client, source_name="Email", clock=self.clock)
        self.box = FakeMailbox()
        self.delivered: list[bytes] = []

    def deliver(self, *mails: bytes) -> None:
        for raw in mails:
            self.box.messages[max(self.box.messages, default=0) + 1] = raw
            self.delivered.append(raw)

    def poll(self, flow_options: FlowOptions | None = None, rules=None, **options):
        flow = MessageFlow(self.store, self.client, self.directory, flow_options or FlowOptions(),
                           sleep=self.clock.sleep, **({"rules": lambda: rules} if rules is not None else {}))
        runner = Runner(self.store, self.box, flow, RunnerOptions(**options), probe=self.client.answers,
                        sleep=self.clock.sleep)
        return runner.run_pass()

    def check(self) -> dict[str, str]:
        return invariant.check(self.sandbox.state(), self.database, self.delivered)

    def close(self) -> None:
        self.client.close()
        self.store.close()
        self.sandbox.stop()


@pytest.fixture(name="world")
def in_process_world(tmp_path) -> Iterator[InProcessWorld]:
    """An InProcessWorld in tmp_path, closed after the test (a module imports it to use `world`)."""
    w = InProcessWorld(tmp_path)
    yield w
    w.close()
