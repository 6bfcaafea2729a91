"""The SMTP relay behind one method: `send(message)`.

`SmtpRelay` speaks submission with STARTTLS or TLS from the start, always with the relay's
certificate and name checked (the system's CAs, plus `ca_file`), and logs in when a user is
configured. smtplib's errors are translated here: 4xx, a refused login and a network fault are
`RelayUnavailable` (the reply waits and is tried again), 5xx is `RelayRefused` (never sent).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol

from daemon.config import ReplySettings
from daemon.errors import RelayRefused, RelayUnavailable


class Relay(Protocol):
    """Where replies are handed over; raises RelayUnavailable or RelayRefused."""

    def send(self, message: EmailMessage) -> None: ...


class SmtpRelay:
    """One connection per delivery round is plenty for replies: `send` connects, sends, quits."""

    def __init__(self, settings: ReplySettings):
        self.settings = settings
        self.context = ssl.create_default_context(cafile=settings.ca_file or None)

    def send(self, message: EmailMessage) -> None:
        s = self.settings
        try:
            if s.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=self.context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
            with smtp:
                if s.security == "starttls":
                    smtp.starttls(context=self.context)
                if s.username:
                    smtp.login(s.username, s.password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise _by_code(min(codes, default=450), "the relay refused the recipient") from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, f"the relay said {exc.smtp_code}") from exc
        except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            raise RelayUnavailable(f"the relay {s.host}:{s.port} cannot be used: {type(exc).__name__}") from exc


def _by_code(code: int, said: str) -> RelayUnavailable | RelayRefused:
    if 500 <= code < 600 and code not in (530, 535):  # a refused login may be fixed: try again later
        return RelayRefused(said)
    return RelayUnavailable(said)
