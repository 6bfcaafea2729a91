"""What became of one message, and what an error means for it (pure).

`classify` is the one place that turns an exception met while handling a message into a
disposition; what a disposition means for the message and the pass is decided in one other
place, daemon.intake.lifecycle (`judge`). Nothing acts on exception types:

    exception                                  disposition
    ConfigError, AtsRejected 401/403           CONFIG
    DatabaseReplaced                           CONFIG
    AtsMisdirected                             ATS_WIDE
    StoreBusy                                  STORE_BUSY
    MailboxUnavailable                         MAILBOX_DOWN
    MailboxActionRefused                       ACTION_REFUSED
    Conflict                                   CONFLICT
    OutcomeUnknown                             UNCERTAIN
    CircuitOpen (the call was never tried)     UNTRIED
    AtsUnavailable (5xx, 429, connect)         TRANSIENT
    PermanentError (no resume, no job, 4xx)    PERMANENT
    anything else (a bug)                      BUG
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import datetime

from daemon.ats.breaker import CircuitOpen
from daemon.domain import Person
from daemon.errors import (
    AtsMisdirected,
    AtsRejected,
    AtsUnavailable,
    ConfigError,
    Conflict,
    DatabaseReplaced,
    MailboxActionRefused,
    MailboxUnavailable,
    OutcomeUnknown,
    PermanentError,
    StoreBusy,
    TransientError,
)
from daemon.mail import ParsedEmail


class Disposition(enum.Enum):
    CONFIG = "configuration"
    ATS_WIDE = "ATS-wide fault"
    STORE_BUSY = "database busy"
    MAILBOX_DOWN = "mailbox unavailable"
    ACTION_REFUSED = "mailbox action refused"
    CONFLICT = "changed meanwhile"
    UNCERTAIN = "outcome unknown"
    UNTRIED = "not tried (ATS circuit open)"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    BUG = "unexpected error"


_TABLE: tuple[tuple[type[BaseException], Disposition], ...] = (
    (ConfigError, Disposition.CONFIG),
    (DatabaseReplaced, Disposition.CONFIG),
    (AtsMisdirected, Disposition.ATS_WIDE),
    (StoreBusy, Disposition.STORE_BUSY),
    (MailboxUnavailable, Disposition.MAILBOX_DOWN),
    (MailboxActionRefused, Disposition.ACTION_REFUSED),
    (Conflict, Disposition.CONFLICT),
    (OutcomeUnknown, Disposition.UNCERTAIN),
    (CircuitOpen, Disposition.UNTRIED),
    (AtsUnavailable, Disposition.TRANSIENT),
    (TransientError, Disposition.TRANSIENT),
    (PermanentError, Disposition.PERMANENT),
)


def classify(exc: BaseException) -> Disposition:
    """The disposition of an error met while handling one message (first row that fits)."""
    if isinstance(exc, AtsRejected) and exc.status in (401, 403):
        return Disposition.CONFIG  # the token, not the message
    return next((disposition for kind, disposition in _TABLE if isinstance(exc, kind)), Disposition.BUG)


def reason_of(exc: BaseException) -> str:
    """The recorded reason: the error's kind first ("no job matched: ..."), said once."""
    detail = str(exc)
    if isinstance(exc, PermanentError):
        return detail if detail.startswith(exc.reason) else f"{exc.reason}: {detail}"
    if classify(exc) is Disposition.BUG:
        return f"internal error ({type(exc).__name__}); see the daemon's log"
    return detail


@dataclass(frozen=True, slots=True)
class MailSummary:
    """What a mail says of itself, for the record and the review queue (personal data)."""

    message_id: str = ""
    sender_name: str = ""
    sender_email: str = ""
    subject: str = ""
    sent_at: datetime | None = None
    attachments: tuple[tuple[str, int], ...] = ()  # (file name, size in bytes)

    @classmethod
    def of(cls, email: ParsedEmail) -> MailSummary:
        return cls(email.message_id[:998], email.sender_name[:320], email.sender_email[:320], email.subject[:1000],
                   email.date, tuple((a.filename[:200], len(a.data)) for a in email.attachments[:50]))

    def fields(self) -> dict[str, object]:
        """The record's columns."""
        files = json.dumps([{"name": name, "size": size} for name, size in self.attachments], ensure_ascii=False)
        return {"message_id": self.message_id, "sender_name": self.sender_name, "sender_email": self.sender_email,
                "subject": self.subject, "sent_at": self.sent_at, "attachments": files}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What handling one message came to; the lifecycle judges it, the runner writes the verdict.

    `disposition` is None when the message went its whole way (submitted, or set aside by
    a decision such as "too large"); otherwise it says what the error `error` means.
    """

    status: str
    reason: str = ""
    disposition: Disposition | None = None
    error: BaseException | None = None
    job_id: str = ""
    job_title: str = ""
    applicant_id: str = ""
    candidate_id: str = ""
    mail: MailSummary | None = None  # None when the mail could not be parsed
    rule: str = ""  # the routing rule or inference step that decided, when one did
    route_reason: str = ""
    found_by: str = ""  # how the candidate was found (sender, forwarded header, attached message, CV)
    forwarded_by: str = ""
    candidates: tuple[Person, ...] = ()  # who the candidates are, as far as known (the replies name them)
    job_code: str = ""  # the job's code, when a job was decided (a reply's template may be the job's own)
