"""An ATS or token endpoint that answers, but badly: trickling, oversized, or about someone else.

Over HTTP the sandbox trickles the status line and headers too (the case httpx's per-read
timeout never ends); in process it trickles the body on the fake clock.
"""

from __future__ import annotations

import threading
import time
import tracemalloc

import pytest

from daemon.ats.bounded import MAX_ANSWER_BYTES
from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.ats.retry import NO_RETRY
from daemon.config import OAuth2Settings
from daemon.errors import AtsMisdirected, AtsUnavailable, MailboxUnavailable, OutcomeUnknown
from daemon.mailbox.oauth2 import AccessTokens
from daemon.sandbox import Fault, SandboxATS
from tests.inprocess import InProcessWorld, in_process_world  # noqa: F401 (the fixture `world`)
from tests.world import application

SOURCES = "/api/v1/sources/all"
APPLICANT = "/api/v1/applicant"
CANDIDATE = "/api/v1/candidate"
TOKEN = "/api/v1/oauth2-token"  # the sandbox as a token endpoint: a fault answers before any route
TRICKLE = 0.05  # a byte every 50 ms: the status line and headers alone take several seconds


@pytest.fixture
def served(tmp_path):
    sandbox = SandboxATS(tmp_path / "served.db")
    url = sandbox.start()
    yield sandbox, url
    sandbox.stop()




def grant_at(url: str) -> OAuth2Settings:
    return OAuth2Settings(token_url=url + TOKEN, client_id="c", client_secret="", refresh_token="r", scope="")


def timed(call) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        call()
    except Exception as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


# -- finding 4: a deadline for the whole exchange ----------------------------------------------

@pytest.mark.parametrize(("method", "path", "expected"), [("GET", SOURCES, AtsUnavailable),
                                                          ("POST", APPLICANT, OutcomeUnknown)])
def test_an_answer_that_trickles_over_http_is_cut_at_the_deadline(served, method, path, expected):
    """A read or a create whose answer trickles a byte at a time ends at timeout_seconds, not per read."""
    sandbox, url = served
    sandbox.add_fault(Fault(method, path, status=200 if method == "GET" else 201, body='{"id": 1, "items": []}',
                            trickle=TRICKLE, times=-1))
    with AtsClient(url, "t", timeout=0.5, retry=NO_RETRY) as client:
        call = client.sources if method == "GET" else lambda: client.create_applicant(
            first_name="A", last_name="B", email="a@example.org", cv_ids=[1], source_id=1)
        error, seconds = timed(call)
    assert isinstance(error, expected), error
    assert "0.5" in str(error) and "whole" in str(error)
    assert seconds < 0.5 + 1.5


def test_a_stop_cuts_a_trickling_read_within_a_second(served):
    """With a stop requested, a directory read in progress is abandoned at once, whatever its timeout."""
    sandbox, url = served
    sandbox.add_fault(Fault("GET", SOURCES, status=200, body='{"items": []}', trickle=TRICKLE, times=-1))
    stop = threading.Event()
    with AtsClient(url, "t", timeout=60, stopped=stop.is_set, retry=NO_RETRY) as client:
        threading.Timer(0.3, stop.set).start()
        error, seconds = timed(client.sources)
    assert isinstance(error, AtsUnavailable) and "stopping" in str(error)
    assert seconds < 2


def test_a_trickling_create_answer_holds_the_message_uncertain(tmp_path):
    """The applicant created, its answer trickling past the deadline: uncertain, never sent twice."""
    w = InProcessWorld(tmp_path)
    w.client.close()
    w.client = AtsClient("http://sandbox.test", "t", timeout=5, transport=w.sandbox.transport(sleep=w.clock.sleep),
                         sleep=w.clock.sleep, clock=w.clock)
    w.directory = AtsDirectory(w.client, source_name="Email", clock=w.clock)
    try:
        w.sandbox.add_fault(Fault("POST", APPLICANT, after_commit=True, trickle=1.0, times=-1))
        w.deliver(application(1))
        w.poll()
        w.poll()
        assert set(w.check().values()) == {"uncertain"}
        assert w.sandbox.state()["requests"]["POST /api/v1/applicant"] == 1
    finally:
        w.close()


def test_a_token_endpoint_that_trickles_is_cut_at_the_deadline(served):
    """An OAuth2 token answer trickling a byte at a time: transient, within the timeout, not per read."""
    sandbox, url = served
    sandbox.add_fault(Fault("POST", TOKEN, status=200, body='{"access_token": "a", "expires_in": 3600}',
                            trickle=TRICKLE, times=-1))
    grant = grant_at(url)
    error, seconds = timed(AccessTokens(grant, timeout=0.5).token)
    assert isinstance(error, MailboxUnavailable), error
    assert seconds < 2


# -- finding 12: the answer's size is capped ---------------------------------------------------

def peak_bytes(call) -> tuple[BaseException | None, int]:
    tracemalloc.start()
    try:
        error, _ = timed(call)
        return error, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_oversized_directory_answer_is_refused_naming_the_endpoint(world):
    """A sources list padded to 64 MB: an error naming the endpoint, memory bounded by the cap."""
    world.sandbox.add_fault(Fault("GET", SOURCES, status=200, body='{"items": []}', pad=64 * 1024 * 1024))
    error, peak = peak_bytes(world.client.sources)
    assert isinstance(error, AtsMisdirected), error
    assert SOURCES in str(error) and "misbehaving" in str(error)
    assert peak < 3 * MAX_ANSWER_BYTES


def test_an_oversized_create_answer_is_an_unknown_outcome(world):
    """A create answered with 64 MB: the ATS may have acted, so it is held as unknown."""
    world.sandbox.add_fault(Fault("POST", APPLICANT, after_commit=True, pad=64 * 1024 * 1024))
    error, peak = peak_bytes(lambda: world.client.create_applicant(
        first_name="A", last_name="B", email="a@example.org", cv_ids=[], source_id=1))
    assert isinstance(error, OutcomeUnknown) and APPLICANT in str(error), error
    assert peak < 3 * MAX_ANSWER_BYTES


def test_an_oversized_token_answer_is_transient(served):
    """A token endpoint answering 64 MB: try again later, without holding the answer in memory."""
    sandbox, url = served
    sandbox.add_fault(Fault("POST", TOKEN, status=200, body='{"access_token": "a"}', pad=64 * 1024 * 1024))
    grant = grant_at(url)
    error, peak = peak_bytes(AccessTokens(grant).token)
    assert isinstance(error, MailboxUnavailable), error
    assert peak < 3 * MAX_ANSWER_BYTES


# -- finding 13: an answer about someone else ---------------------------------------------------

def first_ids(world) -> tuple[str, str]:
    world.deliver(application(1))
    world.poll()
    state = world.sandbox.state()
    return str(state["applicants"][0]["id"]), str(state["candidates"][0]["id"])


def test_an_applicant_id_of_someone_else_holds_the_message(world):
    """The applicant create answered with another person's applicant (its email differs): held, nothing more sent."""
    applicant, _ = first_ids(world)
    world.sandbox.add_fault(Fault("POST", APPLICANT, status=201,
                                  body=f'{{"id": {applicant}, "email": "person1@example.org"}}'))
    world.deliver(application(2))
    world.poll()
    assert sorted(world.check().values()) == ["submitted", "uncertain"]
    record = next(r for r in world.store.messages() if r.status == "uncertain")
    assert "person1@example.org" in record.reason and "person2@example.org" in record.reason
    assert len(world.sandbox.state()["candidates"]) == 1


@pytest.mark.parametrize("echo", ['"applicant_id": {other}', '"applicant": {{"id": {other}}}', '"job_id": 999'])
def test_a_candidate_for_another_applicant_or_job_holds_the_message(world, echo):
    """The candidate create answered with a candidate of another applicant or job: held, no comment posted."""
    applicant, candidate = first_ids(world)
    body = f'{{"id": {candidate}, ' + echo.format(other=applicant) + "}"
    world.sandbox.add_fault(Fault("POST", CANDIDATE, status=201, body=body))
    world.deliver(application(2))
    world.poll()
    assert sorted(world.check().values()) == ["submitted", "uncertain"]
    assert world.sandbox.state()["requests"]["POST /api/v1/candidates/{id}/actions"] == 1


def test_an_answer_about_the_person_and_job_sent_is_taken(world):
    """Echoes that agree (the email in other case, the same applicant and job) are no reason to hold."""
    client = world.client
    applicant = client.create_applicant(first_name="A", last_name="B", email="Ann@Example.org", cv_ids=[],
                                        source_id=1)
    world.sandbox.add_fault(Fault("POST", APPLICANT, status=201, body='{"id": 5, "email": "ANN@example.org "}'))
    assert str(client.create_applicant(first_name="A", last_name="B", email="ann@example.org", cv_ids=[],
                                       source_id=1)) == "5"
    world.sandbox.add_fault(Fault("POST", CANDIDATE, status=201,
                                  body=f'{{"id": 9, "applicant": {{"id": "{applicant}"}}, "job_id": 3}}'))
    assert str(client.create_candidate(job_id=3, applicant_id=applicant, pipeline_id=1, stage_id=1,
                                       source_id=1)) == "9"
