"""The sandbox ATS over real HTTP and in process: the seven calls, its rules, persistence,
faults and views."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from daemon.ats.client import AtsClient
from daemon.ats.retry import RetryPolicy
from daemon.errors import ConfigError, OutcomeUnknown
from daemon.sandbox import Fault, SandboxATS, load_seed
from tests.e2e import wait_for, wait_healthy

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\r\n1 0 obj <<>> endobj\r\ncontact: ada@example.org\n%%EOF\n"
DOC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 4
DOCX = b"PK\x03\x04" + b"\x14\x00\x06\x00word/document.xml" + os.urandom(512)
TOKEN = "s3cret-token"
ACTIONS = "/api/v1/candidates/{}/actions"

Start = Callable[..., tuple[SandboxATS, httpx.Client]]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """Start a sandbox in tmp_path (same db for every call) and give an httpx client to it."""
    running: list[tuple[SandboxATS, httpx.Client]] = []

    def _start(**options: Any) -> tuple[SandboxATS, httpx.Client]:
        sandbox = SandboxATS(tmp_path / "ats.db", **options)
        headers = {"Authorization": f"Bearer {options['token']}"} if options.get("token") else {}
        client = httpx.Client(base_url=sandbox.start(), headers=headers, timeout=10)
        running.append((sandbox, client))
        return sandbox, client

    yield _start
    for sandbox, client in running:
        client.close()
        sandbox.stop()


def upload(client: httpx.Client, data: bytes = PDF, name: str = "cv.pdf") -> httpx.Response:
    files = {"file": (name, data, "application/octet-stream")}
    return client.post("/api/v1/upload-cv-file", files=files)


def new_id(body: Any, thing: str) -> Any:
    """The created id in either shape (plain: `id`/`cv_id`; variant: maybe under `data`)."""
    obj = body.get("data", body)
    return obj.get("id", obj.get(f"{thing}_id"))


def applicant_body(cv_ids: list[Any], **changes: Any) -> dict[str, Any]:
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org",
            "phone": "+49 30 1234", "source_id": 1, "cv_ids": cv_ids}
    return {**body, **changes}


def make_candidate(client: httpx.Client, job_id: Any = 101, pipeline_id: Any = "p-eng",
                   stage_id: Any = "s-eng-applied") -> Any:
    cv_id = new_id(upload(client).json(), "cv")
    applicant = client.post("/api/v1/applicant", json=applicant_body([cv_id]))
    applicant_id = new_id(applicant.json(), "applicant")
    response = client.post("/api/v1/candidate", json={
        "job_id": job_id, "applicant_id": applicant_id, "pipeline_id": pipeline_id,
        "pipeline_stage_id": stage_id, "source_id": 1})
    assert response.status_code in (200, 201), response.text
    return new_id(response.json(), "candidate")


# -- the seven steps ---------------------------------------------------------------------


def test_plain_shape_runs_the_seven_steps(start: Start):
    """Plain: lists under `items` with page/total, ids as in the seed, 201 on create."""
    sandbox, client = start()
    search = {"query": "PYTHON", "page": 1, "per_page": 100}
    jobs = client.post("/api/v1/jobs/search", json=search).json()
    seed_jobs = load_seed()["jobs"]
    assert jobs == {"items": seed_jobs[:2], "page": 1, "per_page": 100, "total": 2}
    pipelines = client.get("/api/v1/pipelines/all").json()["items"]
    assert [p["id"] for p in pipelines] == ["p-eng", 2]
    assert [s["id"] for s in pipelines[1]["stages"]] == [21, 22]
    assert client.get("/api/v1/sources/all").json() == {"items": [
        {"id": 1, "name": "Email"}, {"id": 2, "name": "LinkedIn"}, {"id": 3, "name": "Referral"}]}

    cv = upload(client)
    assert cv.status_code == 201
    assert cv.json() == {"cv_id": 501, "parsed": {"email": "ada@example.org"}}
    applicant = client.post("/api/v1/applicant", json=applicant_body([501]))
    assert (applicant.status_code, applicant.json()) == (201, {"id": 1001})
    candidate = client.post("/api/v1/candidate", json={
        "job_id": 103, "applicant_id": 1001, "pipeline_id": 2, "pipeline_stage_id": 21,
        "source_id": 1})
    assert (candidate.status_code, candidate.json()) == (201, {"id": 2001})
    action = client.post(ACTIONS.format(2001), json={"comment": "From jobs@: subject ..."})
    assert (action.status_code, action.json()) == (201, {"id": 3001})

    state = sandbox.state()
    assert state["applicants"] == [{"id": 1001, "first_name": "Ada", "last_name": "Lovelace",
                                    "middle_name": None, "email": "ada@example.org",
                                    "phone": "+49 30 1234", "source_id": 1, "cv_ids": [501]}]
    assert state["candidates"] == [{"id": 2001, "job_id": 103, "applicant_id": 1001,
                                    "pipeline_id": 2, "pipeline_stage_id": 21, "source_id": 1}]
    comments = [(a["candidate_id"], a["comment"]) for a in state["actions"]]
    assert comments == [(2001, "From jobs@: subject ...")]
    assert client.delete("/api/v1/candidates/2001/actions/3001").status_code == 204
    assert sandbox.state()["actions"] == []


def test_variant_shape_runs_the_seven_steps(start: Start):
    """Variant: `data` lists with `next`, a bare array, wrapped objects, `<thing>_id` strings."""
    sandbox, client = start(shape="variant")
    search = client.post("/api/v1/jobs/search", json={"query": "", "per_page": 100}).json()
    assert [job["id"] for job in search["data"]] == ["101", "102", "103", "104", "105"]
    assert search["next"] is None
    pipelines = client.get("/api/v1/pipelines/all").json()
    assert isinstance(pipelines, list)
    assert [s["id"] for s in pipelines[1]["stages"]] == ["21", "22"]
    assert client.get("/api/v1/sources/all").json()["data"][0] == {"id": "1", "name": "Email"}

    parsed = {"email": "ada@example.org"}
    assert upload(client).json() == {"data": {"cv_id": "501", "parsed": parsed}}
    applicant = client.post("/api/v1/applicant", json=applicant_body(["501"], source_id="1"))
    assert (applicant.status_code, applicant.json()) == (200, {"applicant_id": "1001"})
    candidate = client.post("/api/v1/candidate", json={
        "job_id": "103", "applicant_id": "1001", "pipeline_id": "2", "pipeline_stage_id": "22",
        "source_id": "1"})
    assert candidate.json() == {"data": {"candidate_id": "2001"}}
    action = client.post(ACTIONS.format("2001"), json={"comment": "hi"})
    assert action.json() == {"data": {"id": "3001"}}
    assert client.delete("/api/v1/candidates/2001/actions/3001").status_code == 204

    state = sandbox.state()  # string ids sent back are stored as the records' own ids
    assert state["candidates"] == [{"id": 2001, "job_id": 103, "applicant_id": 1001,
                                    "pipeline_id": 2, "pipeline_stage_id": 22, "source_id": 1}]
    assert state["applicants"][0]["cv_ids"] == [501]


@pytest.mark.parametrize("shape", ["plain", "variant"])
def test_search_pages_through_every_job_once(start: Start, shape: str):
    """Following `total` (plain) or the `next` link (variant) visits every job exactly once."""
    _, client = start(shape=shape)
    seen, page, url = [], 1, "/api/v1/jobs/search"
    for _ in range(10):
        body = client.post(url, json={"query": "", "page": page, "per_page": 2}).json()
        items = body["items"] if shape == "plain" else body["data"]
        seen += [str(job["id"]) for job in items]
        if shape == "plain":
            assert body["total"] == 5
            if page * 2 >= body["total"]:
                break
        elif body["next"] is None:
            break
        else:
            url = body["next"]
        page += 1
    assert seen == ["101", "102", "103", "104", "105"]
    assert page == 3


def test_search_filters_titles_case_insensitively(start: Start):
    """The query is a case-insensitive title substring; closed jobs come with their status."""
    _, client = start()
    items = client.post("/api/v1/jobs/search", json={"query": "office MAN"}).json()["items"]
    assert [(job["id"], job["status"]) for job in items] == [(105, "closed")]
    assert client.post("/api/v1/jobs/search", json={"query": "chef"}).json()["items"] == []


def test_a_stage_move_moves_the_candidate_unless_backdated(start: Start):
    """An action's pipeline_stage_id moves the candidate, unless datetime_action_date is set."""
    sandbox, client = start()
    candidate_id = make_candidate(client)
    backdated = {"pipeline_stage_id": "s-eng-offer", "datetime_action_date": "2026-01-05T10:00:00Z"}
    assert client.post(ACTIONS.format(candidate_id), json=backdated).status_code == 201
    assert sandbox.state()["candidates"][0]["pipeline_stage_id"] == "s-eng-applied"
    live = {"pipeline_stage_id": "s-eng-interview", "reserved": False}
    assert client.post(ACTIONS.format(candidate_id), json=live).status_code == 201
    assert sandbox.state()["candidates"][0]["pipeline_stage_id"] == "s-eng-interview"


# -- what the sandbox refuses ------------------------------------------------------------


@pytest.mark.parametrize(("data", "name"), [
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "cv.pdf"),
    (b"Dear hiring team, please find my CV.", "cv.docx"),
    (b"", "empty.pdf"),
    (b" %PDF-1.4 leading space", "cv.pdf"),
])
def test_upload_refuses_files_that_are_not_resumes(start: Start, data: bytes, name: str):
    """Only PDF, DOC and DOCX magic bytes pass (the name does not count): 422, nothing stored."""
    sandbox, client = start()
    response = upload(client, data, name)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert sandbox.state()["cvs"] == []


@pytest.mark.parametrize(("data", "content_type"), [
    (PDF, "application/pdf"),
    (DOC, "application/msword"),
    (DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
])
def test_stored_cv_bytes_are_identical_to_the_upload(start: Start, data: bytes, content_type: str):
    """/_sandbox/cvs/{id} gives the exact bytes back; the record has name, size, sha256, type."""
    sandbox, client = start()
    tricky = data + b"\r\n--boundary\r\n\r\n\r" + os.urandom(4096) + b"\n\r\n"
    cv_id = upload(client, tricky, "Lebenslauf \u00e9.bin").json()["cv_id"]
    assert client.get(f"/_sandbox/cvs/{cv_id}").content == tricky
    assert sandbox.state()["cvs"] == [{
        "id": cv_id, "filename": "Lebenslauf \u00e9.bin", "size": len(tricky),
        "sha256": hashlib.sha256(tricky).hexdigest(), "content_type": content_type}]


@pytest.mark.parametrize(("change", "fragment"), [
    ({"first_name": ""}, "first_name"),
    ({"first_name": None}, "first_name"),
    ({"email": None}, "email"),
    ({"email": "not-an-address"}, "email"),
    ({"cv_ids": [999]}, "cv_ids"),
    ({"cv_ids": "501"}, "cv_ids"),
])
def test_applicant_rules(start: Start, change: dict[str, Any], fragment: str):
    """An applicant needs a first name, an email and only known CVs: else 422 naming the field."""
    sandbox, client = start()
    upload(client)
    response = client.post("/api/v1/applicant", json={**applicant_body([501]), **change})
    assert response.status_code == 422
    assert fragment in response.json()["error"]["message"]
    assert sandbox.state()["applicants"] == []


@pytest.mark.parametrize(("change", "fragment"), [
    ({"pipeline_stage_id": 21}, "not in pipeline"),  # a stage of the other pipeline
    ({"pipeline_stage_id": None}, "pipeline_stage_id"),
    ({"job_id": 103}, "not in pipeline"),  # job 103 is in pipeline 2
    ({"job_id": 999}, "job_id"),
    ({"applicant_id": 2001}, "applicant_id"),
    ({"pipeline_id": "p-none"}, "pipeline_id"),
])
def test_candidate_rules(start: Start, change: dict[str, Any], fragment: str):
    """A candidate needs a known job, applicant, the job's own pipeline and one of its stages."""
    sandbox, client = start()
    upload(client)
    client.post("/api/v1/applicant", json=applicant_body([501]))
    body = {"job_id": 101, "applicant_id": 1001, "pipeline_id": "p-eng",
            "pipeline_stage_id": "s-eng-applied", "source_id": 1}
    response = client.post("/api/v1/candidate", json={**body, **change})
    assert response.status_code == 422
    assert fragment in response.json()["error"]["message"]
    assert sandbox.state()["candidates"] == []


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("POST", "/api/v1/candidates/9999/actions", {"comment": "x"}, 404),
    ("DELETE", "/api/v1/candidates/2001/actions/9999", None, 404),
    ("POST", "/api/v1/candidates/2001/actions", {}, 422),
    ("POST", "/api/v1/candidates/2001/actions", {"reserved": "yes"}, 422),
    ("POST", "/api/v1/candidates/2001/actions", {"datetime_action_date": "last tuesday"}, 422),
    ("POST", "/api/v1/candidates/2001/actions", {"pipeline_stage_id": 21}, 422),
    ("GET", "/api/v1/applicant", None, 405),
    ("GET", "/api/v1/nothing-here", None, 404),
])
def test_action_and_routing_errors(start: Start, method: str, path: str, body: Any, status: int):
    """Unknown candidate/action 404, bad action 422, wrong method 405; always a JSON error."""
    sandbox, client = start()
    make_candidate(client)
    response = client.request(method, path, json=body)
    assert response.status_code == status
    assert set(response.json()["error"]) == {"code", "message"}
    assert sandbox.state()["actions"] == []


def test_a_body_that_is_not_json_is_a_400(start: Start):
    """A malformed JSON body is refused with 400 and a JSON error."""
    _, client = start()
    headers = {"Content-Type": "application/json"}
    response = client.post("/api/v1/applicant", content=b"{not json", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


# -- auth, persistence, seed -------------------------------------------------------------


@pytest.mark.parametrize("header", [
    None, "Bearer", "Bearer wrong", f"Token {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"])
def test_token_is_required_when_set(start: Start, header: str | None):
    """With a token, an API request without `Bearer <the token>` is a 401 with a JSON error."""
    _, client = start(token=TOKEN)
    headers = {"Authorization": header} if header else {}
    response = httpx.get(f"{client.base_url}/api/v1/sources/all", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert client.get("/api/v1/sources/all").status_code == 200  # it sends the token
    lower = {"Authorization": f"bearer {TOKEN}"}  # the scheme is case-insensitive (RFC 9110)
    assert httpx.get(f"{client.base_url}/api/v1/sources/all", headers=lower).status_code == 200
    assert httpx.get(f"{client.base_url}/_sandbox/health").json() == {"ok": True}


def test_state_survives_a_restart_and_ids_are_not_reused(start: Start, tmp_path: Path):
    """A second sandbox on the same db keeps every record, is not re-seeded, continues ids."""
    first, client = start()
    make_candidate(client)
    before = first.state()
    first.stop()
    other_seed = tmp_path / "seed.json"
    other_seed.write_text(json.dumps({"jobs": [], "pipelines": [], "sources": []}))
    second, client = start(seed_path=other_seed)
    after = second.state()
    assert {k: v for k, v in after.items() if k != "requests"} == {
        k: v for k, v in before.items() if k != "requests"}
    assert upload(client).json()["cv_id"] == 502


@pytest.mark.parametrize(("content", "fragment"), [
    ("{", "cannot read"),
    ("[]", "top level"),
    ('{"jobs": [], "pipelines": [], "sources": [{"name": "x"}]}', "'sources'"),
    ('{"jobs": [{"id": 1, "pipeline_id": 9}], "pipelines": [], "sources": []}',
     "unknown pipeline_id"),
    ('{"jobs": [], "pipelines": [{"id": 1, "stages": [{"id": 1}]}, {"id": "1", "stages": []}], '
     '"sources": []}', "duplicate"),
])
def test_a_bad_seed_is_a_config_error_naming_the_file(tmp_path: Path, content: str, fragment: str):
    """A seed that is not JSON or not a valid seed refuses to start, naming the file."""
    seed = tmp_path / "bad-seed.json"
    seed.write_text(content)
    with pytest.raises(ConfigError, match=fragment) as caught:
        SandboxATS(tmp_path / "ats.db", seed_path=seed)
    assert "bad-seed.json" in str(caught.value)


# -- faults ------------------------------------------------------------------------------


def test_a_fault_answers_with_its_status_and_retry_after_once(start: Start):
    """A before-commit fault answers 503 + Retry-After, leaves the state alone, is used up."""
    sandbox, client = start()
    upload(client)
    sandbox.add_fault(Fault("POST", "/api/v1/applicant", status=503, retry_after="7"))
    failed = client.post("/api/v1/applicant", json=applicant_body([501]))
    assert (failed.status_code, failed.headers["Retry-After"]) == (503, "7")
    assert failed.json()["error"]["code"] == "injected_fault"
    assert sandbox.state()["applicants"] == []
    assert client.post("/api/v1/applicant", json=applicant_body([501])).status_code == 201
    assert len(sandbox.state()["applicants"]) == 1


def test_an_after_commit_delay_times_the_client_out_but_commits(start: Start):
    """after_commit + delay: the client's read times out, yet the candidate exists."""
    sandbox, client = start()
    sandbox.add_fault(Fault("POST", "/api/v1/candidate", after_commit=True, delay=5))
    with pytest.raises(httpx.ReadTimeout):
        make_candidate(httpx.Client(base_url=client.base_url, timeout=httpx.Timeout(10, read=0.5)))
    assert [c["job_id"] for c in sandbox.state()["candidates"]] == [101]


def test_a_dropped_connection_gives_no_answer_but_commits(start: Start):
    """after_commit + drop: the connection closes without an answer; the applicant exists."""
    sandbox, client = start()
    upload(client)
    sandbox.add_fault(Fault("POST", "/api/v1/applicant", after_commit=True, drop=True))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.post("/api/v1/applicant", json=applicant_body([501]))
    assert [a["email"] for a in sandbox.state()["applicants"]] == ["ada@example.org"]


def test_a_proxy_error_page_is_sent_as_html(start: Start):
    """A 502 fault whose body starts with '<' is sent as text/html, verbatim."""
    sandbox, client = start()
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    sandbox.add_fault(Fault("GET", "/api/v1/sources/all", status=502, body=page))
    response = client.get("/api/v1/sources/all")
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text == page


def test_faults_match_route_templates_and_the_first_match_wins(start: Start):
    """A template matches any id; a forever fault keeps answering; the earlier match is used."""
    sandbox, client = start()
    path = ACTIONS.format(make_candidate(client))
    sandbox.add_fault(Fault("POST", ACTIONS.format("{candidate_id}"), status=429, times=-1))
    sandbox.add_fault(Fault("POST", path, status=500))
    statuses = [client.post(path, json={"comment": "x"}).status_code for _ in range(3)]
    assert statuses == [429, 429, 429]
    sandbox.clear_faults()
    assert client.post(path, json={"comment": "x"}).status_code == 201


def test_faults_can_be_managed_over_http(start: Start):
    """POST /_sandbox/faults adds (422 when invalid), GET lists with uses left, DELETE clears."""
    _, client = start()
    added = client.post("/_sandbox/faults", json={"method": "get", "path": "/api/v1/pipelines/all",
                                                  "status": 503, "times": 2})
    assert added.status_code == 201
    for bad in ({"bogus": 1}, {"times": 0}, {"status": "503"}, {"delay": True}):
        refused = client.post("/_sandbox/faults", json={"method": "GET", "path": "/x", **bad})
        assert refused.status_code == 422, bad
    listed = client.get("/_sandbox/faults").json()["items"]
    assert [(f["method"], f["status"], f["left"]) for f in listed] == [("GET", 503, 2)]
    assert client.get("/api/v1/pipelines/all").status_code == 503
    assert client.get("/_sandbox/faults").json()["items"][0]["left"] == 1
    assert client.delete("/_sandbox/faults").status_code == 204
    assert client.get("/api/v1/pipelines/all").status_code == 200


def test_a_delayed_answer_does_not_block_other_requests(start: Start):
    """While one request sleeps in a fault, another is answered at once."""
    sandbox, client = start()
    sandbox.add_fault(Fault("GET", "/api/v1/sources/all", status=503, delay=1.5))
    slow_status: list[int] = []
    url = f"{client.base_url}/api/v1/sources/all"
    slow = threading.Thread(
        target=lambda: slow_status.append(httpx.get(url, timeout=10).status_code))
    slow.start()
    wait_for(lambda: sandbox.state()["requests"].get("GET /api/v1/sources/all", 0) == 1)  # in its delay
    began = time.monotonic()
    assert client.get("/api/v1/pipelines/all").status_code == 200
    assert time.monotonic() - began < 0.5
    assert slow.is_alive()
    slow.join()
    assert slow_status == [503]


def test_stop_returns_promptly_while_a_handler_sleeps(start: Start):
    """stop() wakes a handler sleeping in a 30 s fault; its client sees the connection close."""
    sandbox, client = start()
    sandbox.add_fault(Fault("GET", "/api/v1/sources/all", delay=30))
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            httpx.get(f"{client.base_url}/api/v1/sources/all", timeout=60)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    wait_for(lambda: sandbox.state()["requests"].get("GET /api/v1/sources/all", 0) == 1)  # in its delay
    began = time.monotonic()
    sandbox.stop()
    assert time.monotonic() - began < 2
    caller.join(5)
    assert not caller.is_alive()
    assert len(outcome) == 1


def test_serve_forever_stops_cleanly_on_sigterm(tmp_path: Path):
    """The blocking server (the CLI's) answers, then exits 0 promptly on SIGTERM."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = ("import sys; from daemon.sandbox import SandboxATS; "
            "SandboxATS(sys.argv[1]).serve_forever('127.0.0.1', int(sys.argv[2]))")
    server = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "ats.db"), str(port)],
                              cwd=Path(__file__).resolve().parent.parent)
    try:
        assert wait_healthy(f"http://127.0.0.1:{port}/_sandbox/health")
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=5) == 0
    finally:
        server.kill()
        server.wait()




# -- views -------------------------------------------------------------------------------


def test_requests_are_counted_per_route_including_faulted_ones(start: Start):
    """Counts are per method and route template, and include requests a fault answered."""
    sandbox, client = start()
    sandbox.add_fault(Fault("POST", "/api/v1/jobs/search", status=503))
    for _ in range(3):
        client.post("/api/v1/jobs/search", json={"query": ""})
    candidate_id = make_candidate(client)
    client.post(ACTIONS.format(candidate_id), json={"comment": "a"})
    client.post(ACTIONS.format(candidate_id), json={"comment": "b"})
    client.get("/_sandbox/state")
    assert client.get("/_sandbox/state").json()["requests"] == {
        "POST /api/v1/jobs/search": 3, "POST /api/v1/upload-cv-file": 1,
        "POST /api/v1/applicant": 1, "POST /api/v1/candidate": 1,
        "POST /api/v1/candidates/{id}/actions": 2}


def test_the_page_escapes_attacker_text(start: Start):
    """Names, comments and file names are HTML-escaped on GET /; scripts are forbidden by CSP."""
    _, client = start()
    cv_id = upload(client, PDF, '<img src=x onerror=alert(1)>.pdf').json()["cv_id"]
    body = applicant_body([cv_id], first_name="<script>alert(1)</script>", last_name="O'Brien & Co")
    applicant_id = client.post("/api/v1/applicant", json=body).json()["id"]
    candidate_id = client.post("/api/v1/candidate", json={
        "job_id": 101, "applicant_id": applicant_id, "pipeline_id": "p-eng",
        "pipeline_stage_id": "s-eng-applied"}).json()["id"]
    client.post(ACTIONS.format(candidate_id), json={"comment": "</td><script>x()</script>"})
    page = client.get("/")
    assert page.headers["Content-Type"].startswith("text/html")
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert "<script>" not in page.text
    assert "<img" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "O&#x27;Brien &amp; Co" in page.text
    assert "&lt;/td&gt;&lt;script&gt;x()&lt;/script&gt;" in page.text


@pytest.mark.parametrize("bad", [{"status": 99}, {"delay": -1}, {"times": 0}, {"path": "api"},
                                 {"method": "GE T"}, {"retry_after": "1\r\nX-Injected: 1"}])
def test_fault_rejects_invalid_values(bad: dict[str, Any]):
    """A Fault with an impossible status, delay, times, path, method or header cannot be made."""
    with pytest.raises(ValueError, match="invalid fault"):
        Fault(**{"method": "GET", "path": "/api", **bad})


# -- the views need the token --------------------------------------------------------------


VIEWS = [("GET", "/"), ("GET", "/_sandbox/state"), ("GET", "/_sandbox/cvs/501"),
         ("GET", "/_sandbox/faults"), ("POST", "/_sandbox/faults"), ("DELETE", "/_sandbox/faults")]


@pytest.mark.parametrize(("method", "path"), VIEWS)
def test_the_views_need_the_token_when_one_is_set(start: Start, method: str, path: str):
    """With a token, the page, state, CVs and fault controls answer 401 without it, and work
    with the bearer token (or HTTP Basic with the token as password, for a browser)."""
    sandbox, client = start(token=TOKEN)
    upload(client)
    body = {"method": "GET", "path": "/x"} if method == "POST" else None
    bare = httpx.request(method, f"{client.base_url}{path}", json=body)
    assert bare.status_code == 401
    assert "Basic" in " ".join(bare.headers.get_list("WWW-Authenticate"))
    assert "ada@example.org" not in bare.text and "%PDF" not in bare.text
    wrong = httpx.request(method, f"{client.base_url}{path}", json=body, auth=("x", "wrong"))
    assert wrong.status_code == 401
    assert client.request(method, path, json=body).status_code in (200, 201, 204)
    basic = httpx.request(method, f"{client.base_url}{path}", json=body, auth=("admin", TOKEN))
    assert basic.status_code in (200, 201, 204)
    assert httpx.get(f"{client.base_url}/_sandbox/health").status_code == 200
    assert sandbox.auth_headers() == {"Authorization": f"Bearer {TOKEN}"}


def test_the_sandbox_object_reaches_its_views_with_its_token(start: Start):
    """Tests' helpers read state, CVs and faults through the object, which holds the token."""
    sandbox, client = start(token=TOKEN)
    cv_id = upload(client).json()["cv_id"]
    assert sandbox.cv_file(cv_id) == PDF
    assert sandbox.cv_file(999) is None
    view = httpx.get(f"{client.base_url}/_sandbox/cvs/{cv_id}", headers=sandbox.auth_headers())
    assert view.content == PDF
    assert [cv["id"] for cv in sandbox.state()["cvs"]] == [cv_id]


def test_without_a_token_the_views_are_open(start: Start):
    """A sandbox without a token (the demo's) serves its page to anyone on the loopback."""
    sandbox, client = start()
    assert httpx.get(f"{client.base_url}/").status_code == 200
    assert sandbox.auth_headers() == {}


def test_the_state_file_is_private_whatever_the_umask(tmp_path: Path):
    """The sandbox's database holds CV bytes: created 0600 even under umask 000."""
    old = os.umask(0)
    try:
        sandbox = SandboxATS(tmp_path / "new" / "ats.db")
        sandbox.state()
        modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "new").iterdir()}
        sandbox.stop()
    finally:
        os.umask(old)
    assert modes == {"ats.db": 0o600, "ats.db-wal": 0o600, "ats.db-shm": 0o600}
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700


# -- in process: an httpx transport over the same handling, no socket ------------------------


@pytest.fixture
def unstarted(tmp_path: Path) -> Iterator[SandboxATS]:
    """A sandbox that is never started: reached only through its transport."""
    sandbox = SandboxATS(tmp_path / "ats.db", token=TOKEN)
    yield sandbox
    sandbox.stop()


def in_process_client(sandbox: SandboxATS, *, timeout: float = 5.0, attempts: int = 1,
                      sleeps: list[float] | None = None) -> AtsClient:
    waits = sleeps if sleeps is not None else []
    return AtsClient("http://sandbox.invalid", TOKEN, timeout=timeout,
                     transport=sandbox.transport(sleep=waits.append),
                     retry=RetryPolicy(attempts=attempts), sleep=waits.append)


def test_the_transport_runs_the_seven_calls_in_process(unstarted: SandboxATS):
    """AtsClient over `transport()` runs steps 1-7 (and 7') against a sandbox never started."""
    with in_process_client(unstarted) as client:
        assert [job.title for job in client.search_jobs("python")] == [
            "Senior Python Developer", "Python Developer"]
        assert [p.id.wire for p in client.pipelines()] == ["p-eng", 2]
        assert [s.name for s in client.sources()] == ["Email", "LinkedIn", "Referral"]
        cv = client.upload_cv("cv.pdf", PDF, "application/pdf")
        assert (cv.cv_id.wire, cv.parsed) == (501, {"email": "ada@example.org"})
        applicant = client.create_applicant(first_name="Ada", last_name="Lovelace",
                                            email="ada@example.org", cv_ids=[cv.cv_id],
                                            source_id=1)
        candidate = client.create_candidate(job_id=103, applicant_id=applicant, pipeline_id=2,
                                            stage_id=21, source_id=1)
        action = client.add_comment(candidate, "From jobs@")
    assert unstarted.base_url is None
    raw = httpx.Client(transport=unstarted.transport(), base_url="http://sandbox.invalid",
                       headers=unstarted.auth_headers())
    deleted = raw.delete(f"/api/v1/candidates/{candidate}/actions/{action}")
    assert deleted.status_code == 204
    state = unstarted.state()
    assert [(a["id"], a["cv_ids"]) for a in state["applicants"]] == [(1001, [501])]
    assert [(c["id"], c["job_id"]) for c in state["candidates"]] == [(2001, 103)]
    assert state["actions"] == []
    assert unstarted.cv_file(501) == PDF
    assert state["requests"]["POST /api/v1/candidate"] == 1


def test_the_transport_checks_the_token(unstarted: SandboxATS):
    """The same rules in process: a wrong token is a 401, the views need it too."""
    raw = httpx.Client(transport=unstarted.transport(), base_url="http://sandbox.invalid")
    assert raw.get("/api/v1/sources/all").status_code == 401
    assert raw.get("/_sandbox/state").status_code == 401
    assert raw.get("/_sandbox/health").json() == {"ok": True}


def test_a_fault_before_commit_in_process(unstarted: SandboxATS):
    """A 503 before commit is sent again (Retry-After honoured, not really waited); a drop
    before commit is a lost answer to the client, and nothing was created."""
    unstarted.add_fault(Fault("POST", "/api/v1/upload-cv-file", status=503, retry_after="4"))
    sleeps: list[float] = []
    client = in_process_client(unstarted, attempts=2, sleeps=sleeps)
    assert client.upload_cv("cv.pdf", PDF, "application/pdf").cv_id.wire == 501
    assert sleeps == [4.0]
    unstarted.add_fault(Fault("POST", "/api/v1/applicant", drop=True))
    with pytest.raises(OutcomeUnknown):
        client.create_applicant(first_name="Ada", last_name="L", email="ada@example.org",
                                cv_ids=[501], source_id=1)
    assert unstarted.state()["applicants"] == []
    assert unstarted.state()["requests"]["POST /api/v1/upload-cv-file"] == 2


def test_a_lost_answer_after_commit_in_process(unstarted: SandboxATS):
    """An after-commit delay past the client's timeout is a ReadTimeout after the work (the
    create is held as unknown, yet it exists), at once; an after-commit drop likewise."""
    unstarted.add_fault(Fault("POST", "/api/v1/upload-cv-file", after_commit=True, delay=30))
    unstarted.add_fault(Fault("POST", "/api/v1/applicant", after_commit=True, drop=True))
    client = in_process_client(unstarted, timeout=1.0, attempts=3)
    started = time.monotonic()
    assert client.upload_cv("cv.pdf", PDF, "application/pdf").cv_id.wire == 502  # repeated
    with pytest.raises(OutcomeUnknown):
        client.create_applicant(first_name="Ada", last_name="L", email="ada@example.org",
                                cv_ids=[502], source_id=1)
    assert time.monotonic() - started < 1.0
    state = unstarted.state()
    assert [cv["id"] for cv in state["cvs"]] == [501, 502]  # the first upload was stored
    assert [a["cv_ids"] for a in state["applicants"]] == [[502]]
    raw = httpx.Client(transport=unstarted.transport(), base_url="http://sandbox.invalid",
                       headers=unstarted.auth_headers(), timeout=1.0)
    unstarted.add_fault(Fault("POST", "/api/v1/candidate", after_commit=True, delay=30))
    with pytest.raises(httpx.ReadTimeout):
        raw.post("/api/v1/candidate", json={"job_id": 103, "applicant_id": 1001,
                                            "pipeline_id": 2, "pipeline_stage_id": 21})
    assert len(unstarted.state()["candidates"]) == 1


def test_a_short_delay_goes_to_the_injected_sleep(unstarted: SandboxATS):
    """A delay within the timeout is handed to `sleep` and then answered."""
    unstarted.add_fault(Fault("GET", "/api/v1/sources/all", after_commit=True, delay=0.25))
    waits: list[float] = []
    raw = httpx.Client(transport=unstarted.transport(sleep=waits.append), timeout=1.0,
                       base_url="http://sandbox.invalid", headers=unstarted.auth_headers())
    assert raw.get("/api/v1/sources/all").status_code == 200
    assert waits == [0.25]


def test_the_transport_answers_503_after_stop(unstarted: SandboxATS):
    """Like the server, a stopped sandbox refuses what is still sent to it."""
    raw = httpx.Client(transport=unstarted.transport(), base_url="http://sandbox.invalid",
                       headers=unstarted.auth_headers())
    unstarted.stop()
    assert raw.get("/api/v1/sources/all").status_code == 503
