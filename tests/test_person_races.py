"""A person's action in the middle of the daemon's: both end in a record that says where the mail is
and what the ATS holds, and the mail is never stuck beyond a person's reach."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.config import load_settings
from daemon.domain import Status
from daemon.intake import review
from daemon.mailbox import restore
from daemon.mailbox.imap import ImapMailbox
from daemon.ops import assembly
from daemon.ops.service import NeverStop
from daemon.store import open_store
from tests.e2e import imap_settings, write_config
from tests.inprocess import InProcessWorld
from tests.mailfactory import build_email
from tests.world import application


class OnRequest(httpx.BaseTransport):
    """The sandbox's transport, running `before` once, right before the first request to `path`."""

    def __init__(self, inner: httpx.BaseTransport, path: str, before):
        self.inner, self.path, self.before, self.done = inner, path, before, False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self.done and request.method == "POST" and request.url.path.endswith(self.path):
            self.done = True
            self.before()
        return self.inner.handle_request(request)


def test_resolved_while_its_flow_submits_the_record_says_what_the_ats_holds(tmp_path):
    """A person resolves a mail while the daemon creates its candidate: the record stays resolved, with
    the person's note, and names the applicant and candidate the daemon created (no duplicate by hand)."""
    world = InProcessWorld(tmp_path)
    try:
        def resolve_now():
            [record] = world.store.messages()
            review.resolve(world.store, record.id, "added by hand", by="ann")

        world.client = AtsClient("http://sandbox.test", "t", timeout=5, sleep=world.clock.sleep, clock=world.clock,
                                 transport=OnRequest(world.sandbox.transport(), "/candidate", resolve_now))
        world.directory = AtsDirectory(world.client, source_name="Email")
        world.deliver(application(1))
        world.poll()
        [record] = world.store.messages()
        [candidate] = world.sandbox.state()["candidates"]
        assert (record.status, record.note) == (Status.RESOLVED, "added by hand")
        assert record.candidate_id == str(candidate["id"]) and record.applicant_id
        assert "the daemon submitted it meanwhile" in record.reason
    finally:
        world.close()


class RetryDuringSetAside(ImapMailbox):
    """The mailbox whose first set-aside (of any pass) is raced by a person's `messages retry` of that record."""

    raced = False

    def __init__(self, settings, store):
        super().__init__(settings)
        self.store = store

    def set_aside(self, uid: int, move_to: str):
        if not RetryDuringSetAside.raced:
            RetryDuringSetAside.raced = True
            [record] = [r for r in self.store.messages() if r.uid == uid]
            review.retry(self.store, record.id, restore.mover(self.settings))  # nothing moved yet: no move back
        return super().set_aside(uid, move_to)


@pytest.mark.imap
def test_retried_while_its_mail_is_set_aside_the_mail_comes_back_and_is_handled_again(tmp_path, dovecot, sandbox):
    """`messages retry` while the daemon moves the mail to Review: the mail is put back in the watched
    folder and the next pass takes it again, so it ends set aside once more (retryable), not pending for ever."""
    RetryDuringSetAside.raced = False
    database = tmp_path / "ats-inbox.db"
    imap = imap_settings(dovecot, review_folder="Review", processed_folder="Processed")
    config = write_config(tmp_path / "config.toml", imap=imap, ats_url=sandbox.base_url, database=database)
    settings = load_settings(config)
    dovecot.append("INBOX", build_email(subject="A question", message_id="race@example.org"))
    store = open_store(settings.database_url)
    service = assembly.service(settings, NeverStop(), store=store)
    service = replace(service, mailbox_factory=lambda: RetryDuringSetAside(settings.imap, store))
    try:
        service.run_pass()  # set aside (no resume), raced by the retry, mail put back
        [record] = store.messages()
        assert record.status == Status.PENDING
        assert len(dovecot.uids("INBOX")) == 1 and dovecot.uids("Review") == []
        service.run_pass()  # taken again: set aside again, this time recorded
        [record] = store.messages()
        assert (record.status, record.mailbox_action) == (Status.REVIEW, "flagged")
        assert dovecot.uids("INBOX") == [] and len(dovecot.uids("Review")) == 1
    finally:
        service.close()

