"""The mailbox action, done last, after the outcome is recorded: mark done and move, or flag and
set aside (what each status means: daemon.intake.lifecycle.mailbox_move).

A refused action is recorded on its message with the server's words and retried on later
passes, a bounded number of times; it never holds up other mail.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from daemon.domain import Placement, Status
from daemon.errors import Conflict, MailboxActionRefused
from daemon.intake.lifecycle import MailboxMove, mailbox_move
from daemon.mailbox.base import Mailbox
from daemon.store.models import MessageRecord
from daemon.store.repository import ACTION_REFUSED, Store

log = logging.getLogger(__name__)
MAILBOX_STEP = "mailbox"
PROCESSED, FLAGGED = "processed", "flagged"  # MessageRecord.mailbox_action once done


@dataclass(frozen=True, slots=True)
class Folders:
    processed: str = ""
    review: str = ""
    ignored: str = ""


class MailboxActions:
    """Tells the mailbox what became of each settled message.

    A person may retry the message while its action is under way: the record is then pending
    again but its mail was just moved away. The action's placement is recorded on the pending
    record and the mail is put back into the watched folder with `move_back` (the same move
    `messages retry` makes), so that the next pass takes it again.
    """

    def __init__(self, store: Store, mailbox: Mailbox, folders: Folders, max_attempts: int = 5,
                 move_back: Callable[[MessageRecord], object] | None = None):
        self.store, self.mailbox, self.folders = store, mailbox, folders
        self.max_attempts = max_attempts  # passes that retry a refused action before leaving it to a person
        self.move_back = move_back

    def act(self, record: MessageRecord) -> None:
        if record.mailbox_action:
            return
        move = self._move(record)
        if move in (MailboxMove.NONE, MailboxMove.WAIT):
            return  # still pending, or a copy whose original is: its action waits
        try:
            placement = self._do(record, move)
        except MailboxActionRefused as exc:
            self._refused(record, exc)
            return
        action = PROCESSED if move is MailboxMove.DONE else FLAGGED
        detail = json.dumps({"action": action, "folder": placement.folder, "uid": placement.uid})
        try:
            self.store.record_action(record.id, expect=record.status, action=action, placement=placement,
                                     step=MAILBOX_STEP, detail=detail)
        except Conflict:
            log.warning("mail.changed_meanwhile", extra={"record": record.id})
            self._retried_meanwhile(record, placement)

    def _retried_meanwhile(self, record: MessageRecord, placement: Placement) -> None:
        """The record went back to pending while its mail was being moved: the mail comes back too."""
        if placement.folder == self.mailbox.folder:
            return  # not moved: the next pass finds it where it was
        try:
            moved = self.store.update_message(record.id, expect=Status.PENDING, placed_folder=placement.folder,
                                              placed_uid=placement.uid)
        except Conflict:
            return  # resolved, or anything but a retry: the person's status and the mail's place stand
        if self.move_back is None:
            log.warning("mail.retried_while_moved", extra={"record": record.id, "folder": placement.folder})
            return
        try:
            self.move_back(moved)
        except Exception as exc:  # the record says where the mail is; a person can move it
            log.warning("mail.not_moved_back", extra={"record": record.id, "error": type(exc).__name__})
            return
        log.info("mail.moved_back_after_retry", extra={"record": record.id})

    def _move(self, record: MessageRecord) -> MailboxMove:
        if record.status != Status.DUPLICATE or record.candidate_id:
            return mailbox_move(record.status, candidate_known=bool(record.candidate_id))
        original = self.store.message_by_pk(record.duplicate_of) if record.duplicate_of else None
        return mailbox_move(record.status, original=original.status if original is not None else None)

    def _do(self, record: MessageRecord, move: MailboxMove) -> Placement:
        if move is MailboxMove.SET_ASIDE:
            return self.mailbox.set_aside(record.uid, self.folders.review)
        target = self.folders.ignored if record.status == Status.IGNORED else self.folders.processed
        return self.mailbox.mark_done(record.uid, target)

    def _refused(self, record: MessageRecord, exc: MailboxActionRefused) -> None:
        """Recorded on this message with the server's words; retried on later passes, a bounded
        number of times; never holds up other mail."""
        attempts = record.action_attempts + 1
        final = attempts >= self.max_attempts
        words = (exc.server_text or str(exc))[:2000]
        log.warning("mailbox.action_refused", extra={"record": record.id, "attempts": attempts, "final": final})
        try:
            self.store.update_message(record.id, expect=record.status, action_attempts=attempts, action_error=words,
                                      mailbox_action=ACTION_REFUSED if final else "")
        except Conflict:
            log.warning("mail.changed_meanwhile", extra={"record": record.id})
