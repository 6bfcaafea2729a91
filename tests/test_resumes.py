"""Recognising resumes by their bytes and picking them from a mail's attachments."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path

import pytest

from daemon.mail import Attachment
from daemon.mail.parsing import parse_email
from daemon.mail.resumes import (
    MAX_ZIP_ENTRIES,
    ResumeLimits,
    SkippedAttachment,
    detect_kind,
    pick_resumes,
)

FIXTURES = Path(__file__).parent / "fixtures"
PDF = (FIXTURES / "resumes" / "rendercv-john-doe-classic.pdf").read_bytes()
SMALL_PDF = (FIXTURES / "resumes" / "rendercv-near-empty-cv.pdf").read_bytes()
DOCX = (FIXTURES / "resumes" / "pandocresume-johnny-coder.docx").read_bytes()
WORD_XML_DOC = (FIXTURES / "resumes" / "hackmyresume-jane-fullstacker-wordml-xml.doc").read_bytes()
ODT = (FIXTURES / "resumes" / "nextcloud-minimalist-resume-template.odt").read_bytes()
RTF = (FIXTURES / "resumes" / "pandocresume-johnny-coder.rtf").read_bytes()
OLE2 = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(504)  # a compound file header, no streams
DOC = OLE2 + "WordDocument".encode("utf-16-le").ljust(64, b"\0")  # ...with Word's main stream
XLS = OLE2 + "Workbook".encode("utf-16-le").ljust(64, b"\0")
EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"
    + bytes(100)
    + b"This program cannot be run"
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)


def zip_of(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, b"<x/>")
    return buffer.getvalue()


def corpus_mail(name: str) -> list[Attachment]:
    return list(parse_email((FIXTURES / "emails" / name).read_bytes()).attachments)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (PDF, "pdf"),
        (b"%PDF-1.7\n%%EOF", "pdf"),
        (DOCX, "docx"),
        (zip_of("[Content_Types].xml", "word/document.xml"), "docx"),
        (DOC, "doc"),
        (XLS, None),
        (OLE2, None),
        (WORD_XML_DOC, None),
        (ODT, None),
        (RTF, None),
        (zip_of("readme.txt", "cv.pdf"), None),
        (zip_of("word/document.xml", "word/vbaProject.bin"), None),
        (b"PK\x03\x04" + b"not really a zip" * 10, None),
        (EXE, None),
        (PNG, None),
        (b"%PDF", None),
        (b"junk before the header\n%PDF-1.4\n", None),
        (b"", None),
    ],
    ids=[
        "rendercv-pdf",
        "minimal-pdf",
        "pandoc-docx",
        "minimal-docx",
        "ole2-word",
        "ole2-excel",
        "ole2-empty",
        "word2003-xml-doc",
        "odt",
        "rtf",
        "generic-zip",
        "docm-macros",
        "broken-zip",
        "exe",
        "png",
        "pdf-without-dash",
        "pdf-after-junk",
        "empty",
    ],
)
def test_detect_kind(data: bytes, kind: str | None) -> None:
    """PDF, Word DOC and DOCX are told by their bytes; everything else is None."""
    assert detect_kind(data) == kind


def test_zip_with_too_many_entries_is_not_a_docx() -> None:
    """A DOCX-looking zip listing more than MAX_ZIP_ENTRIES entries is refused unopened."""
    names = ["word/document.xml", *(f"f/{i}" for i in range(MAX_ZIP_ENTRIES))]
    assert detect_kind(zip_of(*names)) is None
    assert detect_kind(zip_of(*names[:-1])) == "docx"


def test_real_binary_doc_from_the_corpus_is_a_doc() -> None:
    """The Word 97 file attached to a corpus mail is recognised as "doc"."""
    attachments = corpus_mail("phpmmp-doc-attachment-rfc2047-in-quoted-filename.eml")
    assert [detect_kind(a.data) for a in attachments] == ["doc"]


def test_limits_defaults_and_immutability() -> None:
    """Defaults are 20 MiB and 5 files; limits are frozen."""
    limits = ResumeLimits()
    assert (limits.max_bytes, limits.max_count) == (20 * 1024 * 1024, 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.max_count = 9  # type: ignore[misc]


def test_pick_keeps_resumes_in_order_and_says_why_others_were_skipped() -> None:
    """Resumes keep mail order; the rest are listed with their reason."""
    attachments = [
        Attachment("photo.png", "image/png", PNG),
        Attachment("cv.pdf", "application/pdf", PDF),
        Attachment("cv.docx", "application/octet-stream", DOCX),
        Attachment("old.doc", "application/msword", DOC),
    ]
    pick = pick_resumes(attachments, ResumeLimits())
    assert [(r.kind, r.filename) for r in pick.resumes] == [
        ("pdf", "cv.pdf"),
        ("docx", "cv.docx"),
        ("doc", "old.doc"),
    ]
    assert [r.data for r in pick.resumes] == [PDF, DOCX, DOC]
    assert pick.skipped == (SkippedAttachment("photo.png", "not a resume type"),)


@pytest.mark.parametrize(
    ("attachment", "kind", "upload_name"),
    [
        (Attachment("cv.txt", "text/plain", PDF), "pdf", "cv.pdf"),
        (Attachment("", "application/octet-stream", PDF), "pdf", "resume.pdf"),
        (Attachment("Lebenslauf", "application/octet-stream", DOCX), "docx", "Lebenslauf.docx"),
    ],
    ids=["pdf-named-txt", "pdf-unnamed", "docx-without-extension"],
)
def test_declared_type_and_name_do_not_matter(
    attachment: Attachment, kind: str, upload_name: str
) -> None:
    """A resume is recognised whatever its name or declared type; the upload name uses the kind."""
    (resume,) = pick_resumes([attachment], ResumeLimits()).resumes
    assert (resume.kind, resume.upload_name) == (kind, upload_name)


@pytest.mark.parametrize(
    "attachment",
    [
        Attachment("cv.pdf", "application/pdf", EXE),
        Attachment("cv.doc", "application/msword", WORD_XML_DOC),
        Attachment("cv.doc", "application/vnd.ms-excel", XLS),
        Attachment("cv.odt", "application/vnd.oasis.opendocument.text", ODT),
        Attachment("cv.rtf", "application/rtf", RTF),
    ],
    ids=["exe-named-pdf", "word2003-xml", "excel-named-doc", "odt", "rtf"],
)
def test_non_resumes_are_skipped_whatever_their_name(attachment: Attachment) -> None:
    """Files that are not PDF/DOC/DOCX are skipped as "not a resume type"."""
    pick = pick_resumes([attachment], ResumeLimits())
    assert pick.resumes == ()
    assert pick.skipped == (SkippedAttachment(attachment.filename, "not a resume type"),)


def test_size_limit_is_inclusive() -> None:
    """A file of exactly max_bytes is kept; one byte more is "too large"."""
    limits = ResumeLimits(max_bytes=len(SMALL_PDF))
    pick = pick_resumes([Attachment("a.pdf", "", SMALL_PDF), Attachment("b.pdf", "", PDF)], limits)
    assert [r.filename for r in pick.resumes] == ["a.pdf"]
    assert pick.skipped == (SkippedAttachment("b.pdf", "too large"),)


def test_count_limit_keeps_the_first_resumes() -> None:
    """Beyond max_count, further resumes are "too many attachments"; non-resumes do not count."""
    files = [
        Attachment("p.png", "", PNG),
        Attachment("1.pdf", "", PDF),
        Attachment("2.docx", "", DOCX),
        Attachment("3.pdf", "", SMALL_PDF),
    ]
    pick = pick_resumes(files, ResumeLimits(max_count=2))
    assert [r.filename for r in pick.resumes] == ["1.pdf", "2.docx"]
    assert pick.skipped == (
        SkippedAttachment("p.png", "not a resume type"),
        SkippedAttachment("3.pdf", "too many attachments"),
    )


def test_identical_bytes_are_one_resume() -> None:
    """The same file attached twice (any names) is kept once; the copy is a "duplicate file"."""
    files = [
        Attachment("cv.pdf", "", PDF),
        Attachment("cv (1).pdf", "", PDF),
        Attachment("b.docx", "", DOCX),
    ]
    pick = pick_resumes(files, ResumeLimits(max_count=2))
    assert [r.filename for r in pick.resumes] == ["cv.pdf", "b.docx"]
    assert pick.skipped == (SkippedAttachment("cv (1).pdf", "duplicate file"),)


def test_empty_attachment_is_skipped() -> None:
    """A zero-byte attachment is skipped as an empty file."""
    pick = pick_resumes([Attachment("cv.pdf", "application/pdf", b"")], ResumeLimits())
    assert (pick.resumes, pick.skipped) == ((), (SkippedAttachment("cv.pdf", "empty file"),))


def test_resume_names_are_made_safe() -> None:
    """Names that reach the picker unsanitised still come out as safe display names."""
    pick = pick_resumes([Attachment("../../etc/cv\x00.pdf", "", PDF)], ResumeLimits())
    assert [r.filename for r in pick.resumes] == ["cv.pdf"]


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("spamscope-cdo-pdf-as-octet-stream-large.eml", [("pdf", "Bollettino.pdf")]),
        (
            "phpmmp-docx-pdf-odt-attachments-nested-rfc822.eml",
            [("docx", "Hello from SwiftMailer.docx"), ("pdf", "Hello from SwiftMailer.pdf")],
        ),
        ("mikel-forwarded-rfc822-containing-pdf.eml", [("pdf", "broken.pdf")]),
        (
            "phpmmp-doc-attachment-rfc2047-in-quoted-filename.eml",
            [("doc", "Biodiversité de semaine en semaine.doc")],
        ),
        ("enmime-msword-doc-attachment.eml", []),  # "some.doc" holds 7 bytes of HTML
        # The Word 97 file Outlook wrapped in winmail.dat (TNEF), unpacked.
        ("mailcore-tnef-winmail-dat.eml", [("doc", "GIR - LINUX.doc")]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_resumes_picked_from_corpus_mails(fixture: str, expected: list[tuple[str, str]]) -> None:
    """Parsing then picking finds exactly the real PDF/DOC/DOCX files of corpus mails."""
    pick = pick_resumes(corpus_mail(fixture), ResumeLimits())
    assert [(r.kind, r.filename) for r in pick.resumes] == expected
