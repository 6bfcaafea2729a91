"""Mail the daemon sends: receipts to forwarders, acknowledgements to candidates, short answers.

    templates   the texts, per kind, language and job, filled by `string.Template` (fixed fields)
    decision    whether a mail may be answered at all (RFC 3834, no-reply, Authentication-Results), the caps (pure)
    token       the receipt's Message-ID, signed (HMAC) for its message and recipient, and its check
    compose     the reply as an `email.message.EmailMessage` (no header can be injected)
    command     what a reply to a receipt asks for: a job, or "ignore" (pure)
    relay       the SMTP relay behind one method, `send(message)`

Which replies a message gets and when they are sent is intake's (daemon.intake.replying); the
outbox they wait in is the store's (daemon.store.outbox).
"""

from __future__ import annotations

from enum import StrEnum


class ReplyKind(StrEnum):
    """What a reply is; one of each per message at most (the outbox's key)."""

    PLACED = "receipt placed"  # to a forwarder: the candidate is in the ATS
    SET_ASIDE = "receipt set aside"  # to a forwarder: reply with a job to place it
    ACKNOWLEDGEMENT = "acknowledgement"  # to a candidate who applied themselves
    ANSWER = "answer"  # to someone who replied to a receipt: what was done, or why not

    @property
    def receipt(self) -> bool:
        return self in (ReplyKind.PLACED, ReplyKind.SET_ASIDE)
