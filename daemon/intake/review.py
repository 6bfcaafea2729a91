"""The review queue for people: list and show what was recorded, retry or resolve set-aside mail.

Each change is one short transaction that says which status it expects (compare-and-set):
the daemon may be working at the same time. A retried message goes back to `pending`
first: the next pass takes it again and resumes from its journal, so steps already done
are never repeated. Where the mail itself has to move (out of the review folder), the
caller passes a `MoveBack`; it runs after the record is pending (so a pass that sees the
mail come back continues the record instead of calling it a duplicate), and a move that
fails puts the record back as it was. A resolved message's mail is settled after the record
changed (a `Settle`): unflagged, marked done, moved to the processed folder; when the mailbox
cannot be reached the record stays resolved and the person is told how to finish.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select

from daemon.cli.report import table
from daemon.domain import NEEDS_PERSON, Placement, Status
from daemon.errors import AtsInboxError, ConfigError, Conflict, MailboxActionRefused, MailboxUnavailable
from daemon.intake.journal import STARTED
from daemon.intake.runner import MAILBOX_STEP
from daemon.store.models import MessageRecord, StepRecord, utcnow
from daemon.store.repository import ACTION_REFUSED, Store

log = logging.getLogger(__name__)
STATUSES = tuple(Status)
RETRYABLE = (Status.REVIEW, Status.UNCERTAIN)
RESOLVABLE = (Status.REVIEW, Status.UNCERTAIN, Status.PENDING)
RETRY_REASON = "retry requested"
UNCERTAIN_WARNING = (
    "warning: message #{pk} was uncertain: the ATS may have done {steps} although no answer was "
    "recorded. This retry is right only if you checked in the ATS that it was NOT done; if it "
    "was, run `ats-inbox messages resolve {pk} --note ...` before the next pass."
)
STILL_STARTED = (
    "note: message #{pk} has step(s) {steps} sent without a recorded answer; the next pass will "
    "hold it as uncertain (then check the ATS and retry or resolve it)."
)

MoveBack = Callable[[MessageRecord], bool]
"""Puts a record's mail back into the watched folder; False when the mail was not found."""
Settle = Callable[[MessageRecord], Placement | None]
"""Unflags a resolved record's mail, marks it done, moves it to the processed folder; None: not found."""
FLAGGED_ACTION, DONE_ACTION = "flagged", "processed"  # MessageRecord.mailbox_action as the runner writes it


class UnknownMessage(AtsInboxError):
    """No message has this id."""


class NotAllowed(AtsInboxError):
    """The action does not apply to a message in its current status."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one action did to one message: a line for the person, and a warning if any."""

    pk: int
    said: str
    warning: str = ""


# -- reading -------------------------------------------------------------------------------

def list_messages(store: Store, statuses: Sequence[str] = (),
                  limit: int = 50) -> list[MessageRecord]:
    """Messages in `statuses` (all when empty): those needing a person first, then newest first."""
    unknown = sorted(set(statuses) - set(STATUSES))
    if unknown:
        raise NotAllowed(f"unknown status {', '.join(unknown)}; valid: {', '.join(STATUSES)}")
    needs_person = case((MessageRecord.status.in_(NEEDS_PERSON), 0), else_=1)
    query = select(MessageRecord).order_by(needs_person, MessageRecord.id.desc()).limit(limit)
    if statuses:
        query = query.where(MessageRecord.status.in_(statuses))
    with store.session() as s:
        return list(s.scalars(query))


def list_text(records: Sequence[MessageRecord]) -> str:
    """The table `messages list` prints."""
    if not records:
        return "no messages"
    rows = [[str(m.id), _when(m.created_at, seconds=False), m.status, _cut(m.sender_email, 30),
             _cut(m.subject, 40), m.job_title or "-", m.candidate_id or "-", m.reason or m.last_error or "-"]
            for m in records]
    return table(["#", "Received (UTC)", "Status", "From", "Subject", "Job", "Candidate", "Reason / last error"],
                 rows)


def _cut(text: str, limit: int) -> str:
    if not text:
        return "-"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message(store: Store, pk: int) -> tuple[MessageRecord, list[StepRecord]]:
    """One message and its journal steps in the order they were first recorded."""
    with store.session() as s:
        record = s.get(MessageRecord, pk)
        if record is None:
            raise UnknownMessage(f"no message #{pk}; see `ats-inbox messages list`")
        steps = s.scalars(select(StepRecord).where(StepRecord.message_pk == pk)
                          .order_by(StepRecord.id))
        return record, list(steps)


def show_text(record: MessageRecord, steps: Sequence[StepRecord]) -> str:
    """Everything recorded about one message, then its timeline of steps."""
    m = record
    fields = [
        ("Status", m.status), ("Reason", m.reason), ("Received", _when(m.created_at)),
        ("From", f"{m.sender_name} <{m.sender_email}>" if m.sender_name else m.sender_email),
        ("Subject", m.subject), ("Sent", _when(m.sent_at)), ("Files", _files(m.attachments)),
        ("Updated", _when(m.updated_at)), ("Account", m.account), ("Folder", m.folder),
        ("UIDVALIDITY", str(m.uidvalidity)), ("UID", str(m.uid)), ("Message-ID", m.message_id),
        ("SHA-256", m.sha256), ("Size", f"{m.size} bytes"),
        ("Job", f"{m.job_title} ({m.job_id})" if m.job_id else m.job_title),
        ("Candidate found by", m.found_by), ("Forwarded by", m.forwarded_by),
        ("Routed by", m.rule), ("Routing reason", m.route_reason),
        ("Applicant", m.applicant_id), ("Candidate", m.candidate_id), ("Attempts", str(m.attempts)),
        ("Last error", m.last_error),
        ("Duplicate of", f"#{m.duplicate_of}" if m.duplicate_of else ""), ("Note", m.note),
        ("Resolved by", _resolved(m)), ("Personal data", _removed(m)),
        ("Mailbox action", _action_text(m)),
        ("Now in", f"{m.placed_folder} (UID {m.placed_uid})" if m.placed_uid else m.placed_folder),
    ]
    width = max(len(name) for name, _ in fields) + 1
    lines = [f"Message #{m.id}"]
    lines += [f"  {(name + ':').ljust(width)} {value or '-'}" for name, value in fields]
    lines += ["", "Steps:" if steps else "Steps: none recorded"]
    if steps:
        rows = [[s.name, s.status, s.ats_id or "-", _when(s.updated_at), s.detail or "-"]
                for s in steps]
        lines.append(table(["Step", "Status", "ATS id", "Time (UTC)", "Detail"], rows))
    if m.status in NEEDS_PERSON:
        lines += ["", f"Next: `ats-inbox messages retry {m.id}` or "
                      f"`ats-inbox messages resolve {m.id} --note TEXT`"]
    return "\n".join(lines)


def _resolved(m: MessageRecord) -> str:
    if m.resolved_at is None:
        return m.resolved_by
    return f"{m.resolved_by or 'someone'} at {_when(m.resolved_at)}"


def _removed(m: MessageRecord) -> str:
    if m.personal_data_removed_at is None:
        return ""
    return f"removed at {_when(m.personal_data_removed_at)} (sender, subject, date, file names, note)"


# -- changing ------------------------------------------------------------------------------

def retry(store: Store, pk: int, move_back: MoveBack | None = None) -> Outcome:
    """Put a review or uncertain message back in the queue; its mail back in the watched folder.

    `move_back` is None when mail is not moved out of the watched folder (no review folder).
    """
    record, steps = message(store, pk)
    _require(record, RETRYABLE, "retried")
    uncertain = record.status == Status.UNCERTAIN
    started = [s.name for s in steps if s.status == STARTED]
    unanswered = started if uncertain else []
    _requeue(store, record, unanswered)
    found = None
    if move_back is not None and record.mailbox_action:  # set aside: the mail was moved away
        try:
            found = bool(move_back(record))
        except Exception:
            _undo_requeue(store, record, unanswered)
            raise
    log.info("review.retried", extra={"record": pk, "was": record.status,
                                      "unanswered": len(unanswered), "mail_found": found})
    return Outcome(pk, _retry_line(record, unanswered, found), _retry_warning(record, started))


def retry_all(store: Store, move_back: MoveBack | None = None,
              include_uncertain: bool = False) -> Iterator[Outcome]:
    """Retry every review message (and uncertain ones when asked), oldest first."""
    statuses = RETRYABLE if include_uncertain else (Status.REVIEW,)
    with store.session() as s:
        ids = list(s.scalars(select(MessageRecord.id).where(MessageRecord.status.in_(statuses))
                             .order_by(MessageRecord.id)))
    for pk in ids:
        yield retry(store, pk, move_back)


def resolve(store: Store, pk: int, note: str, by: str = "", settle: Settle | None = None,
            now: datetime | None = None, mailbox_off: str = "") -> Outcome:
    """A person dealt with the message: `resolved`, with their note and name; then its mail is settled.

    The record changes first, by compare-and-set on the status it was seen in. Mail that was
    flagged (or whose action the server refused) is then unflagged, marked done and moved to
    the processed folder by `settle`; when that cannot be done (`mailbox_off` says why, or the
    server cannot be reached) the record stays resolved and the line says how to finish.
    Resolving a resolved message whose mail is still flagged only settles the mail.
    """
    if not note.strip():
        raise NotAllowed("a note is required: say what was done, e.g. --note 'added by hand'")
    record, _steps = message(store, pk)
    if record.status == Status.RESOLVED and _mail_owed(record):
        return Outcome(pk, f"#{pk} already resolved (note kept)" + _settled(store, record, settle, mailbox_off))
    _require(record, RESOLVABLE, "resolved")
    try:
        store.update_message(pk, expect=record.status, status=Status.RESOLVED, note=note.strip(),
                             resolved_by=by.strip(), resolved_at=now or utcnow())
    except Conflict as exc:
        raise NotAllowed(f"{exc}: it changed meanwhile; nothing done") from exc
    log.info("review.resolved", extra={"record": pk, "was": record.status})
    said = f"#{pk} {record.status} -> resolved"
    if _mail_owed(record):
        said += _settled(store, record, settle, mailbox_off)
    return Outcome(pk, said)


def resolve_many(store: Store, pks: Sequence[int], note: str, by: str = "", settle: Settle | None = None,
                 now: datetime | None = None, mailbox_off: str = "") -> Iterator[Outcome]:
    """Resolve each message in turn; one that cannot be resolved says why and the others go on."""
    for pk in pks:
        try:
            yield resolve(store, pk, note, by, settle, now, mailbox_off)
        except NotAllowed as exc:
            yield Outcome(pk, f"#{pk} not resolved: {exc}")


def resolvable(store: Store, statuses: Sequence[str], older_than: timedelta | None,
               now: datetime | None = None) -> list[int]:
    """Ids of the messages in `statuses` recorded more than `older_than` ago, oldest first."""
    refused = sorted(set(statuses) - set(RESOLVABLE))
    if refused:
        raise NotAllowed(f"only {', '.join(RESOLVABLE)} messages can be resolved, not {', '.join(refused)}")
    query = select(MessageRecord.id).where(MessageRecord.status.in_(statuses)).order_by(MessageRecord.id)
    if older_than is not None:
        query = query.where(MessageRecord.created_at < (now or utcnow()) - older_than)
    with store.reading() as s:
        return list(s.scalars(query))


def _mail_owed(record: MessageRecord) -> bool:
    """Its mail was flagged for a person (or the server refused that): the mailbox must be told."""
    return record.mailbox_action in (FLAGGED_ACTION, ACTION_REFUSED)


def _settled(store: Store, record: MessageRecord, settle: Settle | None, mailbox_off: str) -> str:
    """The mailbox side of a resolve, as the end of the line said for it."""
    again = f"run `ats-inbox messages resolve {record.id} --note ...` again to finish"
    if settle is None:
        return f"; the mailbox was NOT updated ({mailbox_off or 'no mailbox configured'}): {again}"
    try:
        placement = settle(record)
    except (MailboxUnavailable, MailboxActionRefused, ConfigError) as exc:
        log.warning("review.settle_failed", extra={"record": record.id, "error": type(exc).__name__})
        return f"; the mailbox was NOT updated ({exc}): {again} when the IMAP server can be reached"
    if placement is None:
        return "; its mail was NOT found in the mailbox (unflag or move it by hand)"
    detail = json.dumps({"action": DONE_ACTION, "folder": placement.folder, "uid": placement.uid})
    try:
        store.record_action(record.id, expect=Status.RESOLVED, action=DONE_ACTION, placement=placement,
                            step=MAILBOX_STEP, detail=detail)
    except Conflict:
        log.warning("review.changed_meanwhile", extra={"record": record.id})
    return f"; mail unflagged, marked done, now in {placement.folder}"


def _require(record: MessageRecord, allowed: Sequence[str], action: str) -> None:
    if record.status not in allowed:
        raise NotAllowed(f"message #{record.id} is {record.status}: only {' or '.join(allowed)} "
                         f"messages can be {action}")


def _requeue(store: Store, record: MessageRecord, unanswered: Sequence[str]) -> None:
    """Back to pending in one transaction, unless someone changed the record meanwhile."""
    with store.session() as s:
        current = s.get_one(MessageRecord, record.id)
        if current.status != record.status:
            raise NotAllowed(f"message #{record.id} changed to {current.status} meanwhile; "
                             "nothing done")
        current.status, current.reason, current.attempts = Status.PENDING, RETRY_REASON, 0
        current.last_error, current.mailbox_action = "", ""
        # The mailbox step is owed again; calls sent without a recorded answer are forgotten
        # (the person checked that the ATS did not do them).
        forget = [MAILBOX_STEP, *unanswered]
        s.execute(delete(StepRecord).where(StepRecord.message_pk == record.id,
                                           StepRecord.name.in_(forget)))


def _undo_requeue(store: Store, record: MessageRecord, unanswered: Sequence[str]) -> None:
    """The mail could not be moved back: the record returns to what it was, unless it moved on."""
    with store.session() as s:
        current = s.get_one(MessageRecord, record.id)
        if current.status != Status.PENDING or current.uid != record.uid:
            return  # the daemon already took it up again
        current.status, current.reason, current.attempts = record.status, record.reason, record.attempts
        current.last_error, current.mailbox_action = record.last_error, record.mailbox_action
        s.add(StepRecord(message_pk=record.id, name=MAILBOX_STEP, status="done",
                         detail=json.dumps({"action": record.mailbox_action})))
        for name in unanswered:
            s.add(StepRecord(message_pk=record.id, name=name, status=STARTED))
    log.warning("review.retry_undone", extra={"record": record.id})


def _retry_line(record: MessageRecord, unanswered: Sequence[str], found: bool | None) -> str:
    line = f"#{record.id} {record.status} -> pending: the next pass takes it again"
    if unanswered:
        line += f"; forgot the unanswered step(s) {', '.join(unanswered)}"
    if found is True:
        line += "; mail moved back from the review folder"
    elif found is False:
        line += ("; its mail was NOT found in the review folder (move it back to the watched "
                 "folder by hand)")
    return line


def _retry_warning(record: MessageRecord, started: Sequence[str]) -> str:
    """For uncertain: the person must have checked the ATS. Else: what will still be held."""
    steps = ", ".join(started)
    if record.status == Status.UNCERTAIN:
        steps = steps or "the call whose answer was lost"
        return UNCERTAIN_WARNING.format(pk=record.id, steps=steps)
    return STILL_STARTED.format(pk=record.id, steps=steps) if started else ""


def _files(attachments: str) -> str:
    """The attachment names and sizes, as recorded."""
    try:
        files = json.loads(attachments) if attachments else []
    except ValueError:
        return ""
    return ", ".join(f"{f.get('name') or 'unnamed'} ({f.get('size', 0)} bytes)" for f in files)


def _action_text(m: MessageRecord) -> str:
    """What was done in the mailbox; a refusal with the server's words and how often."""
    done = m.mailbox_action or "none yet"
    if not m.action_error:
        return done
    return f"{done}; refused {m.action_attempts} time(s) by the server: {m.action_error}"


def _when(moment: datetime | None, seconds: bool = True) -> str:
    if moment is None:
        return "-"
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
