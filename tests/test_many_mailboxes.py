"""One daemon, several mailboxes, in process: each mailbox in its own lane, so one whose server hangs or fails
never delays another's mail; health, alerts, metrics and status see each mailbox on its own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.cli.commands import _imap_of, status_text
from daemon.config import load_settings
from daemon.errors import MailboxUnavailable
from daemon.intake.flow import FlowOptions
from daemon.intake.runner import PassSummary, RunnerOptions
from daemon.ops.alerts import MAILBOX, Alerting, Thresholds
from daemon.ops.health import Watch
from daemon.ops.mailboxes import MailboxFailures
from daemon.ops.metrics import Metrics
from daemon.ops.scheduler import Lane, run_lanes
from daemon.ops.service import PassObservers, Service
from daemon.ops.stopping import StopSignal
from daemon.sandbox import SandboxATS
from daemon.store import open_store
from daemon.store.models import MessageRecord, PassRecord, utcnow
from daemon.store.repository import Store
from tests.e2e import wait_for
from tests.fakes import FakeMailbox
from tests.inprocess import Unreachable, Wedged, application


@dataclass
class Lanes:
    store: Store
    sandbox: SandboxATS
    boxes: dict[str, FakeMailbox]
    services: dict[str, Service]
    wakes: dict[str, threading.Event]
    metrics: Metrics

    def deliver(self, name: str, raw: bytes) -> None:
        box = self.boxes[name]
        box.messages[max(box.messages, default=0) + 1] = raw
        self.wakes[name].set()  # as its IDLE watcher would

    def submitted(self, name: str) -> int:
        box = self.boxes[name]
        return sum(1 for m in self.store.messages(limit=1000)
                   if (m.account, m.status) == (box.account, "submitted"))


@contextmanager
def lanes(tmp_path, boxes: dict[str, FakeMailbox]) -> Iterator[Lanes]:
    """A service per mailbox over one store and one sandbox ATS, run by `run_lanes` in a thread until the end."""
    sandbox = SandboxATS(tmp_path / "ats.db")
    client = AtsClient("http://sandbox.test", "t", timeout=5, transport=sandbox.transport(), sleep=lambda _: None)
    store = open_store(f"sqlite:///{tmp_path / 'daemon.db'}")
    metrics = Metrics()
    stop = StopSignal()
    for name, box in boxes.items():
        box.account = f"jobs-{name}@example.org"  # each its own account: its own lease
    services = {name: Service(store=store, client=client, directory=AtsDirectory(client, source_name="Email"),
                              options=RunnerOptions(), flow_options=FlowOptions(),
                              mailbox_factory=lambda box=box: box, stop=stop, mailbox=name,
                              observer=PassObservers(metrics.of(name)))
                for name, box in boxes.items()}
    wakes = {name: threading.Event() for name in boxes}
    runner = threading.Thread(target=run_lanes, args=([Lane(n, s.run_pass, wakes[n]) for n, s in services.items()],
                                                      3600, stop))  # one pass each, then only on a wake
    runner.start()
    try:
        yield Lanes(store, sandbox, boxes, services, wakes, metrics)
    finally:
        stop.request("test over")
        for box in boxes.values():
            if isinstance(box, Wedged):
                box.release.set()
        runner.join(timeout=30)
        client.close()
        store.close()
        sandbox.stop()
    assert not runner.is_alive()


def test_a_hung_mailbox_does_not_delay_another_s_mail(tmp_path):
    """While one mailbox's server never answers, another's mail arriving later is submitted, pass after pass."""
    hung = Wedged()
    hung.hung.set()
    with lanes(tmp_path, {"hung": hung, "fine": FakeMailbox([application(1)])}) as run:
        wait_for(lambda: hung.entered.is_set() and run.submitted("fine") == 1)
        run.deliver("fine", application(2))
        wait_for(lambda: run.submitted("fine") == 2)
        run.deliver("fine", application(3))
        wait_for(lambda: run.submitted("fine") == 3)
        assert not hung.release.is_set() and hung.opens == 0  # still stuck in its first open
        assert run.store.last_pass("hung").outcome == "running"


def test_a_failing_mailbox_does_not_delay_another_s_mail(tmp_path):
    """A mailbox whose login is refused fails its passes; another's mail goes through, and each pass is recorded
    under its mailbox, and counted under its label."""
    refused = Unreachable()
    with lanes(tmp_path, {"refused": refused, "fine": FakeMailbox()}) as run:
        run.deliver("fine", application(1))
        run.deliver("refused", application(2))
        wait_for(lambda: run.submitted("fine") == 1)
        wait_for(lambda: (last := run.store.last_pass("refused")) is not None and last.outcome == "failed")
        wait_for(lambda: run.store.last_pass("fine").outcome == "ok")  # (a woken pass may be under way)
        text = run.metrics.text().decode()
        assert 'ats_inbox_passes_total{mailbox="refused",outcome="failed"}' in text
        assert 'ats_inbox_messages_total{mailbox="fine",outcome="submitted"} 1.0' in text
        refused.refusing = False  # the server is back: its mail comes in on its next pass
        run.wakes["refused"].set()
        wait_for(lambda: run.submitted("refused") == 1)


def _passes(store: Store, mailbox: str, outcome: str, minutes_ago: float = 0) -> None:
    pass_id = store.start_pass(mailbox)
    store.finish_pass(pass_id, outcome=outcome, seen=0, submitted=0, set_aside=0,
                      error="IMAP login refused" if outcome == "failed" else "")
    if minutes_ago:

        with store.session() as s:
            s.get_one(PassRecord, pass_id).finished_at = utcnow() - timedelta(minutes=minutes_ago)


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'daemon.db'}")
    yield s
    s.close()


def test_health_judges_each_mailbox_on_its_own_passes(store):
    """A mailbox whose last pass failed, or that has not succeeded for the window, is unhealthy and named, however
    well the others do; with every mailbox passing, healthy."""
    now = datetime.now(UTC)
    watch = Watch(store, timedelta(minutes=15), started=now - timedelta(hours=1), clock=lambda: now,
                  mailboxes=["paris", "berlin", "rome"])
    for name in ("paris", "berlin", "rome"):
        _passes(store, name, "ok")
    assert watch.judge().healthy and "all 3 mailboxes passing" in watch.judge().line()
    _passes(store, "berlin", "failed")
    _passes(store, "paris", "ok")  # the last pass of all succeeded: berlin's failure is still seen
    health = watch.judge()
    assert not health.healthy and health.reasons == ("mailbox berlin: the last pass (#4) failed: IMAP login refused",)
    _passes(store, "berlin", "ok")
    _passes(store, "rome", "ok", minutes_ago=30)  # rome has not succeeded for half an hour, the others have
    store.start_pass("rome")
    health = watch.judge()
    assert not health.healthy and health.stale and health.reasons[0].startswith("mailbox rome: no successful pass")


def test_the_mailbox_alert_counts_each_mailbox_s_failures_apart(store):
    """A mailbox failing between another's good passes still reaches the alert's count, and names the mailbox."""
    alerting = Alerting([], Thresholds(review_queue_above=0, login_failures=3))
    failures = MailboxFailures(alerting)
    bad, good = failures.of("berlin"), failures.of("paris")
    for _ in range(3):
        bad.pass_ended(1, None, MailboxUnavailable("IMAP login refused"))
        good.pass_ended(2, PassSummary(), None)
    assert alerting.mailbox_failures == 3 and alerting.mailbox_error.startswith("mailbox berlin: ")
    watch = Watch(store, timedelta(minutes=15))
    alerting.check(watch.judge(), watch.facts(), datetime.now(UTC))
    assert [(a.kind, a.state) for a in alerting.sent] == [] and MAILBOX in alerting.incidents.open
    bad.pass_ended(3, PassSummary(), None)
    assert alerting.mailbox_failures == 0


def test_status_says_each_mailbox_s_last_pass_and_where_each_message_came_from(store):
    """With several mailboxes, `status` has a last-pass line per mailbox and the recent messages name theirs."""
    _passes(store, "paris", "ok")
    _passes(store, "berlin", "failed")
    text = status_text(store, 10, mailboxes={("jobs@a", "Paris"): "paris", ("jobs@b", "INBOX"): "berlin"})
    assert "Last pass of paris: #1" in text and "Last pass of berlin: #2" in text and ": IMAP login refused" in text
    alone = status_text(store, 10, mailboxes={("jobs@a", "INBOX"): "default"})
    assert "Last pass: #2" in alone and "Last pass of" not in alone


def test_a_message_is_reached_through_the_mailbox_it_came_from(tmp_path):
    """`messages retry`, `resolve` and `open` use the IMAP settings of the record's own mailbox (the first one's for
    a mailbox no longer configured)."""
    config = tmp_path / "config.toml"
    config.write_text('[imap]\nhost = "imap.test"\nusername = "jobs@a.test"\npassword = "p"\n'
                      '[ats]\nbase_url = "http://127.0.0.1:1"\ntoken = "t"\n'
                      '[[mailbox]]\nname = "paris"\nfolder = "Paris"\nprocessed_folder = "Paris-done"\n'
                      '[[mailbox]]\nname = "berlin"\nhost = "imap.b.test"\nusername = "jobs@b.test"\n')
    settings = load_settings(config, environ={})
    paris, berlin = settings.all_mailboxes()
    of = {name: MessageRecord(account=box.imap.account, folder=box.imap.folder) for name, box in
          (("paris", paris), ("berlin", berlin))}
    assert _imap_of(settings, of["berlin"]) == berlin.imap and _imap_of(settings, of["paris"]).processed_folder == \
        "Paris-done"
    assert _imap_of(settings, MessageRecord(account="gone@x:993", folder="INBOX")) == paris.imap
