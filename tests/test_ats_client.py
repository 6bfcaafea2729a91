"""AtsClient against httpx.MockTransport (and one real local TLS server): requests, paging,
error translation, and the token never leaking."""

from __future__ import annotations

import json
import logging
import random
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from daemon import __version__
from daemon.ats.client import MAX_COMMENT_CHARS, MAX_PAGES, AtsClient
from daemon.ats.models import AtsId
from daemon.ats.retry import RetryPolicy
from daemon.errors import (
    AtsInboxError,
    AtsMisdirected,
    AtsRateLimited,
    AtsRejected,
    AtsUnavailable,
    ConfigError,
    OutcomeUnknown,
)
from tests.atscalls import ALL_CALLS

TOKEN = "tok-5ecret-7f3a9b"
BASE = "https://acme.skailer.test"
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that records requests and answers from a function."""

    def __init__(self, answer: Handler):
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]


def client_for(answer: Handler, *, attempts: int = 1, base: str = BASE,
               **kwargs: Any) -> tuple[AtsClient, Recorder]:
    recorder = Recorder(answer)
    client = AtsClient(base, TOKEN, transport=httpx.MockTransport(recorder),
                       retry=RetryPolicy(attempts=attempts), sleep=lambda _s: None,
                       rng=random.Random(0), **kwargs)
    return client, recorder


def reply(body: Any, status: int = 200, **headers: str) -> Handler:
    return lambda _request: httpx.Response(status, json=body, headers=headers)


# -- requests -------------------------------------------------------------------------------


def test_requests_carry_auth_user_agent_and_accept():
    """Every request has the bearer token, the ats-inbox User-Agent and asks for JSON."""
    client, rec = client_for(reply([]))
    client.sources()
    headers = rec.requests[0].headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["User-Agent"] == f"ats-inbox/{__version__}"
    assert headers["Accept"] == "application/json"


def test_auth_header_and_scheme_are_configurable():
    """The header name and scheme come from configuration; no scheme sends the bare token."""
    client, rec = client_for(reply([]), auth_header="X-Api-Key", auth_scheme="")
    client.sources()
    assert rec.requests[0].headers["X-Api-Key"] == TOKEN
    assert "Authorization" not in rec.requests[0].headers


def test_base_url_path_prefix_is_kept():
    """A base URL with a path puts every call under that path."""
    client, rec = client_for(reply([]), base="https://host.test/skailer")
    client.pipelines()
    assert str(rec.requests[0].url) == "https://host.test/skailer/api/v1/pipelines/all"


def test_directory_reads_use_the_contract_paths():
    """Pipelines and sources are GETs of /api/v1/pipelines/all and /api/v1/sources/all."""
    client, rec = client_for(reply({"data": [{"id": 1, "name": "Email"}]}))
    sources = client.sources()
    client.pipelines()
    assert [(r.method, r.url.path) for r in rec.requests] == [
        ("GET", "/api/v1/sources/all"), ("GET", "/api/v1/pipelines/all")]
    assert [(s.id.wire, s.name) for s in sources] == [(1, "Email")]


def test_pipelines_are_read_with_stages():
    """Pipelines come back with their stages; an unreadable pipeline is skipped."""
    body = {"items": [{"id": 1, "name": "Default", "stages": [{"id": 10, "name": "New"}]},
                      {"name": "no id"}]}
    client, _ = client_for(reply(body))
    (pipeline,) = client.pipelines()
    assert pipeline.first_stage().id == AtsId(10)


# -- search and paging ----------------------------------------------------------------------


def _job(n: int) -> dict[str, Any]:
    return {"id": n, "title": f"Job {n}", "pipeline_id": 1}


def test_search_sends_query_page_and_per_page():
    """The search is a POST with the query, page 1 and per_page 100."""
    client, rec = client_for(reply([_job(1)]))
    jobs = client.search_jobs("engineer")
    assert (rec.requests[0].method, rec.requests[0].url.path) == ("POST", "/api/v1/jobs/search")
    assert rec.bodies() == [{"query": "engineer", "page": 1, "per_page": 100}]
    assert [job.title for job in jobs] == ["Job 1"]


def test_search_follows_page_and_total():
    """With page/total, pages are requested until `total` jobs were seen."""
    def answer(request: httpx.Request) -> httpx.Response:
        page = json.loads(request.content)["page"]
        ids = range((page - 1) * 100 + 1, min(page * 100, 230) + 1)
        return httpx.Response(200, json={"items": [_job(i) for i in ids], "page": page,
                                         "per_page": 100, "total": 230})

    client, rec = client_for(answer)
    jobs = client.search_jobs()
    assert [b["page"] for b in rec.bodies()] == [1, 2, 3]
    assert len(jobs) == 230
    assert len({job.id for job in jobs}) == 230


def test_search_follows_next_page_numbers():
    """`next` as a page number is requested until it is null."""
    pages = {1: ([_job(1)], 2), 2: ([_job(2)], 3), 3: ([_job(3)], None)}

    def answer(request: httpx.Request) -> httpx.Response:
        items, nxt = pages[json.loads(request.content)["page"]]
        return httpx.Response(200, json={"data": items, "next": nxt})

    client, _ = client_for(answer)
    assert [job.id.wire for job in client.search_jobs()] == [1, 2, 3]


def test_search_follows_a_next_url_on_its_own_origin_only():
    """A `next` URL is followed by path and query on the configured host, never another one."""
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor") == "c2":
            return httpx.Response(200, json={"results": [_job(2)], "next": None})
        return httpx.Response(200, json={"results": [_job(1)],
                                         "next": "http://evil.test/api/v1/jobs/search?cursor=c2"})

    client, rec = client_for(answer)
    assert [job.id.wire for job in client.search_jobs()] == [1, 2]
    assert [r.url.host for r in rec.requests] == ["acme.skailer.test"] * 2
    assert rec.requests[1].url.scheme == "https"


def test_search_of_a_bare_full_page_asks_again_and_stops_on_repeats():
    """A bare list of 100 may hide more pages; a server that ignores `page` repeats itself,
    and a page without new jobs ends the search."""
    client, rec = client_for(reply([_job(i) for i in range(100)]))
    assert len(client.search_jobs()) == 100
    assert len(rec.requests) == 2


def test_search_is_bounded():
    """A server that always says there is a next page is asked at most MAX_PAGES times."""
    def answer(request: httpx.Request) -> httpx.Response:
        page = json.loads(request.content)["page"]
        return httpx.Response(200, json={"items": [_job(page)], "next": page + 1})

    client, rec = client_for(answer)
    assert len(client.search_jobs()) == MAX_PAGES
    assert len(rec.requests) == MAX_PAGES


def test_search_skips_unreadable_jobs():
    """A job without an id or a pipeline is left out; the others are kept."""
    body = [_job(1), {"title": "no id", "pipeline_id": 1}, {"id": 3, "title": "no pipeline"}]
    client, _ = client_for(reply(body))
    assert [job.id.wire for job in client.search_jobs()] == [1]


# -- creates --------------------------------------------------------------------------------


def test_upload_cv_is_multipart_with_field_file():
    """The CV goes as multipart field `file` with its name and type; the cv_id comes back."""
    client, rec = client_for(reply({"cv_id": "cv-9", "parsed": {"email": "a@b.test"}}, 201))
    cv = client.upload_cv("resume.pdf", b"%PDF-1.7 body", "application/pdf")
    request = rec.requests[0]
    assert (request.method, request.url.path) == ("POST", "/api/v1/upload-cv-file")
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="file"; filename="resume.pdf"' in request.content
    assert b"Content-Type: application/pdf" in request.content
    assert b"%PDF-1.7 body" in request.content
    assert cv.cv_id == AtsId("cv-9")
    assert cv.parsed["email"] == "a@b.test"


def test_create_applicant_sends_ids_as_received():
    """cv_ids and source_id go back with the JSON types the ATS gave them."""
    client, rec = client_for(reply({"data": {"id": 41}}, 201))
    applicant = client.create_applicant(first_name="Ada", last_name="Lovelace",
                                        email="ada@example.test", cv_ids=[AtsId(5), AtsId("cv-6")],
                                        source_id=AtsId("7"))
    assert (rec.requests[0].method, rec.requests[0].url.path) == ("POST", "/api/v1/applicant")
    assert rec.bodies() == [{"first_name": "Ada", "last_name": "Lovelace",
                             "email": "ada@example.test", "source_id": "7", "cv_ids": [5, "cv-6"]}]
    assert applicant == AtsId(41)


def test_create_applicant_sends_optional_fields_when_given():
    """middle_name and phone are sent only when they have a value."""
    client, rec = client_for(reply({"applicant_id": "a-1"}))
    client.create_applicant(first_name="A", last_name="B", email="a@b.test", cv_ids=[1],
                            source_id=2, middle_name="C", phone="+47 123")
    assert rec.bodies()[0]["middle_name"] == "C"
    assert rec.bodies()[0]["phone"] == "+47 123"


def test_create_candidate_sends_pipeline_stage_id_and_raw_id_types():
    """The candidate request carries job, applicant, pipeline, pipeline_stage_id and source,
    each with the JSON type received from the ATS."""
    client, rec = client_for(reply({"candidate_id": 99}, 201))
    candidate = client.create_candidate(job_id=AtsId(12), applicant_id=AtsId("a-1"),
                                        pipeline_id=AtsId(3), stage_id=AtsId("30"),
                                        source_id=AtsId(7))
    assert (rec.requests[0].method, rec.requests[0].url.path) == ("POST", "/api/v1/candidate")
    assert rec.bodies() == [{"job_id": 12, "applicant_id": "a-1", "pipeline_id": 3,
                             "pipeline_stage_id": "30", "source_id": 7}]
    assert candidate.wire == 99


def test_add_comment_posts_a_plain_text_action():
    """The comment is an action on the candidate: control characters removed, newlines kept."""
    client, rec = client_for(reply({"id": "act-1"}))
    action = client.add_comment(AtsId("c/1"), "From: mail\r\nSubject: \x1b[31mhi\x00")
    assert rec.requests[0].url.raw_path == b"/api/v1/candidates/c%2F1/actions"
    assert rec.bodies() == [{"comment": "From: mail\nSubject: [31mhi"}]
    assert action == AtsId("act-1")


def test_add_comment_is_capped():
    """A very long comment is cut to MAX_COMMENT_CHARS."""
    client, rec = client_for(reply({"id": 1}))
    client.add_comment(5, "x" * (MAX_COMMENT_CHARS + 50))
    assert len(rec.bodies()[0]["comment"]) == MAX_COMMENT_CHARS


# -- error translation ----------------------------------------------------------------------

CALLS = ALL_CALLS
SAFE = ("search", "pipelines", "sources", "upload")
CREATES = ("applicant", "candidate", "comment")


def raising(exc_type: type[httpx.TransportError]) -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)
    return answer


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("exc_type", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_nothing_sent_is_unavailable_for_every_call(call, exc_type):
    """A connect-time failure is AtsUnavailable for any call: nothing reached the ATS."""
    client, _ = client_for(raising(exc_type))
    with pytest.raises(AtsUnavailable) as info:
        CALLS[call](client)
    assert isinstance(info.value.__cause__, exc_type)


LOST = [httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError, httpx.ReadError]


@pytest.mark.parametrize("call", SAFE)
@pytest.mark.parametrize("exc_type", LOST)
def test_lost_answer_on_a_safe_call_is_unavailable(call, exc_type):
    """A lost answer on a read or the CV upload is AtsUnavailable: repeating is harmless."""
    client, _ = client_for(raising(exc_type))
    with pytest.raises(AtsUnavailable):
        CALLS[call](client)


@pytest.mark.parametrize("call", CREATES)
@pytest.mark.parametrize("exc_type", LOST)
def test_lost_answer_on_a_create_is_outcome_unknown(call, exc_type):
    """A lost answer on applicant/candidate/comment is OutcomeUnknown, not transient."""
    client, _ = client_for(raising(exc_type))
    with pytest.raises(OutcomeUnknown) as info:
        CALLS[call](client)
    assert not isinstance(info.value, AtsUnavailable)


@pytest.mark.parametrize("call", CALLS)
def test_429_is_rate_limited_with_retry_after_seconds(call):
    """429 is AtsRateLimited carrying the Retry-After seconds."""
    client, _ = client_for(reply({"error": {"message": "slow down"}}, 429, **{"Retry-After": "7"}))
    with pytest.raises(AtsRateLimited) as info:
        CALLS[call](client)
    assert info.value.retry_after == 7.0
    assert "slow down" in str(info.value)


def test_429_with_a_past_http_date_waits_zero():
    """A Retry-After HTTP-date in the past means no wait, not a negative one."""
    client, _ = client_for(reply({}, 429, **{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    with pytest.raises(AtsRateLimited) as info:
        client.sources()
    assert info.value.retry_after == 0.0


def test_429_without_retry_after_has_none():
    """A 429 without Retry-After leaves the wait to the backoff."""
    client, _ = client_for(reply({}, 429))
    with pytest.raises(AtsRateLimited) as info:
        client.sources()
    assert info.value.retry_after is None


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(500, None), (502, None), (503, 12.0), (599, None)],
)
@pytest.mark.parametrize("call", SAFE)
def test_5xx_is_unavailable(call, status, retry_after):
    """5xx on a read or the upload is AtsUnavailable; only 503 passes its Retry-After on.
    (On a create only 429 and 503 mean "not done": tests/test_ats_outcomes.py.)"""
    client, _ = client_for(lambda _r: httpx.Response(
        status, text="<html><body>Bad Gateway</body></html>",
        headers={"Content-Type": "text/html", "Retry-After": "12"}))
    with pytest.raises(AtsUnavailable) as info:
        CALLS[call](client)
    assert not isinstance(info.value, AtsRateLimited)
    assert info.value.retry_after == retry_after
    assert "<html" not in str(info.value)


@pytest.mark.parametrize("call", CREATES)
def test_504_on_a_create_is_outcome_unknown(call):
    """A gateway timeout means the request went upstream and its answer was lost."""
    client, _ = client_for(reply({}, 504))
    with pytest.raises(OutcomeUnknown):
        CALLS[call](client)


@pytest.mark.parametrize("call", SAFE)
def test_504_on_a_safe_call_is_unavailable(call):
    """A gateway timeout on a read or upload is just transient."""
    client, _ = client_for(reply({}, 504))
    with pytest.raises(AtsUnavailable):
        CALLS[call](client)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": {"code": "invalid", "message": "email is invalid"}}, "email is invalid"),
        ({"error": {"code": "validation_error"}}, "validation_error"),
        ({"error": "no such job"}, "no such job"),
        ({"message": "Not allowed"}, "Not allowed"),
        ({"detail": "Bad\n\x07input"}, "Bad input"),
    ],
    ids=["error.message", "error.code", "error-string", "message", "detail-cleaned"],
)
def test_4xx_is_rejected_with_the_json_message(body, expected):
    """Other 4xx are AtsRejected with the status and a short message from the JSON error."""
    client, _ = client_for(reply(body, 422))
    with pytest.raises(AtsRejected) as info:
        CALLS["candidate"](client)
    assert info.value.status == 422
    assert str(info.value).endswith(f": {expected}")


@pytest.mark.parametrize(("call", "status"), [
    *((call, status) for call in CALLS for status in (401, 403)),
    *((call, status) for call in ("upload", *CREATES) for status in (400, 404, 409)),
])
def test_4xx_html_body_never_shows(call, status):
    """A 4xx with an HTML body is AtsRejected and says nothing of the page. (On a directory
    read, an HTML page other than 401/403 is AtsMisdirected: test_ats_misdirected.py.)"""
    html = "<!DOCTYPE html><html><title>Forbidden</title><body>nginx</body></html>"
    client, _ = client_for(lambda _r: httpx.Response(status, text=html,
                                                     headers={"Content-Type": "text/html"}))
    with pytest.raises(AtsRejected) as info:
        CALLS[call](client)
    assert info.value.status == status
    assert "nginx" not in str(info.value)
    assert "<" not in str(info.value)


def test_long_error_messages_are_cut():
    """A server error message is cut to a short line."""
    client, _ = client_for(reply({"error": {"message": "x" * 5000}}, 400))
    with pytest.raises(AtsRejected) as info:
        client.sources()
    assert len(str(info.value)) < 300


def test_a_redirect_is_not_followed_and_is_misdirected():
    """A 3xx is not followed (the token stays home) and is reported as AtsMisdirected."""
    client, rec = client_for(lambda _r: httpx.Response(302, headers={"Location": "https://x.test/"}))
    with pytest.raises(AtsMisdirected) as info:
        client.sources()
    assert "302" in str(info.value) and "ats.base_url" in str(info.value)
    assert len(rec.requests) == 1


NOT_JSON = lambda _r: httpx.Response(200, text="<html>ok</html>")  # noqa: E731
NO_ID = reply({"ok": True, "name": "x"}, 201)
NO_CONTENT = lambda _r: httpx.Response(204)  # noqa: E731


@pytest.mark.parametrize("answer", [NOT_JSON, NO_ID, NO_CONTENT], ids=["not-json", "no-id", "204"])
@pytest.mark.parametrize("call", CREATES)
def test_unreadable_2xx_on_a_create_is_outcome_unknown(call, answer):
    """A create answered 2xx without a readable id may have happened: OutcomeUnknown."""
    client, _ = client_for(answer)
    with pytest.raises(OutcomeUnknown):
        CALLS[call](client)


@pytest.mark.parametrize(
    ("call", "answer"),
    [("search", NOT_JSON), ("pipelines", NOT_JSON), ("sources", NO_ID), ("search", NO_ID),
     ("upload", NOT_JSON), ("upload", NO_ID), ("pipelines", NO_CONTENT)],
)
def test_unreadable_2xx_on_a_safe_call_is_unavailable(call, answer):
    """A read or upload answered 2xx but unreadable is AtsUnavailable (try again later)."""
    client, _ = client_for(answer)
    with pytest.raises(AtsUnavailable):
        CALLS[call](client)


def test_bad_ca_bundle_is_a_config_error(tmp_path):
    """A CA bundle that cannot be read is a ConfigError naming ats.ca_file."""
    with pytest.raises(ConfigError) as info:
        AtsClient(BASE, TOKEN, verify=str(tmp_path / "missing.pem"))
    assert info.value.key == "ats.ca_file"


# -- TLS against a real local server -------------------------------------------------------


class _Sources(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'[{"id": 1, "name": "Email"}]'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback with a fresh self-signed certificate."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = _QuietServer(("127.0.0.1", 0), _Sources)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert
    server.shutdown()
    server.server_close()


def test_untrusted_certificate_is_unavailable_and_says_so(tls_server):
    """A server certificate that is not trusted is AtsUnavailable saying so."""
    url, _ = tls_server
    with AtsClient(url, TOKEN, retry=RetryPolicy(attempts=1), timeout=5) as client, \
            pytest.raises(AtsUnavailable) as info:
        client.sources()
    assert "certificate was not trusted" in str(info.value)


def test_ca_bundle_makes_the_certificate_trusted(tls_server):
    """With the server's CA bundle as `verify`, the same server is trusted."""
    url, cert = tls_server
    policy = RetryPolicy(attempts=1)
    with AtsClient(url, TOKEN, verify=str(cert), retry=policy, timeout=5) as client:
        assert [s.name for s in client.sources()] == ["Email"]


def test_plain_connect_refusal_does_not_blame_the_certificate():
    """A refused connection is AtsUnavailable without any certificate talk."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with AtsClient(f"https://127.0.0.1:{port}", TOKEN, retry=RetryPolicy(attempts=1),
                   timeout=5) as client, pytest.raises(AtsUnavailable) as info:
        client.sources()
    assert "certificate" not in str(info.value)


# -- the token never leaks ------------------------------------------------------------------

LEAK_SCENARIOS: list[tuple[str, Handler]] = [
    ("search", raising(httpx.ConnectError)),
    ("applicant", raising(httpx.ReadTimeout)),
    ("upload", raising(httpx.RemoteProtocolError)),
    ("sources", reply({"error": {"message": f"bad token {TOKEN}"}}, 401)),
    ("candidate", reply({"message": f"Bearer {TOKEN} is not allowed"}, 403)),
    ("comment", reply({"error": TOKEN}, 429, **{"Retry-After": "1"})),
    ("pipelines", reply({"detail": TOKEN}, 503)),
    ("candidate", lambda _r: httpx.Response(200, text=f"token={TOKEN}")),
    ("search", reply({"items": [{"title": TOKEN}]})),
]


@pytest.mark.parametrize(("call", "answer"), LEAK_SCENARIOS)
def test_token_never_in_exceptions_or_logs(call, answer, caplog):
    """Neither exception messages nor any log record (at DEBUG) contain the token, even when
    the server echoes it."""
    caplog.set_level(logging.DEBUG)
    client, _ = client_for(answer, attempts=2)
    error: AtsInboxError | None = None
    try:
        CALLS[call](client)
    except AtsInboxError as exc:
        error = exc
    assert TOKEN not in f"{error} {error!r}"
    assert caplog.records, "the scenario should have logged something"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in repr(record.__dict__)
    assert TOKEN not in repr(client)


@pytest.mark.parametrize(("token", "server_says", "shown"), [
    ("t", "the tax id is not valid", "the tax id is not valid"),
    ("e", "email: e-mail address expected", "email: e-mail address expected"),
    ("t", "bad token t here", "bad token [redacted] here"),
    ("abc", "key=abc; abcdef is fine", "key=[redacted]; abcdef is fine"),
    (TOKEN, f"token x{TOKEN}y was refused", "token x[redacted]y was refused"),
])
def test_a_short_token_does_not_mangle_server_messages(token, server_says, shown):
    """A token of 8+ characters is redacted wherever it occurs; a shorter one only as a word,
    so a token like "t" leaves the server's message readable."""
    client = AtsClient(BASE, token, transport=httpx.MockTransport(reply({"message": server_says}, 422)),
                       retry=RetryPolicy(attempts=1))
    with pytest.raises(AtsRejected) as info:
        client.sources()
    assert str(info.value) == f"ATS list sources: refused (422): {shown}"
