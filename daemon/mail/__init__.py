"""What the daemon knows about one email once it is parsed (pure data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attached file, exactly as sent (bytes decoded from their transfer encoding)."""

    filename: str  # decoded (RFC 2047/2231), path stripped, NFC, no control chars; may be ""
    content_type: str  # as declared by the sender, lower case; not trusted
    data: bytes
    # The name as sent, decoded but not sanitised (paths, controls kept; capped in length), for
    # the record only: escape it before showing it, never use it as a path or send it on.
    original_filename: str = ""
    # Where the file was found when not a part of its own: "winmail.dat" for a file unpacked
    # from a TNEF attachment; "" otherwise.
    container: str = ""


@dataclass(frozen=True, slots=True)
class ParsedEmail:
    """The fields of one email the rest of the pipeline needs."""

    sender_name: str  # RFC 2047 decoded display name, "" when absent
    sender_email: str  # lower-cased addr-spec, "" when absent
    subject: str
    date: datetime | None  # timezone-aware when the header carried an offset
    message_id: str  # with angle brackets stripped, "" when absent
    body_text: str
    attachments: tuple[Attachment, ...]
    # Every top-level header as (lower-case name, decoded one-line value), in order; at most
    # MAX_HEADERS of them, each value capped. Rules and the automatic-mail check read these.
    headers: tuple[tuple[str, str], ...] = ()
    # Addresses the mail was sent to (To, Cc, Delivered-To, X-Original-To), lower-cased.
    recipients: tuple[str, ...] = ()
    # The top-level `type/subtype`, lower case ("multipart/report" for a delivery report).
    content_type: str = ""
    # Messages attached to this one (message/rfc822 parts and `.eml` files), in mail order,
    # each parsed the same way (its own `attached` holding deeper ones); bounded in count and
    # depth (`parsing.MAX_ATTACHED_MESSAGES`, `parsing.MAX_ATTACHED_DEPTH`). Their files are
    # also in `attachments`, which lists every file of the mail at any depth.
    attached: tuple[ParsedEmail, ...] = ()

    def header(self, name: str) -> str:
        """The first value of a header ("" when absent); `name` in any case."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), "")

    def header_values(self, name: str) -> tuple[str, ...]:
        """Every value of a header, in order."""
        wanted = name.lower()
        return tuple(value for key, value in self.headers if key == wanted)


@dataclass(frozen=True, slots=True)
class Resume:
    """An attachment recognised as a resume by its bytes."""

    kind: str  # "pdf", "doc" or "docx"
    filename: str  # safe display name (never used as a path)
    data: bytes

    @property
    def upload_name(self) -> str:
        """The file name sent to the ATS: the sender's name when usable, else generic."""
        stem = self.filename.rsplit(".", 1)[0] if self.filename else ""
        return f"{stem or 'resume'}.{self.kind}"
