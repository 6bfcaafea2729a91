"""Faults about ats.base_url, not about a message: a 404, a redirect or an HTML page where the
ATS's JSON belongs is AtsMisdirected, naming the key and what was seen (MockTransport)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from daemon.ats.client import AtsClient
from daemon.ats.retry import RetryPolicy
from daemon.errors import AtsMisdirected, AtsRejected, AtsUnavailable
from tests.atscalls import CREATE_CALLS, DIRECTORY_CALLS

BASE = "http://acme.skailer.test"
PATHS = {"search": "POST /api/v1/jobs/search", "pipelines": "GET /api/v1/pipelines/all",
         "sources": "GET /api/v1/sources/all"}
READS: dict[str, tuple[str, Callable[[AtsClient], Any]]] = {
    **{name: (PATHS[name], call) for name, call in DIRECTORY_CALLS.items()},
    "probe": ("GET /api/v1/sources/all", lambda c: c.answers()),
}
CREATES = CREATE_CALLS
PAGE = "<!doctype html><html><title>Sign in</title><body>Acme SSO portal</body></html>"


def client_for(answer: Callable[[httpx.Request], httpx.Response], base: str = BASE,
               ) -> tuple[AtsClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    client = AtsClient(base, "tok-0123456789", transport=httpx.MockTransport(handler),
                       retry=RetryPolicy(attempts=3), sleep=lambda _s: None)
    return client, seen


def html(status: int) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _r: httpx.Response(status, text=PAGE,
                                     headers={"Content-Type": "text/html; charset=utf-8"})


@pytest.mark.parametrize("read", READS)
def test_a_404_on_a_directory_read_names_the_base_url(read):
    """A 404 on steps 1-3 or the probe: the base URL is wrong, not the message; not retried."""
    client, seen = client_for(lambda _r: httpx.Response(404, json={"error": "not found"}),
                              base=f"{BASE}/wrong")
    call, run = READS[read]
    method, path = call.split()
    with pytest.raises(AtsMisdirected) as info:
        run(client)
    assert str(info.value) == (
        f"{method} {BASE}/wrong{path} answered 404: check ats.base_url (it should be the "
        "ATS's root, e.g. https://acme.skailer.com)")
    assert info.value.key == "ats.base_url"
    assert len(seen) == 1


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirect_on_a_directory_read_says_which_base_url_to_use(read, code):
    """http redirected to https: not followed, and the message gives the base URL to use."""
    def answer(request: httpx.Request) -> httpx.Response:
        target = request.url.copy_with(scheme="https")
        return httpx.Response(code, headers={"Location": str(target)})

    client, seen = client_for(answer)
    call, run = READS[read]
    with pytest.raises(AtsMisdirected) as info:
        run(client)
    secure = BASE.replace("http:", "https:")
    assert str(info.value).startswith(f"{call.split()[0]} {BASE}{call.split()[1]} was redirected")
    assert str(info.value).endswith(f": use {secure} in ats.base_url")
    assert len(seen) == 1


def test_a_redirect_elsewhere_is_shown_and_the_base_url_questioned():
    """A redirect to a page that is not the API (a login page) names it and the key."""
    client, _ = client_for(lambda _r: httpx.Response(302, headers={"Location": "/login?next=x"}))
    with pytest.raises(AtsMisdirected) as info:
        client.pipelines()
    assert f"redirected (302) to {BASE}/login: check ats.base_url" in str(info.value)


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("code", [200, 400, 404, 409])
def test_an_html_page_on_a_directory_read_is_misdirected(read, code):
    """A proxy's error or login page (2xx/4xx HTML) on a directory read names ats.base_url and
    never shows the page."""
    client, seen = client_for(html(code))
    with pytest.raises(AtsMisdirected) as info:
        READS[read][1](client)
    assert f"answered {code}" in str(info.value)
    assert "HTML page" in str(info.value) and "ats.base_url" in str(info.value)
    assert "SSO" not in str(info.value) and "<" not in str(info.value)
    assert len(seen) == 1


@pytest.mark.parametrize("read", ["search", "pipelines", "sources"])
@pytest.mark.parametrize("code", [401, 403])
def test_401_and_403_stay_refusals(read, code):
    """401/403 (HTML or not) stay AtsRejected: the runner makes them a token error."""
    client, _ = client_for(html(code))
    with pytest.raises(AtsRejected) as info:
        READS[read][1](client)
    assert info.value.status == code


@pytest.mark.parametrize("code", [502, 503])
def test_a_5xx_html_page_on_a_read_is_an_outage(code):
    """A proxy's 502/503 page is the ATS being down (the contract expects it), not misdirection."""
    client, seen = client_for(html(code))
    with pytest.raises(AtsUnavailable):
        client.sources()
    assert len(seen) == 3
    assert client.answers() is False


@pytest.mark.parametrize("create", CREATES)
@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_a_redirect_on_a_create_is_misdirected_and_nothing_was_created(create, code):
    """A create redirected was not followed, so not done: AtsMisdirected saying so, sent once."""
    client, seen = client_for(lambda r: httpx.Response(
        code, headers={"Location": str(r.url.copy_with(scheme="https"))}))
    with pytest.raises(AtsMisdirected) as info:
        CREATES[create](client)
    assert "nothing was created" in str(info.value)
    assert str(info.value).endswith(f"use {BASE.replace('http:', 'https:')} in ats.base_url")
    assert len(seen) == 1


@pytest.mark.parametrize("create", CREATES)
def test_a_404_on_a_create_is_a_refusal(create):
    """A 404 on a create (an unknown candidate, say) is about that message: AtsRejected."""
    client, _ = client_for(lambda _r: httpx.Response(404, json={"error": "no such candidate"}))
    with pytest.raises(AtsRejected):
        CREATES[create](client)


def test_a_redirect_never_shows_the_token_or_user_info():
    """The Location is shown without user info or query; the token never appears."""
    client, _ = client_for(lambda _r: httpx.Response(
        301, headers={"Location": "https://u:pw@acme.skailer.test/api/v1/sources/all?t=tok-0123456789"}))
    with pytest.raises(AtsMisdirected) as info:
        client.sources()
    assert "pw" not in str(info.value) and "tok-0123456789" not in str(info.value)
    assert str(info.value).endswith("use https://acme.skailer.test in ats.base_url")
