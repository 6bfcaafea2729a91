"""One pass over a mail source, one message at a time (the runner).

For each new message: record it, parse it, pick its resumes, route it, submit it with
the journal, record the outcome, and only then act on the mailbox. A failing message
never stops the loop: permanent problems are set aside for a person with the reason;
transient ones leave the message pending for the next pass, and stop the pass so that
the backlog is not burnt through while the ATS is down.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.errors import (
    AtsInboxError,
    AtsRejected,
    AtsUnavailable,
    ConfigError,
    MailboxUnavailable,
    NoResume,
    NoRoute,
    OutcomeUnknown,
    PermanentError,
    TransientError,
)
from daemon.identity import content_key
from daemon.journal import DONE, StoreJournal, crash_point
from daemon.mail import ParsedEmail
from daemon.mailbox.base import Mailbox, MessageKey
from daemon.parsing import parse_email
from daemon.resumes import ResumeLimits, pick_resumes
from daemon.routing import infer_job
from daemon.store.models import MessageRecord
from daemon.store.repository import DUPLICATE, PENDING, REVIEW, SETTLED, SUBMITTED, UNCERTAIN, Store
from daemon.submission import Application, submit

log = logging.getLogger(__name__)
MAILBOX_STEP = "mailbox"
RECORDED_STEP = "recorded"  # a crash point only: the message's row is committed, nothing sent yet


@dataclass(frozen=True, slots=True)
class IntakeOptions:
    processed_folder: str = ""
    review_folder: str = ""
    batch_size: int = 50
    max_message_bytes: int = 50 * 1024 * 1024
    limits: ResumeLimits = ResumeLimits()  # noqa: RUF009 (frozen, so sharing the default is safe)
    max_attempts: int = 5  # passes that may fail transiently on one message before a person looks
    reconnects: int = 5  # mailbox reconnects within one pass
    reconnect_base_seconds: float = 1.0
    crash_after_step: str = ""  # test hook, see daemon.journal
    failures_before_pause: int = 3  # messages failing transiently in a row end the pass
    fetch_bytes: int = 16 * 1024 * 1024  # bodies downloaded per FETCH, at most (one message at least)


@dataclass
class PassSummary:
    seen: int = 0
    submitted: int = 0
    set_aside: int = 0
    duplicates: int = 0
    pending: int = 0
    busy: bool = False  # another instance holds the mailbox: nothing was done
    ats_down: bool = False  # the pass stopped because the ATS did not answer
    last_error: str = ""  # the last transient error, when a message was deferred

    def count(self, status: str) -> None:
        self.seen += 1
        if status == SUBMITTED:
            self.submitted += 1
        elif status in (REVIEW, UNCERTAIN):
            self.set_aside += 1
        elif status == DUPLICATE:
            self.duplicates += 1
        elif status == PENDING:
            self.pending += 1


class Stop(Exception):
    """Ends the sweep early: a transient failure, or a stop was requested."""


def _chunks(uids: list[int], sizes: dict[int, int], limit: int) -> Iterator[list[int]]:
    """Consecutive runs of `uids` whose bodies together stay under `limit` bytes."""
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


def _reason(exc: PermanentError) -> str:
    """The recorded reason: the error's kind first ("no job matched: ..."), said once."""
    detail = str(exc)
    return detail if detail.startswith(exc.reason) else f"{exc.reason}: {detail}"


class Intake:
    """Runs passes over one mailbox into one ATS, recording everything in the store."""

    def __init__(self, store: Store, mailbox: Mailbox, client: AtsClient, directory: AtsDirectory,
                 options: IntakeOptions, should_stop: Callable[[], bool] = lambda: False,
                 sleep: Callable[[float], None] = time.sleep, heartbeat: Callable[[], bool] = lambda: True):
        self.store, self.mailbox, self.client, self.directory = store, mailbox, client, directory
        self.options = options
        self.should_stop = should_stop
        self.sleep = sleep
        self.heartbeat = heartbeat  # after each message; False: our lease on the mailbox is gone
        self._ats_down = False
        self._failures_in_a_row = 0
        self.last_error = ""

    def run_pass(self) -> PassSummary:
        """Sweep the folder; reconnect with backoff when the mailbox drops mid-pass.

        A mailbox that cannot be reached at the start fails the pass at once (the next
        scheduled pass tries again); one that drops mid-pass is reconnected.
        """
        summary = PassSummary()
        connected = False
        for attempt in range(self.options.reconnects + 1):
            try:
                info = self.mailbox.open()
                connected = True
                self._sweep(info.uidvalidity, info.ordered_uids, summary)
                return self._finished(summary)
            except Stop:
                return self._finished(summary)
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

    def _finished(self, summary: PassSummary) -> PassSummary:
        summary.ats_down, summary.last_error = self._ats_down, self.last_error
        return summary

    def _sweep(self, uidvalidity: int, ordered: bool, summary: PassSummary) -> None:
        account, folder = self.mailbox.account, self.mailbox.folder
        highest = self._highest_uid(account, folder, uidvalidity)
        retry = self.store.pending_uids(account, folder, uidvalidity)
        known = set(retry)
        uids = retry + [uid for uid in self.mailbox.uids_after(highest) if uid not in known]
        for start in range(0, len(uids), self.options.batch_size):
            for uid, status in self._batch(uidvalidity, uids[start:start + self.options.batch_size]):
                if status is not None:
                    summary.count(status)
                if ordered and uid > highest:
                    highest = uid
                    self.store.save_folder_state(account, folder, uidvalidity, highest)
                self._failures_in_a_row = self._failures_in_a_row + 1 if status == PENDING else 0
                if self._paused() or self.should_stop() or not self.heartbeat():
                    raise Stop

    def _paused(self) -> bool:
        """Stop starting new messages while the ATS is down: the rest wait for the next pass."""
        if self._ats_down or self._failures_in_a_row >= self.options.failures_before_pause:
            log.warning("poll.paused", extra={"reason": "ATS down" if self._ats_down else "repeated failures"})
            return True
        return False

    def _highest_uid(self, account: str, folder: str, uidvalidity: int) -> int:
        state = self.store.folder_state(account, folder)
        if state is None or state.uidvalidity != uidvalidity:
            if state is not None:
                # Every UID seen so far is void. Mail already recorded is recognised again by
                # its content (daemon.identity), so nothing is submitted twice.
                log.warning("imap.uidvalidity_changed", extra={"folder": folder, "old": state.uidvalidity,
                                                                "new": uidvalidity})
            self.store.save_folder_state(account, folder, uidvalidity, 0)
            return 0
        return state.highest_uid

    def _batch(self, uidvalidity: int, uids: list[int]) -> Iterator[tuple[int, str | None]]:
        """(uid, new status) for each message handled; status None for one already settled."""
        records = {uid: self.store.message(self._key(uidvalidity, uid)) for uid in uids}
        todo = []
        for uid in uids:
            record = records[uid]
            if record is not None and record.status in SETTLED:
                self._mailbox_action(record)  # owed from an earlier pass, if any
                yield uid, None
            else:
                todo.append(uid)
        sizes = self.mailbox.sizes(todo)  # check sizes before downloading any body
        fits = {uid: size for uid, size in sizes.items() if size <= self.options.max_message_bytes}
        for chunk in _chunks([uid for uid in todo if uid in sizes], fits, self.options.fetch_bytes):
            bodies = self.mailbox.fetch([uid for uid in chunk if uid in fits])
            for uid in chunk:
                if uid in fits and uid not in bodies:
                    continue  # gone from the folder (moved or expunged by someone else)
                yield uid, self._one(self._key(uidvalidity, uid), records[uid], sizes[uid], bodies.pop(uid, None))
                if self.should_stop():
                    return

    def _key(self, uidvalidity: int, uid: int) -> MessageKey:
        return MessageKey(self.mailbox.account, self.mailbox.folder, uidvalidity, uid)

    def _one(self, key: MessageKey, record: MessageRecord | None, size: int, raw: bytes | None) -> str:
        """Handle one message (`raw` is None when it is too large to download)."""
        if record is None:
            record = self._record(key, raw, size)
            crash_point(RECORDED_STEP, self.options.crash_after_step)
        if record.status == PENDING:
            record = self._handle(record, raw)
        self._mailbox_action(record)
        return record.status

    def _record(self, key: MessageKey, raw: bytes | None, size: int) -> MessageRecord:
        """A record for a message seen for the first time here; another copy's, if it is one."""
        digest = hashlib.sha256(raw).hexdigest() if raw is not None else ""
        identity = content_key(raw) if raw is not None else ""
        first = self.store.first_copy(identity)
        if first is None:
            return self.store.add_message(key, sha256=digest, size=size, content_key=identity)
        if first.status == PENDING:
            # The same mail under a new UID (a new UIDVALIDITY, or put back by `messages retry`):
            # it continues the earlier record and its journal.
            log.warning("mail.remapped", extra={"record": first.id, "old_uid": first.uid, "uid": key.uid})
            return self.store.move_record(first.id, key)
        log.info("mail.duplicate", extra={"record": first.id, "uid": key.uid})
        original = first.duplicate_of or first.id
        return self.store.add_message(
            key, sha256=digest, size=size, content_key=identity, message_id=first.message_id, status=DUPLICATE,
            duplicate_of=original, job_title=first.job_title, candidate_id=first.candidate_id,
            reason=f"another copy of message #{original} ({first.status}); nothing sent to the ATS")

    def _handle(self, record: MessageRecord, raw: bytes | None) -> MessageRecord:
        try:
            if raw is None:
                return self._set_aside(record, f"message too large ({record.size} bytes, limit "
                                               f"{self.options.max_message_bytes})")
            email = parse_email(raw)
            self.store.update_message(record.id, message_id=email.message_id[:998])
            return self._submit(record, email)
        except AtsRejected as exc:
            if exc.status in (401, 403):
                raise ConfigError(f"the ATS refused our credentials ({exc.status}): check the ATS token",
                                  key="ats.token") from exc
            return self._set_aside(record, _reason(exc))
        except PermanentError as exc:
            return self._set_aside(record, _reason(exc))
        except OutcomeUnknown as exc:
            log.warning("ats.outcome_unknown", extra={"record": record.id})
            return self.store.update_message(
                record.id, status=UNCERTAIN, last_error=str(exc),
                reason=f"ATS outcome unknown, check the ATS before retrying: {exc}")
        except TransientError as exc:
            return self._deferred(record, exc)
        except AtsInboxError:
            raise  # configuration: stops the pass, the message stays pending
        except Exception as exc:  # a bug met on this message: park it, keep the loop going
            log.exception("mail.crashed", extra={"record": record.id})
            return self._set_aside(record, f"internal error ({type(exc).__name__}); see the daemon's log")

    def _deferred(self, record: MessageRecord, exc: TransientError) -> MessageRecord:
        """Keep the message for a later pass. An attempt counts against it only when the ATS
        is otherwise answering: an outage must not use up every waiting message's attempts."""
        self._ats_down = not (isinstance(exc, AtsUnavailable) and self.client.answers())
        self.last_error = str(exc)
        attempts = record.attempts + (0 if self._ats_down else 1)
        log.warning("mail.deferred", extra={"record": record.id, "attempts": attempts, "ats_down": self._ats_down,
                                            "error": type(exc).__name__})
        if attempts >= self.options.max_attempts:
            return self.store.update_message(
                record.id, status=REVIEW, attempts=attempts, last_error=str(exc),
                reason=f"gave up after {attempts} attempts; last error: {exc}")
        return self.store.update_message(record.id, attempts=attempts, last_error=str(exc))

    def _submit(self, record: MessageRecord, email: ParsedEmail) -> MessageRecord:
        pick = pick_resumes(email.attachments, self.options.limits)
        if not pick.resumes:
            skipped = "; ".join(f"{s.filename or 'unnamed'}: {s.reason}" for s in pick.skipped)
            raise NoResume(f"no PDF, DOC or DOCX attachment{f' ({skipped})' if skipped else ''}")
        route = infer_job(email.subject, self.directory.open_jobs())
        if route.job is None:
            raise NoRoute(route.reason)
        self.store.update_message(record.id, job_id=str(route.job.id), job_title=route.job.title[:500])
        journal = StoreJournal(self.store, record.id, crash_after=self.options.crash_after_step)
        done = submit(Application(email, pick.resumes, route.job), self.client, self.directory, journal,
                      received=email.date)
        log.info("mail.submitted", extra={"record": record.id, "job": str(route.job.id),
                                          "candidate": done.candidate_id})
        return self.store.update_message(record.id, status=SUBMITTED, reason="", applicant_id=done.applicant_id,
                                         candidate_id=done.candidate_id, last_error="")

    def _set_aside(self, record: MessageRecord, reason: str) -> MessageRecord:
        log.info("mail.set_aside", extra={"record": record.id, "reason": reason.split(":")[0]})
        return self.store.update_message(record.id, status=REVIEW, reason=reason[:2000])

    def _mailbox_action(self, record: MessageRecord) -> None:
        """Last, after the outcome is recorded: mark done and move, or flag and set aside."""
        if record.mailbox_action or record.status == PENDING:
            return
        done = record.status == SUBMITTED or (record.status == DUPLICATE and record.candidate_id)
        if done:
            self.mailbox.mark_done(record.uid, self.options.processed_folder)
        else:
            self.mailbox.set_aside(record.uid, self.options.review_folder)
        action = "processed" if done else "flagged"
        self.store.update_message(record.id, mailbox_action=action)
        self.store.record_step(record.id, MAILBOX_STEP, DONE, detail=json.dumps({"action": action}))
        crash_point(MAILBOX_STEP, self.options.crash_after_step)
