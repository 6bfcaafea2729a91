"""Who the applicant is, in process: a bundle of candidates, a flood from one sender, a rule over an auto-reply."""

from __future__ import annotations

from daemon.intake import review
from daemon.intake.flow import FlowOptions
from daemon.routing import load_rules
from tests.e2e import FIXTURES
from tests.inprocess import in_process_world  # noqa: F401 (the fixture `world`)
from tests.mailfactory import build_email
from tests.world import PDF, application

EMAILS = FIXTURES / "emails"




def test_a_bundle_of_two_candidates_gives_two_applicants_each_with_their_files(world):
    """A recruiter forwards two candidates' mails in one: two applicants, each with only their own files."""
    world.deliver((EMAILS / "crafted-two-candidate-bundle.eml").read_bytes())
    world.poll(FlowOptions(internal_senders=("acme.test",)), rules=load_rules(_rules(world, BUNDLE_RULE)))
    state = world.sandbox.state()
    files = {a["email"]: len(a["cv_ids"]) for a in state["applicants"]}
    assert files == {"jane.candidate@example.org": 2, "max.mustermann@example.de": 1}
    assert len(state["candidates"]) == 2
    [record] = world.store.messages()
    assert record.status == "submitted" and record.candidate_id.count(",") == 1


def test_past_the_cap_applications_are_set_aside_and_other_mail_ignored(world):
    """A loop or a flood: past max_per_sender_per_hour, a sender's mail with a CV is set aside for a
    person (never discarded), mail without one is ignored; each with the reason."""
    world.deliver(*(application(n, email="loop@example.org") for n in range(1, 5)))
    world.deliver(build_email(sender=("Loop", "loop@example.org"), subject="Out of office"))
    world.poll(FlowOptions(max_per_sender_per_hour=2))
    records = sorted(world.store.messages(), key=lambda r: r.uid)
    assert [r.status for r in records] == ["submitted", "submitted", "review", "review", "ignored"]
    assert all("more than 2 mails from this sender" in r.reason for r in records[2:])
    assert "carries a resume: set aside for a person" in records[2].reason


def test_forged_junk_cannot_discard_a_real_application_and_a_person_can_retry_it(world):
    """Twenty junk mails with a forged From of a real applicant: her application is set aside with the
    flood as its reason, not ignored, and once a person retries it (the flood over) it reaches the ATS."""
    ann = ("Ann Real", "ann@example.org")
    world.deliver(*(build_email(sender=ann, subject=f"junk {n}") for n in range(20)))
    world.deliver(build_email(sender=ann, subject="Application: Data Analyst",
                              attachments=[("cv.pdf", PDF, "application/pdf")]))
    world.poll(FlowOptions(max_per_sender_per_hour=20))
    real = max(world.store.messages(limit=100), key=lambda r: r.uid)
    assert (real.status, "more than 20 mails from this sender" in real.reason) == ("review", True)
    assert world.sandbox.state()["candidates"] == []
    review.retry(world.store, real.id)
    world.poll(FlowOptions(max_per_sender_per_hour=0))
    assert world.store.message_by_pk(real.id).status == "submitted"
    assert len(world.sandbox.state()["candidates"]) == 1


def test_an_ignored_mail_can_be_retried_by_a_person(world):
    """Ignored mail (a flood, a rule, automatic mail) is never beyond a person's reach: retry requeues it."""
    world.deliver(*(application(n, email="loop@example.org") for n in range(1, 3)))
    world.deliver(build_email(sender=("Loop", "loop@example.org"), subject="A question about the job"))
    world.poll(FlowOptions(max_per_sender_per_hour=2))
    ignored = max(world.store.messages(), key=lambda r: r.uid)
    assert ignored.status == "ignored"
    review.retry(world.store, ignored.id)
    assert world.store.message_by_pk(ignored.id).status == "pending"
    world.poll(FlowOptions(max_per_sender_per_hour=0))
    assert world.store.message_by_pk(ignored.id).status == "review"  # no CV: now a person looks at it


def test_automatic_mail_is_ignored_unless_a_rule_takes_it_in(world):
    """An auto-submitted mail with a CV is ignored; a rule for its sender overrides that."""
    auto = build_email(sender=("Board", "jobs@board.example"), subject="Application: Data Analyst",
                       headers={"Auto-Submitted": "auto-generated"},
                       attachments=[("cv.pdf", PDF, "application/pdf")])
    world.deliver(auto)
    world.poll()
    [record] = world.store.messages()
    assert (record.status, record.reason.split(" (")[0]) == ("ignored", "automatic reply")
    assert world.sandbox.state()["candidates"] == []


def test_a_rule_for_the_sender_takes_automatic_mail_in(world):
    """A job board's automatic mails carry real applications: a rule for that sender submits them."""
    auto = build_email(sender=("Board", "jobs@board.example"), subject="Application: Data Analyst",
                       headers={"Auto-Submitted": "auto-generated"},
                       attachments=[("cv.pdf", PDF, "application/pdf")])
    world.deliver(auto)
    world.poll(rules=load_rules(_rules(world, BOARD_RULE)))
    [record] = world.store.messages()
    assert (record.status, record.rule) == ("submitted", "the job board")


BUNDLE_RULE = """
[[rule]]
name = "forwards to Data Analyst"
from_domain = "acme.test"
job_code = "DATA-3"
"""
BOARD_RULE = """
[[rule]]
name = "the job board"
from_domain = "board.example"
job_code = "DATA-3"
"""


def _rules(world, text):
    folder = world.database.parent / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "10.toml").write_text(text)
    return folder
