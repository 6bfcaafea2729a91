"""Mail identity across copies: equal for copies, different for different mails."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from daemon.errors import UnparseableMail
from daemon.mail import identity
from daemon.mail.identity import content_key, identify
from daemon.mail.parsing import parse_email
from tests.mailfactory import build_email

EMAILS = Path(__file__).parent / "fixtures" / "emails"

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


# Keys stored by the first release: they must not change, the database holds them.
STORED_KEYS = {
    "mikel-attachment-pdf-crlf.eml": "9dac25bdd9a7339d60bb979afec81475f3d5d91bb315ede0c7c510e9253fe860",
    "sisimai-cr-only-line-endings-exchange-dsn.eml": "25c8c219d136885105c74123792631338829a22f0727277fa743a3b176ac1492",
    "flanker-210kb-single-header.eml": "f24e557fdef3c323d2365cab2c3318b9fe82e200f078864b1cdc6d01c0e8c407",
    "enmime-first-header-line-continuation.eml": "d5b444e84e82a0de74ee303059c53da075cf1fb112aa13c491d261cf86373b72",
}


@pytest.mark.parametrize(("name", "key"), STORED_KEYS.items(), ids=list(STORED_KEYS))
def test_keys_of_stored_mail_do_not_change(name, key):
    """A mail keyed by an earlier release gets the same key again."""
    assert content_key((EMAILS / name).read_bytes()) == key


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (b"\x00\xff garbage", b"\x00\xff other garbage"),
        (b"not a header line\r\n\r\nsame body", b"another first line\r\n\r\nsame body"),
        (b"X-Spam-Score: 1\r\n", b"X-Spam-Score: 2\r\n"),
        (b"X-Spam-Score: 1\r\n\r\n\r\n", b"X-Spam-Score: 2\r\n\r\n"),
    ],
    ids=["no-headers-no-blank-line", "no-headers-blank-line", "headers-only", "headers-and-blank-lines"],
)
def test_mails_without_identity_headers_differ_when_their_text_does(one, other):
    """Without Message-ID, From, Date, Subject and content, the whole text decides: no shared key."""
    assert content_key(one) != content_key(other)


def test_text_that_is_not_a_header_is_content():
    """A first line that is no header makes the rest content, as the mail parser reads it."""
    assert content_key(b"Hello\r\n\r\nBye") != content_key(b"Hi\r\n\r\nBye")
    assert content_key(b"Hello\r\nthere") == content_key(b"Hello\nthere")


BLANKS = b"a  \r\n\tb\t\r\n\r\nc \r\r\n d\n\n \r\n" * 300 + b"end  \r\n\r\n\r\n"
# Base64-like lines (no blank in most pieces) with a few blanks before line ends between them.
MOSTLY_BASE64 = (b"QUJDRA==" * 9 + b"\r\n") * 500 + b"x \r\n" + (b"QUJD" * 19 + b"\r\n") * 300 + b"y\t\n\r\n"


@pytest.mark.parametrize("body", [BLANKS, MOSTLY_BASE64], ids=["blanks", "mostly-base64"])
@pytest.mark.parametrize("piece", [1, 3, 1000])
def test_content_hashed_in_pieces_is_the_content_hashed_at_once(monkeypatch, piece, body):
    """Pieces cut anywhere give the key of the whole content: blanks, CRs and newlines at the cuts."""
    monkeypatch.setattr(identity, "_PIECE_BYTES", piece)
    expected = hashlib.sha256(b"<id@example.org>\n\n" + re.sub(rb"[ \t]*\r?\n", b"\n", body).rstrip(b"\n"))
    assert content_key(b"Message-ID: <id@example.org>\r\n\r\n" + body) == expected.hexdigest()


def test_a_huge_header_block_is_read_only_so_far():
    """Headers beyond the first MiB do not count; the key is still made, quickly."""
    filler = b"X-Filler: " + b"x" * 70 + b"\r\n"
    late = filler * (identity.HEADER_BLOCK_MAX_BYTES // len(filler) + 1)
    one = b"Subject: a\r\n" + late + b"Message-ID: <one@x>\r\n\r\nbody"
    other = b"Subject: a\r\n" + late + b"Message-ID: <other@x>\r\n\r\nbody"
    assert content_key(one) == content_key(other)


@pytest.mark.parametrize("path", sorted(EMAILS.glob("*.eml")), ids=lambda p: p.name)
def test_the_sender_is_the_one_the_parse_reads(path):
    """The runner's sender of a mail (from its header block) is the parse's sender address."""
    raw = path.read_bytes()
    try:
        expected = parse_email(raw).sender_email
    except UnparseableMail:
        return
    assert identify(raw).sender == expected


def test_an_address_as_display_name_gives_the_angle_addr_as_sender():
    """`jane@example.com <jane.doe@example.org>`: the runner keeps mails of jane.doe@ apart."""
    raw = build_email(sender=None, headers={"From": "jane@example.com <jane.doe@example.org>"})
    assert identify(raw).sender == "jane.doe@example.org"
