"""The replies of one message: which are due (receipts, acknowledgements), recorded before they are sent;
a reply to a receipt acted on; the outbox delivered with backoff.

    after(record, email, outcome)   a message's flow ended: a receipt to a forwarder (internal sender or
                                    agency) whose mail was submitted or set aside; an acknowledgement to
                                    a candidate who applied, once the candidate exists in the ATS
    recognise(record, email, ...)   a mail answering a receipt of ours: never a candidate; the set-aside
                                    mail placed (as `messages retry --job`) or ignored (as `resolve`),
                                    only from the receipt's address, with its token, once, while still
                                    set aside; an answer says what was done or why not
    deliver()                       the outbox's due replies handed to the relay; a relay that is down
                                    leaves them queued, tried again later (backoff), intake untouched

Exactly once, as far as SMTP allows: each reply is a row of the outbox (daemon.store.outbox) with
its Message-ID fixed, committed before the relay sees it, one per message and kind; a retried
message or a crash before the verdict records it once. A crash after the relay accepted it and
before the row says `sent` sends it again on restart, the same bytes with the same Message-ID
(at least once, never two different mails; receivers that deduplicate by Message-ID see one).
No reply at all goes to mail that must not be answered (daemon.replies.decision); such a decision
is recorded as `not sent`, with its reason, so `messages show` tells why.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser

from daemon.ats.directory import AtsDirectory
from daemon.config import ReplySettings
from daemon.domain import Status
from daemon.errors import AtsInboxError, RelayRefused, RelayUnavailable
from daemon.intake import reroute, review
from daemon.intake.outcome import Disposition, Outcome
from daemon.mail import ParsedEmail
from daemon.mail.forwards import is_internal
from daemon.replies import ReplyKind, decision
from daemon.replies.command import instruction
from daemon.replies.compose import Envelope, compose
from daemon.replies.relay import Relay
from daemon.replies.templates import Templates
from daemon.replies.token import Claim, ReceiptKey
from daemon.store.models import MessageRecord, ReplyRecord
from daemon.store.outbox import NOT_SENT, NewReply, Outbox
from daemon.store.repository import Store

log = logging.getLogger(__name__)
CAPPED_KINDS = (ReplyKind.ACKNOWLEDGEMENT, ReplyKind.ANSWER)
BY_REPLY = "chosen by a reply to its receipt"
FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(hours=6)
MAX_TRIES = 12  # about a day and a half of a relay that is down, then `failed`


def backoff(tries: int) -> timedelta:
    """The wait after the `tries`-th failed try: 1, 2, 4 ... minutes, at most 6 hours."""
    return min(FIRST_RETRY * 2 ** max(tries - 1, 0), LAST_RETRY)


@dataclass(frozen=True, slots=True)
class Delivered:
    """What one round of delivery did."""

    sent: int = 0
    waiting: int = 0  # tried and queued again (the relay is down)
    failed: int = 0  # refused for good, or tried too often


class Replies:
    """The daemon's replies; built once (daemon.ops.assembly), used by the flow and the service."""

    def __init__(self, store: Store, settings: ReplySettings, templates: Templates, key: ReceiptKey, relay: Relay,
                 *, own_addresses: Collection[str], forwarders: Collection[str],
                 move_back: review.MoveBack | None = None, settle: review.Settle | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.store, self.settings, self.templates, self.key, self.relay = store, settings, templates, key, relay
        self.outbox = Outbox(store)
        self.own = (*own_addresses, settings.from_address)
        self.forwarders = tuple(forwarders)
        self.move_back, self.settle, self.now = move_back, settle, now
        self._capping = threading.Lock()  # flows run at once (daemon.intake.flights): a cap is counted and kept

    # -- after a message's flow ---------------------------------------------------------------

    def after(self, record: MessageRecord, email: ParsedEmail, outcome: Outcome) -> None:
        """Record the reply this outcome calls for, if any; a failure is logged, intake goes on."""
        try:
            self._after(record, email, outcome)
        except AtsInboxError as exc:
            log.warning("reply.not_recorded", extra={"record": record.id, "error": type(exc).__name__})

    def _after(self, record: MessageRecord, email: ParsedEmail, outcome: Outcome) -> None:
        """Only final outcomes are told: submitted, or set aside for a person (by the plan, or by an error that
        no retry mends, such as no candidate to be found); a mail that will be tried again is told then."""
        final = outcome.disposition is None or (outcome.disposition is Disposition.PERMANENT
                                                and outcome.status == Status.REVIEW)
        if not final or outcome.status not in (Status.SUBMITTED, Status.REVIEW):
            return
        if is_internal(email.sender_email, self.forwarders):
            if self.settings.receipts:
                self._receipt(record, email, outcome)
        elif self.settings.acknowledgements and outcome.status == Status.SUBMITTED and outcome.job_id:
            self._acknowledge(record, email, outcome)

    def _receipt(self, record: MessageRecord, email: ParsedEmail, outcome: Outcome) -> None:
        kind = ReplyKind.PLACED if outcome.status == Status.SUBMITTED else ReplyKind.SET_ASIDE
        names = ", ".join(p.name or p.address for p in outcome.candidates) or "the candidate"
        fields = {"name": names, "job": outcome.job_title, "code": outcome.job_code, "reason": _why(outcome.reason)}
        self._record(record.id, kind, email, fields, job_id=outcome.job_id, code=outcome.job_code,
                     message_id=self.key.message_id(record.id, email.sender_email))

    def _acknowledge(self, record: MessageRecord, email: ParsedEmail, outcome: Outcome) -> None:
        with self._capping:
            self._acknowledge_capped(record, email, outcome)

    def _acknowledge_capped(self, record: MessageRecord, email: ParsedEmail, outcome: Outcome) -> None:
        now = self.now()
        period = timedelta(days=self.settings.acknowledgement_days)
        capped = decision.over_cap(
            self.outbox.count([ReplyKind.ACKNOWLEDGEMENT], now - period, email.sender_email, outcome.job_id),
            self.outbox.count(CAPPED_KINDS, now - timedelta(hours=1)), self.settings.max_per_hour)
        person = next(iter(outcome.candidates), None)
        fields = {"name": (person.name if person else "") or email.sender_name, "job": outcome.job_title,
                  "code": outcome.job_code, "company": self.settings.company}
        self._record(record.id, ReplyKind.ACKNOWLEDGEMENT, email, fields, job_id=outcome.job_id,
                     code=outcome.job_code, not_sent=capped)

    def _record(self, pk: int, kind: ReplyKind, email: ParsedEmail, fields: dict[str, str], *, job_id: str = "",
                code: str = "", message_id: str = "", not_sent: str | None = None) -> bool:
        """The reply recorded: queued with its mail composed, or `not sent` with the reason."""
        message_id = message_id or f"ats-inbox.{kind.replace(' ', '-')}.{pk}.{secrets.token_hex(8)}@{self.key.domain}"
        why = decision.refusal(email, self.own, self.settings.authserv_id) or not_sent
        content = ""
        if why is None:
            text = self.templates.fill(kind, {"company": self.settings.company, **fields},
                                       language=_language(email), job_code=code)
            envelope = Envelope(self.settings.from_address, self.settings.from_name, email.sender_email,
                                email.sender_name, email.message_id, _references(email))
            try:
                content = compose(envelope, text, message_id, self.now()).as_string()
            except ValueError:
                why = "the sender's address cannot be written in a header"
        reply = NewReply(pk, kind, email.sender_email, message_id, job_id, content,
                         **({"status": NOT_SENT, "reason": why} if why is not None else {}))
        added = self.outbox.add(reply, self.now())
        if added:
            log.info("reply.recorded", extra={"record": pk, "kind": kind.value, "sent": why is None})
        return added

    # -- a reply to a receipt -----------------------------------------------------------------

    def recognise(self, record: MessageRecord, email: ParsedEmail, directory: AtsDirectory) -> Outcome | None:
        """The outcome of a mail that answers one of our receipts (ignored: never a candidate), after acting
        on it; None for any other mail."""
        claims = self.key.claims(email.header("in-reply-to"), *email.header_values("references"))
        if not claims:
            return None
        claim = claims[0]
        said, acted = self._act(record, email, claim, directory)
        log.info("reply.to_receipt", extra={"record": record.id, "receipt_of": claim.message_pk, "acted": acted})
        return Outcome(Status.IGNORED, f"a reply to the receipt for message #{claim.message_pk}: {said}"[:2000])

    def _act(self, record: MessageRecord, email: ParsedEmail, claim: Claim,
             directory: AtsDirectory) -> tuple[str, bool]:
        """What was done (or why nothing), and whether anything was; answered where answering is safe."""
        receipt = self.outbox.by_message_id(claim.message_id)
        if receipt is None or not ReplyKind(receipt.kind).receipt or receipt.message_pk != claim.message_pk:
            return "not a receipt of ours; nothing done", False
        automatic = decision.refusal(email, self.own, self.settings.authserv_id)
        if automatic is not None:  # an out-of-office answering the receipt, a bounce: never answered
            return f"not acted on: {automatic}", False
        refused = self._refused(email, claim, receipt)
        if refused is None:
            refused, placed = self._place(record, email, claim, receipt, directory)
            if refused is None:
                self._answer(record, email, placed)
                return placed, True
        self._answer(record, email, f"Nothing was done: {refused}.")
        return f"refused: {refused}", False

    def _refused(self, email: ParsedEmail, claim: Claim, receipt: ReplyRecord) -> str | None:
        if email.sender_email != receipt.recipient:
            return "only the address the receipt went to can answer it"
        if not self.key.genuine(claim, email.sender_email):
            return "the receipt's token does not match"
        target = self.store.message_by_pk(claim.message_pk)
        if target is None or target.status != Status.REVIEW:
            return f"the message is {target.status if target else 'gone'}, no longer set aside"
        if receipt.used_at is not None:
            return "this receipt was answered already"
        return None

    def _place(self, record: MessageRecord, email: ParsedEmail, claim: Claim, receipt: ReplyRecord,
               directory: AtsDirectory) -> tuple[str | None, str]:
        """Carry out the instruction (the receipt used once, compare-and-set): (why not, or None; what was done)."""
        wanted = instruction(email)
        if not wanted.ignore and not wanted.job:
            return "the reply's first line names no job: write the job code or title, or 'ignore'", ""
        if not self.outbox.use(receipt.id, record.id, self.now()):
            return "this receipt was answered already", ""
        pk, by = claim.message_pk, email.sender_email
        try:
            if wanted.ignore:
                review.resolve(self.store, pk, f"ignored by a reply to its receipt (message #{record.id})", by,
                               self.settle, mailbox_off="" if self.settle else "the mailbox is the runner's")
                return None, f"Message #{pk} is ignored, as you asked."
            target = reroute.choose(self.store, pk, directory, wanted.job, None, by=by, rule=BY_REPLY)
            review.retry(self.store, pk, self.move_back)
        except (reroute.CannotReroute, review.NotAllowed) as exc:
            self.outbox.release(receipt.id, record.id)
            return str(exc).split(";")[0], ""
        return None, f"Message #{pk} goes to {target.job.title}: it is submitted on the next pass."

    def _answer(self, record: MessageRecord, email: ParsedEmail, said: str) -> None:
        with self._capping:
            capped = decision.over_cap(0, self.outbox.count(CAPPED_KINDS, self.now() - timedelta(hours=1)),
                                       self.settings.max_per_hour)
            self._record(record.id, ReplyKind.ANSWER, email, {"reason": said}, not_sent=capped)

    # -- delivery -----------------------------------------------------------------------------

    def deliver(self) -> Delivered:
        """Hand the due replies to the relay, oldest first; the first relay failure ends the round."""
        sent = waiting = failed = 0
        for row in self.outbox.due(self.now()):
            if not self.outbox.claim(row.id, self.now()):
                continue  # another mailbox's lane (or instance) is sending it
            message = BytesParser(policy=policy.SMTP).parsebytes(row.content.encode("utf-8"))
            try:
                self.relay.send(message)  # type: ignore[arg-type] (an EmailMessage under the SMTP policy)
            except RelayUnavailable as exc:
                given_up = row.attempts + 1 >= MAX_TRIES
                again = None if given_up else self.now() + backoff(row.attempts + 1)
                self.outbox.not_delivered(row.id, str(exc), again)
                log.warning("reply.waiting", extra={"reply": row.id, "tries": row.attempts + 1, "given_up": given_up})
                return Delivered(sent, waiting + (not given_up), failed + given_up)
            except RelayRefused as exc:
                self.outbox.not_delivered(row.id, str(exc), None)
                log.warning("reply.refused", extra={"reply": row.id, "kind": row.kind})
                failed += 1
                continue
            self.outbox.sent(row.id, self.now())
            log.info("reply.sent", extra={"reply": row.id, "kind": row.kind, "record": row.message_pk})
            sent += 1
        return Delivered(sent, waiting, failed)


def _why(reason: str) -> str:
    """A set-aside reason as a recruiter reads it, without who forwarded it (daemon.intake.flow.set_aside_reason:
    "REASON; forwarded by X", or "RECOGNITION; forwarded by X; REASON")."""
    head, marker, tail = reason.partition("; forwarded by ")
    if marker and "; " in tail:
        return tail.split("; ", 1)[1]
    return head or "it needs a person"


def _language(email: ParsedEmail) -> str:
    return email.header("content-language").split(",")[0].strip().lower()


def _references(email: ParsedEmail) -> tuple[str, ...]:
    return tuple(ref.strip("<>") for ref in email.header("references").split() if ref.startswith("<"))
