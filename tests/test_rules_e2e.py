"""Routing rules end to end over Dovecot and the sandbox ATS, and their reload in a running daemon."""

from __future__ import annotations

import signal
import subprocess

import pytest

from tests import invariant
from tests.e2e import cli, wait_for
from tests.mailfactory import build_email
from tests.world import PDF, World

pytestmark = pytest.mark.imap

RULES = """
[[rule]]
name = "jobs+data@ is the Data Analyst opening"
to_tag = "data"
job_code = "DATA-3"
stage = "Screening"
source = "LinkedIn"

[[rule]]
name = "the agency's candidates"
from_domain = "agency.example"
job_title = "Python Developer"
stage = "Interview"
source = "Referral"
comment = "Sent by our agency."
"""


def mail(sender: str, to: str, subject: str) -> bytes:
    return build_email(sender=("Some One", sender), to=to, subject=subject,
                       attachments=[("cv.pdf", PDF, "application/pdf")])


@pytest.fixture
def world(tmp_path, dovecot):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "10-jobs.toml").write_text(RULES)
    w = World(tmp_path, dovecot, extra=f'[rules]\npath = "{tmp_path / "rules"}"\n')
    yield w
    w.close()


def test_rules_route_mail_to_two_jobs_and_two_stages_with_a_source(world):
    """A plus-address and an agency's domain send mail to their jobs, stages and sources; the comment names the rule."""
    world.deliver(mail("ann@example.org", "jobs+data@example.com", "my CV"),
                  mail("bo@agency.example", "jobs@example.com", "candidate for you"))
    world.poll()
    state = world.sandbox.state()
    placed = sorted((str(c["job_id"]), str(c["pipeline_stage_id"]), str(c["source_id"])) for c in state["candidates"])
    assert placed == [("102", "s-eng-interview", "3"), ("103", "22", "2")]
    comments = [a["comment"] for a in state["actions"]]
    assert any("Routed by: the agency's candidates" in c and "Sent by our agency." in c for c in comments)
    rules = {r.rule for r in invariant.records(world.database)}
    assert rules == {"jobs+data@ is the Data Analyst opening", "the agency's candidates"}


def test_invalid_rules_refuse_to_start(world):
    """poll with a broken rule file: exit 2, every problem with its file and line, nothing done."""
    (world.tmp / "rules" / "20-broken.toml").write_text('[[rule]]\nname = "x"\nsubjet = "y"\njob_code = "DATA-3"\n')
    world.deliver(mail("ann@example.org", "jobs+data@example.com", "my CV"))
    result = world.poll(expect=2)
    assert "20-broken.toml:3" in result.stderr and "subject" in result.stderr
    assert world.sandbox.state()["candidates"] == []


def test_a_running_daemon_picks_up_a_rule_change_and_keeps_good_rules_over_a_broken_one(world):
    """run: an edited rule file is used for the next mail; a broken edit keeps the rules in force."""
    daemon = subprocess.Popen([*cli(), "run", "--config", str(world.config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        world.deliver(mail("al@example.org", "jobs+data@example.com", "my CV"))
        wait_for(lambda: len(world.sandbox.state()["candidates"]) == 1)
        edited = RULES.replace('job_code = "DATA-3"', 'job_code = "SUP-2"')
        (world.tmp / "rules" / "10-jobs.toml").write_text(edited)
        world.deliver(mail("ann@example.org", "jobs+data@example.com", "my CV"))
        wait_for(lambda: len(world.sandbox.state()["candidates"]) == 2)
        (world.tmp / "rules" / "10-jobs.toml").write_text(edited + '\n[[rule]]\nname = "broken"\nsubject_regex = "("\n')
        world.deliver(mail("cy@example.org", "jobs+data@example.com", "my CV"))
        wait_for(lambda: len(world.sandbox.state()["candidates"]) == 3)
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
    finally:
        daemon.kill()
    assert daemon.returncode == 0, err[-2000:]
    assert "rules.invalid" in err
    jobs = [str(c["job_id"]) for c in world.sandbox.state()["candidates"]]
    assert jobs == ["103", "104", "104"]  # the edit took effect; the broken edit did not replace it




