"""The SMTP relay (issue 18) against a real SMTP server in process: TLS from the start, a login with the password
from a credential file (never logged nor stored), and a certificate not trusted refused, never plain text instead."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from daemon.config import _replies, _Table
from daemon.errors import RelayUnavailable
from daemon.intake.replying import Replies
from daemon.replies import ReplyKind
from daemon.replies.compose import Envelope, compose
from daemon.replies.relay import SmtpRelay
from daemon.replies.templates import Templates
from daemon.store.outbox import QUEUED, SENT
from tests.inprocess import in_process_world  # noqa: F401 (the fixture `world`)
from tests.smtpserver import SmtpServer
from tests.test_replies import KEY, OPTIONS, Clock, candidate, run

PASSWORD = "s3cret-Relay-pw"
WHEN = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
# aiosmtpd warns of AUTH without STARTTLS; with implicit TLS the whole connection is TLS already.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def servers(tmp_path):
    """Start SmtpServers on demand; all stopped at the end."""
    started: list[SmtpServer] = []

    def start(**options) -> SmtpServer:
        started.append(SmtpServer(tmp_path / f"smtp{len(started)}", **options).start())
        return started[-1]

    yield start
    for server in started:
        server.stop()


def relay_settings(tmp_path, server: SmtpServer, *, trusted: bool = True, **more):
    """[replies] as read from a config file, the password (when a user is given) from a credential file."""
    password_file = tmp_path / "smtp-password"
    password_file.write_text(PASSWORD + "\n")
    table = {"receipts": True, "acknowledgements": True, "host": "127.0.0.1", "port": server.port,
             "from_address": "jobs@acme.test", "timeout_seconds": 5,
             **({"ca_file": str(server.cert_path)} if trusted else {}), **more}
    if "username" in more:
        table["password_file"] = str(password_file)
    return _replies(_Table(table, "replies", tmp_path / "config.toml"), {}, True)


def mail():
    text = Templates({}).fill(ReplyKind.ANSWER, {"reason": "done"})
    return compose(Envelope("jobs@acme.test", "Jobs", "rita@acme.test"), text, "r1@acme.test", WHEN)


def test_implicit_tls_delivers_with_the_certificate_checked(tmp_path, servers):
    """security = "tls": TLS from the first byte to a server that speaks nothing else; the mail arrives."""
    server = servers(tls="implicit")
    SmtpRelay(relay_settings(tmp_path, server, security="tls")).send(mail())
    [got] = server.mails
    assert got["Message-ID"] == "<r1@acme.test>"


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_a_login_with_the_password_from_a_credential_file(tmp_path, servers, security):
    """A user and password_file: the relay logs in with that password (over TLS) and the mail arrives."""
    server = servers(tls="implicit" if security == "tls" else "starttls", users={"jobs": PASSWORD})
    settings = relay_settings(tmp_path, server, security=security, username="jobs")
    assert settings.password == PASSWORD and PASSWORD not in repr(settings)
    SmtpRelay(settings).send(mail())
    assert server.logins.tried == [("jobs", True)] and len(server.mails) == 1


def test_a_wrong_password_keeps_the_reply_waiting_and_is_never_shown(tmp_path, servers):
    """The relay refuses the login (535): try again later (the password may be fixed); the error names no secret."""
    server = servers(users={"jobs": "another"})
    settings = relay_settings(tmp_path, server, username="jobs")
    with pytest.raises(RelayUnavailable) as refused:
        SmtpRelay(settings).send(mail())
    assert PASSWORD not in str(refused.value) and PASSWORD not in repr(refused.value.__cause__)
    assert server.logins.tried and set(server.logins.tried) == {("jobs", False)} and server.mails == []


@pytest.mark.parametrize(("security", "tls", "login"), [("starttls", "optional", True), ("starttls", "none", False),
                                                        ("tls", "implicit", True)])
def test_a_certificate_not_trusted_is_refused_never_plain_text(tmp_path, servers, security, tls, login):
    """Without the relay's CA (or to a relay offering no STARTTLS): no mail, no login tried, and no falling back to
    plain text, though the server would take the mail that way."""
    server = servers(tls=tls, users={"jobs": PASSWORD} if login else None)
    settings = relay_settings(tmp_path, server, trusted=tls == "none", security=security,
                              **({"username": "jobs"} if login else {}))
    with pytest.raises(RelayUnavailable, match="cannot be used"):
        SmtpRelay(settings).send(mail())
    assert server.mails == [] and server.logins.tried == []


def test_the_password_is_neither_logged_nor_stored(tmp_path, servers, world, caplog):
    """A whole pass with a login to the relay: the password is in no log record and nowhere in the database."""
    caplog.set_level(logging.DEBUG)
    server = servers(users={"jobs": PASSWORD})
    settings = relay_settings(tmp_path, server, username="jobs")
    bad = relay_settings(tmp_path, servers(users={"jobs": "another"}), username="jobs")
    clock = Clock()
    world.deliver(candidate(1))
    run(world, Replies(world.store, bad, Templates({}), KEY, SmtpRelay(bad), own_addresses=("jobs@acme.test",),
                       forwarders=OPTIONS.internal_senders, now=clock))  # refused: the error is stored
    replies = Replies(world.store, settings, Templates({}), KEY, SmtpRelay(settings),
                      own_addresses=("jobs@acme.test",), forwarders=OPTIONS.internal_senders, now=clock)
    [record] = world.store.messages()
    assert [r.status for r in replies.outbox.of(record.id)] == [QUEUED]
    clock.now = clock.now.replace(hour=10)
    assert replies.deliver().sent == 1
    assert [r.status for r in replies.outbox.of(record.id)] == [SENT] and len(server.mails) == 1
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "reply.sent" in logged and PASSWORD not in logged
    files = [world.database, world.database.with_name(world.database.name + "-wal")]
    assert all(PASSWORD.encode() not in f.read_bytes() for f in files if f.exists())
