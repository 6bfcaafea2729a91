"""A mail's identity across copies (pure).

The same mail reaches us more than once: sent to two aliases, filed in two folders,
re-listed under a new UIDVALIDITY. The copies differ in their transport headers
(Received, Delivered-To, Return-Path...) and sometimes in line endings, but not in their
Message-ID or their content. Different mails sometimes share a Message-ID, and about one
mail in five has none, so the Message-ID alone is not an identity: the key is a hash of
the Message-ID plus the content (for mail without a Message-ID: its From, Date and
Subject headers plus the content).

The content is everything after the header block, with line ends normalised. The header
block ends at the first empty line, or earlier at the first line that is not a header
line (as the standard library parser reads it: that line and what follows are content).
A mail with none of the four headers and no content (headers only, or nothing) is keyed
by its whole text instead, so that two such mails differ when their text does.

Memory stays flat whatever the mail: the content is hashed in pieces of about
`_PIECE_BYTES`, and only the first `HEADER_BLOCK_MAX_BYTES` of the header block are parsed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

from daemon.mail.parsing import header_text, read_sender
from daemon.mail.spool import MailBytes, as_mail

HEADER_BLOCK_MAX_BYTES = 1024 * 1024  # header bytes read for the four identity headers
_PIECE_BYTES = 64 * 1024
_SEPARATOR = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(rb"[ \t]*\r?\n")
_BLANKS_AT_LINE_END = (b" \n", b"\t\n", b" \r\n", b"\t\r\n")  # a blank before a line end
# A line the standard library does not take for a header (`email.feedparser.headerRE`).
_NOT_A_HEADER_LINE = re.compile(rb"^(?!From |[\x21-\x39\x3b-\x7e]*:|[\t ])", re.MULTILINE)
_IDENTITY_HEADERS = ("message-id", "from", "date", "subject")


@dataclass(frozen=True, slots=True)
class Identity:
    """A mail's content key, its sender's address (lower case, "" when none) and its Message-ID,
    from one reading of its header block."""

    content_key: str
    sender: str
    message_id: str = ""  # as written in the header, "" when none


def identify(raw: bytes | MailBytes) -> Identity:
    """The content key, the sender and the Message-ID of `raw`."""
    mail = as_mail(raw)
    head_end, body_start = _header_block(mail)
    headers = _header_fields(mail, head_end)
    material = _identity_headers(headers)  # the Message-ID, normalised, comes first ("" when none)
    return Identity(_key(mail, body_start, material), _address(headers), material[0][:998])


def sender(raw: bytes | MailBytes) -> str:
    """The address in the From header of `raw`, lower case ("" when none): who a mail is from,
    read from the header block only (the runner keeps two mails of one sender apart)."""
    mail = as_mail(raw)
    return _address(_header_fields(mail, _header_block(mail)[0]))


def content_key(raw: bytes | MailBytes) -> str:
    """A hex SHA-256 that is equal for copies of one mail and different for different mails."""
    mail = as_mail(raw)
    head_end, body_start = _header_block(mail)
    return _key(mail, body_start, _identity_headers(_header_fields(mail, head_end)))


def _key(raw: MailBytes, body_start: int, material: list[str]) -> str:
    digest = hashlib.sha256("\n".join(material).encode("utf-8", "surrogateescape"))
    digest.update(b"\n\n")
    if not _hash_text(digest, raw, body_start) and not any(material):
        _hash_text(digest, raw, 0)  # nothing identifies it but its text
    return digest.hexdigest()


def _header_block(mail: MailBytes) -> tuple[int, int]:
    """Where the header block ends and where the content starts (after the empty line): in the first
    window that holds an empty line or a line that is no header line (windows never cut either)."""
    for offset, raw in mail.windows():
        split = _SEPARATOR.search(raw)
        head_end, body_start = (split.start(), split.end()) if split else (len(raw), len(raw))
        other = _NOT_A_HEADER_LINE.search(raw, 0 if offset == 0 else 1, head_end)
        if other is not None and other.start() < head_end:  # content from here on, as for the stdlib
            return offset + other.start(), offset + other.start()
        if split is not None:
            return offset + head_end, offset + body_start
    return mail.size, mail.size


def _header_fields(mail: MailBytes, head_end: int) -> Message:
    raw = mail.head(min(head_end, HEADER_BLOCK_MAX_BYTES))
    if head_end > HEADER_BLOCK_MAX_BYTES:  # whole lines only, within the bound
        head_end = raw.rfind(b"\n", 0, HEADER_BLOCK_MAX_BYTES) + 1 or HEADER_BLOCK_MAX_BYTES
    return BytesHeaderParser(policy=compat32).parsebytes(raw[:head_end] + b"\n\n")


def _address(headers: Message) -> str:
    """The sender's address as the parse reads it (`read_sender`), so the runner and the flow
    agree on who a mail is from."""
    return read_sender(header_text(headers, "from"))[1]


def _identity_headers(headers: Message) -> list[str]:
    """The Message-ID alone when there is one, else From, Date and Subject (may be "")."""
    material = [" ".join(str(headers.get(name, "")).split()) for name in _IDENTITY_HEADERS]
    return material[:1] if material[0] else material


def _hash_text(digest: hashlib._Hash, mail: MailBytes, start: int) -> bool:
    """Feed the mail's bytes from `start` on to `digest` with line ends normalised and trailing
    newlines dropped.

    Works piece by piece, each piece ending just after a newline (and so does each window of a
    spooled mail): no line end (`[ \\t]*\\r?\\n`) spans such a cut, so the pieces normalise
    exactly as the whole would. Returns whether anything was fed.
    """
    held, fed = 0, False  # newlines held back until more text follows them
    for number, (offset, raw) in enumerate(mail.windows(start)):
        at = start - offset if number == 0 else 1  # a later window starts with the last one's line feed
        while at < len(raw):
            end = raw.find(b"\n", at + _PIECE_BYTES) + 1 or len(raw)
            piece = _normalised(raw[at:end])
            at = end
            text = piece.rstrip(b"\n")
            if text:
                _feed_newlines(digest, held)
                digest.update(text)
                held, fed = 0, True
            held += len(piece) - len(text)
    return fed


def _normalised(piece: bytes) -> bytes:
    """Line ends as `\\n`, blanks before them dropped (a plain replace when there are none).

    Base64 holds no blank at all, and a one-byte search (memchr) is several times faster than a
    two-byte one: the line-end searches run only on pieces with a space or a tab."""
    if (b" " in piece or b"\t" in piece) and any(blank in piece for blank in _BLANKS_AT_LINE_END):
        return _LINE_END.sub(b"\n", piece)
    return piece.replace(b"\r\n", b"\n")


def _feed_newlines(digest: hashlib._Hash, count: int) -> None:
    while count > 0:
        digest.update(b"\n" * min(count, _PIECE_BYTES))
        count -= _PIECE_BYTES
