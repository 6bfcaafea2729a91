"""A large mail is fetched from the IMAP server in parts into a spool file, never as one bytes object;
small mail stays in memory."""

from __future__ import annotations

import hashlib
import os

import pytest

from daemon.mail.spool import MailBytes
from daemon.mailbox.imap import PARTIAL_BYTES, ImapMailbox
from tests.imapserver import Dovecot
from tests.test_imap_mailbox import settings

pytestmark = pytest.mark.imap


def test_a_large_mail_is_spooled_in_parts_and_small_mail_stays_in_memory(dovecot: Dovecot) -> None:
    """A mail over `spool_over` comes as spooled MailBytes with its exact size and SHA-256 (fetched
    in parts of PARTIAL_BYTES); one under it as bytes, in the same FETCH batch."""
    body = os.urandom(PARTIAL_BYTES).hex().encode() + b"tail"  # two parts and a bit
    large = b"From: a@example.org\r\nSubject: big\r\n\r\n" + body
    small = b"From: b@example.org\r\nSubject: small\r\n\r\nhi\r\n"
    dovecot.append("INBOX", large)
    dovecot.append("INBOX", small)
    mailbox = ImapMailbox(settings(dovecot), spool_over=64 * 1024)
    try:
        mailbox.open()
        uids = mailbox.uids_after(0)[-2:]
        mailbox.facts(uids)
        fetched = mailbox.fetch(uids)
        spooled, kept = fetched[uids[-2]], fetched[uids[-1]]
        assert isinstance(spooled, MailBytes) and spooled.spooled
        assert spooled.size == len(large) and spooled.sha256 == hashlib.sha256(large).hexdigest()
        assert spooled.read(0, spooled.size) == large
        assert kept == small
        spooled.close()
        assert spooled.closed
    finally:
        mailbox.close()
