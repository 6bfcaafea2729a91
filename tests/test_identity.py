"""Mail identity across copies: equal for copies, different for different mails."""

from __future__ import annotations

from daemon.identity import content_key
from tests.mailfactory import build_email

MAIL = build_email(subject="Data Analyst", message_id="<a1@example.org>",
                   attachments=[("cv.pdf", b"%PDF-1.4 one", "application/pdf")])


def test_copies_with_other_transport_headers_are_the_same_mail():
    """Delivered to two aliases: different Received/Delivered-To headers, same key."""
    alias1 = b"Delivered-To: jobs@example.com\r\nReceived: from a by b; Mon, 5 Jan 2026 09:30:01 +0000\r\n" + MAIL
    alias2 = b"Delivered-To: careers@example.com\r\nReceived: from c by d; Mon, 5 Jan 2026 09:30:07 +0000\r\n" + MAIL
    assert content_key(alias1) == content_key(alias2) == content_key(MAIL)


def test_line_endings_do_not_matter():
    """A copy stored with LF endings is the same mail as the CRLF original."""
    assert content_key(MAIL.replace(b"\r\n", b"\n")) == content_key(MAIL)


def test_same_message_id_with_other_content_is_another_mail():
    """Colliding Message-IDs: the content tells them apart."""
    other = build_email(subject="Data Analyst", message_id="<a1@example.org>",
                        attachments=[("cv.pdf", b"%PDF-1.4 two", "application/pdf")])
    assert content_key(other) != content_key(MAIL)


def test_without_message_id_the_headers_and_content_decide():
    """No Message-ID: From, Date and Subject join the content in the key."""
    one = build_email(subject="Data Analyst", message_id=None, body="same body")
    again = build_email(subject="Data Analyst", message_id=None, body="same body")
    other_subject = build_email(subject="Python Developer", message_id=None, body="same body")
    assert content_key(one) == content_key(again)
    assert content_key(one) != content_key(other_subject)


def test_garbage_has_a_key_too():
    """Bytes that are not mail still get a stable key (nothing is dropped for lack of one)."""
    assert content_key(b"") == content_key(b"")
    assert len(content_key(b"\x00\xff garbage")) == 64
