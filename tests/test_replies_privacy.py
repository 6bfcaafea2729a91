"""The replies' personal data (issue 18): retention and `messages purge --email` clear the stored replies (their
recipient, the composed mail with names) and keep the rows, so that no reply is recorded or sent twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from daemon.domain import Status
from daemon.intake.retention import purge_expired, purge_person
from daemon.replies import ReplyKind
from daemon.store.outbox import FORGOTTEN, NOT_SENT, QUEUED, SENT, NewReply, Outbox
from tests.inprocess import in_process_world  # noqa: F401 (the fixture `world`)
from tests.smtpserver import SmtpServer
from tests.test_replies import Clock, answer, candidate, forward, replies_for, run


@pytest.fixture
def smtp(tmp_path):
    server = SmtpServer(tmp_path / "smtp").start()
    yield server
    server.stop()


def rows(world) -> list:
    return [r for m in world.store.messages(limit=100) for r in Outbox(world.store).of(m.id)]


def test_retention_clears_the_replies_of_settled_messages_and_keeps_them_once(world, smtp):
    """After retention_days the receipt and the acknowledgement lose recipient and mail; kind, status and
    Message-ID stay, so recording them again does nothing and nothing more is sent."""
    clock = Clock()
    replies = replies_for(world, smtp, clock)
    world.deliver(forward(), candidate())
    assert run(world, replies).sent == 2
    before = {(r.message_pk, r.kind): (r.status, r.message_id) for r in rows(world)}
    assert purge_expired(world.store, 30, clock.now + timedelta(days=31)) == 2
    after = rows(world)
    assert {(r.message_pk, r.kind): (r.status, r.message_id) for r in after} == before
    assert [(r.recipient, r.content) for r in after] == [("", "")] * 2
    for r in after:
        assert not Outbox(world.store).add(NewReply(r.message_pk, r.kind, "pat1@example.org", "x@acme.test",
                                                    content="again"), clock.now)
    assert replies.deliver().sent == 0 and len(smtp.mails) == 2


def test_retention_leaves_alone_the_replies_of_younger_messages(world, smtp):
    """A message recorded within retention_days keeps its reply as it was."""
    clock = Clock()
    world.deliver(candidate())
    run(world, replies_for(world, smtp, clock))
    assert purge_expired(world.store, 30, clock.now + timedelta(days=29)) == 0
    [row] = rows(world)
    assert row.recipient == "pat1@example.org" and "Pat 1" in row.content


def test_a_queued_reply_whose_data_is_removed_is_never_sent(world, smtp):
    """Retention reaching a reply the relay never took: `not sent` (why in the outbox), nothing goes out later."""
    clock = Clock()
    world.deliver(candidate())
    run(world, replies_for(world, None, clock))  # the relay is down: queued
    [row] = rows(world)
    assert row.status == QUEUED
    purge_expired(world.store, 30, clock.now + timedelta(days=31))
    [row] = rows(world)
    assert (row.status, row.last_error, row.recipient, row.content) == (NOT_SENT, FORGOTTEN, "", "")
    clock.now += timedelta(days=2)
    assert replies_for(world, smtp, clock).deliver().sent == 0 and smtp.mails == []


def test_a_receipt_whose_data_is_removed_can_no_longer_place_the_mail(world, smtp):
    """The receipt's recipient gone, an answer to it (even from the address it went to) places nothing."""
    clock = Clock()
    replies = replies_for(world, smtp, clock)
    world.deliver(forward())
    run(world, replies)
    [receipt] = smtp.mails
    [first] = world.store.messages()
    purge_person(world.store, "rita@acme.test", clock.now)
    world.deliver(answer(receipt, "DATA-3"))
    run(world, replies)
    run(world, replies)
    assert world.store.message_by_pk(first.id).status == Status.REVIEW
    assert world.sandbox.state()["candidates"] == []


def test_purge_removes_the_replies_to_the_person_and_those_naming_them(world, smtp):
    """`messages purge --email`: the replies to the address (any case), and those whose mail names it, lose
    recipient and mail; another person's stay as they were."""
    clock = Clock()
    replies = replies_for(world, smtp, clock)
    world.deliver(forward(), candidate(1), candidate(2))
    run(world, replies)
    assert len(smtp.mails) == 3
    purge_person(world.store, "RITA@acme.test", clock.now)
    by_kind = {(r.kind, r.recipient): r for r in rows(world)}
    assert set(by_kind) == {(ReplyKind.SET_ASIDE, ""), (ReplyKind.ACKNOWLEDGEMENT, "pat1@example.org"),
                            (ReplyKind.ACKNOWLEDGEMENT, "pat2@example.org")}
    assert by_kind[(ReplyKind.SET_ASIDE, "")].content == "" and by_kind[(ReplyKind.SET_ASIDE, "")].status == SENT
    [nobody] = [m for m in world.store.messages(limit=10) if m.sender_email == "pat2@example.org"]
    Outbox(world.store).add(NewReply(nobody.id, ReplyKind.ANSWER, "hr@acme.test", "a@acme.test",
                                     content="To: hr@acme.test\n\nAbout Pat 9 <Pat9@Example.org>"), clock.now)
    purge_person(world.store, "pat9@example.org", clock.now)  # no message of theirs: found in the mail
    assert {(r.kind, r.recipient, r.content) for r in rows(world) if r.kind == ReplyKind.ANSWER} == {
        (ReplyKind.ANSWER, "", "")}
    assert {r.recipient for r in rows(world)} == {"", "pat1@example.org", "pat2@example.org"}


def test_no_trace_of_the_reply_is_left_in_the_database_file(world, smtp):
    """After a purge the address of a reply's recipient is nowhere in the SQLite file (secure delete, checkpoint)."""
    clock = Clock()
    world.deliver(candidate(7))
    run(world, replies_for(world, smtp, clock))
    assert b"pat7@example.org" in world.database.read_bytes() + world.database.with_suffix(".db-wal").read_bytes()
    purge_person(world.store, "pat7@example.org", clock.now)
    assert b"pat7@example.org" not in world.database.read_bytes()
