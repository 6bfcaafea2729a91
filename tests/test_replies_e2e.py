"""Replies end to end: the daemon over Dovecot, the sandbox ATS and a real SMTP relay (aiosmtpd, STARTTLS)."""

from __future__ import annotations

import signal

import pytest

from tests.e2e import run_cli
from tests.smtpserver import SmtpServer
from tests.world import World, application

pytestmark = pytest.mark.imap


@pytest.fixture
def smtp(tmp_path):
    server = SmtpServer(tmp_path / "smtp").start()
    yield server
    server.stop()


@pytest.fixture
def replying(tmp_path, dovecot, smtp):
    extra = (f'[replies]\nacknowledgements = true\nhost = "127.0.0.1"\nport = {smtp.port}\n'
             f'ca_file = "{smtp.cert_path}"\nfrom_address = "jobs@acme.test"\n')
    w = World(tmp_path, dovecot, extra=extra)
    yield w
    w.close()


@pytest.mark.parametrize("step", ["create_candidate", "add_comment"])
def test_a_crash_between_the_ats_step_and_the_send_gives_exactly_one_mail(replying, smtp, step):
    """kill -9 right after an ATS step: the next pass finishes the message (or, when the comment had been
    started with the candidate's answer, holds it as uncertain with no mail until a person retries it) and
    sends one acknowledgement, never two."""
    replying.deliver(application(1))
    replying.poll(env={"ATS_INBOX_TEST_CRASH_AFTER": step}, expect=-signal.SIGKILL)
    assert smtp.mails == []
    replying.poll()
    if step == "create_candidate":  # committed with the comment's start: the comment may have gone out
        assert set(replying.check().values()) == {"uncertain"} and smtp.mails == []
        assert run_cli("messages", "retry", "1", "--config", str(replying.config)).code == 0
        replying.poll()
    replying.poll()
    assert set(replying.check().values()) == {"submitted"}
    assert len(smtp.mails) == 1 and smtp.mails[0]["To"].addresses[0].addr_spec == "person1@example.org"
    shown = run_cli("messages", "show", "1", "--config", str(replying.config))
    assert "acknowledgement" in shown.stdout and "sent" in shown.stdout, shown.stdout + shown.stderr
