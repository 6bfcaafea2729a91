"""Parsing raw emails: headers, body, attachments and their names, hostile input."""

from __future__ import annotations

import hashlib
import logging
import re
import time
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from daemon.errors import UnparseableMail
from daemon.mail import ParsedEmail, parsing
from daemon.mail.parsing import (
    BODY_MAX_CHARS,
    MAX_FILENAME_CHARS,
    SUBJECT_MAX_CHARS,
    StructureLimits,
    parse_email,
    read_sender,
    safe_filename,
)
from tests.mailfactory import MailAttachment, build_email, forwarded

FIXTURES = Path(__file__).parent / "fixtures"
EMAILS = sorted(p for p in (FIXTURES / "emails").iterdir() if p.name != "SOURCES.md")
NOT_EMAIL = {"enmime-not-an-email.eml", "spamscope-outlook-msg-file-not-rfc822.msg"}
MAILS = [p for p in EMAILS if p.name not in NOT_EMAIL]


def corpus(name: str) -> bytes:
    return (FIXTURES / "emails" / name).read_bytes()


def resume(name: str) -> bytes:
    return (FIXTURES / "resumes" / name).read_bytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def names(parsed: ParsedEmail) -> list[str]:
    return [a.filename for a in parsed.attachments]


# -- robustness over the corpus -------------------------------------------------------


def _assert_well_formed(parsed: ParsedEmail) -> None:
    texts = [
        parsed.sender_name,
        parsed.sender_email,
        parsed.subject,
        parsed.message_id,
        parsed.body_text,
        *names(parsed),
    ]
    for text in texts:
        text.encode("utf-8")  # no lone surrogates left from 8-bit headers
    assert parsed.sender_email == parsed.sender_email.lower()
    assert "<" not in parsed.message_id
    assert ">" not in parsed.message_id
    assert len(parsed.body_text) <= BODY_MAX_CHARS
    assert len(parsed.subject) <= SUBJECT_MAX_CHARS
    assert parsed.date is None or parsed.date.tzinfo is not None
    for name in names(parsed):
        assert name == safe_filename(name)
        assert "/" not in name
        assert "\\" not in name
        assert not any(unicodedata.category(ch) == "Cc" for ch in name)


@pytest.mark.parametrize("path", EMAILS, ids=[p.name for p in EMAILS])
def test_corpus_mail_parses_or_is_rejected_as_not_email(path: Path) -> None:
    """Every corpus email parses into clean fields; only the non-emails raise UnparseableMail."""
    raw = path.read_bytes()
    if path.name in NOT_EMAIL:
        with pytest.raises(UnparseableMail, match="not an RFC 5322 message"):
            parse_email(raw)
        return
    _assert_well_formed(parse_email(raw))


@pytest.mark.parametrize(
    "raw",
    [b"", b" \r\n\r\n", b"\x00" * 64 + b"\xff\xfe binary junk"],
    ids=["empty", "blank", "binary"],
)
def test_non_email_bytes_are_unparseable(raw: bytes) -> None:
    """Empty, blank or header-less input is not an email."""
    with pytest.raises(UnparseableMail):
        parse_email(raw)


def nested_multiparts(levels: int) -> bytes:
    nesting = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(levels)
    )
    return b"From: a@example.com\r\nSubject: deep\r\n" + nesting + b"\r\nhi\r\n"


def test_library_failure_is_translated_to_unparseable_mail() -> None:
    """A failure inside the email library (here: recursion on 5000 nested multiparts) is chained."""
    raw = nested_multiparts(5000)
    with pytest.raises(UnparseableMail) as caught:
        parse_email(raw, limits=StructureLimits(max_parts=10_000, max_depth=10_000))  # let it through
    assert isinstance(caught.value.__cause__, RecursionError)


def empty_parts(count: int, boundary: str = 'boundary="b"') -> bytes:
    head = f"From: a@example.com\r\nContent-Type: multipart/mixed; {boundary}\r\n\r\n".encode()
    return head + b"--b\r\n\r\n" * count + b"--b--\r\n"


def nested_messages(levels: int) -> bytes:
    return b"From: a@example.com\r\n" + b"Content-Type: message/rfc822\r\n\r\n" * levels + b"Subject: x\r\n\r\nhi\r\n"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (empty_parts(1001), "too many MIME parts (more than 1000, the limit)"),
        (empty_parts(1001, "boundary*0=b"), "too many MIME parts"),  # RFC 2231: every -- line counts
        (nested_multiparts(5000), "too many MIME parts (more than 1000 multipart boundaries)"),
        (nested_multiparts(51), "MIME parts nested too deep (more than 50 levels, the limit)"),
        (nested_messages(51), "MIME parts nested too deep"),
        (b"From: a@example.com\r\n\r\n" + b"a\n" * 1_000_000, "too many lines (1000002, limit 1000000)"),
        (b"From: a@example.com\r\r" + b"a\r" * 1_000_000, "too many lines (1000002, limit 1000000)"),
    ],
    ids=["parts", "parts-rfc2231", "boundaries", "multipart-depth", "message-depth", "lines", "cr-lines"],
)
def test_mail_beyond_the_structure_limits_is_refused_before_parsing(raw: bytes, reason: str) -> None:
    """Too many parts, levels or lines: refused with the limit named, no library run at all."""
    with pytest.raises(UnparseableMail, match=re.escape(reason)) as caught:
        parse_email(raw)
    assert caught.value.__cause__ is None


def test_mail_within_the_structure_limits_parses() -> None:
    """The limits themselves, siblings that are not nested, and dash lines that are no delimiters pass."""
    assert parse_email(empty_parts(1000)).sender_email == "a@example.com"
    assert parse_email(nested_multiparts(49)).sender_email == "a@example.com"
    assert parse_email(nested_messages(49)).sender_email == "a@example.com"
    forwards = [
        MailAttachment("fwd.eml", build_email(attachments=[(f"cv{i}.pdf", b"%PDF-1.4", "application/pdf")]),
                       "message/rfc822", "7bit")
        for i in range(60)
    ]
    assert len(parse_email(build_email(attachments=forwards)).attachments) == 60
    dashes = build_email(body="table\n" + "-------\n| a | b |\n" * 2000)
    assert "| a | b |" in parse_email(dashes).body_text


def test_header_block_past_a_mib_still_gives_the_sender() -> None:
    """A header block over a MiB is read from the tree like any other: the sender is found."""
    raw = b"From: a@example.com\r\n" + b"X-Filler: " + b"x" * 1024 * 1024 + b"\r\n\r\nbody"
    assert parse_email(raw).sender_email == "a@example.com"


def test_huge_single_header_line_parses_quickly() -> None:
    """A 210 KB subject line is decoded in well under a second and capped."""
    started = time.perf_counter()
    parsed = parse_email(corpus("flanker-210kb-single-header.eml"))
    assert time.perf_counter() - started < 2
    assert parsed.subject.startswith("Die heiße Zypernsonne quälte Max und Victoria ja böse")
    assert len(parsed.subject) == SUBJECT_MAX_CHARS


# -- headers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "name", "address"),
    [
        (
            build_email(sender=("Jöhn Dœ ✔", "John.Doe@Example.COM")),
            "Jöhn Dœ ✔",
            "john.doe@example.com",
        ),
        (
            build_email(
                sender=None, headers={"From": "=?utf-8?b?SsO2cmcgTcO8bGxlcg==?= <jm@x.org>"}
            ),
            "Jörg Müller",
            "jm@x.org",
        ),
        (
            build_email(
                sender=None, headers={"From": "=?iso-8859-1?q?J=F6rg_M=FCller?= <jm@x.org>"}
            ),
            "Jörg Müller",
            "jm@x.org",
        ),
        (
            build_email(sender=None, headers={"From": '"Doe, Jane" <JANE@EXAMPLE.COM>'}),
            "Doe, Jane",
            "jane@example.com",
        ),
        (corpus("mikel-raw-utf8-headers.eml"), "Jöhn Doe", "jdöe@mächine.example"),
        (build_email(sender=None, headers={"From": "undisclosed-recipients:;"}), "", ""),
        (
            build_email(sender=None, headers={"From": "Jane Doe <jane@example.com"}),
            "Jane Doe",
            "jane@example.com",
        ),
        (
            build_email(sender=None, headers={"From": "jane@example.com <jane.doe@example.org>"}),
            "jane@example.com",
            "jane.doe@example.org",
        ),
        (build_email(sender=None), "", ""),
    ],
    ids=[
        "utf8-b-by-library",
        "utf8-b",
        "latin1-q",
        "quoted-comma",
        "raw-8bit",
        "no-address",
        "missing-angle-recovered",
        "address-as-name",
        "absent",
    ],
)
def test_sender_name_is_decoded_and_address_lower_cased(
    raw: bytes, name: str, address: str
) -> None:
    """RFC 2047 (UTF-8 B, Latin-1 Q) and raw UTF-8 sender names decode; the address is lowered."""
    parsed = parse_email(raw)
    assert (parsed.sender_name, parsed.sender_email) == (name, address)


def test_raw_8bit_header_with_a_broken_byte_stays_readable() -> None:
    """Mostly-UTF-8 raw header bytes decode as UTF-8 with a replacement character, not mojibake."""
    parsed = parse_email(corpus("flanker-malformed-8bit-headers.eml"))
    assert parsed.sender_name.startswith("Юникод запрещен")


@pytest.mark.parametrize(
    ("header", "subject"),
    [
        ("=?utf-8?q?Bewerbung_f=C3=BCr?=\r\n =?utf-8?q?_Backend?=", "Bewerbung für Backend"),
        ("Application\r\n\tfor Backend\x07 Engineer\x00", "Application for Backend Engineer"),
        ("=?iso-8859-1?q?D=E9veloppeur?= =?bogus-charset?q?_x?=", "Développeur x"),
        ("Re: =?utf-8?b?A?=", "Re: =?utf-8?b?A?="),
        ("=?utf-8?q?caf=C3?=", "caf\ufffd"),
        ("=?utf-8?q?Re=CC=81sume=CC=81?=", "Résumé"),
        ("Re\u0301sume\u0301 raw", "Résumé raw"),
        ("Bewerbung für =?utf-8?q?Backend_=E2=9C=94?=", "Bewerbung für Backend ✔"),
    ],
    ids=[
        "folded-encoded-words",
        "folded-with-controls",
        "unknown-charset",
        "bad-base64",
        "bad-utf8",
        "nfd-becomes-nfc",
        "raw-nfd-becomes-nfc",
        "raw-utf8-beside-encoded-word",
    ],
)
def test_subject_is_unfolded_decoded_and_cleaned(header: str, subject: str) -> None:
    """Folded encoded words join up; control characters go; bad encodings degrade, never raise."""
    parsed = parse_email(build_email(subject=None, headers={"Subject": header}))
    assert parsed.subject == subject


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "Mon, 05 Jan 2026 09:30:00 +0200",
            datetime(2026, 1, 5, 9, 30, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("Mon, 05 Jan 2026 09:30:00 -0000", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
        ("5 Jan 2026 09:30 GMT", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
        (
            "Mon, 05 Jan 2026 09:30:00 +0545",
            datetime(2026, 1, 5, 9, 30, tzinfo=timezone(timedelta(hours=5, minutes=45))),
        ),
        ("yesterday at noon", None),
        ("Mon, 45 Foo 2026 99:99:99 +0000", None),
    ],
    ids=["offset", "minus-zero", "gmt", "nepal", "words", "impossible"],
)
def test_date_is_timezone_aware_or_none(header: str, expected: datetime | None) -> None:
    """Dates keep their offset; "-0000" means UTC; unparseable dates are None."""
    parsed = parse_email(build_email(date=None, headers={"Date": header}))
    assert parsed.date == expected
    if expected is not None:
        assert parsed.date.utcoffset() == expected.utcoffset()


def test_missing_date_is_none() -> None:
    """A mail without a Date header has no date."""
    assert parse_email(build_email(date=None)).date is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("<abc.123@example.com>", "abc.123@example.com"),
        ("  <abc@example.com> (added by relay)", "abc@example.com"),
        ("bare-id@example.com", "bare-id@example.com"),
        ("<=?utf-8?q?a=C3=A9?=@example.com>", "=?utf-8?q?a=C3=A9?=@example.com"),
        (None, ""),
    ],
    ids=["angle", "comment", "bare", "encoded-word-stays-literal", "absent"],
)
def test_message_id_loses_angle_brackets(header: str | None, expected: str) -> None:
    """Message-ID comes without angle brackets, "" when absent."""
    assert parse_email(build_email(message_id=header)).message_id == expected


# -- the sender and subject as their authors meant them --------------------------------


@pytest.mark.parametrize(
    ("value", "name", "address"),
    [
        ("jane@example.com <jane.doe@example.org>", "jane@example.com", "jane.doe@example.org"),
        ("J a@b.example <d@e.example>", "J a@b.example", "d@e.example"),
        ("a@b.example d@e.example <g@h.example>", "a@b.example d@e.example", "g@h.example"),
        ("Jane@Example.com <jane@example.com>", "", "jane@example.com"),
        ('"jane@example.com" <jane.doe@example.org>', "jane@example.com", "jane.doe@example.org"),
        ("a@example.com, b@example.org", "", "a@example.com"),
    ],
    ids=["address-as-name", "name-with-address", "two-addresses-as-name", "name-is-the-address", "quoted",
         "two-mailboxes"],
)
def test_an_address_as_display_name_leaves_the_angle_addr_as_sender(value: str, name: str, address: str) -> None:
    """An unquoted address before one angle-addr is the name; the angle-addr is the sender (whatever
    the Python release's `getaddresses` makes of it); a list of mailboxes still gives the first."""
    assert read_sender(value) == (name, address)
    raw = build_email(sender=None, headers={"From": value})
    assert (parse_email(raw).sender_name, parse_email(raw).sender_email) == (name, address)


def test_mailcore_nested_mail_keeps_its_fields() -> None:
    """The fields of `mailcore-same-boundary-nested-3x.eml` (nested parts reusing one boundary)."""
    parsed = parse_email(corpus("mailcore-same-boundary-nested-3x.eml"))
    assert (parsed.sender_name, parsed.sender_email, parsed.message_id) == (
        "",
        "fejj@gnome.org",
        "",
    )
    assert parsed.subject == "this'll probably break even more mime parsers"
    assert parsed.date == datetime(2002, 8, 23, 6, 32, 53, tzinfo=UTC)
    assert parsed.date.utcoffset() == timedelta(hours=-4)
    assert parsed.body_text.startswith("Hello world.")
    assert parsed.attachments == ()


def test_damaged_8bit_subject_keeps_its_windows_1252_byte() -> None:
    """A raw 8-bit subject that is not UTF-8 is read as Windows-1252: no byte is dropped."""
    raw = corpus("flanker-malformed-8bit-headers.eml")
    assert parse_email(raw).subject == "´!"


def test_undecodable_header_text_never_reaches_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    """A header whose encoded word does not decode is kept as sent, and its text is never logged."""
    caplog.set_level(logging.DEBUG)
    raw = build_email(subject=None, headers={"Subject": "=?utf-8?b?A?= Private Words"})
    assert parse_email(raw).subject == "=?utf-8?b?A?= Private Words"
    assert "Private" not in caplog.text


# -- body ----------------------------------------------------------------------------


def test_plain_text_body_is_preferred_over_html() -> None:
    """With both alternatives the plain text is the body."""
    parsed = parse_email(build_email(body="Plain words\n", html="<p>HTML words</p>"))
    assert parsed.body_text == "Plain words"


def test_html_only_body_is_stripped_to_text() -> None:
    """An HTML-only body becomes its visible text: no tags, scripts or styles; entities decoded."""
    html = (
        "<html><head><style>p {color: red}</style></head><body><p>Dear&nbsp;team &amp; co,</p>"
        "<script>alert(1)</script><div>my <b>CV</b> is attached</div></body></html>"
    )
    parsed = parse_email(build_email(body=None, html=html))
    assert parsed.body_text == "Dear team & co,\n\nmy CV is attached"


def test_corpus_html_only_body_becomes_text() -> None:
    """The Eudora HTML-only corpus mail yields its text, decoded from ISO-8859-1."""
    body = parse_email(corpus("hunnysoft-eudora-html-only.eml")).body_text
    assert body.startswith("Die Hasen und die\nFrösche")
    assert "<" not in body


def test_body_is_bounded() -> None:
    """A huge body is cut at BODY_MAX_CHARS."""
    parsed = parse_email(build_email(body="x" * (BODY_MAX_CHARS * 3)))
    assert len(parsed.body_text) == BODY_MAX_CHARS


def test_body_of_a_forward_is_the_outer_message() -> None:
    """Text inside an attached message/rfc822 does not become the body."""
    inner = build_email(body="inner text\n")
    parsed = parse_email(build_email(body="outer text\n", attachments=[forwarded(inner)]))
    assert parsed.body_text == "outer text"


# -- attachment bytes -----------------------------------------------------------------


@pytest.mark.parametrize("cte", ["base64", "quoted-printable"])
@pytest.mark.parametrize(
    ("fixture", "ctype"),
    [
        ("rendercv-john-doe-classic.pdf", "application/pdf"),
        (
            "pandocresume-johnny-coder.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
    ],
)
def test_attachment_bytes_are_identical_to_the_file(fixture: str, ctype: str, cte: str) -> None:
    """Whatever the transfer encoding, the attachment's bytes hash like the original file."""
    data = resume(fixture)
    parsed = parse_email(build_email(attachments=[(fixture, data, ctype, cte)]))
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [(fixture, ctype)]
    assert sha256(parsed.attachments[0].data) == sha256(data)


def test_transfer_encoding_with_trailing_junk_still_decodes() -> None:
    """`Content-Transfer-Encoding: base64;` (seen in the wild) is still decoded."""
    data = resume("rendercv-near-empty-cv.pdf")
    raw = build_email(attachments=[("cv.pdf", data, "application/pdf", "base64")])
    raw = raw.replace(
        b"Content-Transfer-Encoding: base64\r\n", b"Content-Transfer-Encoding: base64; \r\n"
    )
    assert sha256(parse_email(raw).attachments[0].data) == sha256(data)


def test_crlf_and_lf_copies_of_a_mail_give_the_same_attachment() -> None:
    """Line endings of the mail do not change the decoded bytes."""
    crlf = parse_email(corpus("mikel-attachment-pdf-crlf.eml")).attachments
    lf = parse_email(corpus("mikel-attachment-pdf-lf.eml")).attachments
    assert [a.data for a in crlf] == [a.data for a in lf]
    assert crlf[0].data.startswith(b"%PDF-")


def test_pdf_declared_as_octet_stream_keeps_declared_type() -> None:
    """The declared content type is reported as sent, lower case; the bytes are the PDF."""
    parsed = parse_email(corpus("spamscope-cdo-pdf-as-octet-stream-large.eml"))
    pdf = next(a for a in parsed.attachments if a.filename == "Bollettino.pdf")
    assert pdf.content_type == "application/octet-stream"
    assert pdf.data.startswith(b"%PDF-")


def test_unnamed_non_text_part_is_an_attachment() -> None:
    """A PDF part without any file name is still an attachment, named ""."""
    data = resume("rendercv-near-empty-cv.pdf")
    parsed = parse_email(build_email(attachments=[MailAttachment(None, data, "application/pdf")]))
    assert [(a.filename, a.data) for a in parsed.attachments] == [("", data)]


def test_broken_content_type_is_reduced_to_type_and_subtype() -> None:
    """A Content-Type missing its `;` yields just `type/subtype`."""
    parsed = parse_email(corpus("enmime-pdf-broken-content-type.eml"))
    assert [a.content_type for a in parsed.attachments] == ["application/pdf"]


# -- forwarded messages ----------------------------------------------------------------


def test_corpus_forwarded_rfc822_pdf_is_found() -> None:
    """The PDF inside a forwarded message/rfc822 part is an attachment of the mail."""
    parsed = parse_email(corpus("mikel-forwarded-rfc822-containing-pdf.eml"))
    assert names(parsed) == ["broken.pdf"]
    assert parsed.attachments[0].data.startswith(b"%PDF-")


def test_built_forward_as_attachment_keeps_the_cv_bytes() -> None:
    """A CV two forwards deep comes out byte-identical."""
    data = resume("rendercv-john-doe-classic.pdf")
    inner = build_email(
        attachments=[("John Doe CV.pdf", data, "application/pdf", "quoted-printable")]
    )
    middle = build_email(sender=("Recruiter", "r@agency.example"), attachments=[forwarded(inner)])
    parsed = parse_email(build_email(attachments=[forwarded(middle)]))
    assert names(parsed) == ["John Doe CV.pdf"]
    assert sha256(parsed.attachments[0].data) == sha256(data)


def test_nested_rfc822_with_docx_pdf_odt_lists_them_all() -> None:
    """Every office document in the SwiftMailer sample is listed, in mail order."""
    found = names(parse_email(corpus("phpmmp-docx-pdf-odt-attachments-nested-rfc822.eml")))
    assert found[:3] == [
        "Hello from SwiftMailer.docx",
        "Hello from SwiftMailer.pdf",
        "Hello from SwiftMailer.odt",
    ]


# -- attachment names ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("hunnysoft-pine-rfc2231-filename.eml", ["HasenundFrösche.txt"]),
        ("mikel-applemail-rfc2231-continuation-japanese-filename.eml", ["かきくけこ" * 5 + ".txt"]),
        (
            "djmailbox-roundcube-rfc2231-polish-filenames.eml",
            ["piłkochwyty.jpg", "odpowiedź Burmistrza.jpg"],
        ),
        (
            "phpmmp-doc-attachment-rfc2047-in-quoted-filename.eml",
            ["Biodiversité de semaine en semaine.doc"],
        ),
        (
            "phpmmp-pdf-rfc2047-iso8859-folded-filename.eml",
            ["50032266 CAR 11_MNPA00A01_9PTX_H00 ATT N° 1467829.pdf"],
        ),
        ("mikel-gmail-forwarded-inline-pdf-rfc2047-b-filename.eml", ["This is a test.pdf"]),
        ("enmime-doc-raw-8bit-filename.eml", ["管理.doc"]),
        ("phpmmp-path-traversal-filename.eml", ["1234.txt"]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_corpus_attachment_names_are_decoded(fixture: str, expected: list[str]) -> None:
    """RFC 2231 (charsets, continuations), RFC 2047 in quoted params and raw UTF-8 names decode."""
    assert names(parse_email(corpus(fixture))) == expected


@pytest.mark.parametrize("style", ["rfc2231", "rfc2047", "raw"])
@pytest.mark.parametrize(
    "name",
    [
        "Lebenslauf Jörg Müller.pdf",
        "履歴書 山田太郎 2026 最新版 エンジニア職.pdf",
        "CV ✔ Zoë Ærøskøbing — très long nom de fichier ünïcödé.docx",
    ],
)
def test_built_attachment_names_decode_in_every_style(name: str, style: str) -> None:
    """Non-ASCII names survive RFC 2231 (with continuations), RFC 2047 and raw UTF-8 on the wire."""
    raw = build_email(
        attachments=[MailAttachment(name, b"%PDF-1.4", "application/pdf", name_style=style)]
    )
    assert names(parse_email(raw)) == [name]


def test_long_rfc2231_name_is_sent_as_continuations() -> None:
    """The factory really puts long RFC 2231 names on the wire as `filename*0*`, `filename*1*`."""
    name = "履歴書 山田太郎 2026 最新版 エンジニア職.pdf"
    raw = build_email(attachments=[MailAttachment(name, b"x", name_style="rfc2231")])
    assert b"filename*0*=utf-8''" in raw
    assert b"filename*1*=" in raw


@pytest.mark.parametrize("style", ["rfc2231", "rfc2047"])
@pytest.mark.parametrize(
    "hostile",
    [
        "../../etc/cron.d/cv.pdf",
        "..\\..\\Windows\\cv.pdf",
        "/abs/path/cv.pdf",
        "cv\r\n.pdf",
        "c\x00v.pdf",
    ],
)
def test_hostile_names_are_made_safe(hostile: str, style: str) -> None:
    """Paths, CR/LF and NUL in a sent name never survive parsing."""
    raw = build_email(
        attachments=[MailAttachment(hostile, b"%PDF-1.4", "application/pdf", name_style=style)]
    )
    assert names(parse_email(raw)) == ["cv.pdf"]


def test_decomposed_name_is_nfc() -> None:
    """A name sent in NFD (macOS) comes out in NFC."""
    nfd = unicodedata.normalize("NFD", "Résumé.pdf")
    raw = build_email(attachments=[MailAttachment(nfd, b"%PDF-1.4", name_style="rfc2231")])
    assert names(parse_email(raw)) == ["Résumé.pdf"]


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("cv.pdf", "cv.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("C:\\Users\\jane\\cv.pdf", "cv.pdf"),
        ("dir/", ""),
        ("..", ""),
        ("", ""),
        ("   ", ""),
        ("cv\x00\x07.pdf", "cv.pdf"),
        ("cv\u202efdp.exe", "cvfdp.exe"),  # right-to-left override disguising an .exe
        ("name..pdf", "name.pdf"),
        (" .hidden. ", "hidden"),
        (unicodedata.normalize("NFD", "é.pdf"), "é.pdf"),
        ("x" * 300 + ".pdf", "x" * (MAX_FILENAME_CHARS - 4) + ".pdf"),
        ("y" * 300, "y" * MAX_FILENAME_CHARS),
        ("w" * 149 + ".." + "v" * 20, "w" * 149),  # no trailing dot after the cut
        ("z" * 200 + "." + "e" * 40, ("z" * 200 + "." + "e" * 40)[:MAX_FILENAME_CHARS]),
    ],
    ids=repr,
)
def test_safe_filename(name: str, safe: str) -> None:
    """No path, controls or bidi overrides; NFC; at most 150 characters keeping the extension."""
    assert safe_filename(name) == safe
    assert safe_filename(safe) == safe  # idempotent


def test_headers_and_recipients_are_kept_for_rules():
    """Every header decoded on one line, and the recipients of To, Cc, Delivered-To and X-Original-To."""
    raw = (b"From: Ann <ann@example.org>\r\nTo: Jobs <jobs+data-eng@acme.test>, x@acme.test\r\n"
           b"Cc: =?utf-8?q?R=C3=A9a?= <rea@acme.test>\r\nDelivered-To: JOBS@acme.test\r\n"
           b"X-Original-To: careers@acme.test\r\nList-Id: <news.acme.test>\r\nSubject: Hi\r\n"
           b"X-Multi: one\r\nX-Multi: two\r\n\r\nbody\r\n")
    parsed = parse_email(raw)
    assert parsed.recipients == ("jobs+data-eng@acme.test", "x@acme.test", "rea@acme.test", "jobs@acme.test",
                                 "careers@acme.test")
    assert parsed.header("LIST-ID") == "<news.acme.test>"
    assert parsed.header("cc") == "Réa <rea@acme.test>"
    assert parsed.header_values("x-multi") == ("one", "two")
    assert parsed.header("absent") == ""


def test_the_address_pattern_takes_each_character_as_rfc_6532_does():
    """Letters of both cases, digits, atext specials and every non-ASCII character in a local part and a
    domain label; nothing else (the pattern spells the sets out rather than compile IGNORECASE ranges)."""
    from daemon.mail.parsing import _ADDR_SPEC

    atext = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-")
    label = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    samples = [chr(c) for c in range(0x20, 0x7f)] + ["\x80", "é", "ſ", "\u212a", "İ", "ı", "\u00a0", "漢", "\U0010ffff"]
    for char in samples:
        wide = not char.isascii()
        assert bool(_ADDR_SPEC.fullmatch(f"a{char}b@example.org")) == (wide or char in atext or char == "."), char
        assert bool(_ADDR_SPEC.fullmatch(f"ab@x{char}y.org")) == (wide or char in label or char in "-_."), char
        assert bool(_ADDR_SPEC.fullmatch(f"ab@{char}.org")) == (wide or char in label), char


# --- the ASCII fast paths of header and body cleaning ----------------------------------------

_CLEANED = ["plain subject", "tab\there", "bell\x07 and del\x7f", "nul\x00", "esc\x1b[31m red", "  spaced  out  ",
            "line\nbreaks\r\nand\rcrs", "café", "bidi \u202egnp.exe", "zero\u200bwidth", "para\u2029sep",
            "ünïcödé\x07 with control", "\x1f\x1e", "", "   "]


@pytest.mark.parametrize("text", _CLEANED)
def test_header_and_body_cleaning_is_the_same_on_ascii_and_on_any_text(text: str) -> None:
    """Pure ASCII takes a shortcut; it drops exactly what the character-by-character filter drops."""
    unsafe = parsing._UNSAFE_CATEGORIES
    collapsed = " ".join(text.split())
    assert parsing._one_line(text) == "".join(ch for ch in collapsed if unicodedata.category(ch) not in unsafe)
    lines = parsing._LINE_BREAKS.sub("\n", text)
    assert parsing._clean_body(text) == "".join(
        ch for ch in lines if ch in "\n\t" or unicodedata.category(ch) not in unsafe).strip()
    assert parsing._unescape_8bit(text) == text  # no surrogate escapes: the text as it is
