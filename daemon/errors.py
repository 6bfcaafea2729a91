"""The one exception tree of ats-inbox.

    AtsInboxError
     ├── ConfigError              refuse to start; names the key and the file (exit 2)
     ├── TransientError           retry later; the message stays unprocessed
     │    ├── MailboxUnavailable  IMAP connect/login/abort, server gone
     │    ├── AtsUnavailable      connect error, timeout, 5xx
     │    │    └── AtsRateLimited 429 (carries retry_after)
     │    ├── StoreBusy           the database is locked
     │    └── RelayUnavailable    the SMTP relay cannot be reached or said 4xx: the reply waits
     ├── AtsMisdirected           the ATS answers, but not as the ATS (wrong base_url path, a
     │                            redirect, a proxy's HTML page): about every message, not one;
     │                            stops the pass, mail stays pending
     ├── MailboxActionRefused     the IMAP server said NO/BAD to MOVE, COPY, CREATE or STORE on
     │                            one message: recorded on it, retried a bounded number of times
     ├── DatabaseReplaced         the database file changed under a running daemon: stop
     ├── Conflict                 a record changed meanwhile (compare-and-set lost): leave it
     ├── NotAllowed               a person's action does not apply to a message in its status
     ├── OutcomeUnknown           a create call may or may not have happened: hold for a person
     └── PermanentError           park the message for a person, with the reason
          ├── UnparseableMail
          ├── NoResume
          ├── NoRoute
          ├── NoCandidate         a forward whose candidate cannot be found (never the forwarder)
          ├── AtsRejected         4xx from the ATS (validation, auth, not found)
          └── RelayRefused        the SMTP relay said 5xx to a reply: it is not sent

Adapters translate foreign exceptions (imaplib, httpx, sqlalchemy) into these at their
boundary; nothing above an adapter catches a foreign exception.
"""

from __future__ import annotations


class AtsInboxError(Exception):
    """Base of every error ats-inbox raises on purpose."""


class ConfigError(AtsInboxError):
    """The configuration is missing, unreadable or invalid."""

    def __init__(self, message: str, *, key: str | None = None, path: str | None = None):
        self.key = key
        self.path = path
        where = " ".join(p for p in (f"key '{key}'" if key else "", f"in {path}" if path else "") if p)
        super().__init__(f"{where}: {message}" if where else message)


class NotAllowed(AtsInboxError):
    """A person's action (retry, resolve) does not apply to a message in its current status."""


class TransientError(AtsInboxError):
    """Something outside us failed for now; the same work can be tried again later."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(message)


class MailboxUnavailable(TransientError):
    """The IMAP server cannot be reached, refused the login, or dropped the connection."""


class AtsUnavailable(TransientError):
    """The ATS did not answer usefully: connection error, timeout, 5xx."""


class AtsRateLimited(AtsUnavailable):
    """The ATS answered 429; `retry_after` says when to come back, if it said."""


class StoreBusy(TransientError):
    """The database is locked by another writer."""


class RelayUnavailable(TransientError):
    """The SMTP relay cannot be reached, the TLS handshake or login failed for now, or it said 4xx."""


class AtsMisdirected(AtsInboxError):
    """The server at ats.base_url answered, but not as the ATS: fix the URL or the proxy."""

    key = "ats.base_url"


class MailboxActionRefused(AtsInboxError):
    """The IMAP server refused an action on one message (NO/BAD): quota, ACL, bad folder name.

    `server_text` is the server's own words, for the record.
    """

    def __init__(self, message: str, *, server_text: str = ""):
        self.server_text = server_text
        super().__init__(message)


class DatabaseReplaced(AtsInboxError):
    """The database this daemon opened was replaced, deleted or restored while it ran."""


class Conflict(AtsInboxError):
    """A record was not in the status the writer expected: someone else changed it."""


class OutcomeUnknown(AtsInboxError):
    """A create call was sent but its answer was lost; repeating it could duplicate."""


class PermanentError(AtsInboxError):
    """The message cannot be handled as it is; a person has to look at it."""

    reason = "needs review"


class UnparseableMail(PermanentError):
    reason = "unparseable mail"


class NoResume(PermanentError):
    reason = "no resume attached"


class NoRoute(PermanentError):
    reason = "no job matched"


class NoCandidate(PermanentError):
    reason = "no candidate found"


class AtsRejected(PermanentError):
    """The ATS refused the request (4xx other than 429)."""

    reason = "ATS refused"

    def __init__(self, message: str, *, status: int | None = None):
        self.status = status
        super().__init__(message)


class RelayRefused(PermanentError):
    """The SMTP relay refused a reply for good (5xx): sending it again would not help."""
