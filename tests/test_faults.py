"""Fault injection: crashes, ATS failures, mailbox changes and concurrency lose nothing and duplicate nothing.

Each test delivers mail to a real Dovecot, runs `ats-inbox poll` (a subprocess) against the
sandbox ATS with faults switched on, then checks the invariant in tests/invariant.py.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from daemon.sandbox import Fault
from tests import invariant
from tests.e2e import cli, run_cli, wait_for
from tests.mailfactory import build_email
from tests.world import CREATES, PDF, World, application, set_ats

pytestmark = pytest.mark.imap

# --- kill -9 at every step boundary -------------------------------------------------------

# A step's answer is committed with the next create's start (daemon.intake.journal): a kill after the upload's,
# the applicant's or the candidate's answer leaves that next create started and never sent, so the mail is held
# as uncertain (the daemon cannot know the request did not go out) until a person retries it.
@pytest.mark.parametrize(("step", "started"), [
    ("recorded", None), ("upload_cv:0", "/api/v1/applicant"), ("upload_cv:1", "/api/v1/applicant"),
    ("create_applicant", "/api/v1/candidate"), ("create_candidate", "/api/v1/candidates/{id}/actions"),
    ("add_comment", None), ("mailbox", None),
])
def test_kill_at_each_step_boundary_then_a_normal_run(world, step, started):
    """The daemon killed right after any journalled step resumes from it, or holds the mail whose next create it
    had started (never sent) until a person's retry: in the end one candidate and one comment each, none twice."""
    letter = ("cover-letter.pdf", PDF.replace(b"%%EOF", b"% a second file\n%%EOF"), "application/pdf")
    two_files = build_email(sender=("Two Files", "two@example.org"), subject="Application: Data Analyst",
                            attachments=[("cv.pdf", PDF, "application/pdf"), letter])
    world.deliver(two_files, application(2, "Senior Python Developer"))
    world.poll(env={"ATS_INBOX_TEST_CRASH_AFTER": step}, expect=-signal.SIGKILL)
    world.poll(expect=0 if started is None else 1)  # an unknown outcome stops the pass (tests/test_lifecycle.py)
    if started is not None:
        [held] = [r for r in invariant.records(world.database) if r.status == "uncertain"]
        assert world.sandbox.state()["requests"].get(f"POST {started}", 0) == 0  # started, never sent
        assert run_cli("messages", "retry", str(held.id), "--config", str(world.config)).code == 0
        world.poll()
    outcome = world.check()
    assert set(outcome.values()) == {"submitted"}
    state = world.sandbox.state()
    assert len(state["candidates"]) == 2 and len(state["actions"]) == 2
    assert len(state["applicants"]) == 2
    assert sorted(len(a["cv_ids"]) for a in state["applicants"]) == [1, 2]


# --- ATS faults ------------------------------------------------------------------------------

def _in(seconds: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)


# The whole matrix (each status on each create) runs in process in tests/test_ats_faults.py;
# here one case of each family goes over HTTP with real waits.
@pytest.mark.parametrize(("path", "status", "retry_after"), [
    ("/api/v1/upload-cv-file", 500, None), ("/api/v1/candidate", 503, "1"), ("/api/v1/applicant", 429, "http-date"),
])
def test_transient_ats_errors_are_retried(world, path, status, retry_after):
    """A 5xx on the upload, 503 and 429 (with either form of Retry-After) on a create: retried, one candidate."""
    header = _in(1.5) if retry_after == "http-date" else retry_after
    world.sandbox.add_fault(Fault("POST", path, status=status, retry_after=header, times=2))
    world.deliver(application(1))
    world.poll()
    assert set(world.check().values()) == {"submitted"}
    assert len(world.sandbox.state()["candidates"]) == 1


def test_a_gateway_error_on_a_create_is_held_not_repeated(world):
    """A 502 on the applicant may come after the ATS committed: held as uncertain, never sent twice."""
    world.sandbox.add_fault(Fault("POST", "/api/v1/applicant", status=502, times=2))
    world.deliver(application(1))
    world.poll()
    assert set(world.check().values()) == {"uncertain"}
    assert world.sandbox.state()["requests"]["POST /api/v1/applicant"] == 1


# Each create's case runs in process in tests/test_ats_faults.py; one goes over HTTP here.
@pytest.mark.parametrize(("path", "expected"), [("/api/v1/applicant", "uncertain")])
def test_answer_lost_after_the_request_was_sent(world, path, expected):
    """A create whose answer comes too late is not repeated: held as uncertain; an upload is retried."""
    set_ats(world, "timeout_seconds", 1)
    world.sandbox.add_fault(Fault("POST", path, after_commit=True, delay=2.5, times=1))
    world.deliver(application(1))
    world.poll()
    world.poll()  # a second pass does not retry the uncertain create on its own
    [status] = world.check().values()
    assert status == expected
    state = world.sandbox.state()
    assert len(state["applicants"]) <= 1 and len(state["candidates"]) <= 1
    if expected == "uncertain":
        shown = run_cli("messages", "list", "--config", str(world.config))
        assert "uncertain" in shown.stdout


def test_connection_dropped_mid_response_is_uncertain(world):
    """The ATS created the applicant but the connection dropped: not repeated, held for a person."""
    world.sandbox.add_fault(Fault("POST", "/api/v1/applicant", after_commit=True, drop=True))
    world.deliver(application(1))
    world.poll()
    assert set(world.check().values()) == {"uncertain"}
    assert len(world.sandbox.state()["applicants"]) == 1


def test_validation_error_goes_to_review_at_once(world):
    """A 422 is permanent: set aside at once with the ATS's message, nothing retried."""
    world.sandbox.add_fault(Fault("POST", "/api/v1/applicant", status=422, times=-1,
                                  body='{"error": {"code": "validation_error", "message": "email is invalid"}}'))
    world.deliver(application(1))
    world.poll()
    assert set(world.check().values()) == {"review"}
    assert world.sandbox.state()["requests"].get("POST /api/v1/applicant") == 1
    [record] = invariant.records(world.database)
    shown = run_cli("messages", "show", str(record.id), "--config", str(world.config))
    assert "email is invalid" in shown.stdout


ALL_CALLS = [("POST", "/api/v1/jobs/search"), ("GET", "/api/v1/pipelines/all"), ("GET", "/api/v1/sources/all"),
             *(("POST", path) for path in CREATES)]


def ats_down(world: World) -> None:
    for method, path in ALL_CALLS:
        world.sandbox.add_fault(Fault(method, path, status=503, times=-1, body="<html>maintenance</html>"))


def test_ats_down_pauses_intake_without_using_up_attempts(world):
    """While the whole ATS answers 503, passes stop at the first message and count no attempt against it."""
    set_ats(world, "max_attempts", 2)
    set_ats(world, "retry_attempts", 2)  # the retry matrix runs in process (test_ats_faults)
    ats_down(world)
    world.deliver(*(application(n) for n in range(1, 5)))
    for _ in range(3):
        result = world.poll(expect=1)  # the pass could not do its work: monitoring should see it
        assert "the ATS did not answer" in result.stderr and "503" in result.stderr
    assert "ats down" in run_cli("status", "--config", str(world.config)).stdout
    rows = invariant.records(world.database)
    assert len(rows) == 1  # the backlog was not burnt through
    assert [(r.status, r.attempts) for r in rows] == [("pending", 0)]
    assert world.sandbox.state()["requests"].get("POST /api/v1/upload-cv-file", 0) == 0
    world.sandbox.clear_faults()
    world.poll()
    assert set(world.check().values()) == {"submitted"}


def test_one_failing_endpoint_pauses_after_a_few_messages(world):
    """Uploads fail while the rest of the ATS answers: a few messages are tried, then the pass pauses."""
    set_ats(world, "retry_attempts", 2)
    world.sandbox.add_fault(Fault("POST", "/api/v1/upload-cv-file", status=503, times=-1))
    world.deliver(*(application(n) for n in range(1, 7)))
    world.poll()
    rows = invariant.records(world.database)
    assert [(r.status, r.attempts) for r in rows] == [("pending", 1)] * 3
    world.sandbox.clear_faults()
    world.poll()
    assert set(world.check().values()) == {"submitted"}


def test_a_message_that_keeps_failing_goes_to_review(world):
    """Failing while the ATS otherwise answers, max_attempts times: set aside with the last error."""
    set_ats(world, "max_attempts", 2)
    set_ats(world, "retry_attempts", 2)
    world.sandbox.add_fault(Fault("POST", "/api/v1/upload-cv-file", status=503, times=-1))
    world.deliver(application(1))
    world.poll()
    world.poll()
    assert set(world.check().values()) == {"review"}
    [record] = invariant.records(world.database)
    assert "gave up after 2 attempts" in record.reason


def test_a_wrong_base_url_leaves_the_mail_pending_and_says_so(world):
    """base_url with a wrong path (404 on every directory read): exit 1 naming ats.base_url, nothing set aside."""
    text = world.config.read_text().replace(f'base_url = "{world.url}"', f'base_url = "{world.url}/wrong"')
    world.config.write_text(text)
    world.deliver(application(1), application(2))
    result = world.poll(expect=1)
    assert "ats.base_url" in result.stderr
    assert [(r.status, r.attempts) for r in invariant.records(world.database)] == [("pending", 0)]


def test_a_lost_database_does_not_resubmit_the_mailbox(world):
    """The database deleted: mail that stayed in the folder carries $AtsInboxDone and is not sent again."""
    # Read mail is left out of a first pass anyway (skip_seen); take every mail in, so that the
    # keyword alone is what keeps it from being sent again.
    world.config.write_text(world.config.read_text().replace('[ats]', 'skip_seen = false\nsince = "all"\n[ats]', 1))
    world.deliver(application(1), application(2, "Senior Python Developer"))
    world.poll()
    assert len(world.sandbox.state()["candidates"]) == 2
    world.database.unlink()
    world.poll()
    state = world.sandbox.state()
    assert len(state["candidates"]) == 2 and len(state["applicants"]) == 2
    assert {r.status for r in invariant.records(world.database)} == {"duplicate"}


# --- duplicates --------------------------------------------------------------------------------

def test_same_mail_appended_twice_is_one_application(world):
    """Two copies in one folder: one candidate, the other copy recorded as a duplicate."""
    mail = application(1)
    world.deliver(mail, mail)
    world.poll()
    world.check()
    assert sorted(r.status for r in invariant.records(world.database)) == ["duplicate", "submitted"]
    assert len(world.sandbox.state()["candidates"]) == 1


def test_same_mail_in_two_folders_is_one_application(world):
    """The same mail via two aliases filed in two folders, read by two configs on one database."""
    mail = application(1)
    other = world.configure("Careers", name="careers.toml")
    world.deliver(mail)
    world.deliver(b"Delivered-To: careers@example.com\r\n" + mail, folder="Careers")
    world.poll()
    world.poll(config=other)
    world.check()
    assert len(world.sandbox.state()["candidates"]) == 1


def test_same_person_second_job_reuses_the_applicant(world):
    """A second job: the same applicant, a new candidate. The same job again: a comment, no new candidate."""
    world.deliver(application(1, "Data Analyst", "ann@example.org"))
    world.poll()
    world.deliver(application(2, "Senior Python Developer", "ann@example.org"))
    world.poll()
    world.deliver(application(3, "Data Analyst", "ann@example.org"))
    world.poll()
    state = world.sandbox.state()
    assert len(state["applicants"]) == 1
    assert len(state["candidates"]) == 2
    assert len(state["actions"]) == 3
    assert state["actions"][-1]["comment"].startswith("Further application")


# --- mailbox changes -----------------------------------------------------------------------------

def test_new_uidvalidity_does_not_reprocess_mail(tmp_path, dovecot):
    """The folder deleted and re-created with the same mail: nothing is submitted twice."""
    world = World(tmp_path, dovecot, folder="Jobs")
    try:
        mails = [application(1), application(2, "Senior Python Developer")]
        world.deliver(*mails)
        world.poll()
        before = dovecot.folder_uidvalidity("Jobs")
        dovecot.delete_folder("Jobs")
        dovecot.create_folder("Jobs")
        for mail in mails:
            dovecot.append("Jobs", mail)
        assert dovecot.folder_uidvalidity("Jobs") != before
        result = world.poll()
        assert "uidvalidity_changed" in result.stderr
        world.check()
        assert len(world.sandbox.state()["candidates"]) == 2
    finally:
        world.close()


def test_dovecot_restarted_mid_pass_loses_nothing(world):
    """The IMAP server goes away while the pass runs: the daemon reconnects and finishes."""
    world.sandbox.add_fault(Fault("POST", "/api/v1/candidate", after_commit=True, delay=0.7, times=-1))
    world.deliver(*(application(n) for n in range(1, 5)))
    process = subprocess.Popen([*cli(), "poll", "--config", str(world.config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: world.sandbox.state()["candidates"])  # mid-pass: an answer is held back 0.7 s
    world.dovecot.stop()
    world.dovecot.start()
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-3000:]
    assert "imap.reconnecting" in err
    assert set(world.check().values()) == {"submitted"}


# --- concurrency ---------------------------------------------------------------------------------

def test_two_daemons_on_one_mailbox_never_double_process(world):
    """Two pollers started together against the same mailbox and database: each mail once."""
    # Slow candidates keep the first daemon busy long enough for the second to meet its lease.
    world.sandbox.add_fault(Fault("POST", "/api/v1/candidate", after_commit=True, delay=1.0, times=-1))
    world.deliver(*(application(n) for n in range(1, 5)))
    first, second = ([*cli(), "poll", "--config", str(world.config)] for _ in range(2))
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cmd in (first, second)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outputs]
    world.poll()
    assert set(world.check().values()) == {"submitted"}
    assert any("another ats-inbox instance" in out for out, _ in outputs)


def test_database_locked_for_a_while_is_waited_out(world):
    """Another process holds the SQLite write lock for a few seconds: the pass waits, then works."""
    world.deliver(application(1))
    world.poll()  # creates the database
    world.deliver(application(2, "Senior Python Developer"))
    locker = sqlite3.connect(world.database, timeout=1, check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(3.0, locker.rollback)
    release.start()
    started = time.monotonic()
    world.poll()
    release.join()
    locker.close()
    assert time.monotonic() - started >= 2.5
    assert set(world.check().values()) == {"submitted"}
