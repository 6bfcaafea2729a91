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

from daemon.domain import NEEDS_PERSON, Placement, Status
from daemon.errors import AtsInboxError, ConfigError, Conflict, MailboxActionRefused, MailboxUnavailable, NotAllowed
from daemon.intake.actions import MAILBOX_STEP
from daemon.intake.journal import DONE, STARTED
from daemon.intake.lifecycle import AFTER, ALLOWED, PersonAction, refused, require
from daemon.store.models import MessageRecord, StepRecord, utcnow
from daemon.store.repository import ACTION_REFUSED, Store

log = logging.getLogger(__name__)
STATUSES = tuple(Status)
RETRYABLE = ALLOWED[PersonAction.RETRY]
RESOLVABLE = ALLOWED[PersonAction.RESOLVE]
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
    return store.listing(statuses, limit, first=NEEDS_PERSON)


def message(store: Store, pk: int) -> tuple[MessageRecord, list[StepRecord]]:
    """One message and its journal steps in the order they were first recorded."""
    found = store.with_steps(pk)
    if found is None:
        raise UnknownMessage(f"no message #{pk}; see `ats-inbox messages list`")
    return found


# -- changing ------------------------------------------------------------------------------

def retry(store: Store, pk: int, move_back: MoveBack | None = None) -> Outcome:
    """Put a review, uncertain or ignored message back in the queue; its mail back in the watched
    folder when intake had moved it away.

    `move_back` is None when mail is not moved out of the watched folder (no review or ignored folder).
    """
    record, steps = message(store, pk)
    require(PersonAction.RETRY, record.status, record.id)
    uncertain = record.status == Status.UNCERTAIN
    started = [s.name for s in steps if s.status == STARTED]
    unanswered = started if uncertain else []
    _requeue(store, record, unanswered)
    found = None
    if move_back is not None and _moved_away(record):
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
    statuses = (Status.REVIEW, Status.UNCERTAIN) if include_uncertain else (Status.REVIEW,)
    for pk in store.ids_in(statuses):
        yield retry(store, pk, move_back)


def resolve(store: Store, pk: int, note: str, by: str = "", settle: Settle | None = None,
            now: datetime | None = None, mailbox_off: str = "") -> Outcome:
    """A person dealt with the message: `resolved`, with their note and name; then its mail is settled.

    The record changes first, by compare-and-set on the status it was seen in. Mail that was
    flagged (or whose action the server refused) is then unflagged, marked done and moved to
    the processed folder by `settle`; when that cannot be done (`mailbox_off` says why, or the
    server cannot be reached) the record stays resolved and the person is told how to finish.
    Resolving a resolved message whose mail is still flagged only settles the mail.
    """
    return _close(PersonAction.RESOLVE, store, pk, note, by, settle, now, mailbox_off)


def ignore(store: Store, pk: int, note: str, by: str = "", settle: Settle | None = None,
           now: datetime | None = None, mailbox_off: str = "") -> Outcome:
    """A person found the set-aside mail is no application: `ignored`, with their note and name; its
    mail is settled as a resolved one's."""
    return _close(PersonAction.IGNORE, store, pk, note, by, settle, now, mailbox_off)


def _close(action: PersonAction, store: Store, pk: int, note: str, by: str, settle: Settle | None,
           now: datetime | None, mailbox_off: str) -> Outcome:
    if not note.strip():
        raise NotAllowed("a note is required: say what was done, e.g. --note 'added by hand'")
    record, _steps = message(store, pk)
    done = AFTER[action]
    if record.status == done and _mail_owed(record):
        return Outcome(pk, f"#{pk} already {done} (note kept)" + _settled(store, record, settle, mailbox_off, done))
    after = require(action, record.status, record.id)
    try:
        store.update_message(pk, expect=record.status, status=after, note=note.strip(),
                             resolved_by=by.strip(), resolved_at=now or utcnow())
    except Conflict as exc:
        raise NotAllowed(f"{exc}: it changed meanwhile; nothing done") from exc
    log.info(f"review.{action.value}", extra={"record": pk, "was": record.status})
    said = f"#{pk} {record.status} -> {after}"
    if _mail_owed(record):
        said += _settled(store, record, settle, mailbox_off, after)
    return Outcome(pk, said)


def reopen(store: Store, pk: int, note: str = "", by: str = "") -> Outcome:
    """A resolved message back in the review queue (resolved by mistake): `review` again, by
    compare-and-set; who reopened it and why become its reason. Its mail stays where it is until it
    is retried (a retry moves it back to the watched folder) or resolved again."""
    record, _steps = message(store, pk)
    after = require(PersonAction.REOPEN, record.status, record.id)
    why = f"reopened by {by.strip() or 'someone'}" + (f": {note.strip()}" if note.strip() else "")
    try:
        store.update_message(pk, expect=record.status, status=after, reason=why, resolved_by="", resolved_at=None)
    except Conflict as exc:
        raise NotAllowed(f"{exc}: it changed meanwhile; nothing done") from exc
    log.info("review.reopened", extra={"record": pk})
    return Outcome(pk, f"#{pk} {record.status} -> {after}; its mail stays in {record.placed_folder or record.folder}")


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
    wrong = refused(PersonAction.RESOLVE, statuses)
    if wrong:
        raise NotAllowed(f"only {', '.join(RESOLVABLE)} messages can be resolved, not {', '.join(wrong)}")
    return store.ids_in(statuses, (now or utcnow()) - older_than if older_than is not None else None)


def _mail_owed(record: MessageRecord) -> bool:
    """Its mail was flagged for a person (or the server refused that): the mailbox must be told."""
    return record.mailbox_action in (FLAGGED_ACTION, ACTION_REFUSED)


def _settled(store: Store, record: MessageRecord, settle: Settle | None, mailbox_off: str,
             status: Status = Status.RESOLVED) -> str:
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
        store.record_action(record.id, expect=status, action=DONE_ACTION, placement=placement,
                            step=MAILBOX_STEP, detail=detail)
    except Conflict:
        log.warning("review.changed_meanwhile", extra={"record": record.id})
    return f"; mail unflagged, marked done, now in {placement.folder}"


def _requeue(store: Store, record: MessageRecord, unanswered: Sequence[str]) -> None:
    """Back to pending in one transaction, unless someone changed the record meanwhile. The
    mailbox step is owed again; calls sent without a recorded answer are forgotten (the person
    checked that the ATS did not do them)."""
    try:
        store.requeue(record.id, expect=record.status, reason=RETRY_REASON, forget=[MAILBOX_STEP, *unanswered])
    except Conflict as exc:
        raise NotAllowed(f"{exc}; nothing done") from exc


def _undo_requeue(store: Store, record: MessageRecord, unanswered: Sequence[str]) -> None:
    """The mail could not be moved back: the record returns to what it was, unless it moved on."""
    steps = [(MAILBOX_STEP, DONE, json.dumps({"action": record.mailbox_action})),
             *((name, STARTED, "") for name in unanswered)]
    if store.undo_requeue(record, steps):
        log.warning("review.retry_undone", extra={"record": record.id})


def _moved_away(record: MessageRecord) -> bool:
    """Whether intake's mailbox action moved the mail out of the watched folder (a record from before
    placements were recorded says only that an action was done)."""
    return bool(record.mailbox_action) and record.placed_folder != record.folder


def _retry_line(record: MessageRecord, unanswered: Sequence[str], found: bool | None) -> str:
    line = f"#{record.id} {record.status} -> pending: the next pass takes it again"
    if unanswered:
        line += f"; forgot the unanswered step(s) {', '.join(unanswered)}"
    where = "ignored folder" if record.status == Status.IGNORED else "review folder"
    if found is True:
        line += f"; mail moved back from the {where}"
    elif found is False:
        line += f"; its mail was NOT found in the {where} (move it back to the watched folder by hand)"
    return line


def _retry_warning(record: MessageRecord, started: Sequence[str]) -> str:
    """For uncertain: the person must have checked the ATS. Else: what will still be held."""
    steps = ", ".join(started)
    if record.status == Status.UNCERTAIN:
        steps = steps or "the call whose answer was lost"
        return UNCERTAIN_WARNING.format(pk=record.id, steps=steps)
    return STILL_STARTED.format(pk=record.id, steps=steps) if started else ""
