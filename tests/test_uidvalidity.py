"""A folder whose UIDVALIDITY changes: the first pass's window, mail already recorded and our keywords."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.config import FirstPass
from daemon.intake.flow import FlowOptions, MessageFlow
from daemon.intake.runner import Runner, RunnerOptions
from daemon.mailbox.base import DONE_KEYWORD
from tests.fakes import FakeMailbox
from tests.inprocess import ats_down
from tests.test_runner import mail

WINDOW = FirstPass(days=30, unseen_only=True)


def run_pass(parts, mailbox: FakeMailbox, **options):
    _, client, store = parts
    flow = MessageFlow(store, client, AtsDirectory(client, source_name="Email"), FlowOptions())
    return Runner(store, mailbox, flow, RunnerOptions(first_pass=WINDOW, **options), probe=client.answers,
                  sleep=lambda _: None).run_pass()


def mark_read_when_done(box: FakeMailbox) -> None:
    """As a real server: mail marked done is \\Seen."""
    box.seen |= {uid for uid, keywords in box.keywords.items() if DONE_KEYWORD in keywords}


def test_a_new_uidvalidity_keeps_the_first_pass_window_and_the_review_queue(parts):
    """A new UIDVALIDITY: old and read mail stay left out, set-aside mail keeps one record, the count is right."""
    sandbox, _, store = parts
    box = FakeMailbox([mail(1), mail(2, "Python Developer"), mail(3), mail(4, attach=False), mail(5, "Head Chef")])
    box.arrived[1] = (datetime.now(UTC) - timedelta(days=900)).date()  # old mail: left out
    box.seen.add(2)  # read mail: left out
    summary = run_pass(parts, box)
    assert (summary.submitted, summary.set_aside) == (1, 2)
    mark_read_when_done(box)
    [state] = store.folder_states()
    assert state.skipped == 2
    del box.messages[2]  # the read mail was deleted by someone; the folder is then re-created
    box.uidvalidity = 8
    box.messages[6] = mail(6, "Customer Support Specialist")  # new mail after the change
    summary = run_pass(parts, box)
    assert (summary.submitted, summary.duplicates) == (1, 0)
    assert len(sandbox.state()["candidates"]) == 2
    records = store.messages()
    assert sorted(r.uid for r in records if r.uidvalidity == 8 and r.status == "submitted") == [6]
    review = [r for r in records if r.status == "review"]
    assert len(review) == 2, [(r.uid, r.uidvalidity, r.reason) for r in review]
    assert {r.uidvalidity for r in review} == {8}  # the records follow their mail to its new UIDs
    assert not [r for r in records if "lost or replaced" in r.reason]
    assert not [r for r in records if r.uid == 1]  # the old mail: never recorded, never sent
    [state] = store.folder_states()
    assert state.skipped == 1  # the old mail; the read one is gone, and mail we marked done is not "left out"


def test_mail_still_owed_follows_its_new_uid_even_once_read(parts):
    """A mail left pending (the ATS was down) that a person then read: after a new UIDVALIDITY its record
    follows it by Message-ID and size, so the window does not leave it out, and it is submitted once."""
    sandbox, _, store = parts
    box = FakeMailbox([mail(1)])
    ats_down(sandbox)
    run_pass(parts, box)
    [record] = store.messages()
    assert record.status == "pending"
    sandbox.clear_faults()
    box.seen.add(1)  # read by a person: outside the first pass's unread-only window
    box.uidvalidity = 8
    later = AtsClient("http://sandbox.test", "t", timeout=5, transport=sandbox.transport(), sleep=lambda _: None)
    run_pass((sandbox, later, store), box)  # a minute later: the ATS circuit closed again
    [record] = store.messages()
    assert (record.status, record.uidvalidity, record.uid) == ("submitted", 8, 1)
    assert len(sandbox.state()["candidates"]) == 1
