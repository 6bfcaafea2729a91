"""The parse over a skeleton (large base64 leaf bodies fed to the parser as one marker line each, then
decoded from their span of the raw bytes) gives the very `ParsedEmail` the whole mail's parse gives."""

from __future__ import annotations

import base64
import random
from pathlib import Path

import pytest

from daemon.errors import UnparseableMail
from daemon.mail.parsing import (
    STRUCTURE_LIMITS,
    _email,
    _message_tree,
    _skeleton_tree,
    _Walk,
    check_structure,
    parse_email,
    read_headers,
)
from daemon.mail.spool import as_mail
from tests.mailfactory import MailAttachment, build_email, forwarded

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = sorted(path for path in FIXTURES.rglob("*") if path.is_file() and path.suffix in (".eml", ".msg", ""))


def whole_parse(raw: bytes):
    """The reference: the whole mail through the parser, line by line, as before the skeleton."""
    if not raw or raw.isspace():
        raise UnparseableMail("empty message")
    check_structure(raw, STRUCTURE_LIMITS)
    try:
        tree = _message_tree(raw)
        if not tree.keys():
            raise UnparseableMail("no mail headers found: not an RFC 5322 message")
        return _email(read_headers(tree), tree, _Walk(), depth=0)
    except UnparseableMail:
        raise
    except Exception as exc:  # as parse_email does
        raise UnparseableMail(f"the mail could not be parsed ({type(exc).__name__})") from exc


def outcome(parse, raw: bytes):
    try:
        return parse(raw)
    except UnparseableMail as exc:
        return f"unparseable: {exc}"


def marked(raw: bytes) -> int:
    """How many leaves the skeleton gave the parser as a marker."""
    return len(_skeleton_tree(as_mail(raw), check_structure(raw, STRUCTURE_LIMITS))[1])


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: str(path.relative_to(FIXTURES)))
def test_every_fixture_parses_as_the_whole_mail_parses(path: Path) -> None:
    """Every mail of tests/fixtures gives the same ParsedEmail (or the same refusal) by both paths."""
    raw = path.read_bytes()
    assert outcome(parse_email, raw) == outcome(whole_parse, raw)


def blob(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def lf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n")


def unclosed(raw: bytes) -> bytes:
    """The mail cut before its closing delimiter line: the last part runs to the end."""
    return raw[: raw.rstrip().rfind(b"\n--") + 1]


PDF = b"%PDF-1.4\n" + blob(300_000, 1)
DOCX = b"PK\x03\x04" + blob(120_000, 2)
SMALL = b"%PDF-1.4\n" + blob(3_000, 3)
CV_MAIL = build_email(subject="Application", body="Hello, my CV.", attachments=[("cv.pdf", PDF, "application/pdf")])
BIG_TEXT = "line of text\n" * 4_000


def hand_part(body: bytes, headers: bytes = b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n",
              *, after: bytes = b"\r\n--b--\r\n") -> bytes:
    return (b"From: a@example.com\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n" + headers + b"\r\n" + body + after)


ENCODED = base64.encodebytes(PDF).replace(b"\n", b"\r\n")
GENERATED = {
    "one-pdf": (CV_MAIL, 1),
    "one-pdf-lf": (lf(CV_MAIL), 1),
    "unclosed": (unclosed(CV_MAIL), 1),
    "unclosed-no-line-end": (unclosed(CV_MAIL).rstrip(), 1),
    "two-files-and-html": (build_email(subject="CVs", html="<p>" + "x" * 30_000 + "</p>",
                                       attachments=[("cv.pdf", PDF), ("cv.docx", DOCX), ("tiny.pdf", SMALL)]), 2),
    "quoted-printable-stays-whole": (build_email(attachments=[MailAttachment("cv.pdf", PDF, cte="quoted-printable")]),
                                     0),
    "big-base64-text-body": (build_email(attachments=[MailAttachment(None, BIG_TEXT.encode(), "text/plain",
                                                                     disposition="inline")]), 1),
    "forwarded-with-cv": (build_email(subject="Fwd", attachments=[forwarded(CV_MAIL, None)]), 1),
    "eml-file-with-cv": (build_email(subject="Fwd", attachments=[MailAttachment("a.eml", CV_MAIL)]), 1),
    "dash-line-inside": (hand_part(ENCODED[:40_000] + b"--not-a-boundary\r\n" + ENCODED[40_000:80_000]), 1),
    "boundary-inside": (hand_part(ENCODED[:40_000] + b"--b\r\n" + ENCODED[40_000:80_000]), 1),
    "form-feed-inside": (hand_part(ENCODED[:40_000] + b"\x0c--b\r\n" + ENCODED[40_000:80_000]), 0),
    "lone-cr-line-ends": (hand_part(ENCODED[:80_000].replace(b"\r\n", b"\r")), 1),
    "two-transfer-encodings": (hand_part(ENCODED[:80_000], b"Content-Transfer-Encoding: 7bit\r\n"
                                                           b"Content-Transfer-Encoding: base64\r\n"), 1),
    "folded-container-type": (hand_part(ENCODED[:80_000], b"Content-Type:\r\n multipart/mixed; boundary=c\r\n"
                                                          b"Content-Transfer-Encoding: base64\r\n"), 0),
    "no-part-headers": (hand_part(ENCODED[:80_000], b""), 0),
    "header-after-non-header-line": (hand_part(ENCODED[:80_000], b"Content-Transfer-Encoding: base64\r\n"
                                                                 b"not a header\r\nContent-Type: text/plain\r\n"), 0),
    "bad-padding-and-junk": (hand_part(ENCODED[:80_001] + b"!!*\r\n=\r\n" + ENCODED[80_001:90_000]), 1),
    "epilogue-after": (hand_part(ENCODED[:80_000], after=b"\r\n--b--\r\nepilogue\r\n"), 1),
    "eight-bit-bytes": (hand_part(ENCODED[:40_000] + b"\xff\xfe caf\xc3\xa9\r\n" + ENCODED[40_000:80_000]), 1),
}


@pytest.mark.parametrize("name", GENERATED)
def test_generated_mail_parses_as_the_whole_mail_parses(name: str) -> None:
    """Large CVs, line ends of every kind, unclosed parts, nested mail and boundary tricks: same ParsedEmail."""
    raw, leaves = GENERATED[name]
    assert outcome(parse_email, raw) == outcome(whole_parse, raw)
    assert marked(raw) == leaves


def test_a_large_cv_reaches_the_parser_as_one_marker_line() -> None:
    """The CV of an ordinary application is decoded from its span, never read by the parser line by line."""
    assert marked(CV_MAIL) == 1
    assert parse_email(CV_MAIL).attachments[0].data == PDF
