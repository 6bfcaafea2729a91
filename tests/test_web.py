"""The review page through Starlette's test client over an in-process world (sandbox ATS, real store)."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from daemon.store import people
from daemon.web.access import Access
from tests.inprocess import FakeClock, InProcessWorld
from tests.webworld import PASSWORD, SCRIPT_HTML, SCRIPT_SUBJECT, HeldMail, add_people, review_app, set_aside_mail

ACCOUNTS = Access()


@pytest.fixture
def world(tmp_path):
    w = InProcessWorld(tmp_path)
    add_people(w)
    yield w
    w.close()


@pytest.fixture
def held(world):
    return HeldMail(world)


def client_for(world, held, access=ACCOUNTS, **options) -> TestClient:
    return TestClient(review_app(world, held, access, **options), base_url="http://127.0.0.1",
                      client=("127.0.0.1", 50000))


def token(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def logged_in(world, held, name="rita", **options) -> tuple[TestClient, str]:
    client = client_for(world, held, **options)
    form = client.get("/login").text
    answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": token(form), "next": "/"})
    assert answer.status_code == 200, answer.text
    return client, token(answer.text)


def test_the_queue_needs_a_login_and_the_login_a_right_password(world, held):
    """Without a session the queue sends to the login; a wrong password is refused and logs nobody in."""
    client = client_for(world, held)
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
    form = client.get("/login").text
    wrong = client.post("/login", data={"name": "rita", "password": "not it at all", "csrf": token(form)})
    assert wrong.status_code == 401
    assert client.get("/", follow_redirects=False).status_code == 303


def test_the_queue_shows_set_aside_mail_with_name_subject_files_reason_and_wait(world, held):
    """A set-aside mail is listed with the sender's name and address, subject, file, full reason and wait."""
    record = set_aside_mail(world)
    client, _ = logged_in(world, held)
    page = client.get("/").text
    for shown in ("Chef Dupont", "chef@example.org", "Head Chef", "cv.pdf", record.reason, f"#{record.id}"):
        assert shown in page


@pytest.mark.parametrize(("query", "listed"), [
    ("status=review", True), ("status=submitted", False), ("sender=dupont", True), ("sender=nobody", False),
    ("q=head+chef", True), ("q=plumber", False), ("since=2999-01-01", False), ("until=1999-01-01", False),
])
def test_the_queue_filters(world, held, query, listed):
    """Filters by status, sender, free text and date narrow the queue."""
    set_aside_mail(world)
    client, _ = logged_in(world, held)
    assert ("chef@example.org" in client.get(f"/?{query}").text) is listed


def test_the_queue_pages_thousands(world, held):
    """Fifty a page, with a link to the next."""
    for n in range(55):
        world.store.add_message(_key(n), sha256=f"{n:064d}", size=1, status="review", reason=f"r{n}")
    client, _ = logged_in(world, held)
    first = client.get("/").text
    assert "55 message(s); page 1 of 2" in first and 'id="next-page"' in first
    assert "page 2 of 2" in client.get("/?page=2").text


def _key(n):
    from daemon.domain import MessageKey
    return MessageKey("jobs@example.com", "INBOX", 1, 1000 + n)


def test_the_message_page_shows_the_text_files_and_the_decision(world, held):
    """The mail's text, its file to download, the reason, and the ATS's open jobs to pick from."""
    record = set_aside_mail(world)
    client, _ = logged_in(world, held)
    page = client.get(f"/messages/{record.id}").text
    assert "JOB-CODE-77" in page and "cv.pdf" in page and record.reason in page
    assert "Data Analyst: Screening" in page
    download = client.get(f"/messages/{record.id}/files/0")
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.content.startswith(b"%PDF")


def test_submit_sends_the_mail_to_the_picked_job_and_records_who(world, held):
    """A recruiter picks job and stage: the next pass submits there; the audit trail names her."""
    record = set_aside_mail(world)
    client, csrf = logged_in(world, held)
    answer = client.post(f"/messages/{record.id}/submit", data={"csrf": csrf, "target": "103::Screening"})
    assert "will go to &#39;Data Analyst&#39;" in answer.text
    world.poll()
    [after] = world.store.messages(limit=1)
    assert (after.status, after.job_title) == ("submitted", "Data Analyst")
    [candidate] = world.sandbox.state()["candidates"]
    assert str(candidate["pipeline_stage_id"]) == "22"
    assert [(a.who, a.action) for a in people.trail(world.store, record.id)] == [("rita", "submit")]


def test_submit_to_two_picked_jobs_makes_a_candidate_in_each_and_the_trail_names_both(world, held):
    """Two jobs picked in the form's multiple selection: one applicant, a candidate in each; the trail says both."""
    record = set_aside_mail(world)
    client, csrf = logged_in(world, held)
    assert 'name="target" id="target" multiple' in client.get(f"/messages/{record.id}").text
    answer = client.post(f"/messages/{record.id}/submit",
                         data={"csrf": csrf, "target": ["103::Screening", "104::New"]})
    assert "&#39;Data Analyst&#39;" in answer.text and "&#39;Customer Support Specialist&#39;" in answer.text
    world.poll()
    after = world.store.message_by_pk(record.id)
    assert (after.status, after.job_title) == ("submitted", "Data Analyst; Customer Support Specialist")
    state = world.sandbox.state()
    assert len(state["applicants"]) == 1
    assert sorted((str(c["job_id"]), str(c["pipeline_stage_id"])) for c in state["candidates"]) == [
        ("103", "22"), ("104", "21")]
    [audit] = people.trail(world.store, record.id)
    assert (audit.who, audit.action) == ("rita", "submit")
    assert "Data Analyst" in audit.detail and "Customer Support Specialist" in audit.detail


def test_submit_with_no_job_picked_changes_nothing(world, held):
    """The form sent with nothing selected: asked to pick a job; the mail stays set aside, nothing journalled."""
    record = set_aside_mail(world)
    client, csrf = logged_in(world, held)
    assert "pick a job first" in client.post(f"/messages/{record.id}/submit", data={"csrf": csrf}).text
    assert world.store.message_by_pk(record.id).status == "review" and "route" not in world.store.steps(record.id)


def test_resolve_then_reopen_then_ignore(world, held):
    """Resolve with a note settles the mail; reopen puts it back for review; ignore closes it for good."""
    record = set_aside_mail(world)
    client, csrf = logged_in(world, held)
    client.post(f"/messages/{record.id}/resolve", data={"csrf": csrf, "note": "added by hand"})
    assert world.store.message_by_pk(record.id).status == "resolved"
    assert world.store.message_by_pk(record.id).resolved_by == "rita"
    assert held.settled == [record.id]
    page = client.post(f"/messages/{record.id}/reopen", data={"csrf": csrf, "note": "wrong one"}).text
    assert "resolved -&gt; review" in page
    assert world.store.message_by_pk(record.id).reason == "reopened by rita: wrong one"
    client.post(f"/messages/{record.id}/ignore", data={"csrf": csrf, "note": "a sales pitch"})
    assert world.store.message_by_pk(record.id).status == "ignored"
    assert [a.action for a in people.trail(world.store, record.id)] == ["ignore", "reopen", "resolve"]


def test_a_resolve_without_a_note_is_refused(world, held):
    """The note is required, as on the command line."""
    record = set_aside_mail(world)
    client, csrf = logged_in(world, held)
    page = client.post(f"/messages/{record.id}/resolve", data={"csrf": csrf, "note": " "}).text
    assert "a note is required" in page and world.store.message_by_pk(record.id).status == "review"


def test_bulk_resolve_acts_on_each_selected_message(world, held):
    """Several selected messages are resolved with one note; each is recorded."""
    first, second = set_aside_mail(world), set_aside_mail(world, subject="Sous Chef")
    client, csrf = logged_in(world, held)
    client.post("/bulk", data={"csrf": csrf, "pk": [first.id, second.id], "action": "resolve", "note": "dup"})
    assert {world.store.message_by_pk(pk).status for pk in (first.id, second.id)} == {"resolved"}


@pytest.mark.parametrize("path", ["/bulk", "/messages/1/resolve", "/logout"])
@pytest.mark.parametrize("csrf", [None, "forged"])
def test_a_post_without_the_sessions_token_is_refused(world, held, path, csrf):
    """Every form needs the session's CSRF token: none or a wrong one is a 403 and changes nothing."""
    record = set_aside_mail(world)
    client, _ = logged_in(world, held)
    data = {"pk": str(record.id), "action": "resolve", "note": "x"} | ({"csrf": csrf} if csrf else {})
    assert client.post(path, data=data).status_code == 403
    assert world.store.message_by_pk(record.id).status == "review"


def test_a_recruiter_cannot_reach_the_status_page_an_admin_can(world, held):
    """The status page is for admins."""
    recruiter, _ = logged_in(world, held, "rita")
    assert recruiter.get("/status").status_code == 403
    admin, _ = logged_in(world, held, "adam")
    page = admin.get("/status")
    assert page.status_code == 200 and "healthy: the last pass was ok" in page.text


def test_sessions_expire(world, held):
    """A login lasts [web] session_minutes; then the page asks for a login again."""
    clock = FakeClock()
    clock.now = 1_000_000.0
    client, _ = logged_in(world, held, clock=clock)
    assert client.get("/", follow_redirects=False).status_code == 200
    clock.now += 8 * 3600 + 1
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_removed_account_loses_its_session(world, held):
    """Removing an account ends its access at its next request."""
    client, _ = logged_in(world, held)
    people.remove_account(world.store, "rita")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_script_in_the_subject_and_the_html_body_stays_inert(world, held):
    """A subject is escaped; an HTML body loses script, handlers and javascript: links; no page has script."""
    record = set_aside_mail(world, subject=SCRIPT_SUBJECT, html=SCRIPT_HTML)
    client, _ = logged_in(world, held)
    for page in (client.get("/"), client.get(f"/messages/{record.id}")):
        assert "<script" not in page.text and "onerror" not in page.text and "javascript:" not in page.text
        assert "script-src 'none'" in page.headers["content-security-policy"]
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt; Head Chef" in client.get(f"/messages/{record.id}").text


def test_repeated_failed_logins_are_slowed_down(world, held):
    """After five wrong passwords for a name, even the right one waits."""
    client = client_for(world, held)
    form = token(client.get("/login").text)
    for _ in range(5):
        client.post("/login", data={"name": "rita", "password": "wrong password!", "csrf": form})
    assert client.post("/login", data={"name": "rita", "password": PASSWORD, "csrf": form}).status_code == 429


def test_header_mode_trusts_the_named_account_only_from_the_proxy(world, held):
    """With auth = header, the proxy's header names the account; without it (or an unknown name) no entry."""
    client = client_for(world, held, Access(auth="header"))
    assert client.get("/", headers={"X-Remote-User": "adam"}).status_code == 200
    assert client.get("/").status_code == 403
    assert client.get("/", headers={"X-Remote-User": "mallory"}).status_code == 403
    far = client_for(world, held, Access(auth="header", trusted_proxies=("10.0.0.9",)))
    assert far.get("/", headers={"X-Remote-User": "adam"}).status_code == 403


def test_a_request_made_as_soon_as_the_page_is_served_is_answered():
    """The listener's socket listens before `web` says where the page is: a browser (or a test) connecting at once
    waits in the backlog for the server's first accept instead of being refused."""
    import socket

    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from daemon.web.serve import Listener

    app = Starlette(routes=[Route("/", lambda _request: PlainTextResponse("here"))])
    with Listener("127.0.0.1", 0, app) as listener, \
            socket.create_connection(("127.0.0.1", listener.port), timeout=10) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        assert b"here" in connection.makefile("rb").read()
