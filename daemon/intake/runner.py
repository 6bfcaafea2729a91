"""One pass over a mail source: the loop (the runner). Each part of a message's way has its module:

    daemon.intake.position    which UIDs a sweep looks at (the folder's position, the first-pass window)
    daemon.intake.ledger      the record: written on arrival, the attempt counted, the verdict written
    daemon.intake.flow        the message's flow: parse, plan, submit -> an Outcome (in a worker thread)
    daemon.intake.lifecycle   the verdict on that outcome, and on every other status change (pure)
    daemon.intake.flights     how many flows run at once, landing in UID order
    daemon.intake.actions     the mailbox action, last, once the verdict is recorded

For each message: record it (committed before any heavy work), count the attempt (before the
work, so a mail that kills the process is set aside after `max_attempts` starts), let the flow
handle it, write the verdict on its outcome (compare-and-set), and only then act on the
mailbox. The runner owns reconnects, pausing and stopping, as the verdicts say.

    a new UID ---------------> record -> attempt -> flow -> verdict -> mailbox action
    a pending one (retry) ---------------> attempt -> flow -> verdict -> mailbox action
    a settled one, action owed -----------------------------------------> mailbox action

A pause or a stop starts no new message; the messages in flight finish and land first.
"""

from __future__ import annotations

import logging
import random
import time as clock
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from daemon.config import FirstPass
from daemon.domain import MessageKey, Status
from daemon.errors import MailboxUnavailable
from daemon.intake.actions import Folders, MailboxActions
from daemon.intake.flights import Flight, Flights
from daemon.intake.flow import MessageFlow
from daemon.intake.ledger import Ledger, marked
from daemon.intake.lifecycle import Limits, Move, Pass, before_start, judge, needs_probe, owed, undelivered
from daemon.intake.outcome import Outcome
from daemon.intake.position import FolderPosition
from daemon.mail.identity import identify, sender
from daemon.mail.spool import MailBytes
from daemon.mailbox.base import Fetched, Mailbox, MessageFacts
from daemon.settings.keys import default
from daemon.store.models import MessageRecord
from daemon.store.repository import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunnerOptions:
    """How a pass runs; each default that is a configuration key's is that key's declared default
    (daemon.settings.keys), so an unconfigured runner (the demo, the tests) behaves as the daemon."""

    processed_folder: str = default("imap.processed_folder")
    review_folder: str = default("imap.review_folder")
    ignored_folder: str = default("imap.ignored_folder")
    batch_size: int = default("imap.batch_size")
    max_message_bytes: int = default("imap.max_message_bytes")
    max_attempts: int = default("ats.max_attempts")  # starts of one message (failed or killed) before a person looks
    max_action_attempts: int = 5  # passes that retry a refused mailbox action before leaving it
    reconnects: int = default("imap.reconnect_attempts")  # mailbox reconnects within one pass
    reconnect_base_seconds: float = 1.0
    failures_before_pause: int = 3  # messages failing transiently in a row end the pass
    fetch_bytes: int = 4 * 1024 * 1024  # bodies downloaded per FETCH, at most (one message at least)
    first_pass: FirstPass | None = None  # the window of the first pass over a folder; None: all mail (the
    # configuration always gives one: `[imap] since` and `skip_seen`)
    backfill_since: date | None = None  # `backfill`: mail of the folder since then that has no record
    concurrency: int = default("ats.concurrency")  # message flows (ATS work) running at once


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


class Runner:
    """Runs passes over one mailbox, recording everything in the store."""

    def __init__(self, store: Store, mailbox: Mailbox, flow: MessageFlow, options: RunnerOptions, *,
                 probe: Callable[[], bool] = lambda: True, should_stop: Callable[[], bool] = lambda: False,
                 sleep: Callable[[float], object] = clock.sleep, heartbeat: Callable[[], bool] = lambda: True,
                 move_back: Callable[[MessageRecord], object] | None = None):
        self.store, self.mailbox, self.flow, self.options = store, mailbox, flow, options
        self.probe = probe  # does the ATS answer at all? (tells an outage from one message's failure)
        self.should_stop = should_stop
        self.sleep = sleep
        self.heartbeat = heartbeat  # after each message; False: our lease on the mailbox is gone
        self.limits = Limits(options.max_attempts, options.failures_before_pause)
        self.ledger = Ledger(store, lambda uids: mailbox.facts(uids).keys())
        self.actions = MailboxActions(
            store, mailbox, Folders(options.processed_folder, options.review_folder, options.ignored_folder),
            options.max_action_attempts, move_back)
        self._pause = ""  # why no further message should start in this pass
        self._outage = False  # the pause is because the ATS does not answer (usefully)
        self._streak = 0  # messages failing transiently in a row
        self._flights = Flights(options.concurrency)
        self._position = FolderPosition(store, mailbox, options.first_pass, options.backfill_since)

    # -- the pass --------------------------------------------------------------------------

    def run_pass(self) -> PassSummary:
        """Sweep the folder; reconnect with backoff when the mailbox drops mid-pass.

        A mailbox that cannot be reached at the start fails the pass at once (the next
        scheduled pass tries again); one that drops mid-pass is reconnected.
        """
        summary = PassSummary()
        with self._flights:
            return self._run(summary)

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
                if self.should_stop():  # a stop cuts off a mailbox that keeps the pass waiting
                    log.warning("poll.stopped", extra={"error": type(exc.__cause__ or exc).__name__})
                    summary.stopped = "a stop was requested"
                    return summary
                if not connected or attempt == self.options.reconnects:
                    raise
                delay = random.uniform(0, self.options.reconnect_base_seconds * 2 ** attempt)  # noqa: S311
                log.warning("imap.reconnecting", extra={"attempt": attempt + 1, "delay": round(delay, 2),
                                                        "error": type(exc.__cause__ or exc).__name__})
                self.sleep(delay)
            finally:
                self.mailbox.close()
        return summary  # not reached

    def _sweep(self, uidvalidity: int, ordered: bool, summary: PassSummary) -> None:
        uids = self._position.start(uidvalidity, ordered)
        self._flights.went_through(False)
        try:
            for start in range(0, len(uids), self.options.batch_size):
                self._batch(uids[start:start + self.options.batch_size], summary)
                self._position.save()
            for flight in self._flights.remaining():
                self._land(flight, summary)
        finally:
            self._drain(summary)
            self._position.save()
        self._position.finish()

    def _batch(self, uids: list[int], summary: PassSummary) -> None:
        """Start each message of `uids` that still exists (and land those that are done)."""
        facts = self.mailbox.facts(uids)  # sizes and our keywords before any body is downloaded
        present = [uid for uid in uids if uid in facts]
        found = self.store.messages_at(self.mailbox.account, self.mailbox.folder, self._position.uidvalidity, present)
        records = {uid: found.get(uid) for uid in present}
        wanted = {uid: facts[uid].size for uid, record in records.items()
                  if self._needs_body(record, facts[uid])}
        for chunk in _chunks(present, wanted, self.options.fetch_bytes):
            bodies = self.mailbox.fetch([uid for uid in chunk if uid in wanted])
            with _closing_left(bodies):
                self._chunk(chunk, wanted, records, facts, bodies, summary)

    def _chunk(self, chunk: list[int], wanted: dict[int, int], records: dict[int, MessageRecord | None],
               facts: dict[int, MessageFacts], bodies: Fetched, summary: PassSummary) -> None:
        for uid in chunk:
            why = bodies.undelivered.get(uid)
            if uid in wanted and uid not in bodies and why is None:
                continue  # gone from the folder (moved or expunged by someone else: a fresh search said so)
            self._before_next(summary)
            if why is not None:
                self._undelivered(self._position.key(uid), records[uid], facts[uid], why, summary)
            else:
                self._one(self._position.key(uid), records[uid], facts[uid], bodies.pop(uid, None), summary)
            for flight in self._flights.ready():
                self._land(flight, summary)

    def _needs_body(self, record: MessageRecord | None, facts: MessageFacts) -> bool:
        if facts.size > self.options.max_message_bytes:
            return False
        if record is None:  # our keyword's mail is read too after a renumbering: known by its content
            return not marked(facts) or self._position.renumbered
        return owed(record.status)

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

    # -- one message -------------------------------------------------------------------------

    def _one(self, key: MessageKey, record: MessageRecord | None, facts: MessageFacts,
             raw: bytes | MailBytes | None, summary: PassSummary) -> None:
        """Record and attempt one message: its flow started, or settled at once (a copy, a marked
        mail, given up); it lands in its turn. A mail from a sender in flight waits for that one.
        A spooled mail is closed (its file gone) when its flow ends, or here when none starts."""
        started = False
        try:
            started = self._record_and_start(key, record, facts, raw, summary)
        finally:
            if isinstance(raw, MailBytes) and not started:
                raw.close()

    def _record_and_start(self, key: MessageKey, record: MessageRecord | None, facts: MessageFacts,
                          raw: bytes | MailBytes | None, summary: PassSummary) -> bool:
        """What `_one` says; True when the flow started (it closes the mail)."""
        found = identify(raw) if record is None and raw is not None else None
        address = found.sender if found is not None else sender(raw) if raw is not None else ""
        for flight in self._flights.blocking(address):
            self._land(flight, summary)
        self._before_next(summary)  # what landed meanwhile may have paused the pass
        counted = False
        if record is None:
            record, counted = self.ledger.arrive(key, facts, raw, found)
            if not owed(record.status):
                summary.count(record)
        elif raw is not None and not record.sha256:  # recorded when the server would not send it
            record = self.ledger.complete(record, raw, identify(raw))
            if record is not None and not owed(record.status):
                summary.count(record)
        if record is None:
            self._flights.settled(key, None)
            return False
        if not owed(record.status):
            self._flights.settled(key, record)
            return False
        if not counted:
            record = self._count_attempt(record, summary)
            if record is None or not owed(record.status):
                self._flights.settled(key, record)
                return False
        self._flights.start(key, record, address, _closing(self.flow.handle), record, raw)
        return True

    def _undelivered(self, key: MessageKey, record: MessageRecord | None, facts: MessageFacts, why: str,
                     summary: PassSummary) -> None:
        """A message the server would not send: recorded (or its attempt counted), kept pending with
        the server's words, set aside once its attempts are used up; it lands in its turn."""
        if record is None:
            record, _counted = self.ledger.arrive(key, facts, None, None)  # its first attempt counted
        else:
            record = self._count_attempt(record, summary)
        if record is not None and owed(record.status):
            verdict = undelivered(record.attempts, why, self.limits)
            log.warning("mail.not_fetched", extra={"record": record.id, "uid": key.uid, "attempts": record.attempts,
                                                   "then": verdict.status})
            record = self.ledger.write(record, verdict)
            if record is not None:
                summary.count(record)
                summary.last_error = summary.last_error or why
        self._flights.settled(key, record)

    def _count_attempt(self, record: MessageRecord, summary: PassSummary) -> MessageRecord | None:
        """The attempt counted before the work; a message whose attempts are used up is set aside
        instead; None when a person changed the record meanwhile."""
        gave_up = before_start(record.attempts, record.last_error, self.limits)
        if gave_up is None:
            return self.ledger.count_attempt(record)
        settled = self.ledger.write(record, gave_up)
        if settled is not None:
            summary.count(settled)
        return settled

    def _land(self, flight: Flight, summary: PassSummary, *, draining: bool = False) -> None:
        """Record the outcome of a flow (waiting for it), then the mailbox action; after each message
        the heartbeat (False: the lease is gone, stop)."""
        record = flight.record
        if flight.future is not None and record is not None:
            outcome = flight.future.result()
            self._flights.went_through(outcome.disposition is None)
            record = self._settle(record, outcome, summary)
            if record is not None:
                summary.count(record)
        self._position.handled(flight.key.uid)
        if record is not None:
            self.actions.act(record)
        if not self.heartbeat() and not draining:
            raise Stop

    def _drain(self, summary: PassSummary) -> None:
        """The sweep ends early (a stop, a pause, an error): the flows in flight finish and land;
        what goes wrong meanwhile is logged, the error that ended the sweep is the one raised."""
        for flight in self._flights.remaining():
            try:
                self._land(flight, summary, draining=True)
            except Exception as exc:  # another error is already on its way
                log.warning("mail.landed_while_stopping", extra={"uid": flight.key.uid, "error": type(exc).__name__})

    def _settle(self, record: MessageRecord, outcome: Outcome, summary: PassSummary) -> MessageRecord | None:
        """The verdict on a flow's outcome (daemon.intake.lifecycle), written, and acted on for the pass."""
        answers = not self.should_stop() and self.probe() if needs_probe(outcome) else True
        verdict = judge(outcome, record.attempts, ats_answers=answers, streak=self._streak, limits=self.limits)
        self._streak = verdict.streak
        if verdict.move in (Move.DEFER, Move.SET_ASIDE) and needs_probe(outcome):
            summary.last_error = str(outcome.error)
            summary.ats_down = summary.ats_down or not answers
            log.warning("mail.deferred", extra={"record": record.id, "attempts": verdict.attempts,
                                                "ats_down": not answers, "error": type(outcome.error).__name__})
        if verdict.then is Pass.PAUSES:
            self._pause, self._outage = verdict.pause, verdict.outage
        written = self.ledger.write(record, verdict, outcome)
        if verdict.then is Pass.STOPS:
            raise outcome.error if outcome.error is not None else Stop
        return written


def _closing(handle: Callable[[MessageRecord, bytes | MailBytes | None], Outcome]):
    """The flow's `handle`, closing a spooled mail when it returns or raises (in the flow's worker)."""
    def handled(record: MessageRecord, raw: bytes | MailBytes | None) -> Outcome:
        try:
            return handle(record, raw)
        finally:
            if isinstance(raw, MailBytes):
                raw.close()
    return handled


@contextmanager
def _closing_left(bodies: Fetched) -> Iterator[None]:
    """Spooled mail a sweep leaves unhandled (it stopped or failed first) is closed."""
    try:
        yield
    finally:
        for raw in bodies.values():
            if isinstance(raw, MailBytes):
                raw.close()


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
