"""First start on a mailbox in use for years, and seeing before doing: against Dovecot and the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from daemon import cli
from tests import invariant
from tests.mailfactory import build_email
from tests.world import PDF, application

pytestmark = pytest.mark.imap


def main(*args: str) -> int:
    return cli.main(["--log-level", "ERROR", *args])


def test_first_start_takes_only_new_unread_mail_and_says_what_it_left_out(world, capsys):
    """Old mail and read mail stay untouched and counted; new unread mail is submitted; backfill takes the rest."""
    long_ago = datetime.now(UTC) - timedelta(days=900)
    old = world.dovecot.append("INBOX", application(1), arrived=long_ago)
    read = world.dovecot.append("INBOX", application(2, "Senior Python Developer"), flags=[b"\\Seen"])
    new = world.dovecot.append("INBOX", application(3, "Python Developer"))
    assert main("poll", "--config", str(world.config)) == 0
    assert [r.uid for r in invariant.records(world.database)] == [new]
    assert set(world.dovecot.flags("INBOX", old)) <= {b"\\Recent"}
    assert set(world.dovecot.flags("INBOX", read)) - {b"\\Recent"} == {b"\\Seen"}
    capsys.readouterr()
    assert main("status", "--config", str(world.config)) == 0
    status = capsys.readouterr().out
    assert "Left out on the first pass over INBOX: 2 message(s)" in status and "backfill --since" in status
    since = (long_ago - timedelta(days=1)).date().isoformat()
    assert main("backfill", "--since", since, "--config", str(world.config)) == 0
    assert sorted(r.uid for r in invariant.records(world.database)) == sorted([old, read, new])
    assert len(world.sandbox.state()["candidates"]) == 3


def test_a_dry_run_reports_every_decision_and_touches_nothing(world, capsys):
    """poll --dry-run: one line per new mail; no flag, no move, no record, no ATS write."""
    world.deliver(application(1), build_email(sender=("No Cv", "nocv@example.org"), subject="Data Analyst"),
                  build_email(sender=("Chef", "chef@example.org"), subject="Head Chef",
                              attachments=[("cv.pdf", PDF, "application/pdf")]))
    assert main("poll", "--dry-run", "--config", str(world.config)) == 0
    out = capsys.readouterr().out
    assert "would be submitted to 'Data Analyst'" in out
    assert "would be set aside: no resume attached" in out
    assert "would be set aside: no job matched" in out
    assert "nothing was sent, flagged, moved or recorded" in out
    assert not world.database.exists()
    flags = {flag for uid in world.dovecot.uids("INBOX") for flag in world.dovecot.flags("INBOX", uid)}
    assert flags <= {b"\\Recent"}
    requests = world.sandbox.state()["requests"]
    assert not [route for route in requests if route.startswith("POST") and "search" not in route]


def test_retry_with_a_chosen_job_sends_a_set_aside_mail_there(world, capsys):
    """A recruiter sends a mail that matched no job to the job and stage she chose, in one command."""
    world.deliver(build_email(sender=("Chef", "chef@example.org"), subject="Head Chef",
                              attachments=[("cv.pdf", PDF, "application/pdf")]))
    assert main("poll", "--config", str(world.config)) == 0
    [record] = invariant.records(world.database)
    assert record.status == "review"
    assert main("messages", "retry", str(record.id), "--job", "DATA-3", "--stage", "Screening",
                "--config", str(world.config)) == 0
    assert "will go to 'Data Analyst'" in capsys.readouterr().out
    assert main("poll", "--config", str(world.config)) == 0
    [record] = invariant.records(world.database)
    assert (record.status, record.job_title, record.rule) == ("submitted", "Data Analyst",
                                                              "chosen by a person (messages retry --job)")
    [candidate] = world.sandbox.state()["candidates"]
    assert (str(candidate["job_id"]), str(candidate["pipeline_stage_id"])) == ("103", "22")


def test_retry_with_two_chosen_jobs_makes_a_candidate_in_each(world, capsys):
    """--job twice, one --stage per job: one applicant, a candidate in each job at its stage, a comment each."""
    world.deliver(build_email(sender=("Chef", "chef@example.org"), subject="Head Chef",
                              attachments=[("cv.pdf", PDF, "application/pdf")]))
    assert main("poll", "--config", str(world.config)) == 0
    [record] = invariant.records(world.database)
    assert main("messages", "retry", str(record.id), "--job", "DATA-3", "--stage", "Screening", "--job", "SUP-2",
                "--stage", "New", "--config", str(world.config)) == 0
    said = capsys.readouterr().out
    assert "will go to 'Data Analyst'" in said and "'Customer Support Specialist'" in said
    assert main("poll", "--config", str(world.config)) == 0
    [record] = invariant.records(world.database)
    assert (record.status, record.job_id) == ("submitted", "103, 104")
    state = world.sandbox.state()
    assert len(state["applicants"]) == 1 and len(state["actions"]) == 2
    assert sorted((str(c["job_id"]), str(c["pipeline_stage_id"])) for c in state["candidates"]) == [
        ("103", "22"), ("104", "21")]


@pytest.mark.parametrize(("job", "stage", "says"), [
    ("Head Chef", None, "no open job is 'Head Chef'"), ("OPS-1", None, "no open job"),
    ("Data Analyst", "Offer", "has no stage 'Offer'"),
])
def test_retry_with_a_job_that_cannot_be_refuses_and_changes_nothing(world, capsys, job, stage, says):
    """An unknown or closed job, or a stage not in its pipeline: exit 1 saying so; the message stays in review."""
    world.deliver(build_email(sender=("Chef", "chef@example.org"), subject="Head Chef",
                              attachments=[("cv.pdf", PDF, "application/pdf")]))
    main("poll", "--config", str(world.config))
    [record] = invariant.records(world.database)
    extra = ["--stage", stage] if stage else []
    assert main("messages", "retry", str(record.id), "--job", job, *extra, "--config", str(world.config)) == 1
    assert says in capsys.readouterr().err
    [record] = invariant.records(world.database)
    assert record.status == "review"
