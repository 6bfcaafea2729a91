"""One pass over a mail source: a short loop over message keys (the runner).

For each message: record it (committed before any heavy work), count the attempt (before
the work, so a mail that kills the process is set aside after `max_attempts` starts),
let the message flow (daemon.intake.flow) handle it, record its Outcome with the status it
was decided on (compare-and-set), and only then act on the mailbox. The runner owns
reconnects and pausing; it acts on dispositions (daemon.intake.outcome), never on error types.

With `concurrency` above 1 the flows of up to that many messages run at once in worker
threads (each message's own steps still in order, each journalled), while this thread
fetches, records and counts the next ones. Everything else stays on this thread: IMAP,
records, outcomes and mailbox actions, in UID order (a message lands, has its outcome
recorded and its mailbox action done, only after every message started before it). Two
mails from one sender are never in flight at once: the second waits for the first to land.
A pass starts one message at a time and opens up to `concurrency` once a message went
through without error; any failure closes it to one again (so an outage or a failing
endpoint meets one message, not a burst). A pause or a stop starts no new message; the
messages in flight finish and land first.

    a new UID ---------------> record -> attempt -> flow -> outcome -> mailbox action
    a pending one (retry) ---------------> attempt -> flow -> outcome -> mailbox action
    a settled one, action owed ----------------------------------------> mailbox action
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time as clock
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from daemon.config import FirstPass
from daemon.domain import SETTLED, MessageKey, Status
from daemon.errors import Conflict, MailboxActionRefused, MailboxUnavailable, StoreBusy
from daemon.intake.flow import MessageFlow
from daemon.intake.journal import crash_point
from daemon.intake.outcome import Disposition, Outcome
from daemon.mail.identity import Identity, identify, sender
from daemon.mailbox.base import DONE_KEYWORD, REVIEW_KEYWORD, Mailbox, MessageFacts
from daemon.store.models import FolderState, MessageRecord
from daemon.store.repository import ACTION_REFUSED, Store

log = logging.getLogger(__name__)
MAILBOX_STEP = "mailbox"
RECORDED_STEP = "recorded"  # a crash point only: the message's row is committed, nothing sent yet


@dataclass(frozen=True, slots=True)
class RunnerOptions:
    processed_folder: str = ""
    review_folder: str = ""
    ignored_folder: str = ""
    batch_size: int = 50
    max_message_bytes: int = 50 * 1024 * 1024
    max_attempts: int = 5  # starts of one message (failed or killed) before a person looks
    max_action_attempts: int = 5  # passes that retry a refused mailbox action before leaving it
    reconnects: int = 5  # mailbox reconnects within one pass
    reconnect_base_seconds: float = 1.0
    failures_before_pause: int = 3  # messages failing transiently in a row end the pass
    fetch_bytes: int = 4 * 1024 * 1024  # bodies downloaded per FETCH, at most (one message at least)
    crash_after_step: str = ""  # test hook, see daemon.intake.journal
    first_pass: FirstPass | None = None  # the window of the first pass over a folder; None: all mail
    backfill_since: date | None = None  # `backfill`: mail of the folder since then that has no record
    concurrency: int = 1  # message flows (ATS work) running at once; 1: one message at a time


@dataclass
class PassSummary:
    seen: int = 0
    submitted: int = 0
    set_aside: int = 0
    duplicates: int = 0
    ignored: int = 0
    pending: int = 0
    busy: bool = False  # another instance holds the mailbox: nothing was done
    ats_down: bool = False  # the pass stopped because the ATS did not answer
    stopped: str = ""  # why the pass stopped before the end of the folder, when it did
    last_error: str = ""  # the last transient error, when a message was deferred
    counted: set[int] = field(default_factory=set)  # records counted (a reconnect must not count twice)

    def count(self, record: MessageRecord) -> None:
        if record.id in self.counted:
            return
        self.counted.add(record.id)
        self.seen += 1
        if record.status == Status.SUBMITTED:
            self.submitted += 1
        elif record.status in (Status.REVIEW, Status.UNCERTAIN):
            self.set_aside += 1
        elif record.status == Status.DUPLICATE:
            self.duplicates += 1
        elif record.status == Status.IGNORED:
            self.ignored += 1
        elif record.status == Status.PENDING:
            self.pending += 1


class Stop(Exception):
    """Ends the sweep early: the pass paused, or a stop was requested."""


@dataclass(slots=True)
class _Flight:
    """A message started in this sweep: its flow running (`future`), or already settled (`settled`)."""

    key: MessageKey
    record: MessageRecord | None
    sender: str = ""
    future: Future | None = None

    @property
    def running(self) -> bool:
        return self.future is not None


class _Inline:
    """An executor that runs the flow at once, in this thread (concurrency 1)."""

    def submit(self, fn: Callable[..., Outcome], *args: object) -> Future:
        future: Future = Future()
        future.set_result(fn(*args))
        return future

    def shutdown(self) -> None:
        pass


class Runner:
    """Runs passes over one mailbox, recording everything in the store."""

    def __init__(self, store: Store, mailbox: Mailbox, flow: MessageFlow, options: RunnerOptions, *,
                 probe: Callable[[], bool] = lambda: True, should_stop: Callable[[], bool] = lambda: False,
                 sleep: Callable[[float], object] = clock.sleep, heartbeat: Callable[[], bool] = lambda: True):
        self.store, self.mailbox, self.flow, self.options = store, mailbox, flow, options
        self.probe = probe  # does the ATS answer at all? (tells an outage from one message's failure)
        self.should_stop = should_stop
        self.sleep = sleep
        self.heartbeat = heartbeat  # after each message; False: our lease on the mailbox is gone
        self._pause = ""  # why no further message should start in this pass
        self._outage = False  # the pause is because the ATS does not answer (usefully)
        self._failures_in_a_row = 0
        self._flights: deque[_Flight] = deque()  # started, not yet landed, in UID order
        self._executor: ThreadPoolExecutor | _Inline = _Inline()
        self._highest = 0  # the folder's highest handled UID in this sweep
        self._keeps_highest = False
        self._open = False  # the last flow went through without error: `concurrency` flows may run

    # -- the pass --------------------------------------------------------------------------

    def run_pass(self) -> PassSummary:
        """Sweep the folder; reconnect with backoff when the mailbox drops mid-pass.

        A mailbox that cannot be reached at the start fails the pass at once (the next
        scheduled pass tries again); one that drops mid-pass is reconnected.
        """
        summary = PassSummary()
        workers = self.options.concurrency
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="flow") if workers > 1 else _Inline()
        try:
            return self._run(summary)
        finally:
            self._executor.shutdown()

    def _run(self, summary: PassSummary) -> PassSummary:
        connected = False
        for attempt in range(self.options.reconnects + 1):
            try:
                info = self.mailbox.open()
                connected = True
                self._sweep(info.uidvalidity, info.ordered_uids, summary)
                return summary
            except Stop:
                return summary
            except MailboxUnavailable as exc:
                if not connected or attempt == self.options.reconnects or self.should_stop():
                    raise
                delay = random.uniform(0, self.options.reconnect_base_seconds * 2 ** attempt)  # noqa: S311
                log.warning("imap.reconnecting", extra={"attempt": attempt + 1, "delay": round(delay, 2),
                                                        "error": type(exc.__cause__ or exc).__name__})
                self.sleep(delay)
            finally:
                self.mailbox.close()
        return summary  # not reached

    def _sweep(self, uidvalidity: int, ordered: bool, summary: PassSummary) -> None:
        account, folder = self.mailbox.account, self.mailbox.folder
        state = self._folder_state(account, folder, uidvalidity)
        highest = state.highest_uid
        backfill = self.options.backfill_since is not None
        owed = self.store.pending_uids(account, folder, uidvalidity)
        known = set(owed)
        uids = owed + [uid for uid in self._new_uids(state, uidvalidity) if uid not in known]
        self._highest, self._keeps_highest, self._open = highest, ordered and not backfill, False
        try:
            for start in range(0, len(uids), self.options.batch_size):
                self._batch(uidvalidity, uids[start:start + self.options.batch_size], summary)
                self._save_highest(uidvalidity, highest)
            while self._flights:
                self._land(self._flights.popleft(), summary)
        finally:
            self._drain(summary)
            self._save_highest(uidvalidity, highest)
        if self._keeps_highest and self._highest < state.window_end_uid:
            self.store.save_folder_state(account, folder, uidvalidity, state.window_end_uid)  # the rest: left out

    def _save_highest(self, uidvalidity: int, saved: int) -> None:
        """Where intake stands, saved once per batch: every UID at or below it is handled (or
        left out by the first pass's window); a crash before the save only looks again at
        UIDs whose records say what was done."""
        if self._keeps_highest and self._highest > saved:
            self.store.save_folder_state(self.mailbox.account, self.mailbox.folder, uidvalidity, self._highest)

    def _new_uids(self, state: FolderState, uidvalidity: int) -> list[int]:
        """UIDs to look at: above the highest handled, those the first pass's window leaves out
        excepted; for a backfill, the folder's mail since the date that has no record yet."""
        if self.options.backfill_since is not None:
            found = sorted(self.mailbox.window(self.options.backfill_since, unseen_only=False))
            return [uid for uid in found if self.store.message(self._key(uidvalidity, uid)) is None]
        return fresh_uids(self.mailbox, state)

    def _folder_state(self, account: str, folder: str, uidvalidity: int) -> FolderState:
        state = self.store.folder_state(account, folder)
        if state is None:
            return self._first_pass(account, folder, uidvalidity)
        if state.uidvalidity != uidvalidity:
            # Every UID seen so far is void. Mail already recorded is recognised again by
            # its content (daemon.mail.identity), so nothing is submitted twice.
            log.warning("imap.uidvalidity_changed", extra={"folder": folder, "old": state.uidvalidity,
                                                            "new": uidvalidity})
            self.store.save_folder_state(account, folder, uidvalidity, 0, window_end_uid=0)
            return self.store.folder_state(account, folder)
        return state

    def _first_pass(self, account: str, folder: str, uidvalidity: int) -> FolderState:
        """A folder seen for the first time: only mail in the window is taken; the rest is
        counted (never recorded one by one) and left untouched (`backfill` takes it later)."""
        window = self.options.first_pass
        everything = self.mailbox.uids_after(0) if window is not None else []
        if window is None or not everything:
            self.store.save_folder_state(account, folder, uidvalidity, 0)
            return self.store.folder_state(account, folder)
        since = window.since(datetime.now(UTC).date())
        inside = self.mailbox.window(since, window.unseen_only)
        skipped = sum(1 for uid in everything if uid not in inside)
        log.info("imap.first_pass", extra={"folder": folder, "messages": len(everything), "left_out": skipped,
                                           "window": window.describe()})
        moment = datetime.combine(since, time.min, tzinfo=UTC) if since is not None else None
        self.store.save_folder_state(account, folder, uidvalidity, 0, window_end_uid=max(everything),
                                     window_since=moment, window_unseen=window.unseen_only, skipped=skipped)
        return self.store.folder_state(account, folder)

    def _batch(self, uidvalidity: int, uids: list[int], summary: PassSummary) -> None:
        """Start each message of `uids` that still exists (and land those that are done)."""
        facts = self.mailbox.facts(uids)  # sizes and our keywords before any body is downloaded
        present = [uid for uid in uids if uid in facts]
        found = self.store.messages_at(self.mailbox.account, self.mailbox.folder, uidvalidity, present)
        records = {uid: found.get(uid) for uid in present}
        wanted = {uid: facts[uid].size for uid, record in records.items()
                  if self._needs_body(record, facts[uid])}
        for chunk in _chunks(present, wanted, self.options.fetch_bytes):
            bodies = self.mailbox.fetch([uid for uid in chunk if uid in wanted])
            for uid in chunk:
                if uid in wanted and uid not in bodies:
                    continue  # gone from the folder (moved or expunged by someone else)
                self._before_next(summary)
                self._one(self._key(uidvalidity, uid), records[uid], facts[uid], bodies.pop(uid, None), summary)
                self._land_ready(summary)

    def _needs_body(self, record: MessageRecord | None, facts: MessageFacts) -> bool:
        if record is None:
            return not _marked(facts) and facts.size <= self.options.max_message_bytes
        return record.status == Status.PENDING and facts.size <= self.options.max_message_bytes

    def _before_next(self, summary: PassSummary) -> None:
        """Stop starting messages when the pass paused or a stop was requested."""
        if self.should_stop():
            raise Stop
        if self._pause:
            log.warning("poll.paused", extra={"reason": self._pause})
            summary.stopped = self._pause
            if self._outage:
                summary.ats_down = True
                summary.last_error = summary.last_error or self._pause
            raise Stop

    def _key(self, uidvalidity: int, uid: int) -> MessageKey:
        return MessageKey(self.mailbox.account, self.mailbox.folder, uidvalidity, uid)

    # -- one message -------------------------------------------------------------------------

    def _one(self, key: MessageKey, record: MessageRecord | None, facts: MessageFacts, raw: bytes | None,
             summary: PassSummary) -> None:
        """Record and attempt one message: its flow started, or settled at once (a copy, a marked
        mail, given up); it lands in its turn. A mail from a sender in flight waits for that one."""
        found = identify(raw) if record is None and raw is not None else None
        address = found.sender if found is not None else sender(raw) if raw is not None else ""
        self._wait_for(address, summary)
        self._before_next(summary)  # what landed meanwhile may have paused the pass
        counted = False
        if record is None:
            record, counted = self._record(key, facts, raw, found)
            crash_point(RECORDED_STEP, self.options.crash_after_step)
            if record.status != Status.PENDING:
                summary.count(record)
        if record.status != Status.PENDING:
            self._flights.append(_Flight(key, record))
            return
        self._attempt(key, record, raw, address, counted=counted, summary=summary)

    def _wait_for(self, address: str, summary: PassSummary) -> None:
        """Land messages until none from `address` is in flight and a worker is free."""
        limit = self.options.concurrency if self._open else 1
        while any(f.running and address and f.sender == address for f in self._flights) or (
                sum(f.running for f in self._flights) >= limit):
            self._land(self._flights.popleft(), summary)
            limit = self.options.concurrency if self._open else 1

    def _land_ready(self, summary: PassSummary) -> None:
        """Land the messages at the head whose flows are done, in order."""
        while self._flights and (not self._flights[0].running or self._flights[0].future.done()):
            self._land(self._flights.popleft(), summary)

    def _land(self, flight: _Flight, summary: PassSummary, *, draining: bool = False) -> None:
        """Record the outcome of a flow (waiting for it), then the mailbox action; after each message
        the heartbeat (False: the lease is gone, stop)."""
        record = flight.record
        if flight.future is not None and record is not None:
            outcome = flight.future.result()
            self._open = outcome.disposition is None
            record = self._settle(record, outcome, summary)
            if record is not None:
                summary.count(record)
        if self._keeps_highest and flight.key.uid > self._highest:
            self._highest = flight.key.uid  # every UID below is handled, or left out by the first pass's window
        if record is not None and record.status != Status.PENDING:
            self._act(record)
        if not self.heartbeat() and not draining:
            raise Stop

    def _drain(self, summary: PassSummary) -> None:
        """The sweep ends early (a stop, a pause, an error): the flows in flight finish and land;
        what goes wrong meanwhile is logged, the error that ended the sweep is the one raised."""
        while self._flights:
            flight = self._flights.popleft()
            try:
                self._land(flight, summary, draining=True)
            except Exception as exc:  # another error is already on its way
                log.warning("mail.landed_while_stopping", extra={"uid": flight.key.uid, "error": type(exc).__name__})

    def _record(self, key: MessageKey, facts: MessageFacts, raw: bytes | None,
                found: Identity | None) -> tuple[MessageRecord, bool]:
        """A record for a message seen for the first time under this key, committed at once; and
        whether its first attempt was counted in the same write (a new mail to be handled now)."""
        if raw is None or found is None:
            return self._record_unread(key, facts)
        digest, identity = hashlib.sha256(raw).hexdigest(), found.content_key
        first = self.store.first_copy(identity)
        if first is None:
            return self.store.add_message(key, sha256=digest, size=facts.size, content_key=identity, attempts=1), True
        if first.status == Status.PENDING and self._copy_gone(first, key):
            # The same mail under a new UID in this folder (a new UIDVALIDITY, or put back by
            # `messages retry`) and its old copy is gone: it continues the earlier record.
            log.warning("mail.remapped", extra={"record": first.id, "old_uid": first.uid, "uid": key.uid})
            return self.store.move_record(first.id, key, expect=Status.PENDING), False
        original = first.duplicate_of or first.id
        log.info("mail.duplicate", extra={"record": original, "uid": key.uid})
        return self.store.add_message(
            key, sha256=digest, size=facts.size, content_key=identity, message_id=first.message_id,
            status=Status.DUPLICATE, duplicate_of=original, job_title=first.job_title, candidate_id=first.candidate_id,
            reason=f"another copy of message #{original} ({first.status}); nothing sent to the ATS"), False

    def _record_unread(self, key: MessageKey, facts: MessageFacts) -> tuple[MessageRecord, bool]:
        """A message whose body is not read: too large, or marked by an earlier run of ours."""
        for keyword, (status, action, what, then) in _MARKS.items():
            if keyword in facts.keywords:
                log.warning("mail.marked", extra={"uid": key.uid, "keyword": keyword})
                return self.store.add_message(
                    key, sha256="", size=facts.size, status=status, mailbox_action=action,
                    reason=f"{what} in the mailbox ({keyword}) by an earlier run that this database has no "
                           f"record of (a lost or replaced database?); {then}"), False
        return self.store.add_message(key, sha256="", size=facts.size, attempts=1), True

    def _copy_gone(self, first: MessageRecord, key: MessageKey) -> bool:
        """Is the earlier record's own copy no longer in this folder? (Never true across folders:
        a daemon never takes over a record whose mail another folder still holds.)"""
        if (first.account, first.folder) != (key.account, key.folder):
            return False
        return first.uidvalidity != key.uidvalidity or first.uid not in self.mailbox.facts([first.uid])

    def _attempt(self, key: MessageKey, record: MessageRecord, raw: bytes | None, address: str, *,
                 counted: bool, summary: PassSummary) -> None:
        """Count the attempt (unless the new record was written with it), then start the flow."""
        if not counted:
            if record.attempts >= self.options.max_attempts:
                settled = self._write(record, Outcome(Status.REVIEW, _gave_up(record)))
                if settled is not None:
                    summary.count(settled)
                self._flights.append(_Flight(key, settled))
                return
            try:
                record = self.store.update_message(record.id, expect=Status.PENDING, attempts=record.attempts + 1)
            except Conflict:
                self._flights.append(_Flight(key, None))  # a person resolved it meanwhile
                return
        self._flights.append(_Flight(key, record, address, self._executor.submit(self.flow.handle, record, raw)))

    def _settle(self, record: MessageRecord, outcome: Outcome, summary: PassSummary) -> MessageRecord | None:
        disposition = outcome.disposition
        if disposition in (Disposition.TRANSIENT, Disposition.UNTRIED):
            return self._deferred(record, outcome, summary)
        if disposition is Disposition.CONFLICT:
            log.warning("mail.changed_meanwhile", extra={"record": record.id})
            return None
        if disposition is not None and outcome.status == Status.PENDING:
            # Not the message's fault (ATS-wide, database, configuration, mailbox): stop the pass.
            self._give_back(record, outcome)
            raise outcome.error if outcome.error is not None else Stop
        if disposition is Disposition.UNCERTAIN:
            self._pause, self._outage = "an ATS answer was lost (too slow, or the connection dropped)", True
        self._failures_in_a_row = 0
        return self._write(record, outcome)

    def _deferred(self, record: MessageRecord, outcome: Outcome, summary: PassSummary) -> MessageRecord | None:
        """Keep the message for a later pass. The attempt counts against it only when it was
        tried and the ATS is otherwise answering: an outage must not use up every waiting
        message's attempts, nor must a circuit still open from one."""
        down = self.should_stop() or not self.probe()
        attempts = record.attempts - (1 if down or outcome.disposition is Disposition.UNTRIED else 0)
        summary.last_error = str(outcome.error)
        summary.ats_down = summary.ats_down or down
        self._failures_in_a_row += 1
        if down:
            self._pause, self._outage = "the ATS is not answering", True
        elif self._failures_in_a_row >= self.options.failures_before_pause:
            self._pause = "repeated failures"
        log.warning("mail.deferred", extra={"record": record.id, "attempts": attempts, "ats_down": down,
                                            "error": type(outcome.error).__name__})
        if attempts >= self.options.max_attempts:
            return self._write(record, Outcome(Status.REVIEW, f"gave up after {attempts} attempts; last error: "
                                                       f"{outcome.error}"), attempts=attempts)
        return self._write(record, Outcome(Status.PENDING), attempts=attempts, last_error=str(outcome.error)[:2000])

    def _give_back(self, record: MessageRecord, outcome: Outcome) -> None:
        """The fault was not the message's (ATS-wide, database, configuration): no attempt used."""
        try:
            self.store.update_message(record.id, expect=Status.PENDING, attempts=max(0, record.attempts - 1),
                                      last_error=str(outcome.error)[:2000])
        except (StoreBusy, Conflict):
            log.warning("mail.attempt_not_given_back", extra={"record": record.id})

    def _write(self, record: MessageRecord, outcome: Outcome, **extra: object) -> MessageRecord | None:
        """Record the outcome on a record that is still pending; None when a person changed it."""
        fields: dict[str, object] = {"status": outcome.status, **extra}
        if outcome.status != Status.PENDING:
            fields["reason"] = outcome.reason[:2000]
        if outcome.status == Status.SUBMITTED:
            fields.update(applicant_id=outcome.applicant_id, candidate_id=outcome.candidate_id, last_error="")
        if outcome.job_id:
            fields.update(job_id=outcome.job_id, job_title=outcome.job_title)
        if outcome.mail is not None:
            fields.update(outcome.mail.fields())
        if outcome.rule:
            fields.update(rule=outcome.rule, route_reason=outcome.route_reason)
        if outcome.found_by:
            fields.update(found_by=outcome.found_by, forwarded_by=outcome.forwarded_by)
        if outcome.status in (Status.REVIEW, Status.UNCERTAIN):
            log.info("mail.set_aside", extra={"record": record.id, "reason": outcome.reason.split(":")[0]})
        try:
            return self.store.update_message(record.id, expect=Status.PENDING, **fields)
        except Conflict:
            log.warning("mail.changed_meanwhile", extra={"record": record.id})
            return None

    # -- the mailbox action --------------------------------------------------------------------

    def _act(self, record: MessageRecord) -> None:
        """Last, after the outcome is recorded: mark done and move, or flag and set aside."""
        if record.mailbox_action or record.status not in SETTLED:
            return
        done = self._is_done(record)
        if done is None:
            return  # a copy of a mail still pending elsewhere: its action waits for the original
        try:
            if done:
                ignored = record.status == Status.IGNORED
                target = self.options.ignored_folder if ignored else self.options.processed_folder
                placement = self.mailbox.mark_done(record.uid, target)
            else:
                placement = self.mailbox.set_aside(record.uid, self.options.review_folder)
        except MailboxActionRefused as exc:
            self._refused(record, exc)
            return
        action = "processed" if done else "flagged"
        detail = json.dumps({"action": action, "folder": placement.folder, "uid": placement.uid})
        try:
            self.store.record_action(record.id, expect=record.status, action=action, placement=placement,
                                     step=MAILBOX_STEP, detail=detail)
        except Conflict:
            log.warning("mail.changed_meanwhile", extra={"record": record.id})
        crash_point(MAILBOX_STEP, self.options.crash_after_step)

    def _is_done(self, record: MessageRecord) -> bool | None:
        """True: mark done (seen); False: set aside (flagged); None: not yet (the original copy is pending)."""
        if record.status in (Status.SUBMITTED, Status.RESOLVED, Status.IGNORED):
            return True
        if record.status != Status.DUPLICATE:
            return False
        if record.candidate_id:
            return True
        original = self.store.message_by_pk(record.duplicate_of) if record.duplicate_of else None
        if original is None:
            return False
        if original.status == Status.PENDING:
            return None
        return original.status in (Status.SUBMITTED, Status.RESOLVED, Status.IGNORED)

    def _refused(self, record: MessageRecord, exc: MailboxActionRefused) -> None:
        """Recorded on this message with the server's words; retried on later passes, a bounded
        number of times; never holds up other mail."""
        attempts = record.action_attempts + 1
        final = attempts >= self.options.max_action_attempts
        words = (exc.server_text or str(exc))[:2000]
        log.warning("mailbox.action_refused", extra={"record": record.id, "attempts": attempts, "final": final})
        try:
            self.store.update_message(record.id, expect=record.status, action_attempts=attempts, action_error=words,
                                      mailbox_action=ACTION_REFUSED if final else "")
        except Conflict:
            log.warning("mail.changed_meanwhile", extra={"record": record.id})


# Mail an earlier run of ours settled, known only by its keyword: (status, action done, what, next).
_MARKS = {
    DONE_KEYWORD: (Status.DUPLICATE, "processed", "marked done", "nothing sent to the ATS"),
    REVIEW_KEYWORD: (Status.REVIEW, "flagged", "set aside", "look at it, then retry or resolve it"),
}


def fresh_uids(mailbox: Mailbox, state: FolderState) -> list[int]:
    """UIDs above the highest handled in the folder, but those the first pass's window leaves out."""
    uids = mailbox.uids_after(state.highest_uid)
    if state.window_end_uid <= state.highest_uid:
        return uids
    since = state.window_since.date() if state.window_since is not None else None
    inside = mailbox.window(since, state.window_unseen)
    return [uid for uid in uids if uid > state.window_end_uid or uid in inside]


def _marked(facts: MessageFacts) -> bool:
    return bool(facts.keywords & _MARKS.keys())


def _gave_up(record: MessageRecord) -> str:
    if record.last_error:
        return f"gave up after {record.attempts} attempts; last error: {record.last_error}"
    return (f"stopped the daemon {record.attempts} times (killed or crashed while handling it); "
            "a person should look at this mail")


def _chunks(uids: list[int], sizes: dict[int, int], limit: int) -> Iterator[list[int]]:
    """Consecutive runs of `uids` whose bodies (those in `sizes`) together stay under `limit` bytes."""
    chunk: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if chunk and total + size > limit:
            yield chunk
            chunk, total = [], 0
        chunk.append(uid)
        total += size
    if chunk:
        yield chunk
