"""Build raw test emails in code, byte for byte under the test's control.

    raw = build_email(
        sender=("Jane Doe", "jane@example.com"),
        subject="Application: Backend Engineer",
        attachments=[("cv.pdf", pdf_bytes, "application/pdf", "quoted-printable")],
    )

The outer message is an `email.message.EmailMessage` (SMTP policy: CRLF; lines up to 998
characters so that no header is refolded behind the test's back), so sender names and
subjects are RFC 2047 encoded by the library. Attachment parts are written with verbatim
headers, so a test can choose exactly how the file name is put on the wire:

- "rfc2231": `filename="cv.pdf"` when ASCII, else `filename*=utf-8''...`, split into
  RFC 2231 continuations (`filename*0*`, `filename*1*`...) when long;
- "rfc2047": `name="=?utf-8?b?...?="` / `filename="=?utf-8?b?...?="` (Outlook, Gmail),
  folded into several encoded words when long;
- "raw": the UTF-8 bytes of the name unencoded in the header (RFC 6532 style).

`headers` are written verbatim at the top of the message (str values go out as UTF-8), for
hand-encoded or hostile headers: `headers={"From": "=?iso-8859-1?q?J=F6rg?= <j@x.org>"}`
with `sender=None`. Transfer encodings: "base64" and "quoted-printable" for any bytes;
"7bit"/"8bit" for text only (line endings are rewritten to CRLF).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid, quote
from urllib.parse import quote as percent_quote

_POLICY = SMTP.clone(max_line_length=998)
AUTO = "auto"  # message_id: generate a fresh unique Message-ID
DEFAULT_DATE = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
_RFC2231_CHUNK = 45  # characters of percent-encoded name per continuation
_RFC2047_CHUNK = 30  # bytes of name per encoded word


@dataclass(frozen=True, slots=True)
class MailAttachment:
    """One attached file and how it is put on the wire."""

    filename: str | None
    data: bytes
    content_type: str = "application/octet-stream"
    cte: str = "base64"  # "base64", "quoted-printable", "7bit" or "8bit"
    name_style: str = "rfc2231"  # "rfc2231", "rfc2047" or "raw"
    disposition: str = "attachment"  # or "inline"


AttachmentSpec = (
    MailAttachment
    | tuple[str | None, bytes]
    | tuple[str | None, bytes, str]
    | tuple[str | None, bytes, str, str]
)


def build_email(
    *,
    sender: tuple[str, str] | None = ("Jane Doe", "jane@example.com"),
    to: str = "jobs@example.com",
    subject: str | None = "Application",
    body: str | None = "Hello,\nplease find my CV attached.\n",
    html: str | None = None,
    attachments: Sequence[AttachmentSpec] = (),
    message_id: str | None = AUTO,
    date: datetime | None = DEFAULT_DATE,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """A complete RFC 5322 message as bytes; None leaves a header (or the text body) out."""
    message = EmailMessage(policy=_POLICY)
    _set_envelope(message, sender, to, subject, message_id, date)
    _set_text(message, body, html)
    parts = [_attachment_part(_as_attachment(spec)) for spec in attachments]
    if parts:
        message.make_mixed()
        for part in parts:
            message.attach(part)
    raw_headers = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    return raw_headers.encode("utf-8") + message.as_bytes()


def forwarded(inner: bytes, filename: str | None = "forwarded.eml") -> MailAttachment:
    """An email attached as message/rfc822 (forward as attachment)."""
    crlf = re.sub(rb"\r?\n", b"\r\n", inner)
    return MailAttachment(filename, crlf, "message/rfc822", "8bit")


def _set_envelope(
    message: EmailMessage,
    sender: tuple[str, str] | None,
    to: str,
    subject: str | None,
    message_id: str | None,
    date: datetime | None,
) -> None:
    if sender is not None:
        message["From"] = formataddr(sender)
    message["To"] = to
    if subject is not None:
        message["Subject"] = subject
    if date is not None:
        message["Date"] = format_datetime(date)
    if message_id is not None:
        message["Message-ID"] = (
            make_msgid(domain="example.com") if message_id == AUTO else message_id
        )


def _set_text(message: EmailMessage, body: str | None, html: str | None) -> None:
    if body is not None:
        message.set_content(body)
    if html is not None and body is not None:
        message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")


def _as_attachment(spec: AttachmentSpec) -> MailAttachment:
    if isinstance(spec, MailAttachment):
        return spec
    return MailAttachment(*spec)


def _attachment_part(attachment: MailAttachment) -> Message:
    """A part with verbatim headers (compat32 `Message`), so nothing re-encodes the name."""
    part = Message()
    type_name, disposition_name = _name_params(attachment.filename, attachment.name_style)
    part["Content-Type"] = attachment.content_type + type_name
    part["Content-Disposition"] = attachment.disposition + disposition_name
    part["Content-Transfer-Encoding"] = attachment.cte
    part.set_payload(_encoded(attachment.data, attachment.cte))
    return part


def _name_params(filename: str | None, style: str) -> tuple[str, str]:
    """The `name` parameter of Content-Type and `filename` of Content-Disposition."""
    if filename is None:
        return "", ""
    if filename.isascii() and filename.isprintable():  # plain quoted-string, whatever the style
        return f'; name="{quote(filename)}"', f'; filename="{quote(filename)}"'
    if style == "rfc2047":
        words = _encoded_words(filename)
        return f'; name="{words}"', f'; filename="{words}"'
    if style == "raw":
        escaped = quote(filename).encode("utf-8").decode("ascii", "surrogateescape")
        return f'; name="{escaped}"', f'; filename="{escaped}"'
    if style == "rfc2231":
        return "", _rfc2231(filename)
    raise ValueError(f"unknown name_style {style!r}")


def _encoded_words(text: str) -> str:
    data = text.encode("utf-8")
    chunks, start = [], 0
    while start < len(data):  # cut on character boundaries
        end = min(start + _RFC2047_CHUNK, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        chunks.append(f"=?utf-8?b?{base64.b64encode(data[start:end]).decode('ascii')}?=")
        start = end
    return "\r\n ".join(chunks)


def _rfc2231(text: str) -> str:
    encoded = percent_quote(text.encode("utf-8"), safe="")
    if len(encoded) <= _RFC2231_CHUNK:
        return f"; filename*=utf-8''{encoded}"
    pieces = re.findall(r"(?:%[0-9A-F]{2}|[^%]){1," + str(_RFC2231_CHUNK // 3) + "}", encoded)
    params = [
        f"filename*{i}*={'utf-8' + chr(39) * 2 if i == 0 else ''}{p}" for i, p in enumerate(pieces)
    ]
    return ";\r\n " + ";\r\n ".join(params)


def _encoded(data: bytes, cte: str) -> str:
    if cte == "base64":
        return base64.encodebytes(data).decode("ascii")
    if cte == "quoted-printable":
        return binascii.b2a_qp(data, quotetabs=True, istext=False, header=False).decode("ascii")
    if cte in ("7bit", "8bit"):
        return data.decode("ascii", "surrogateescape")
    raise ValueError(f"unknown transfer encoding {cte!r}")
