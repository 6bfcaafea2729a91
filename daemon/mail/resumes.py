"""Which attachments of a mail are resumes: PDF, DOC or DOCX, recognised by their bytes.

The declared content type and the file name are the sender's claims and are ignored: a PDF
sent as `application/octet-stream` named `cv.txt` is a PDF, an `.exe` named `cv.pdf` is not.

Kinds (decided from the first bytes, as the ATS's own type check would):
- "pdf": the data starts with `%PDF-`. Leading junk is *not* tolerated, although Acrobat
  accepts `%PDF-` anywhere in the first 1024 bytes: libmagic and most server-side checks
  look at offset 0 only, so such a file would be refused after upload anyway.
- "doc": OLE2 compound file magic `D0 CF 11 E0 A1 B1 1A E1` *and* a `WordDocument` stream
  name in it. OLE2 alone also means Excel, PowerPoint or an Outlook .msg, which must not be
  uploaded as `resume.doc`.
- "docx": a zip holding `word/document.xml` and no `word/vbaProject.bin` (a macro-enabled
  .docm is refused). The zip is read from memory, its directory only, never extracted, and
  only when it lists at most `MAX_ZIP_ENTRIES` entries whose declared sizes add up to at
  most `MAX_ZIP_EXPANDED_BYTES` and `MAX_ZIP_RATIO` times the file (a zip bomb would make
  the ATS's own CV parser extract gigabytes); beyond that it is refused as UNSAFE_ZIP.
Everything else (ODT, RTF, Word 2003 XML saved as .doc, images, archives...) is not a resume;
`SkippedAttachment.detail` says what it looks like, so the comment can list it clearly.
"""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field

from daemon.mail import Attachment, Resume
from daemon.mail.parsing import safe_filename

log = logging.getLogger(__name__)

MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_RATIO = 100  # declared expanded size over file size; a text-heavy DOCX is near 10
MAX_ZIP_EXPANDED_BYTES = 512 * 1024 * 1024
_PDF_MAGIC = b"%PDF-"
_OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_WORD_STREAM = "WordDocument".encode("utf-16-le")
_ZIP_MAGIC = b"PK\x03\x04"

NOT_A_RESUME = "not a resume type"
TOO_LARGE = "too large"
TOO_MANY = "too many attachments"
DUPLICATE = "duplicate file"
EMPTY = "empty file"
UNSAFE_ZIP = "zip beyond the inspection limits"
NOT_INSPECTED = "not inspected (too many files in the mail)"
_ACCEPTED = "the ATS takes PDF, DOC and DOCX only"
# What a file that is no resume looks like, from its first bytes (for the skipped list only).
_LOOKS_LIKE = (
    (b"\x78\x9f\x3e\x22", "Outlook winmail.dat (TNEF) with no file inside"),
    (b"{\\rtf", "RTF document"),
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"BM", "BMP image"),
    (b"Rar!", "RAR archive"),
    (b"7z\xbc\xaf", "7-Zip archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"BZh", "bzip2 archive"),
    (b"MZ", "Windows program"),
    (b"\x7fELF", "program"),
    (b"<?xml", "XML file (Word 2003 XML is no DOC)"),
)


@dataclass(frozen=True, slots=True)
class ResumeLimits:
    """How much of a mail may become resumes: the size of one file, the resumes taken, and the
    files looked at in all (a mail of hundreds of parts is not inspected past that)."""

    max_bytes: int = 20 * 1024 * 1024
    max_count: int = 5
    max_files: int = 50


@dataclass(frozen=True, slots=True)
class SkippedAttachment:
    """An attachment that was not taken as a resume, and why (one of the reasons above).

    `detail` says more for a person ("RTF document; the ATS takes PDF, DOC and DOCX only",
    "same bytes as cv.pdf, uploaded once"); it does not take part in comparisons.
    """

    filename: str
    reason: str
    detail: str = field(default="", compare=False)

    @property
    def text(self) -> str:
        """One line for the comment and the record: "photo.png: not a resume type (PNG image; ...)"."""
        line = f"{self.filename or 'unnamed file'}: {self.reason}"
        return f"{line} ({self.detail})" if self.detail else line


@dataclass(frozen=True, slots=True)
class ResumePick:
    """The resumes found in one mail, in mail order, and the attachments left out."""

    resumes: tuple[Resume, ...]
    skipped: tuple[SkippedAttachment, ...]


def detect_kind(data: bytes) -> str | None:
    """The resume kind of these bytes ("pdf", "doc" or "docx"), or None for anything else."""
    if data.startswith(_PDF_MAGIC):
        return "pdf"
    if data.startswith(_OLE2_MAGIC):
        return "doc" if _WORD_STREAM in data else None
    if data.startswith(_ZIP_MAGIC):
        return "docx" if _is_docx(data) else None
    return None


def _is_docx(data: bytes) -> bool:
    return _zip_verdict(data) == "docx"


def _zip_verdict(data: bytes) -> str:
    """"docx", "unsafe: <why>" for a zip past the inspection limits, or what else the zip is."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except Exception:  # hostile bytes: zipfile raises many types; "not a docx" is the answer
        return "damaged zip archive"
    if len(entries) > MAX_ZIP_ENTRIES:
        return f"unsafe: {len(entries)} entries, limit {MAX_ZIP_ENTRIES}"
    expanded = sum(entry.file_size for entry in entries)
    if expanded > MAX_ZIP_EXPANDED_BYTES or expanded > MAX_ZIP_RATIO * len(data):
        limits = f"limits {MAX_ZIP_EXPANDED_BYTES} bytes and {MAX_ZIP_RATIO} times the file"
        return f"unsafe: declared to expand to {expanded} bytes from {len(data)} ({limits})"
    names = {entry.filename for entry in entries}
    if "word/vbaProject.bin" in names:
        return "Word document with macros (DOCM)"
    if "word/document.xml" in names:
        return "docx"
    if any(name.startswith("content.xml") for name in names) or "mimetype" in names:
        return "OpenDocument file (ODT)"
    return "zip archive"


def describe(data: bytes) -> str:
    """What a file that is no resume looks like, from its first bytes ("PNG image", "zip archive")."""
    if data.startswith(_ZIP_MAGIC):
        return _zip_verdict(data)
    if data.startswith(_OLE2_MAGIC):
        return "Office file other than Word (Excel, PowerPoint, Outlook item)"
    found = next((label for magic, label in _LOOKS_LIKE if data.startswith(magic)), None)
    if found is not None:
        return found
    head = data[:512]
    if b"<html" in head.lower():
        return "HTML page"
    return "text file" if _is_text(head) else "unknown file type"


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return b"\x00" not in head
    return True


def pick_resumes(attachments: Sequence[Attachment], limits: ResumeLimits) -> ResumePick:
    """The first `max_count` distinct PDF/DOC/DOCX attachments within `max_bytes`, in order.

    The same bytes attached twice (any names) are taken once; the copy is listed as DUPLICATE
    naming the first. Past `max_files` attachments, the rest are listed as NOT_INSPECTED.
    """
    resumes: list[Resume] = []
    skipped: list[SkippedAttachment] = []
    seen: dict[str, str] = {}  # sha256 -> name of the first copy taken
    for index, attachment in enumerate(attachments):
        name = safe_filename(attachment.filename)
        if index >= limits.max_files:
            skipped.append(SkippedAttachment(name, NOT_INSPECTED, f"limit {limits.max_files}"))
            continue
        kind, reason, detail = _judge(attachment.data, limits, seen, len(resumes))
        if kind is None:
            skipped.append(SkippedAttachment(filename=name, reason=reason, detail=detail))
        else:
            seen[hashlib.sha256(attachment.data).hexdigest()] = name or "an unnamed file"
            resumes.append(Resume(kind=kind, filename=name, data=attachment.data))
    log.debug("resumes.picked", extra={"resumes": len(resumes), "skipped": len(skipped)})
    return ResumePick(resumes=tuple(resumes), skipped=tuple(skipped))


def _judge(
    data: bytes, limits: ResumeLimits, seen: dict[str, str], taken: int
) -> tuple[str | None, str, str]:
    """The resume kind of one attachment, or None with the reason it is left out and a detail."""
    if not data:
        return None, EMPTY, ""
    if len(data) > limits.max_bytes:
        return None, TOO_LARGE, f"{len(data)} bytes, limit {limits.max_bytes}"
    kind = detect_kind(data)
    if kind is None:
        looks = describe(data)
        if looks.startswith("unsafe: "):
            return None, UNSAFE_ZIP, looks.removeprefix("unsafe: ")
        return None, NOT_A_RESUME, f"{looks}; {_ACCEPTED}"
    digest = hashlib.sha256(data).hexdigest()
    if digest in seen:
        return None, DUPLICATE, f"same bytes as {seen[digest]}, uploaded once"
    if taken >= limits.max_count:
        return None, TOO_MANY, f"limit {limits.max_count} resumes"
    return kind, "", ""
