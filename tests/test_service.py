"""One recorded pass: the pass row always ends, whatever stopped it."""

from __future__ import annotations

import pytest

from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.domain import MessageKey
from daemon.errors import DatabaseReplaced
from daemon.intake.flow import FlowOptions
from daemon.intake.runner import RunnerOptions
from daemon.ops.service import Service
from daemon.store import open_store
from daemon.store.watch import DatabaseWatch


class BrokenMailbox:
    account, folder = "jobs@example.org", "INBOX"

    def open(self):
        raise RuntimeError("a bug in the mailbox adapter")

    def close(self):
        pass


@pytest.fixture
def service(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'service.db'}")
    client = AtsClient("http://127.0.0.1:1", "t")
    service = Service(store=store, client=client, directory=AtsDirectory(client, source_name="Email"),
                      options=RunnerOptions(), flow_options=FlowOptions(), mailbox_factory=BrokenMailbox,
                      watch=DatabaseWatch(store, f"sqlite:///{tmp_path / 'service.db'}"))
    yield service
    service.close()


def test_an_unexpected_error_ends_the_pass_row_as_failed(service):
    """A bug that escapes the runner is raised, and the pass is recorded as failed, not left running."""
    with pytest.raises(RuntimeError):
        service.run_pass()
    last = service.store.last_pass()
    assert (last.outcome, last.error) == ("failed", "internal error (RuntimeError)")
    assert last.finished_at is not None


def test_a_replaced_database_stops_the_pass_before_it_starts(service, tmp_path):
    """The database file deleted under the daemon: DatabaseReplaced, and no mailbox is touched."""
    (tmp_path / "service.db").unlink()
    with pytest.raises(DatabaseReplaced):
        service.run_pass()


def test_each_pass_removes_personal_data_past_retention(tmp_path):
    """A settled message older than retention_days loses its sender and subject at the end of a pass."""
    from datetime import timedelta

    from daemon.store.models import utcnow
    from tests.fakes import FakeMailbox

    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    old = store.add_message(MessageKey("a", "INBOX", 1, 1), sha256="00", size=1, status="submitted",
                            sender_email="ann@example.org", subject="Application: Data Analyst",
                            created_at=utcnow() - timedelta(days=400))
    client = AtsClient("http://127.0.0.1:1", "t")
    service = Service(store=store, client=client, directory=AtsDirectory(client, source_name="Email"),
                      options=RunnerOptions(), flow_options=FlowOptions(), mailbox_factory=FakeMailbox,
                      retention_days=180)
    try:
        service.run_pass()
        record = store.message_by_pk(old.id)
        assert (record.sender_email, record.subject, record.status) == ("", "", "submitted")
    finally:
        service.close()


def test_a_lease_left_behind_on_another_instances_share_is_let_go_at_the_next_pass(tmp_path):
    """An instance whose release failed (the database down at the end of its pass) holds the lease of a mailbox the
    spread gives another: its next pass lets go of it, so the other takes it at once, not when the lease runs out."""
    from daemon.store.instances import InstanceHeartbeat
    from daemon.store.lease import MailboxLease
    from daemon.store.spread import owner_of

    a, b = "a.example:1", "b.example:1"
    store = open_store(f"sqlite:///{tmp_path / 'l.db'}")
    client = AtsClient("http://127.0.0.1:1", "t")
    folder = next(f"F{n}" for n in range(50) if owner_of(f"{BrokenMailbox.account}/F{n}", [a, b]) == b)

    class Mailbox(BrokenMailbox):
        pass

    Mailbox.folder = folder
    name = f"{Mailbox.account}/{folder}"
    sharing, other = InstanceHeartbeat(store, a, ttl=60), InstanceHeartbeat(store, b, ttl=60)
    sharing.beat()
    other.beat()
    assert MailboxLease(store, name, owner=a, ttl=60).acquire()  # left behind by a's failed release
    assert other.turn(MailboxLease(store, name, owner=b)).reason == "held by another live instance"
    service = Service(store=store, client=client, directory=AtsDirectory(client, source_name="Email"),
                      options=RunnerOptions(), flow_options=FlowOptions(), mailbox_factory=Mailbox, sharing=sharing)
    try:
        assert service.run_pass().busy  # not a's share: no pass, and the lease let go
        assert not service.holds()
        assert other.turn(MailboxLease(store, name, owner=b)).take
    finally:
        service.close()
