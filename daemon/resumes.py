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
  only when it lists at most `MAX_ZIP_ENTRIES` entries.
Everything else (ODT, RTF, Word 2003 XML saved as .doc, images, archives...) is not a resume.
"""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

from daemon.mail import Attachment, Resume
from daemon.parsing import safe_filename

log = logging.getLogger(__name__)

MAX_ZIP_ENTRIES = 10_000
_PDF_MAGIC = b"%PDF-"
_OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_WORD_STREAM = "WordDocument".encode("utf-16-le")
_ZIP_MAGIC = b"PK\x03\x04"

NOT_A_RESUME = "not a resume type"
TOO_LARGE = "too large"
TOO_MANY = "too many attachments"
DUPLICATE = "duplicate file"
EMPTY = "empty file"


@dataclass(frozen=True, slots=True)
class ResumeLimits:
    """How much of a mail may become resumes."""

    max_bytes: int = 20 * 1024 * 1024
    max_count: int = 5


@dataclass(frozen=True, slots=True)
class SkippedAttachment:
    """An attachment that was not taken as a resume, and why (one of the reasons above)."""

    filename: str
    reason: str


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
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            names = {entry.filename for entry in entries}
    except Exception:  # hostile bytes: zipfile raises many types; "not a docx" is the answer
        return False
    if len(entries) > MAX_ZIP_ENTRIES:
        return False
    return "word/document.xml" in names and "word/vbaProject.bin" not in names


def pick_resumes(attachments: Sequence[Attachment], limits: ResumeLimits) -> ResumePick:
    """The first `max_count` distinct PDF/DOC/DOCX attachments within `max_bytes`, in order."""
    resumes: list[Resume] = []
    skipped: list[SkippedAttachment] = []
    seen: set[str] = set()
    for attachment in attachments:
        name = safe_filename(attachment.filename)
        kind, reason = _judge(attachment.data, limits, seen, len(resumes))
        if kind is None:
            skipped.append(SkippedAttachment(filename=name, reason=reason))
        else:
            resumes.append(Resume(kind=kind, filename=name, data=attachment.data))
    log.debug("resumes.picked", extra={"resumes": len(resumes), "skipped": len(skipped)})
    return ResumePick(resumes=tuple(resumes), skipped=tuple(skipped))


def _judge(data: bytes, limits: ResumeLimits, seen: set[str], taken: int) -> tuple[str | None, str]:
    """The resume kind of one attachment, or None and the reason it is left out."""
    if not data:
        return None, EMPTY
    if len(data) > limits.max_bytes:
        return None, TOO_LARGE
    kind = detect_kind(data)
    if kind is None:
        return None, NOT_A_RESUME
    digest = hashlib.sha256(data).hexdigest()
    if digest in seen:
        return None, DUPLICATE
    if taken >= limits.max_count:
        return None, TOO_MANY
    seen.add(digest)
    return kind, ""
