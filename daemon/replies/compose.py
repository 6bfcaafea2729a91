"""One reply as an `email.message.EmailMessage`: RFC 3834's headers, and nothing a sender could inject.

Addresses go through `email.headerregistry.Address` and every header through the `SMTP` policy,
which refuses a line break in a value; the subject and body come from a filled template (each
field on one line). The Message-ID is given: it was fixed and recorded before the first send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from daemon.replies.templates import Text

MAX_REFERENCES = 20


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who a reply is from and to, and the mail it answers (its Message-ID and References)."""

    from_address: str
    from_name: str
    to_address: str
    to_name: str = ""
    answers: str = ""  # the Message-ID of the mail answered, without angle brackets ("" none)
    references: tuple[str, ...] = ()  # that mail's References, without angle brackets


def compose(envelope: Envelope, text: Text, message_id: str, when: datetime) -> EmailMessage:
    """The reply, ready to send; ValueError when an address or header is not one."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = _address(envelope.from_name, envelope.from_address)
    message["To"] = _address(envelope.to_name, envelope.to_address)
    message["Subject"] = text.subject
    message["Date"] = format_datetime(when)
    message["Message-ID"] = f"<{message_id}>"
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    if envelope.answers:
        message["In-Reply-To"] = f"<{envelope.answers}>"
        chain = [*envelope.references[-(MAX_REFERENCES - 1):], envelope.answers]
        message["References"] = " ".join(f"<{ref}>" for ref in dict.fromkeys(chain))
    message.set_content(text.body)
    return message


def _address(name: str, address: str) -> Address:
    local, _, domain = address.rpartition("@")
    if not local or not domain or any(c in address for c in "\r\n<>,; \t\""):
        raise ValueError(f"not one address: {address!r}")
    return Address(display_name=" ".join(name.split()), username=local, domain=domain)
