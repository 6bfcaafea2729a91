"""A recorded mail made fit to show: its text, its HTML made inert by nh3 (the ammonia sanitiser),
and its files (pure: bytes in, data out)."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass

import nh3

from daemon.mail.parsing import parse_email

HTML_LIMIT = 2_000_000  # characters of an HTML body shown at most
ALLOWED_URL_SCHEMES = {"https", "http", "mailto"}


@dataclass(frozen=True, slots=True)
class File:
    index: int
    name: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class MailView:
    text: str
    html: str  # sanitised: no script, no event handlers, no style, no remote frames; "" when none
    files: tuple[File, ...]


def view(raw: bytes) -> MailView:
    parsed = parse_email(raw)
    files = tuple(File(i, a.filename or f"file-{i + 1}", a.content_type, len(a.data))
                  for i, a in enumerate(parsed.attachments))
    return MailView(parsed.body_text, sanitised(_html_part(raw)), files)


def attachment(raw: bytes, index: int) -> tuple[str, bytes] | None:
    """The name and bytes of the mail's file number `index` (as `view` lists them)."""
    files = parse_email(raw).attachments
    if not 0 <= index < len(files):
        return None
    return files[index].filename or f"file-{index + 1}", files[index].data


def sanitised(html: str) -> str:
    """HTML with only harmless tags and attributes left; links open nothing by themselves."""
    if not html:
        return ""
    return nh3.clean(html[:HTML_LIMIT], url_schemes=ALLOWED_URL_SCHEMES, link_rel="noopener noreferrer nofollow",
                     tags=nh3.ALLOWED_TAGS - {"img"})


def _html_part(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    part = message.get_body(preferencelist=("html",)) if hasattr(message, "get_body") else None
    if part is None:
        return ""
    try:
        return part.get_content()
    except (LookupError, ValueError):
        return ""
