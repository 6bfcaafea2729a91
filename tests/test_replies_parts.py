"""The replies' pure parts: templates that cannot inject headers, what may be answered, the receipt token."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from daemon.config import _replies, _Table
from daemon.errors import ConfigError
from daemon.mail.parsing import parse_email
from daemon.replies import ReplyKind
from daemon.replies.compose import Envelope, compose
from daemon.replies.decision import refusal
from daemon.replies.templates import Templates, load
from daemon.replies.token import ReceiptKey
from tests.mailfactory import build_email

WHEN = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_attacker_text_never_adds_a_header():
    """A name with line breaks and header text stays one line of the subject; nothing else is filled."""
    text = Templates({}).fill(ReplyKind.PLACED, {"name": "Eve\r\nBcc: all@example.org", "job": "$reason ${x}"})
    message = compose(Envelope("jobs@acme.test", "Jobs", "rita@acme.test"), text, "id@acme.test", WHEN)
    assert message["Bcc"] is None and "\n" not in text.subject
    assert text.subject == "Eve Bcc: all@example.org is now a candidate for $reason ${x}"


def test_an_address_with_a_line_break_is_refused():
    """compose refuses an address that is not one (nothing is sent)."""
    with pytest.raises(ValueError, match="not one address"):
        compose(Envelope("jobs@acme.test", "", "a@b.org\r\nBcc: c@d.org"), Templates({}).fill(ReplyKind.ANSWER, {}),
                "id@acme.test", WHEN)


def test_a_job_template_and_a_language_are_picked(tmp_path):
    """KIND.LANG.JOBCODE.txt wins for its job; the mail's language when there is a template; else the default."""
    (tmp_path / "acknowledgement.de.txt").write_text("Subject: Danke, $name\n\nHallo $name.\n")
    (tmp_path / "acknowledgement.en.eng-7.txt").write_text("Subject: Python at $company\n\nThanks.\n")
    templates = load(str(tmp_path))
    assert templates.fill(ReplyKind.ACKNOWLEDGEMENT, {"name": "Jo"}, language="de").subject == "Danke, Jo"
    assert templates.fill(ReplyKind.ACKNOWLEDGEMENT, {"company": "Acme"}, job_code="ENG-7").subject == "Python at Acme"
    assert templates.fill(ReplyKind.ACKNOWLEDGEMENT, {"job": "X"}, language="fr").subject == "Your application for X"


def test_a_file_that_is_not_a_template_is_a_configuration_error(tmp_path):
    """A misnamed file or one without its Subject line stops the start with the key named."""
    (tmp_path / "welcome.txt").write_text("Subject: x\n\ny\n")
    with pytest.raises(ConfigError, match=r"replies\.templates"):
        load(str(tmp_path))


@pytest.mark.parametrize(("header", "answered"), [
    ("mx.acme.test; dmarc=pass header.from=example.org", True),
    ("mx.acme.test; spf=pass smtp.mailfrom=bounce.example.org; dkim=fail", True),
    ("mx.acme.test; dkim=pass header.d=mail.example.org (signed)", True),
    ("mx.acme.test; dkim=pass header.d=other.test; spf=pass smtp.mailfrom=other.test; dmarc=fail", False),
    ("mx.acme.test; none", False),
])
def test_only_aligned_senders_are_answered(header, answered):
    """Where Authentication-Results were recorded, a pass aligned with the From domain is needed."""
    email = parse_email(build_email(sender=("Pat", "pat@example.org"), headers={"Authentication-Results": header}))
    assert (refusal(email, ()) is None) is answered


def test_only_the_receiving_servers_results_count():
    """With authserv_id, a forged header of another server's name does not count."""
    raw = build_email(sender=("Pat", "pat@example.org"), headers={
        "Authentication-Results": "evil.test; dmarc=pass header.from=example.org"})
    assert refusal(parse_email(raw), (), authserv_id="mx.acme.test") is None  # none of ours: not recorded
    raw = build_email(sender=("Pat", "pat@example.org"), headers={
        "Authentication-Results": "mx.acme.test; dmarc=fail header.from=example.org"})
    assert refusal(parse_email(raw), (), authserv_id="mx.acme.test") is not None


def test_a_token_is_tied_to_its_message_and_recipient():
    """The token of message 7 to rita is neither message 8's nor tom's; another key gives another token."""
    key = ReceiptKey(b"k" * 40, "acme.test")
    [claim] = key.claims(f"<{key.message_id(7, 'rita@acme.test')}>")
    assert key.genuine(claim, "rita@acme.test") and not key.genuine(claim, "tom@acme.test")
    assert key.token(7, "rita@acme.test") != key.token(8, "rita@acme.test")
    assert ReceiptKey(b"j" * 40, "acme.test").token(7, "rita@acme.test") != claim.token
    assert key.claims("<ats-inbox.receipt.7.aaaaaaaaaaaaaaaaaaaaaaaaaa@elsewhere.test>") == []


@pytest.mark.parametrize(("table", "problem"), [
    ({"receipts": True, "from_address": "jobs@acme.test"}, "replies.host"),
    ({"acknowledgements": True, "host": "smtp.acme.test"}, "replies.from_address"),
    ({"receipts": True, "host": "smtp.acme.test", "from_address": "jobs@acme.test", "username": "jobs"},
     "replies.password"),
])
def test_replies_on_need_a_relay_a_from_address_and_a_password_with_a_login(tmp_path, table, problem):
    """Either switch on without what sending needs stops the start, naming the key."""
    with pytest.raises(ConfigError, match=re.escape(problem)):
        _replies(_Table(table, "replies", tmp_path / "config.toml"), {}, True)


def test_replies_are_off_by_default(tmp_path):
    """No [replies] table: nothing is sent."""
    assert not _replies(_Table({}, "replies", tmp_path / "config.toml"), {}, True).on
