"""Every attachment form: dispositions, names, winmail.dat, attached messages, copies, limits."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import pytest

from daemon.mail import Attachment
from daemon.mail.parsing import MAX_ATTACHED_DEPTH, MAX_ATTACHED_MESSAGES, parse_email
from daemon.mail.resumes import (
    DUPLICATE,
    MAX_ZIP_RATIO,
    NOT_A_RESUME,
    NOT_INSPECTED,
    TOO_LARGE,
    UNSAFE_ZIP,
    ResumeLimits,
    describe,
    pick_resumes,
)
from daemon.mail.tnef import unpack
from tests.mailfactory import MailAttachment, build_email, forwarded

FIXTURES = Path(__file__).parent / "fixtures"
PDF = (FIXTURES / "resumes" / "rendercv-near-empty-cv.pdf").read_bytes()
DOCX = (FIXTURES / "resumes" / "pandocresume-johnny-coder.docx").read_bytes()
RTF = (FIXTURES / "resumes" / "pandocresume-johnny-coder.rtf").read_bytes()
ODT = (FIXTURES / "resumes" / "nextcloud-minimalist-resume-template.odt").read_bytes()


def corpus(name: str):
    return parse_email((FIXTURES / "emails" / name).read_bytes())


def part_mail(part_headers: str, payload: bytes = PDF) -> bytes:
    """A two-part mail whose second part has exactly these headers and the base64 payload."""
    body = base64.encodebytes(payload)
    return (b"From: Jane <jane@example.com>\r\nSubject: CV\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\n" + part_headers.encode("latin-1")
            + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body + b"\r\n--b--\r\n")


@pytest.mark.parametrize(
    ("headers", "name"),
    [
        ("Content-Type: application/pdf", ""),
        ("Content-Type: application/pdf\r\nContent-Disposition: inline", ""),
        ('Content-Type: application/pdf; name="cv.pdf"\r\nContent-Disposition: inline', "cv.pdf"),
        ('Content-Type: application/octet-stream; name="cv"', "cv"),
        ("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; "
         "filename*=iso-8859-1''Lebenslauf%20J%F6rg.pdf", "Lebenslauf Jörg.pdf"),
        ("Content-Type: application/pdf\r\nContent-Disposition: attachment;\r\n filename*0*=windows-1251''%D0%E5%E7;"
         "\r\n filename*1*=%FE%EC%E5.pdf", "Резюме.pdf"),
        ('Content-Type: application/pdf\r\nContent-Disposition: attachment;\r\n filename*0="Lebens";'
         '\r\n filename*1="lauf.pdf"', "Lebenslauf.pdf"),
        ('Content-Type: application/pdf; name="=?koi8-r?b?8MXU0s/X?= CV.pdf"', "Петров CV.pdf"),
        ("Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*=x-unknown''cv%20a.pdf",
         "cv a.pdf"),
    ],
    ids=["no-disposition", "inline-unnamed", "inline-named", "octet-stream", "rfc2231-latin1",
         "rfc2231-cp1251-continued", "rfc2231-plain-continued", "rfc2047-koi8r", "rfc2231-unknown-charset"],
)
def test_every_disposition_and_name_form_gives_the_resume(headers: str, name: str) -> None:
    """A PDF part is a resume however it is marked and named; the name is decoded."""
    email = parse_email(part_mail(headers))
    assert [a.filename for a in email.attachments] == [name]
    assert [(r.kind, r.data) for r in pick_resumes(email.attachments, ResumeLimits()).resumes] == [("pdf", PDF)]


def test_text_parts_other_than_plain_and_html_are_files() -> None:
    """An unnamed text/rtf or text/calendar part is listed as a file, not dropped, and not the body."""
    email = parse_email(part_mail("Content-Type: text/rtf", RTF))
    assert [a.content_type for a in email.attachments] == ["text/rtf"]
    assert email.body_text == "hello"


@pytest.mark.parametrize(
    ("sent", "safe"),
    [("../../etc/cv.pdf", "cv.pdf"), ("C:\\Users\\jane\\cv.pdf", "cv.pdf"), ("cv\x07\u202e.pdf", "cv.pdf")],
)
def test_unsafe_names_are_cleaned_and_the_original_kept(sent: str, safe: str) -> None:
    """Paths and controls never reach the ATS name; the name as sent is kept for the record."""
    raw = build_email(attachments=[MailAttachment(sent, PDF, "application/pdf", name_style="rfc2047")])
    (attachment,) = parse_email(raw).attachments
    assert (attachment.filename, attachment.original_filename) == (safe, sent)


def test_corpus_path_traversal_name_keeps_its_original() -> None:
    """The corpus mail with `1234/../../1234.txt` keeps that as its original name only."""
    (attachment,) = corpus("phpmmp-path-traversal-filename.eml").attachments
    assert (attachment.filename, attachment.original_filename) == ("1234.txt", "1234/../../1234.txt")


def test_winmail_dat_is_unpacked_into_its_files() -> None:
    """Outlook's TNEF container gives the Word file inside it, marked as coming from winmail.dat."""
    (attachment,) = corpus("mailcore-tnef-winmail-dat.eml").attachments
    assert (attachment.filename, attachment.container) == ("GIR - LINUX.doc", "winmail.dat")
    assert [r.kind for r in pick_resumes([attachment], ResumeLimits()).resumes] == ["doc"]


@pytest.mark.parametrize(
    ("fixture", "looks_like"),
    [
        ("zbateson-outlook-winmail-dat-tnef.eml", "PNG image"),  # named winmail.dat, holds a PNG
        ("mimekit-tnef-winmail-dat-ukrainian.eml", "Outlook winmail.dat (TNEF) with no file inside"),  # body only
    ],
)
def test_winmail_dat_without_files_stays_listed(fixture: str, looks_like: str) -> None:
    """A winmail.dat that is no TNEF, or holds no file, stays one skipped file with a clear reason."""
    pick = pick_resumes(corpus(fixture).attachments, ResumeLimits())
    assert [(s.filename, s.reason) for s in pick.skipped] == [("winmail.dat", NOT_A_RESUME)]
    assert pick.skipped[0].detail.startswith(looks_like)


@pytest.mark.parametrize("data", [b"", b"\x78\x9f\x3e\x22", b"\x78\x9f\x3e\x22" + bytes(range(256)) * 4])
def test_broken_tnef_gives_no_files(data: bytes) -> None:
    """Truncated or junk TNEF never raises."""
    assert unpack(data) == ()


def test_resumes_inside_attached_messages_are_found_and_kept_apart() -> None:
    """Files inside an attached message are files of the mail, and of that attached message."""
    inner = build_email(attachments=[("cv.pdf", PDF, "application/pdf")])
    email = parse_email(build_email(attachments=[("letter.docx", DOCX), forwarded(inner)]))
    assert [a.filename for a in email.attachments] == ["letter.docx", "cv.pdf"]
    (message,) = email.attached
    assert message.attachments == (email.attachments[1],)
    assert message.attachments[0] is email.attachments[1]  # one object: the bytes are not copied
    assert (message.sender_email, message.content_type) == ("jane@example.com", "multipart/mixed")


def test_eml_file_sent_as_octet_stream_is_an_attached_message() -> None:
    """A `.eml` attachment of any declared type is read as a message, its files found."""
    inner = build_email(sender=("Ann", "ann@example.net"), attachments=[("cv.pdf", PDF, "application/pdf")])
    email = parse_email(build_email(attachments=[MailAttachment("mail.eml", inner, "application/octet-stream")]))
    assert [m.sender_email for m in email.attached] == ["ann@example.net"]
    assert [a.filename for a in email.attachments] == ["cv.pdf"]


def test_eml_name_on_other_bytes_stays_a_file() -> None:
    """A `.eml` name on bytes with no mail headers is just a file."""
    email = parse_email(build_email(attachments=[MailAttachment("mail.eml", b"\x00\x01 not mail", "text/plain")]))
    assert (email.attached, [a.filename for a in email.attachments]) == ((), ["mail.eml"])


def test_attached_messages_are_bounded_in_depth() -> None:
    """Messages nested deeper than MAX_ATTACHED_DEPTH give their files but no ParsedEmail."""
    raw = build_email(attachments=[("cv.pdf", PDF, "application/pdf")])
    for _ in range(MAX_ATTACHED_DEPTH + 2):
        raw = build_email(attachments=[forwarded(raw)])
    email = parse_email(raw)
    depth, level = 0, email
    while level.attached:
        depth, level = depth + 1, level.attached[0]
    assert depth == MAX_ATTACHED_DEPTH
    assert [a.filename for a in email.attachments] == ["cv.pdf"]


def test_attached_messages_are_bounded_in_count() -> None:
    """Past MAX_ATTACHED_MESSAGES attached messages, the rest give their files only."""
    inner = build_email(attachments=[("cv.pdf", PDF, "application/pdf")])
    email = parse_email(build_email(attachments=[forwarded(inner)] * (MAX_ATTACHED_MESSAGES + 3)))
    assert len(email.attached) == MAX_ATTACHED_MESSAGES
    assert len(email.attachments) == MAX_ATTACHED_MESSAGES + 3


def test_top_level_content_type_is_kept() -> None:
    """ParsedEmail.content_type is the top-level type, lower case."""
    assert parse_email(build_email(body="hi")).content_type == "text/plain"
    assert parse_email(build_email(attachments=[("cv.pdf", PDF)])).content_type == "multipart/mixed"


def test_same_file_twice_is_one_resume_and_the_copy_says_so() -> None:
    """Identical bytes under two names: one resume; the copy names the first."""
    email = corpus("crafted-same-cv-twice-and-odd-files.eml")
    pick = pick_resumes(email.attachments, ResumeLimits())
    assert [r.filename for r in pick.resumes] == ["cv.pdf"]
    assert [s.text for s in pick.skipped] == [
        "cv (1).pdf: duplicate file (same bytes as cv.pdf, uploaded once)",
        "cv.rtf: not a resume type (RTF document; the ATS takes PDF, DOC and DOCX only)",
        "photo.png: not a resume type (PNG image; the ATS takes PDF, DOC and DOCX only)",
    ]
    assert pick.skipped[0].reason == DUPLICATE


def zip_bytes(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "reason", "detail"),
    [
        (RTF, NOT_A_RESUME, "RTF document"),
        (ODT, NOT_A_RESUME, "OpenDocument file (ODT)"),
        (zip_bytes({"a.txt": b"x"}), NOT_A_RESUME, "zip archive"),
        (zip_bytes({"word/document.xml": b"<x/>", "word/vbaProject.bin": b"x"}), NOT_A_RESUME,
         "Word document with macros (DOCM)"),
        (b"\xff\xd8\xff\xe0" + bytes(20), NOT_A_RESUME, "JPEG image"),
        (b"MZ\x90\x00" + bytes(20), NOT_A_RESUME, "Windows program"),
        (bytes.fromhex("D0CF11E0A1B11AE1") + bytes(100), NOT_A_RESUME, "Office file other than Word"),
        (zip_bytes({"word/document.xml": b"<w/>" + b" " * (MAX_ZIP_RATIO * 2000)}), UNSAFE_ZIP,
         "declared to expand to"),
    ],
    ids=["rtf", "odt", "zip", "docm", "jpeg", "exe", "xls", "docx-bomb"],
)
def test_files_the_ats_does_not_take_are_listed_with_what_they_are(data: bytes, reason: str, detail: str) -> None:
    """Not uploaded, and the skipped entry says what the file looks like or which bound it broke."""
    (skipped,) = pick_resumes([Attachment("file", "application/octet-stream", data)], ResumeLimits()).skipped
    assert skipped.reason == reason
    assert skipped.detail.startswith(detail)


def test_docx_within_its_bounds_is_a_resume() -> None:
    """A real DOCX passes the entry-count and expansion bounds."""
    assert [r.kind for r in pick_resumes([Attachment("cv.docx", "", DOCX)], ResumeLimits()).resumes] == ["docx"]
    assert describe(DOCX) == "docx"


def test_size_and_count_limits_are_recorded() -> None:
    """Too large a file and files past max_files are listed with their limit."""
    files = [Attachment(f"{i}.pdf", "", PDF + bytes([i])) for i in range(4)]
    pick = pick_resumes(files, ResumeLimits(max_bytes=len(PDF), max_files=2))
    assert [(s.filename, s.reason, s.detail) for s in pick.skipped] == [
        ("0.pdf", TOO_LARGE, f"{len(PDF) + 1} bytes, limit {len(PDF)}"),
        ("1.pdf", TOO_LARGE, f"{len(PDF) + 1} bytes, limit {len(PDF)}"),
        ("2.pdf", NOT_INSPECTED, "limit 2"),
        ("3.pdf", NOT_INSPECTED, "limit 2"),
    ]
