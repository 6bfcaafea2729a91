"""One pass over a mail source, one message at a time (the runner).

For each new message: record it, parse it, pick its resumes, route it, submit it with
the journal, record the outcome, and only then act on the mailbox. A failing message
never stops the loop: permanent problems are set aside for a person with the reason;
transient ones leave the message pending for the next pass.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.errors import NoResume, NoRoute, OutcomeUnknown, PermanentError, TransientError
from daemon.mail import ParsedEmail
from daemon.mailbox.base import Mailbox, MessageKey
from daemon.parsing import parse_email
from daemon.resumes import ResumeLimits, pick_resumes
from daemon.routing import infer_job
from daemon.store.models import MessageRecord
from daemon.store.repository import PENDING, REVIEW, SUBMITTED, Store
from daemon.submission import Application, encode, submit

log = logging.getLogger(__name__)
UNCERTAIN = "uncertain"  # a create call's outcome is unknown: held for a person
SETTLED = frozenset({SUBMITTED, REVIEW, UNCERTAIN})


@dataclass(frozen=True, slots=True)
class IntakeOptions:
    processed_folder: str = ""
    review_folder: str = ""
    batch_size: int = 50
    max_message_bytes: int = 50 * 1024 * 1024
    limits: ResumeLimits = ResumeLimits()


@dataclass(frozen=True, slots=True)
class PassSummary:
    seen: int
    submitted: int
    set_aside: int
    pending: int


def _reason(exc: PermanentError) -> str:
    """The recorded reason: the error's kind first ("no job matched: ..."), said once."""
    detail = str(exc)
    return detail if detail.startswith(exc.reason) else f"{exc.reason}: {detail}"


class StoreJournal:
    """The submission journal of one message, committed step by step in the store."""

    def __init__(self, store: Store, message_pk: int):
        self.store, self.pk = store, message_pk
        self._steps = {name: json.loads(step.detail) for name, step in store.steps(message_pk).items()
                       if step.status == "done"}

    def get(self, step: str) -> Mapping[str, Any] | None:
        return self._steps.get(step)

    def record(self, step: str, ats_id: str, data: Mapping[str, Any]) -> None:
        detail = encode(data)
        self.store.record_step(self.pk, step, "done", ats_id=ats_id, detail=detail)
        self._steps[step] = json.loads(detail)


class Intake:
    """Runs passes over one mailbox into one ATS, recording everything in the store."""

    def __init__(self, store: Store, mailbox: Mailbox, client: AtsClient, directory: AtsDirectory,
                 options: IntakeOptions, should_stop: Callable[[], bool] = lambda: False):
        self.store, self.mailbox, self.client, self.directory = store, mailbox, client, directory
        self.options = options
        self.should_stop = should_stop

    def run_pass(self) -> PassSummary:
        info = self.mailbox.open()
        try:
            return self._sweep(info.uidvalidity, info.ordered_uids)
        finally:
            self.mailbox.close()

    def _sweep(self, uidvalidity: int, ordered: bool) -> PassSummary:
        account, folder = self.mailbox.account, self.mailbox.folder
        highest = self._highest_uid(account, folder, uidvalidity)
        retry = self.store.pending_uids(account, folder, uidvalidity)
        new = [uid for uid in self.mailbox.uids_after(highest) if uid not in retry]
        tally = {SUBMITTED: 0, REVIEW: 0, UNCERTAIN: 0, PENDING: 0}
        uids = retry + new
        for start in range(0, len(uids), self.options.batch_size):
            for uid, status in self._batch(uidvalidity, uids[start:start + self.options.batch_size]):
                if status is not None:
                    tally[status] += 1
                if ordered and uid > highest:
                    highest = uid
                    self.store.save_folder_state(account, folder, uidvalidity, highest)
                if self.should_stop() or status == PENDING:
                    # A transient failure (the ATS is down or refusing for now): stop starting
                    # new messages; this one and the rest wait for the next pass.
                    return self._summary(tally)
        return self._summary(tally)

    def _summary(self, tally: dict[str, int]) -> PassSummary:
        return PassSummary(seen=sum(tally.values()), submitted=tally[SUBMITTED],
                           set_aside=tally[REVIEW] + tally[UNCERTAIN], pending=tally[PENDING])

    def _highest_uid(self, account: str, folder: str, uidvalidity: int) -> int:
        state = self.store.folder_state(account, folder)
        if state is None or state.uidvalidity != uidvalidity:
            if state is not None:
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
        sizes = self.mailbox.sizes(todo)
        for uid in todo:
            if uid not in sizes:
                continue  # gone from the folder (moved or expunged by someone else)
            status = self._one(self._key(uidvalidity, uid), records[uid], sizes[uid])
            if status is not None:
                yield uid, status
            if self.should_stop():
                return

    def _key(self, uidvalidity: int, uid: int) -> MessageKey:
        return MessageKey(self.mailbox.account, self.mailbox.folder, uidvalidity, uid)

    def _one(self, key: MessageKey, record: MessageRecord | None, size: int) -> str | None:
        raw = None
        if size <= self.options.max_message_bytes:  # check the size before downloading the body
            raw = self.mailbox.fetch([key.uid]).get(key.uid)
            if raw is None:
                return None  # vanished between the size check and the fetch
        if record is None:
            digest = hashlib.sha256(raw).hexdigest() if raw is not None else ""
            record = self.store.add_message(key, message_id="", sha256=digest, size=size)
        if raw is None:
            record = self._set_aside(record, f"message too large ({size} bytes, limit "
                                             f"{self.options.max_message_bytes})")
        else:
            record = self._handle(record, raw)
        self._mailbox_action(record)
        return record.status

    def _handle(self, record: MessageRecord, raw: bytes) -> MessageRecord:
        try:
            email = parse_email(raw)
            self.store.update_message(record.id, message_id=email.message_id[:998])
            return self._submit(record, email)
        except PermanentError as exc:
            return self._set_aside(record, _reason(exc))
        except OutcomeUnknown as exc:
            log.warning("ats.outcome_unknown", extra={"record": record.id})
            return self.store.update_message(record.id, status=UNCERTAIN, reason=f"ATS outcome unknown: {exc}",
                                             last_error=str(exc))
        except TransientError as exc:
            log.warning("mail.deferred", extra={"record": record.id, "error": type(exc).__name__})
            return self.store.update_message(record.id, status=PENDING, attempts=record.attempts + 1,
                                             last_error=str(exc))

    def _submit(self, record: MessageRecord, email: ParsedEmail) -> MessageRecord:
        pick = pick_resumes(email.attachments, self.options.limits)
        if not pick.resumes:
            skipped = "; ".join(f"{s.filename or 'unnamed'}: {s.reason}" for s in pick.skipped)
            raise NoResume(f"no PDF, DOC or DOCX attachment{f' ({skipped})' if skipped else ''}")
        route = infer_job(email.subject, self.directory.open_jobs())
        if route.job is None:
            raise NoRoute(route.reason)
        self.store.update_message(record.id, job_id=str(route.job.id), job_title=route.job.title[:500])
        journal = StoreJournal(self.store, record.id)
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
        if record.mailbox_action or record.status == PENDING:
            return
        if record.status == SUBMITTED:
            self.mailbox.mark_done(record.uid, self.options.processed_folder)
            action = "processed"
        else:
            self.mailbox.set_aside(record.uid, self.options.review_folder)
            action = "flagged"
        self.store.update_message(record.id, mailbox_action=action)

