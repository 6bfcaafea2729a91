"""The record of each message: written on arrival, its attempts counted, its verdict written.

Every write is one short compare-and-set transaction on the status the record was seen in: a
person may change it meanwhile (then the write is left undone, and the change wins).

On arrival a message gets its record before any heavy work, committed at once: a new mail
(with its first attempt counted in the same write), another copy of a mail already recorded
(a duplicate, nothing sent), the continuation of an earlier record whose copy is gone, or a
mail an earlier run of ours marked with its keyword that this database has no record of.

A record follows its mail to a new UID when the mail's old copy is gone from this folder: a
pending one (a new UIDVALIDITY, or put back by `messages retry`), and one in the review queue
whose mail stayed in the folder when the folder's UIDVALIDITY changed (so that the queue holds
it once, and `messages retry` and `resolve` find its mail); other settled mail gets a duplicate.
Mail carrying our keyword is read too, so that it is recognised by its content; only mail too
large to read is known by its keyword alone. A mail the server would not send is recorded
without its hash (`arrive` with no body) and completed when its body comes on a later pass
(`complete`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence

from daemon.domain import NEEDS_PERSON, MessageKey, Status
from daemon.errors import Conflict, StoreBusy
from daemon.intake.lifecycle import Move, Verdict
from daemon.intake.outcome import Outcome
from daemon.mail.identity import Identity
from daemon.mail.spool import MailBytes, as_mail
from daemon.mailbox.base import DONE_KEYWORD, REVIEW_KEYWORD, MessageFacts
from daemon.store.models import MessageRecord
from daemon.store.repository import Store

log = logging.getLogger(__name__)

# Mail an earlier run of ours settled, known only by its keyword: (status, action done, what, next).
MARKS = {
    DONE_KEYWORD: (Status.DUPLICATE, "processed", "marked done", "nothing sent to the ATS"),
    REVIEW_KEYWORD: (Status.REVIEW, "flagged", "set aside", "look at it, then retry or resolve it"),
}


def marked(facts: MessageFacts) -> bool:
    """Whether an earlier run of ours left its keyword on the mail."""
    return bool(facts.keywords & MARKS.keys())


class Ledger:
    """The runner's writes to the store for one folder; `present` tells which UIDs the folder holds."""

    def __init__(self, store: Store, present: Callable[[Sequence[int]], Collection[int]]):
        self.store = store
        self._present = present

    def arrive(self, key: MessageKey, facts: MessageFacts, raw: bytes | MailBytes | None,
               found: Identity | None) -> tuple[MessageRecord, bool]:
        """The record of a message seen for the first time under `key`, committed at once; and
        whether its first attempt was counted in the same write (a new mail to be handled now)."""
        if raw is None or found is None:
            return self._unread(key, facts)
        digest, identity = as_mail(raw).sha256, found.content_key  # a spooled mail's: hashed as it was written
        if marked(facts):
            first = self.store.first_copy(identity)
            if first is None:
                return self._marked(key, facts, sha256=digest, content_key=identity), False
        else:  # new unless a copy was recorded: looked up and inserted in one transaction
            added, first = self.store.add_first_copy(key, sha256=digest, size=facts.size, content_key=identity,
                                                     message_id=found.message_id, attempts=1)
            if added is not None:
                return added, True
        if self._follows(first, key):
            # The same mail under a new UID in this folder and its old copy is gone: it continues
            # the earlier record.
            log.warning("mail.remapped", extra={"record": first.id, "old_uid": first.uid, "uid": key.uid,
                                                "status": first.status})
            return self.store.move_record(first.id, key, expect=first.status), False
        return self.store.add_message(key, sha256=digest, size=facts.size, content_key=identity,
                                      **_copy_of(first, key.uid)), False

    def complete(self, record: MessageRecord, raw: bytes | MailBytes, found: Identity) -> MessageRecord | None:
        """A pending record made before its body could be read (the server would not send it), now
        that it can: its hash and content key written; a copy of a mail recorded meanwhile becomes a
        duplicate of it. None when a person changed the record meanwhile."""
        digest, identity = as_mail(raw).sha256, found.content_key
        fields: dict[str, object] = {"sha256": digest, "content_key": identity}
        first = self.store.first_copy(identity)
        if first is not None and first.id != record.id:
            fields.update(_copy_of(first, record.uid))
        try:
            return self.store.update_message(record.id, expect=Status.PENDING, **fields)
        except Conflict:
            log.warning("mail.changed_meanwhile", extra={"record": record.id})
            return None

    def _unread(self, key: MessageKey, facts: MessageFacts) -> tuple[MessageRecord, bool]:
        """A message whose body is not read (too large): known by our keyword, or new."""
        if marked(facts):
            return self._marked(key, facts), False
        return self.store.add_message(key, sha256="", size=facts.size, attempts=1), True

    def _marked(self, key: MessageKey, facts: MessageFacts, **content: str) -> MessageRecord:
        """Mail an earlier run of ours marked with its keyword, of which this database has no record."""
        keyword, (status, action, what, then) = next((k, m) for k, m in MARKS.items() if k in facts.keywords)
        log.warning("mail.marked", extra={"uid": key.uid, "keyword": keyword})
        return self.store.add_message(
            key, sha256=content.pop("sha256", ""), size=facts.size, status=status, mailbox_action=action,
            reason=f"{what} in the mailbox ({keyword}) by an earlier run that this database has no "
                   f"record of (a lost or replaced database?); {then}", **content)

    def _follows(self, first: MessageRecord, key: MessageKey) -> bool:
        """Does the earlier record follow its mail to `key`: is its own copy no longer in this folder?
        (Never across folders: a daemon never takes over a record whose mail another folder holds;
        a settled record only when the folder's UIDVALIDITY changed and its mail had stayed there.)"""
        if (first.account, first.folder) != (key.account, key.folder):
            return False
        if first.status in NEEDS_PERSON:  # a person retries or resolves it by its mail's UID
            stayed = first.placed_folder in ("", key.folder)
            return stayed and first.uidvalidity != key.uidvalidity
        if first.status != Status.PENDING:
            return False
        return first.uidvalidity != key.uidvalidity or first.uid not in self._present([first.uid])

    def count_attempt(self, record: MessageRecord) -> MessageRecord | None:
        """The attempt counted before the work; None when a person changed the record meanwhile."""
        try:
            return self.store.update_message(record.id, expect=Status.PENDING, attempts=record.attempts + 1)
        except Conflict:
            return None

    def write(self, record: MessageRecord, verdict: Verdict, outcome: Outcome | None = None) -> MessageRecord | None:
        """Carry out `verdict` on a record that is still pending; None when a person changed it."""
        if verdict.move is Move.LEAVE:
            log.warning("mail.changed_meanwhile", extra={"record": record.id})
            return None
        if verdict.move is Move.GIVE_BACK:
            self._give_back(record, verdict)
            return None
        fields = _fields(verdict, outcome if verdict.move is Move.SETTLE else None)
        if verdict.status in (Status.REVIEW, Status.UNCERTAIN):
            log.info("mail.set_aside", extra={"record": record.id, "reason": verdict.reason.split(":")[0]})
        try:
            return self.store.update_message(record.id, expect=Status.PENDING, **fields)
        except Conflict:
            log.warning("mail.changed_meanwhile", extra={"record": record.id})
            if outcome is not None and verdict.status == Status.SUBMITTED:
                self._submitted_meanwhile(record, outcome)
            return None

    def _submitted_meanwhile(self, record: MessageRecord, outcome: Outcome) -> None:
        """A person changed the record (resolved it) while its flow was submitting: the person's
        status stays, and the record says what the ATS now holds, so nobody adds the candidate twice."""
        current = self.store.message_by_pk(record.id)
        if current is None:
            return
        said = (f"the daemon submitted it meanwhile: applicant {outcome.applicant_id}, candidate "
                f"{outcome.candidate_id} for {outcome.job_title or 'job ' + outcome.job_id}")
        try:
            self.store.update_message(record.id, expect=current.status, applicant_id=outcome.applicant_id,
                                      candidate_id=outcome.candidate_id, job_id=outcome.job_id,
                                      job_title=outcome.job_title,
                                      reason=f"{current.reason}; {said}" if current.reason else said)
        except Conflict:
            log.warning("mail.ats_ids_not_recorded", extra={"record": record.id})
            return
        log.warning("mail.submitted_meanwhile", extra={"record": record.id, "status": current.status})

    def _give_back(self, record: MessageRecord, verdict: Verdict) -> None:
        """The fault was not the message's (ATS-wide, database, configuration): no attempt used."""
        try:
            self.store.update_message(record.id, expect=Status.PENDING, attempts=verdict.attempts,
                                      last_error=verdict.last_error[:2000])
        except (StoreBusy, Conflict):
            log.warning("mail.attempt_not_given_back", extra={"record": record.id})


def _copy_of(first: MessageRecord, uid: int) -> dict[str, object]:
    """The columns of a record for another copy of the mail `first` recorded (nothing sent for it)."""
    original = first.duplicate_of or first.id
    log.info("mail.duplicate", extra={"record": original, "uid": uid})
    return {"status": Status.DUPLICATE, "duplicate_of": original, "message_id": first.message_id,
            "job_title": first.job_title, "candidate_id": first.candidate_id,
            "reason": f"another copy of message #{original} ({first.status}); nothing sent to the ATS"}


def _fields(verdict: Verdict, outcome: Outcome | None) -> dict[str, object]:
    """The record's columns for a verdict, with what the flow found when it settles."""
    fields: dict[str, object] = {"status": verdict.status, "attempts": verdict.attempts}
    if verdict.status == Status.PENDING:
        fields["last_error"] = verdict.last_error[:2000]
        return fields
    fields["reason"] = verdict.reason[:2000]
    if outcome is None:
        return fields
    if verdict.status == Status.SUBMITTED:
        fields.update(applicant_id=outcome.applicant_id, candidate_id=outcome.candidate_id, last_error="")
    if outcome.job_id:
        fields.update(job_id=outcome.job_id, job_title=outcome.job_title)
    if outcome.mail is not None:
        fields.update(outcome.mail.fields())
    if outcome.rule:
        fields.update(rule=outcome.rule, route_reason=outcome.route_reason)
    if outcome.found_by or outcome.forwarded_by:  # also on a mail set aside: who forwarded it, if anyone
        fields.update(found_by=outcome.found_by, forwarded_by=outcome.forwarded_by)
    return fields
