"""OAuth2 (XOAUTH2) login: the refresh-token grant, the token cache, the errors, and Dovecot taking it.

Unit tests drive `AccessTokens` through httpx.MockTransport and a hand-set clock. The
Dovecot tests use a local provider (`Provider`: a token endpoint and the introspection
endpoint Dovecot's oauth2 passdb asks) and a Dovecot that takes XOAUTH2 logins.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from daemon import config
from daemon.config import ImapSettings, OAuth2Settings
from daemon.errors import ConfigError, MailboxUnavailable
from daemon.mailbox import oauth2
from daemon.mailbox.imap import IdleConnection, ImapMailbox
from daemon.mailbox.oauth2 import AccessTokens, RefreshTokenRevoked
from tests.e2e import SANDBOX_TOKEN, run_cli
from tests.imapserver import OAUTH2_PASSDB, Dovecot, oauth2_files, running

GRANT = OAuth2Settings(token_url="https://oauth2.example.test/token", client_id="client-1",
                       client_secret="client-secret-1", refresh_token="refresh-secret-1",
                       scope="https://mail.google.com/")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Endpoint:
    """A scripted token endpoint for httpx.MockTransport: records the forms, answers from a list."""

    def __init__(self, *answers: tuple[int, dict[str, object]]):
        self.answers, self.forms = list(answers), []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.forms.append({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
        status, body = self.answers.pop(0) if self.answers else (200, {"access_token": f"at-{len(self.forms)}",
                                                                         "expires_in": 3600})
        return httpx.Response(status, json=body)


def tokens(endpoint: Endpoint, clock: Clock | None = None, settings: OAuth2Settings = GRANT) -> AccessTokens:
    return AccessTokens(settings, transport=httpx.MockTransport(endpoint), clock=clock or Clock())


# -- the grant and the cache ------------------------------------------------------------------

def test_the_refresh_token_grant_posts_the_configured_client_and_scope():
    """One form POST with grant_type=refresh_token, the refresh token, the client and the scope."""
    endpoint = Endpoint()
    assert tokens(endpoint).token() == "at-1"
    assert endpoint.forms == [{"grant_type": "refresh_token", "refresh_token": "refresh-secret-1",
                               "client_id": "client-1", "client_secret": "client-secret-1",
                               "scope": "https://mail.google.com/"}]


def test_a_public_client_sends_no_secret_and_no_empty_scope():
    """Without a client secret (Microsoft's public clients) or a scope, neither field is sent."""
    endpoint = Endpoint()
    tokens(endpoint, settings=replace(GRANT, client_secret="", scope="")).token()
    assert set(endpoint.forms[0]) == {"grant_type", "refresh_token", "client_id"}


def test_the_access_token_is_cached_and_refreshed_five_minutes_before_it_expires():
    """Within its life the token is reused; 300 s before `expires_in` runs out a new one is fetched."""
    clock, endpoint = Clock(), Endpoint()
    source = tokens(endpoint, clock)
    assert source.token() == "at-1"
    clock.now += 3600 - 300 - 1
    assert source.token() == "at-1"
    clock.now += 2
    assert source.token() == "at-2"
    assert len(endpoint.forms) == 2


def test_a_short_lived_token_is_refreshed_at_half_its_life():
    """A 120 s token is renewed after 60 s, not 300 s before it expires (which would be never)."""
    clock, endpoint = Clock(), Endpoint((200, {"access_token": "short", "expires_in": "120"}))
    source = tokens(endpoint, clock)
    source.token()
    clock.now += 59
    assert source.token() == "short"
    clock.now += 2
    assert source.token() == "at-2"


def test_refreshed_fetches_a_new_token_even_when_the_cached_one_is_young():
    """After the server refused the token (an authentication failure), a new one is fetched at once."""
    endpoint = Endpoint()
    source = tokens(endpoint)
    assert source.token() == "at-1"
    assert source.refreshed() == "at-2"
    assert source.token() == "at-2"


def test_a_rotated_refresh_token_is_used_for_the_next_refresh():
    """A new refresh_token in the answer (Microsoft rotates them) replaces the configured one in memory."""
    endpoint = Endpoint((200, {"access_token": "a", "expires_in": 3600, "refresh_token": "refresh-2"}))
    source = tokens(endpoint)
    source.token()
    source.refreshed()
    assert [f["refresh_token"] for f in endpoint.forms] == ["refresh-secret-1", "refresh-2"]


# -- errors ------------------------------------------------------------------------------------

def test_a_revoked_refresh_token_is_a_configuration_error_naming_where_it_comes_from():
    """400 invalid_grant: RefreshTokenRevoked (a ConfigError) naming the key to fix; `problem` says so."""
    endpoint = Endpoint((400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}))
    source = tokens(endpoint)
    with pytest.raises(RefreshTokenRevoked) as raised:
        source.token()
    assert isinstance(raised.value, ConfigError)
    assert raised.value.key == "imap.oauth2_refresh_token_file"
    assert "revoked" in str(raised.value) and "imap.oauth2_refresh_token_file" in str(raised.value)
    assert source.problem == str(raised.value)


def test_the_problem_clears_when_a_refresh_succeeds_again():
    """`problem` (what the health check reads) is cleared by the next successful refresh."""
    source = tokens(Endpoint((400, {"error": "invalid_grant"})))
    with pytest.raises(RefreshTokenRevoked):
        source.token()
    assert source.token() == "at-2"
    assert source.problem is None


@pytest.mark.parametrize(("status", "body", "key"), [
    (401, {"error": "invalid_client"}, "imap.oauth2_client_id"),
    (400, {"error": "unauthorized_client"}, "imap.oauth2_client_id"),
    (400, {"error": "invalid_scope"}, "imap.oauth2_scope"),
    (404, {}, "imap.oauth2_token_url"),
    (200, {"token_type": "Bearer"}, "imap.oauth2_token_url"),
])
def test_other_refusals_name_the_key_to_fix(status, body, key):
    """A refused client, a refused scope, a wrong URL or an answer without a token: ConfigError naming the key."""
    with pytest.raises(ConfigError) as raised:
        tokens(Endpoint((status, body))).token()
    assert raised.value.key == key


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_provider_outage_is_transient(status):
    """5xx and 429 are MailboxUnavailable (try again later), not a problem for a person."""
    source = tokens(Endpoint((status, {})))
    with pytest.raises(MailboxUnavailable):
        source.token()
    assert source.problem is None


def test_an_unreachable_endpoint_is_transient():
    """A connection error is MailboxUnavailable."""
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(MailboxUnavailable):
        AccessTokens(GRANT, transport=httpx.MockTransport(refuse)).token()


@pytest.mark.parametrize("raw", [b"<html>Service Unavailable</html>", b"", b'{"access_token": "at-', b"[]"])
def test_a_garbage_answer_is_transient_and_the_next_refresh_works(raw):
    """A 200 that is not a JSON object (garbage, empty, cut): try again later, never a ConfigError (exit 2)."""
    answers = [httpx.Response(200, content=raw)]

    def answer(request: httpx.Request) -> httpx.Response:
        return answers.pop(0) if answers else httpx.Response(200, json={"access_token": "at-2"})

    source = AccessTokens(GRANT, transport=httpx.MockTransport(answer), clock=Clock())
    with pytest.raises(MailboxUnavailable):
        source.token()
    assert source.problem is None
    assert source.token() == "at-2"


def test_login_problem_reports_the_shared_tokens_of_the_process(monkeypatch):
    """`login_problem()` (for /healthz) says why the process's OAuth2 login cannot work, else None."""
    monkeypatch.setattr(oauth2, "_shared", {})
    shared = oauth2.tokens_for(GRANT)
    assert oauth2.tokens_for(GRANT) is shared
    assert oauth2.login_problem() is None
    shared.problem = "the OAuth2 refresh token was refused"
    assert oauth2.login_problem() == "the OAuth2 refresh token was refused"


def test_secrets_are_never_logged_or_shown(caplog):
    """Refreshing logs events, never the refresh token, the client secret or the access token."""
    caplog.set_level(logging.DEBUG)
    source = tokens(Endpoint((200, {"access_token": "access-secret-9", "expires_in": 3600,
                                    "refresh_token": "refresh-secret-2"}), (400, {"error": "invalid_grant"})))
    source.token()
    with pytest.raises(RefreshTokenRevoked) as raised:
        source.refreshed()
    said = caplog.text + repr(GRANT) + str(raised.value)
    for secret in ("refresh-secret-1", "refresh-secret-2", "client-secret-1", "access-secret-9"):
        assert secret not in said


# -- configuration ----------------------------------------------------------------------------

def load(tmp_path: Path, imap: str, environ: dict[str, str] | None = None) -> config.Settings:
    path = tmp_path / "config.toml"
    path.write_text(f'[imap]\nhost = "imap.gmail.com"\nusername = "jobs@example.com"\n{imap}\n'
                    '[ats]\nbase_url = "http://127.0.0.1:8025"\ntoken = "t"\n')
    return config.load_settings(path, environ or {})


OAUTH = ('auth = "oauth2"\noauth2_token_url = "https://oauth2.googleapis.com/token"\n'
         'oauth2_client_id = "id-1"\noauth2_scope = "https://mail.google.com/"\n')


def test_oauth2_settings_come_from_files_and_need_no_password(tmp_path):
    """With auth = "oauth2" the secrets come from their files and no password is asked for."""
    (tmp_path / "refresh").write_text("refresh-from-file\n")
    (tmp_path / "secret").write_text("secret-from-file\n")
    imap = load(tmp_path, OAUTH + 'oauth2_refresh_token_file = "refresh"\noauth2_client_secret_file = "secret"').imap
    assert imap.auth == "oauth2" and imap.password == ""
    assert imap.oauth2 == OAuth2Settings("https://oauth2.googleapis.com/token", "id-1", "secret-from-file",
                                         "refresh-from-file", "https://mail.google.com/")
    assert "refresh-from-file" not in repr(imap.oauth2) and "secret-from-file" not in repr(imap.oauth2)


def test_the_environment_overrides_and_a_revocation_then_names_the_variable(tmp_path):
    """ATS_INBOX_IMAP_OAUTH2_REFRESH_TOKEN wins over the file, and is what a revocation names."""
    env = {config.OAUTH2_REFRESH_TOKEN_ENV: "refresh-from-env"}
    imap = load(tmp_path, OAUTH + 'oauth2_refresh_token_file = "missing"', env).imap
    assert imap.oauth2 is not None and imap.oauth2.refresh_token == "refresh-from-env"
    assert imap.oauth2.client_secret == ""  # a public client
    assert imap.oauth2.refresh_token_key == config.OAUTH2_REFRESH_TOKEN_ENV


@pytest.mark.parametrize(("imap", "key"), [
    ('auth = "oauth2"\noauth2_client_id = "x"\noauth2_refresh_token = "r"', "imap.oauth2_token_url"),
    ('auth = "oauth2"\noauth2_token_url = "https://t.example/token"\noauth2_refresh_token = "r"',
     "imap.oauth2_client_id"),
    ('auth = "oauth2"\noauth2_token_url = "https://t.example/token"\noauth2_client_id = "x"',
     "imap.oauth2_refresh_token"),
    ('auth = "oauth2"\noauth2_token_url = "http://t.example/token"\noauth2_client_id = "x"\n'
     'oauth2_refresh_token = "r"', "imap.oauth2_token_url"),
    ('auth = "kerberos"', "imap.auth"),
    ('password = "p"\nidle_seconds = 1800', "imap.idle_seconds"),
    ('password = "p"\nidle = "yes"', "imap.idle"),
])
def test_invalid_oauth2_and_idle_settings_name_the_key(tmp_path, imap, key):
    """A missing endpoint, client or refresh token, a plain-http endpoint elsewhere than this machine,
    an unknown auth, an IDLE interval past 25 minutes: refused, naming the key."""
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, imap)
    assert raised.value.key == key


def test_idle_is_on_by_default_and_reissued_every_ten_minutes(tmp_path):
    """`[imap] idle` defaults to true and `idle_seconds` to 600; password login stays the default."""
    imap = load(tmp_path, 'password = "p"').imap
    assert (imap.idle, imap.idle_seconds, imap.auth, imap.oauth2) == (True, 600, "password", None)


# -- against Dovecot ---------------------------------------------------------------------------

class Provider:
    """A local OAuth2 provider: `/token` (the refresh-token grant) and `/introspect` (asked by Dovecot).

    Access tokens it issued are good until `expire_all()`; refresh tokens until `revoke()`."""

    def __init__(self, user: str, refresh_token: str = "refresh-secret-1"):  # noqa: S107 (a test token)
        self.user, self.refresh_tokens = user, {refresh_token}
        self.issued: list[str] = []
        self.good: set[str] = set()
        self.introspected: list[str] = []
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"]))
                                                     .decode()).items()}
                status, body = provider.answer(self.path, form)
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, object]]:
        with self.lock:
            if path == "/introspect":
                self.introspected.append(form.get("token", ""))
                good = form.get("token") in self.good
                return 200, {"active": True, "username": self.user} if good else {"active": False}
            if form.get("refresh_token") not in self.refresh_tokens:
                return 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
            token = f"access-{len(self.issued) + 1}"
            self.issued.append(token)
            self.good.add(token)
            return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def expire_all(self) -> None:
        with self.lock:
            self.good.clear()

    def revoke(self) -> None:
        with self.lock:
            self.refresh_tokens.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def xoauth2_dovecot() -> Iterator[tuple[Dovecot, Provider]]:
    provider = Provider("jobs")
    try:
        with running(OAUTH2_PASSDB, oauth2_files(provider.url + "/introspect")) as server:
            yield server, provider
    finally:
        provider.close()


@pytest.fixture
def xoauth2(xoauth2_dovecot) -> tuple[Dovecot, Provider, ImapSettings]:
    server, provider = xoauth2_dovecot
    provider.refresh_tokens = {"refresh-secret-1"}
    provider.good.clear()
    provider.issued.clear()
    provider.introspected.clear()
    grant = OAuth2Settings(token_url=provider.url + "/token", client_id="client-1", client_secret="",
                           refresh_token="refresh-secret-1", scope="")
    settings = ImapSettings(host=server.host, port=server.imap_port, security="none", username=server.user,
                            password="", ca_file="", folder="INBOX", processed_folder="", review_folder="",
                            ignored_folder="", batch_size=50, max_message_bytes=10 * 1024 * 1024,
                            timeout_seconds=10.0, reconnect_attempts=0, auth="oauth2", oauth2=grant)
    return server, provider, settings


@pytest.mark.imap
def test_the_mailbox_logs_in_to_dovecot_with_xoauth2(xoauth2):
    """A token from the local endpoint, AUTHENTICATE XOAUTH2, and Dovecot's passdb asked about that token."""
    server, provider, settings = xoauth2
    mailbox = ImapMailbox(settings, tokens=AccessTokens(settings.oauth2))
    try:
        assert mailbox.open().uidvalidity > 0
    finally:
        mailbox.close()
    assert provider.issued == ["access-1"]
    assert provider.introspected == ["access-1"]
    assert "method=XOAUTH2" in server.log_path.read_text()


@pytest.mark.imap
def test_a_token_the_server_refuses_is_refreshed_and_the_login_tried_once_more(xoauth2):
    """The cached token no longer good (revoked early, clock skew): a new one is fetched and the login works."""
    _server, provider, settings = xoauth2
    source = AccessTokens(settings.oauth2)
    first = ImapMailbox(settings, tokens=source)
    first.open()
    first.close()
    provider.expire_all()
    second = ImapMailbox(settings, tokens=source)
    try:
        second.open()
    finally:
        second.close()
    assert provider.issued == ["access-1", "access-2"]
    assert provider.introspected == ["access-1", "access-1", "access-2"]


@pytest.mark.imap
def test_the_idle_connection_logs_in_with_xoauth2_too(xoauth2):
    """The IDLE watcher's connection shares the process's tokens: no second refresh."""
    _server, provider, settings = xoauth2
    source = AccessTokens(settings.oauth2)
    mailbox, listener = ImapMailbox(settings, tokens=source), IdleConnection(settings, tokens=source)
    try:
        mailbox.open()
        assert listener.open() is True
    finally:
        mailbox.close()
        listener.close()
    assert provider.issued == ["access-1"]


@pytest.mark.imap
def test_a_revoked_refresh_token_stops_the_login_with_the_key_to_fix(xoauth2):
    """invalid_grant from the endpoint: open() raises RefreshTokenRevoked naming the key; problem is set."""
    _server, provider, settings = xoauth2
    provider.revoke()
    source = AccessTokens(settings.oauth2)
    with pytest.raises(RefreshTokenRevoked, match=r"imap\.oauth2_refresh_token_file"):
        ImapMailbox(settings, tokens=source).open()
    assert source.problem is not None and "revoked" in source.problem


@pytest.mark.imap
def test_poll_with_oauth2_submits_and_a_revoked_token_exits_2_and_fails_the_health_check(xoauth2, sandbox, tmp_path):
    """`ats-inbox poll` with auth = "oauth2" logs in by XOAUTH2 and submits; revoked, it exits 2 naming the
    key, and `ats-inbox status` says UNHEALTHY with that reason (exit 1)."""
    from tests.world import application

    server, provider, _settings = xoauth2
    server.reset()
    server.append("INBOX", application(1))
    (tmp_path / "refresh").write_text("refresh-secret-1\n")
    (tmp_path / "ats-token").write_text(SANDBOX_TOKEN + "\n")
    path = tmp_path / "config.toml"
    path.write_text(f'[imap]\nhost = "127.0.0.1"\nport = {server.imap_port}\nsecurity = "none"\n'
                    f'username = "{server.user}"\nauth = "oauth2"\noauth2_token_url = "{provider.url}/token"\n'
                    'oauth2_client_id = "client-1"\noauth2_refresh_token_file = "refresh"\n'
                    f'[ats]\nbase_url = "{sandbox.base_url}"\ntoken_file = "ats-token"\n'
                    f'[database]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n')
    done = run_cli("poll", "--config", str(path))
    assert done.code == 0, done.stderr[-2000:]
    assert "submitted 1" in done.stdout
    assert "refresh-secret-1" not in done.stderr + done.stdout
    provider.revoke()
    refused = run_cli("poll", "--config", str(path))
    assert refused.code == 2, refused.stderr[-2000:]
    assert "imap.oauth2_refresh_token_file" in refused.stderr and "revoked" in refused.stderr
    health = run_cli("status", "--config", str(path))
    assert health.code == 1, health.stdout
    assert "UNHEALTHY" in health.stdout and "imap.oauth2_refresh_token_file" in health.stdout
