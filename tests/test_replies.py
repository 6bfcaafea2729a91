"""Replies by mail (issue 18) over a real SMTP server in process: receipts to forwarders, a reply that places a
set-aside mail, acknowledgements to candidates, RFC 3834, the caps, and a relay that is down."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from daemon.config import ReplySettings, load_settings
from daemon.domain import Placement, Status
from daemon.intake import planning
from daemon.intake.flow import MessageFlow
from daemon.intake.planning import FlowOptions
from daemon.intake.replying import Replies
from daemon.intake.review import DONE_ACTION
from daemon.intake.runner import Runner, RunnerOptions
from daemon.replies import ReplyKind
from daemon.replies.relay import SmtpRelay
from daemon.replies.templates import Templates
from daemon.replies.token import ReceiptKey
from daemon.routing import RuleSet
from daemon.store.outbox import NOT_SENT, QUEUED, SENT, Outbox
from tests.inprocess import PDF, in_process_world  # noqa: F401 (the fixture `world`)
from tests.mailfactory import build_email
from tests.smtpserver import SmtpServer, free_port

OPTIONS = FlowOptions(internal_senders=("acme.test",))
SEPARATOR = "---------- Forwarded message ---------\n"
KEY = ReceiptKey(b"k" * 40, "acme.test")


@pytest.fixture
def smtp(tmp_path):
    server = SmtpServer(tmp_path / "smtp").start()
    yield server
    server.stop()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def settings(smtp: SmtpServer | None, **more) -> ReplySettings:
    port = smtp.port if smtp is not None else free_port()
    ca = str(smtp.cert_path) if smtp is not None else ""
    return ReplySettings(**{"receipts": True, "acknowledgements": True, "host": "127.0.0.1", "port": port,
                            "ca_file": ca, "from_address": "jobs@acme.test", "from_name": "Acme Jobs",
                            "company": "Acme", "timeout_seconds": 5, **more})


def replies_for(world, smtp, clock=None, settle=None, **more) -> Replies:
    s = settings(smtp, **more)
    return Replies(world.store, s, Templates({}), KEY, SmtpRelay(s), own_addresses=("jobs@acme.test",),
                   forwarders=OPTIONS.internal_senders, settle=settle, now=clock or Clock())


def run(world, replies: Replies, deliver: bool = True):
    """One pass with replies, then one delivery round (as the service does)."""
    flow = MessageFlow(world.store, world.client, world.directory, OPTIONS, sleep=world.clock.sleep,
                       replies=replies)
    Runner(world.store, world.box, flow, RunnerOptions(), probe=world.client.answers,
           sleep=world.clock.sleep).run_pass()
    return replies.deliver() if deliver else None


def forward(subject: str = "my application", sender: str = "rita@acme.test") -> bytes:
    body = (f"FYI, met her at the fair.\n\n{SEPARATOR}From: Nina Petrova <nina@example.org>\n"
            f"Date: Mon, 5 Jan 2026\nSubject: {subject}\nTo: Rita\n\nHello, my CV.\n")
    subject = f"Fwd: {subject}"
    return build_email(sender=("Rita Recruiter", sender), subject=subject, body=body,
                       attachments=[("cv.pdf", PDF, "application/pdf")])


def answer(receipt, body: str, sender: str = "rita@acme.test", **headers: str) -> bytes:
    """A reply to `receipt` (a mail the SMTP server got), as a mail program writes it."""
    quoted = "\n".join(f"> {line}" for line in receipt.get_content().splitlines())
    return build_email(sender=("Rita Recruiter", sender), subject=f"Re: {receipt['Subject']}",
                       body=f"{body}\n\nOn Monday Acme Jobs wrote:\n{quoted}\n",
                       headers={"In-Reply-To": receipt["Message-ID"], "References": receipt["Message-ID"],
                                **headers})


def candidate(n: int = 1, subject: str = "Application: Data Analyst", **headers: str) -> bytes:
    return build_email(sender=(f"Pat {n}", f"pat{n}@example.org"), subject=subject,
                       attachments=[("cv.pdf", PDF, "application/pdf")], headers=headers or None)


def test_a_set_aside_forward_gets_a_receipt_with_rfc_3834_headers(world, smtp):
    """A forward no job matched: Rita gets 'set aside' with the reason, answering her mail, marked auto-replied."""
    raw = forward()
    world.deliver(raw)
    assert run(world, replies_for(world, smtp)).sent == 1
    [mail] = smtp.mails
    [record] = world.store.messages()
    assert record.status == "review"
    assert mail["To"] == "Rita Recruiter <rita@acme.test>" and mail["From"] == "Acme Jobs <jobs@acme.test>"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["In-Reply-To"] == f"<{record.message_id}>" and mail["References"] == f"<{record.message_id}>"
    assert mail["Message-ID"] == f"<{KEY.message_id(record.id, 'rita@acme.test')}>"
    assert mail["Subject"] == "Set aside: Nina Petrova"
    text = mail.get_content()
    assert "with the job code or the job's title" in text and "was set aside: no " in text and "rita@" not in text


def test_a_reply_with_a_job_code_places_the_mail_once(world, smtp):
    """Rita answers 'DATA-3': the mail is submitted to Data Analyst, recorded as hers; a second reply does nothing."""
    replies = replies_for(world, smtp)
    world.deliver(forward())
    run(world, replies)
    [receipt] = smtp.mails
    world.deliver(answer(receipt, "DATA-3"))
    run(world, replies)
    run(world, replies)  # the next pass submits it
    first, reply = world.store.messages(limit=10)[::-1][:2]
    assert (first.status, first.job_title) == ("submitted", "Data Analyst")
    assert "by rita@acme.test" in first.route_reason and "reply to its receipt" in first.rule
    assert reply.status == "ignored" and "goes to Data Analyst" in reply.reason
    assert len(world.sandbox.state()["candidates"]) == 1  # Nina only: the reply is never a candidate
    world.deliver(answer(receipt, "SUP-2"))
    run(world, replies)
    assert len(world.sandbox.state()["candidates"]) == 1
    last = world.store.messages(limit=1)[0]
    assert last.status == "ignored" and "no longer set aside" in last.reason
    answers = [m for m in smtp.mails if m["Subject"] == "Re: your reply"]
    assert len(answers) == 2 and "Nothing was done" in answers[1].get_content()


@pytest.mark.parametrize(("why", "sender", "mangle", "expected"), [
    ("another address", "tom@acme.test", None, "only the address the receipt went to"),
    ("a forged token", "rita@acme.test", "token", "not a receipt of ours"),
])
def test_a_reply_from_elsewhere_or_with_a_forged_token_is_refused(world, smtp, why, sender, mangle, expected):
    """Only the receipt's address, with the receipt's own token, can place the mail."""
    replies = replies_for(world, smtp)
    world.deliver(forward())
    run(world, replies)
    [receipt] = smtp.mails
    if mangle:
        forged = re.sub(r"\.[a-z2-7]{26}@", "." + "a" * 26 + "@", receipt["Message-ID"])
        assert forged != receipt["Message-ID"]
        receipt.replace_header("Message-ID", forged)
    world.deliver(answer(receipt, "DATA-3", sender=sender))
    run(world, replies)
    first, reply = world.store.messages(limit=10)[::-1][:2]
    assert first.status == "review" and reply.status == "ignored" and expected in reply.reason, why
    assert world.sandbox.state()["candidates"] == []


def test_a_reply_to_a_submitted_mail_is_refused(world, smtp):
    """A receipt for a submitted forward cannot move it: refused with a short answer."""
    replies = replies_for(world, smtp)
    world.deliver(forward(subject="Data Analyst"))
    run(world, replies)
    [receipt] = smtp.mails
    assert receipt["Subject"] == "Nina Petrova is now a candidate for Data Analyst"
    world.deliver(answer(receipt, "SUP-2"))
    run(world, replies)
    assert "no longer set aside" in world.store.messages(limit=1)[0].reason
    assert len(world.sandbox.state()["candidates"]) == 1


def test_an_out_of_office_answering_a_receipt_is_never_answered(world, smtp):
    """An automatic reply to a receipt: ignored, nothing placed, nothing sent back (no loop)."""
    replies = replies_for(world, smtp)
    world.deliver(forward())
    run(world, replies)
    [receipt] = smtp.mails
    world.deliver(answer(receipt, "I am away", **{"Auto-Submitted": "auto-replied"}))
    run(world, replies)
    assert len(smtp.mails) == 1 and world.store.messages(limit=1)[0].status == "ignored"


def test_a_candidate_is_acknowledged_once_the_candidate_exists(world, smtp):
    """An application submitted: its sender hears back once, in reply to their mail."""
    world.deliver(candidate())
    run(world, replies_for(world, smtp))
    [mail] = smtp.mails
    [record] = world.store.messages()
    assert record.status == "submitted" and mail["To"] == "Pat 1 <pat1@example.org>"
    assert mail["Subject"] == "Your application for Data Analyst" and mail["Auto-Submitted"] == "auto-replied"
    assert mail["In-Reply-To"] == f"<{record.message_id}>"


@pytest.mark.parametrize(("case", "headers", "sender"), [
    ("automatic", {"Auto-Submitted": "auto-generated"}, None),
    ("list", {"List-Id": "<jobs.lists.example.org>"}, None),
    ("bounce", {"Return-Path": "<>"}, None),
    ("no-reply", {}, "no-reply@example.org"),
    ("unauthenticated", {"Authentication-Results": "mx.acme.test; spf=fail smtp.mailfrom=example.org; "
                                                   "dkim=none; dmarc=fail header.from=example.org"}, None),
])
def test_no_acknowledgement_where_answering_could_loop_or_backscatter(world, smtp, case, headers, sender):
    """Automatic mail, lists, bounces, no-reply addresses and unauthenticated senders get no mail; the outbox
    says why."""
    raw = candidate(**headers)
    if sender:
        raw = build_email(sender=("Someone", sender), subject="Application: Data Analyst",
                          attachments=[("cv.pdf", PDF, "application/pdf")])
    world.deliver(raw)
    run(world, replies_for(world, smtp))
    assert smtp.mails == []
    rows = [r for m in world.store.messages() for r in Outbox(world.store).of(m.id)]
    assert [r.status for r in rows] in ([NOT_SENT], []), case  # ignored mail is never a candidate: no row


def test_an_aligned_sender_is_acknowledged(world, smtp):
    """Authentication-Results with a DMARC pass for the From domain: answered."""
    world.deliver(candidate(**{"Authentication-Results": "mx.acme.test; dmarc=pass header.from=example.org"}))
    run(world, replies_for(world, smtp))
    assert len(smtp.mails) == 1


def test_own_addresses_are_never_answered(world, smtp):
    """Mail from the daemon's own From address: no acknowledgement (it is not even a candidate)."""
    world.deliver(build_email(sender=("Jobs", "jobs@acme.test"), subject="Application: Data Analyst",
                              attachments=[("cv.pdf", PDF, "application/pdf")]))
    run(world, replies_for(world, smtp))
    assert smtp.mails == []


def test_acknowledgements_are_capped_per_address_and_job_and_per_hour(world, smtp):
    """One per address and job within the period (a second application a day later: none; after 8 days: one);
    the hourly cap counts every address."""
    clock = Clock()
    replies = replies_for(world, smtp, clock, max_per_hour=2)
    world.deliver(candidate(1))
    run(world, replies)
    clock.now += timedelta(days=1)
    world.deliver(build_email(sender=("Pat 1", "pat1@example.org"), subject="Application: Data Analyst",
                              body="Here is my new CV.", attachments=[("cv2.pdf", PDF + b"\n", "application/pdf")]))
    run(world, replies)
    assert len(smtp.mails) == 1
    clock.now += timedelta(days=8)
    world.deliver(candidate(2), candidate(3), candidate(4))
    run(world, replies)
    told = [m["To"].addresses[0].username for m in smtp.mails]  # flows run at once: which two is not fixed
    assert told[0] == "pat1" and len(set(told)) == 3 and set(told[1:]) < {"pat2", "pat3", "pat4"}  # one over the cap


def test_a_relay_that_is_down_delays_replies_without_touching_intake(world, smtp):
    """The relay down: the application is submitted, the reply queued with backoff; sent once the relay is back."""
    clock = Clock()
    down = replies_for(world, None, clock)  # a port nobody listens on
    world.deliver(candidate())
    delivered = run(world, down)
    [record] = world.store.messages()
    [row] = Outbox(world.store).of(record.id)
    assert record.status == "submitted" and delivered.waiting == 1
    assert (row.status, row.attempts) == (QUEUED, 1) and "cannot be used" in row.last_error
    assert down.deliver().waiting == 0  # not due yet: backoff
    clock.now += timedelta(minutes=2)
    up = replies_for(world, smtp, clock)
    assert up.deliver().sent == 1 and up.deliver().sent == 0
    [row] = Outbox(world.store).of(record.id)
    assert row.status == SENT and len(smtp.mails) == 1
    assert smtp.mails[0]["Message-ID"] == f"<{row.message_id}>"


def test_a_retried_message_records_its_reply_once(world, smtp):
    """A message handled twice (a retry after a crash) records one reply per kind: one mail."""
    replies = replies_for(world, smtp)
    world.deliver(candidate())
    run(world, replies, deliver=False)
    [record] = world.store.messages()
    world.store.update_message(record.id, expect="submitted", status="pending")
    run(world, replies)
    assert len(smtp.mails) == 1 and [r.kind for r in Outbox(world.store).of(record.id)] == [ReplyKind.ACKNOWLEDGEMENT]


def test_the_previews_see_a_reply_to_a_receipt_as_the_run_does(world, smtp):
    """The dry run's and rules test's planning say what the run does with a reply to a receipt: ignored,
    never a candidate, acted on as asked; with [replies] off no receipt exists and it is planned as any mail."""
    replies = replies_for(world, smtp)
    world.deliver(forward())
    run(world, replies)
    [receipt] = smtp.mails
    email = planning.read(answer(receipt, "DATA-3"), OPTIONS)
    directory = planning.Directory(world.directory.open_jobs(), world.directory.pipelines(),
                                   world.directory.sources())
    previewed = planning.plan(email, replace(OPTIONS, receipt_domain=KEY.domain), RuleSet(), directory)
    assert previewed.status == Status.IGNORED and not previewed.candidacies
    assert f"a reply to the receipt for message #{world.store.messages()[0].id}" in previewed.reason
    assert planning.plan(email, OPTIONS, RuleSet(), directory).status != Status.IGNORED  # replies off
    world.deliver(answer(receipt, "DATA-3"))
    run(world, replies)
    ran = world.store.messages(limit=1)[0]
    assert (ran.status, ran.reason.split(":")[0]) == (previewed.status, previewed.reason.split(":")[0])


def test_a_reply_saying_ignore_resolves_the_mail_and_settles_it_in_the_mailbox(world, smtp):
    """Rita answers 'ignore': the set-aside mail is resolved as hers, nothing reaches the ATS, and its
    mail is settled in the mailbox (unflagged, marked done) as `messages resolve` does."""
    settled = []

    def settle(record):
        settled.append(record.id)
        return Placement("Processed", 7)

    replies = replies_for(world, smtp, settle=settle)
    world.deliver(forward())
    run(world, replies)
    [receipt] = smtp.mails
    world.deliver(answer(receipt, "ignore"))
    run(world, replies)
    first = world.store.messages(limit=10)[-1]
    assert first.status == "resolved" and first.resolved_by == "rita@acme.test"
    assert settled == [first.id] and first.mailbox_action == DONE_ACTION
    assert world.sandbox.state()["candidates"] == []
    [said] = [m for m in smtp.mails if m["Subject"] == "Re: your reply"]
    assert "is ignored, as you asked" in said.get_content()


def test_a_due_reply_is_claimed_by_one_sender_only(world, smtp):
    """Two mailboxes' lanes (or two instances) that find the same reply due: one claims and sends it, the other
    skips it; a claim left by a sender that died comes due again later, to be sent with its Message-ID."""
    clock = Clock()
    first, second = replies_for(world, smtp, clock=clock), replies_for(world, smtp, clock=clock)
    world.deliver(forward())
    run(world, first, deliver=False)
    [row] = first.outbox.due(clock())
    assert first.outbox.claim(row.id, clock()) and not second.outbox.claim(row.id, clock())
    assert second.deliver().sent == 0 and smtp.mails == []
    clock.now += timedelta(minutes=11)  # the claimer died mid-send
    assert second.deliver().sent == 1
    [mail] = smtp.mails
    assert mail["Message-ID"] == f"<{row.message_id}>"


def test_no_reply_goes_to_another_mailbox_of_the_daemon(world, smtp, tmp_path):
    """With several [[mailbox]] tables each lane's own addresses hold every mailbox's login (the first's too): a
    mail from one mailbox's address to another is never answered."""
    (tmp_path / "config.toml").write_text(
        '[imap]\nhost = "imap.acme.test"\nusername = "jobs@example.net"\npassword = "p"\n'
        '[ats]\nbase_url = "https://acme.skailer.com/"\ntoken = "t"\n'
        '[replies]\nacknowledgements = true\nhost = "127.0.0.1"\nfrom_address = "noreply-jobs@example.net"\n'
        '[[mailbox]]\nname = "paris"\n[[mailbox]]\nname = "berlin"\nusername = "jobs@berlin.example.net"\n'
        '[[mailbox]]\nname = "rome"\nusername = "jobs@rome.example.net"\n')
    loaded = load_settings(tmp_path / "config.toml", environ={})
    logins = {m.imap.username for m in loaded.all_mailboxes()}
    lanes = [FlowOptions.from_settings(loaded.for_mailbox(m)).own_addresses for m in loaded.all_mailboxes()]
    assert all(logins <= set(own) for own in lanes)
    for n, sender in enumerate(sorted(logins)):
        world.deliver(build_email(sender=("Jobs", sender), subject=f"Application: Data Analyst ({n})",
                                  attachments=[("cv.pdf", PDF, "application/pdf")]))
    s = settings(smtp, from_address="replies@acme.test")
    replies = Replies(world.store, s, Templates({}), KEY, SmtpRelay(s), own_addresses=lanes[-1],
                      forwarders=OPTIONS.internal_senders, now=Clock())
    run(world, replies)  # the world's flow knows no own address: they become candidates, as with replies alone
    rows = [r for m in world.store.messages() for r in replies.outbox.of(m.id)]
    assert smtp.mails == [] and len(rows) == 3 and {r.status for r in rows} == {NOT_SENT}


def test_a_forward_set_aside_for_want_of_a_candidate_gets_its_receipt(world, smtp):
    """Rita forwards a mail whose header names the candidate without an address, and the ATS reads none in the CV:
    the mail is set aside for a person (an error no retry mends), and Rita is told so with the reason."""
    body = (f"FYI.\n\n{SEPARATOR}From: Nina Petrova\nDate: Mon, 5 Jan 2026\nSubject: Data Analyst\nTo: Rita\n\n"
            "Hello, my CV.\n")
    world.deliver(build_email(sender=("Rita Recruiter", "rita@acme.test"), subject="Fwd: Data Analyst", body=body,
                              attachments=[("cv.pdf", PDF, "application/pdf")]))
    assert run(world, replies_for(world, smtp)).sent == 1
    [record] = world.store.messages()
    assert record.status == "review" and world.sandbox.state()["applicants"] == []
    [mail] = smtp.mails
    assert mail["To"] == "Rita Recruiter <rita@acme.test>" and mail["Auto-Submitted"] == "auto-replied"
    assert mail["Subject"].startswith("Set aside") and "was set aside" in mail.get_content()
