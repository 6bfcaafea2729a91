"""The ATS fault matrix at the unit level: the real runner, flow, client and sandbox, in process.

No sockets, no subprocess, no waiting: the sandbox answers through an httpx transport and
every retry wait goes to a fake clock. tests/test_faults.py keeps one end-to-end case of
each family against Dovecot and the sandbox over HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from daemon.sandbox import Fault
from tests.inprocess import in_process_world  # noqa: F401 (the fixture `world`)
from tests.world import CREATES, application

UPLOAD = "/api/v1/upload-cv-file"






# status, Retry-After, and the outcome on each create: "not done" answers are sent again;
# the ambiguous 5xx are held as uncertain except on the upload (an orphan file at worst).
MATRIX = [(500, None), (502, None), (503, None), (503, "1"), (429, "1"), (429, "http-date")]


@pytest.mark.parametrize("path", CREATES)
@pytest.mark.parametrize(("status", "retry_after"), MATRIX)
def test_failed_creates_are_sent_again_only_when_nothing_was_done(world, path, status, retry_after):
    """429 and 503 (either Retry-After form) on any create, and any 5xx on an upload: retried, one
    candidate. 500 and 502 on the applicant, candidate or comment: held as uncertain, never twice."""
    # An HTTP date has whole seconds: 2.5 s ahead is at least 1.5 s ahead.
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=2.5), usegmt=True)
    header = soon if retry_after == "http-date" else retry_after
    world.sandbox.add_fault(Fault("POST", path, status=status, retry_after=header, times=2))
    world.deliver(application(1))
    world.poll()
    expected = "submitted" if status in (429, 503) or path == UPLOAD else "uncertain"
    assert set(world.check().values()) == {expected}
    assert len(world.sandbox.state()["candidates"]) <= 1
    if retry_after is not None and expected == "submitted":
        assert max(world.clock.slept) >= 0.5  # the server's wait was honoured (on the fake clock)


@pytest.mark.parametrize(("path", "expected"), [
    (UPLOAD, "submitted"), ("/api/v1/applicant", "uncertain"), ("/api/v1/candidate", "uncertain"),
    ("/api/v1/candidates/{id}/actions", "uncertain"),
])
def test_an_answer_lost_after_the_work_is_never_sent_again(world, path, expected):
    """A create that committed but whose answer timed out is held as uncertain; an upload is retried."""
    world.sandbox.add_fault(Fault("POST", path, after_commit=True, delay=60, times=1))
    world.deliver(application(1))
    world.poll()
    world.poll()
    assert set(world.check().values()) == {expected}


def test_a_gateway_502_after_the_ats_committed_makes_no_duplicate(world):
    """The reproduction of finding 7: a 502 after the applicant was created is not sent again."""
    world.sandbox.add_fault(Fault("POST", "/api/v1/applicant", status=502, times=1))
    world.deliver(application(1))
    world.poll()
    assert set(world.check().values()) == {"uncertain"}
    assert world.sandbox.state()["requests"]["POST /api/v1/applicant"] == 1


def test_an_outage_pauses_the_pass_without_charging_attempts(world):
    """The whole ATS answering 503: the first message waits with no attempt used, the rest untouched."""
    for method, route in [("POST", "/api/v1/jobs/search"), ("GET", "/api/v1/pipelines/all"),
                          ("GET", "/api/v1/sources/all"), *(("POST", p) for p in CREATES)]:
        world.sandbox.add_fault(Fault(method, route, status=503, times=-1))
    world.deliver(*(application(n) for n in range(1, 4)))
    for _ in range(3):
        summary = world.poll(max_attempts=2)
        assert summary.ats_down
    assert [(r.status, r.attempts) for r in world.store.messages()] == [("pending", 0)]
    world.sandbox.clear_faults()
    world.clock.now += 3600  # past the circuit breaker's cooldown
    world.poll()
    assert set(world.check().values()) == {"submitted"}


@pytest.mark.parametrize("status", [404, 301])
def test_a_misdirected_base_url_stops_the_pass_and_leaves_mail_pending(world, status):
    """404 or a redirect on a directory read: every message would fail alike, so none is set aside."""
    from daemon.errors import AtsMisdirected

    world.sandbox.add_fault(Fault("POST", "/api/v1/jobs/search", status=status, times=-1, body="<html>no</html>"))
    world.deliver(application(1), application(2))
    with pytest.raises(AtsMisdirected, match=r"ats\.base_url"):
        world.poll()
    assert [(r.status, r.attempts) for r in world.store.messages()] == [("pending", 0)]


def test_slow_answers_pause_after_the_first_lost_one(world):
    """Answers slower than the client timeout: one message uncertain, the others wait untouched."""
    world.sandbox.add_fault(Fault("POST", "/api/v1/applicant", after_commit=True, delay=60, times=-1))
    world.deliver(*(application(n) for n in range(1, 5)))
    summary = world.poll()
    assert summary.ats_down and "lost" in summary.stopped
    assert [r.status for r in world.store.messages()] == ["uncertain"]


def test_a_circuit_still_open_after_an_outage_charges_no_attempt(world):
    """The first pass after an outage meets the open circuit: the mail was never tried, so no attempt."""
    for _ in range(world.client.breaker.threshold):
        world.client.breaker._failed()
    assert world.client.breaker.is_open
    world.deliver(application(1), application(2))
    world.poll()
    records = world.store.messages()
    assert [(r.status, r.attempts) for r in records if r.status == "pending"] == [("pending", 0)]
    world.poll()
    assert set(world.check().values()) == {"submitted"}


def test_an_uncertain_message_names_its_job(world):
    """A person checking an uncertain message sees which job to look at in the ATS."""
    world.sandbox.add_fault(Fault("POST", "/api/v1/candidate", after_commit=True, delay=60, times=1))
    world.deliver(application(1, "Senior Python Developer"))
    world.poll()
    [record] = world.store.messages()
    assert (record.status, record.job_title) == ("uncertain", "Senior Python Developer")


def test_the_comment_quotes_the_cover_letter_and_names_files_a_repeat_could_not_attach(world):
    """The candidate's text reaches the recruiter; a second mail from the same person names its unattached CV."""
    from tests.mailfactory import build_email
    from tests.world import PDF

    first = build_email(sender=("Ann Lee", "ann@example.org"), subject="Application: Data Analyst",
                        body="Dear team,\nI love data.\n\n-- \nAnn Lee\n+49 30 1234",
                        attachments=[("cv.pdf", PDF, "application/pdf")])
    again = build_email(sender=("Ann Lee", "ann@example.org"), subject="Application: Python Developer",
                        body="Also this one.", attachments=[("cv-2024.pdf", PDF + b"\n", "application/pdf")])
    world.deliver(first, again)
    world.poll()
    first_comment, second_comment = (a["comment"] for a in world.sandbox.state()["actions"])
    assert "> I love data." in first_comment and "+49 30 1234" not in first_comment
    assert "not attached to the existing applicant" not in first_comment
    assert "New file(s) not attached to the existing applicant" in second_comment
    assert "cv-2024.pdf. The file(s) are in the mail" in second_comment
