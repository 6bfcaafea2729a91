"""Who the applicant is, in process: a bundle of candidates, a flood from one sender, a rule over an auto-reply."""

from __future__ import annotations

import pytest

from daemon.intake.flow import FlowOptions
from daemon.routing import load_rules
from tests.e2e import FIXTURES
from tests.mailfactory import build_email
from tests.test_ats_faults import InProcessWorld
from tests.world import PDF, application

EMAILS = FIXTURES / "emails"


@pytest.fixture
def world(tmp_path):
    w = InProcessWorld(tmp_path)
    yield w
    w.close()


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


def test_more_mails_than_the_cap_from_one_sender_are_ignored(world):
    """A loop or a flood: past max_per_sender_per_hour, a sender's mail is ignored with the reason."""
    world.deliver(*(application(n, email="loop@example.org") for n in range(1, 5)))
    world.poll(FlowOptions(max_per_sender_per_hour=2))
    statuses = [r.status for r in sorted(world.store.messages(), key=lambda r: r.uid)]
    assert statuses == ["submitted", "submitted", "ignored", "ignored"]
    assert "more than 2 mails from this sender" in world.store.messages()[0].reason


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
