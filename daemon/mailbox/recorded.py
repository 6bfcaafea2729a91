"""The mail of a recorded message, wherever it is now: read it for a person, or settle it once resolved.

Where it is looked for, in this order (each folder only if it exists):

1. where its mailbox action put it: `placed_folder` and `placed_uid` (from COPYUID);
2. the folder the action moves such mail to (`review_folder` for set-aside mail, `processed_folder`
   or `ignored_folder` for done mail), found again by Message-ID and the SHA-256 of its bytes, as
   `messages retry` does (`restore.find`);
3. the watched folder: its recorded UID under the recorded UIDVALIDITY, else again by Message-ID
   and hash.

A UID is trusted only when the bytes there hash to the recorded SHA-256 (or, for a record that
was never read, the size is the recorded one). Bodies are read with BODY.PEEK[] in folders
opened read-only: looking never marks mail read.

Settling a resolved message does to its mail what intake does to mail that is done: \\Flagged and
$AtsInboxReview removed, \\Seen and $AtsInboxDone set, moved to `processed_folder` when one is
set (with the same resumable move as intake's actions).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from daemon.config import ImapSettings
from daemon.domain import Placement, Status
from daemon.errors import AtsInboxError
from daemon.mailbox.base import DONE_KEYWORD, REVIEW_KEYWORD
from daemon.mailbox.imap import (
    FLAGGED,
    SEEN,
    ImapMailbox,
    _allows_keywords,
    acting,
    canonical,
    first_with_hash,
    reading,
)
from daemon.mailbox.restore import find
from daemon.store.models import MessageRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Found:
    """A recorded message's mail: the folder (now selected), its UID, and the folder's state."""

    folder: str
    uid: int
    uidvalidity: int
    keywords: bool  # whether the folder keeps keywords ($AtsInboxDone)


class MailDesk:
    """One IMAP connection for a command's records, opened on first use.

    A failure to connect is remembered: the next record gets the same error at once, not
    another wait for the server.
    """

    def __init__(self, settings: ImapSettings, mailbox_factory: Callable[[ImapSettings], ImapMailbox] = ImapMailbox):
        self.settings = settings
        self._factory = mailbox_factory
        self._mailbox: ImapMailbox | None = None
        self._failed: AtsInboxError | None = None

    def places(self, record: MessageRecord) -> list[str]:
        """The folders looked in, in order."""
        s = self.settings
        moved_to = {"flagged": s.review_folder,
                    "processed": s.ignored_folder if record.status == Status.IGNORED else s.processed_folder}
        folders = [record.placed_folder, moved_to.get(record.mailbox_action, ""), record.folder]
        return list(dict.fromkeys(canonical(f) for f in folders if f))

    def read(self, record: MessageRecord) -> bytes | None:
        """The raw bytes of the record's mail, or None when it is in none of `places`."""
        mailbox = self._open()
        found = self._locate(mailbox, record, readonly=True)
        if found is None:
            return None
        with reading("reading the mail"):
            data = mailbox.client.fetch([found.uid], ["BODY.PEEK[]"])  # PEEK: do not set \Seen
        return data.get(found.uid, {}).get(b"BODY[]")

    def settle(self, record: MessageRecord) -> Placement | None:
        """Unflag a resolved record's mail, mark it done, move it to `processed_folder`; None if not found."""
        mailbox = self._open()
        found = self._locate(mailbox, record, readonly=False)
        if found is None:
            log.warning("review.mail_not_found", extra={"record": record.id})
            return None
        unmark = [FLAGGED, REVIEW_KEYWORD.encode()]
        done = [SEEN, DONE_KEYWORD.encode()] if found.keywords else [SEEN]
        with acting("marking resolved mail as done"):
            mailbox.client.remove_flags([found.uid], unmark, silent=True)
            mailbox.client.add_flags([found.uid], done, silent=True)
        target = mailbox.target(self.settings.processed_folder)
        if not target or target == found.folder:
            return Placement(found.folder, found.uid)
        with acting("moving resolved mail to the processed folder"):
            placement = mailbox.relocation(found.folder, found.uidvalidity)(found.uid, target)
        log.info("review.mail_settled", extra={"record": record.id, "folder": target, "new_uid": placement.uid})
        return placement

    def close(self) -> None:
        if self._mailbox is not None:
            self._mailbox.close()
            self._mailbox = None

    def _open(self) -> ImapMailbox:
        if self._failed is not None:
            raise self._failed
        if self._mailbox is None:
            mailbox = self._factory(self.settings)
            try:
                mailbox.open()
            except AtsInboxError as exc:
                self._failed = exc
                raise
            self._mailbox = mailbox
        return self._mailbox

    def _locate(self, mailbox: ImapMailbox, record: MessageRecord, *, readonly: bool) -> Found | None:
        client = mailbox.client
        for folder in self.places(record):
            with reading(f"looking for the mail in {folder!r}"):
                if not client.folder_exists(folder):
                    continue
                selected = client.select_folder(folder, readonly=readonly)
                uidvalidity = int(selected[b"UIDVALIDITY"])
                uid = self._uid_in(mailbox, record, folder, uidvalidity)
            if uid is not None:
                return Found(folder, uid, uidvalidity, _allows_keywords(selected))
        return None

    def _uid_in(self, mailbox: ImapMailbox, record: MessageRecord, folder: str, uidvalidity: int) -> int | None:
        """The record's UID in the selected `folder`, confirmed by its bytes."""
        known = []
        if folder == canonical(record.placed_folder) and record.placed_uid:
            known.append(record.placed_uid)
        if folder == canonical(record.folder) and uidvalidity == record.uidvalidity:
            known.append(record.uid)
        for uid in known:
            if _confirmed(mailbox, uid, record):
                return uid
        return find(mailbox, record.message_id, record.sha256, record.size) if record.sha256 else None


def _confirmed(mailbox: ImapMailbox, uid: int, record: MessageRecord) -> bool:
    """Whether the mail at `uid` is the record's: same SHA-256, or (never read) same size."""
    if record.sha256:
        return first_with_hash(mailbox.client, [uid], record.size, record.sha256) == uid
    sizes = mailbox.client.fetch([uid], ["RFC822.SIZE"])
    return uid in sizes and int(sizes[uid][b"RFC822.SIZE"]) == record.size


def settler(settings: ImapSettings) -> Callable[[MessageRecord], Placement | None]:
    """`MailDesk.settle` over a connection of its own for each record: for the daemon, which resolves a
    message now and then (a forwarder's 'ignore' answer to a receipt) and holds no desk open between."""
    def settle(record: MessageRecord) -> Placement | None:
        desk = MailDesk(settings)
        try:
            return desk.settle(record)
        finally:
            desk.close()
    return settle
