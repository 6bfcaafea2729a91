"""Putting set-aside mail back: from the review folder into the watched folder, unmarked.

The mail is found by its Message-ID and confirmed by the SHA-256 of its raw bytes; mail
without a Message-ID (or one the server's search misses) is found among the newest messages
of the review folder. Only messages of the recorded size (RFC822.SIZE) are downloaded to be
hashed; when the size is not known, only messages up to `imap.max_message_bytes`.

Moving back removes \\Flagged, REVIEW_KEYWORD and DONE_KEYWORD, then moves the mail with the
same resumable move as intake's actions (MOVE, or a COPY that is skipped when the copy is
already there, then \\Deleted and UID EXPUNGE): a cut half-way and a second `messages retry`
leave one copy. The moved copy gets a new UID in the watched folder (from COPYUID when the
server sends it); intake recognises it by its content and continues the old record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from daemon.config import ImapSettings
from daemon.domain import Placement, Status
from daemon.mailbox.base import DONE_KEYWORD, REVIEW_KEYWORD
from daemon.mailbox.imap import (
    FLAGGED,
    SCAN_LIMIT,
    ImapMailbox,
    acting,
    by_message_id,
    canonical,
    first_with_hash,
    reading,
    same_size,
)
from daemon.store.models import MessageRecord

log = logging.getLogger(__name__)
UNMARK = [FLAGGED, REVIEW_KEYWORD.encode(), DONE_KEYWORD.encode()]


def mover(settings: ImapSettings) -> Callable[[MessageRecord], Placement | None] | None:
    """How a record's mail is put back from where intake moved it (the review folder, or for ignored
    mail the ignored folder): None when intake leaves all mail in the watched folder."""
    if all(not folder or folder == settings.folder for folder in (settings.review_folder, settings.ignored_folder)):
        return None
    return lambda record: move_back(settings, record.message_id, record.sha256, size=record.size,
                                    source=record.placed_folder or _set_aside_in(settings, record))


def _set_aside_in(settings: ImapSettings, record: MessageRecord) -> str:
    """Where intake moved the mail of a record that does not say (one recorded before placements were)."""
    return settings.ignored_folder if record.status == Status.IGNORED else settings.review_folder


def move_back(settings: ImapSettings, message_id: str, sha256: str, size: int = 0,
              source: str = "") -> Placement | None:
    """Move the mail with this Message-ID, hash (and size, when known) from `source` (by default
    `review_folder`; the ignored folder for ignored mail) to `folder`.

    Its Placement in the watched folder (uid None when the server gives no COPYUID), or None
    when it is not in that folder. Raises MailboxUnavailable when the server cannot be
    reached, MailboxActionRefused when it refuses the move, ConfigError for an impossible folder.
    """
    source = source or settings.review_folder
    if not source or not sha256:
        return None
    mailbox = ImapMailbox(settings)  # opens the watched folder: it must exist anyway
    try:
        mailbox.open()
        return _move_back(mailbox, canonical(source), message_id, sha256, size)
    finally:
        mailbox.close()


def _move_back(mailbox: ImapMailbox, source: str, message_id: str, sha256: str, size: int) -> Placement | None:
    client = mailbox.client
    if source == canonical(mailbox.folder):
        return None  # set-aside mail stays in the watched folder: nothing to move
    with reading("looking for mail in the review or ignored folder"):
        uidvalidity = int(client.select_folder(source)[b"UIDVALIDITY"])
        uid = find(mailbox, message_id, sha256, size)
    if uid is None:
        log.warning("review.mail_not_found", extra={"sha256": sha256})
        return None
    with acting("moving mail back into the watched folder"):
        client.remove_flags([uid], UNMARK, silent=True)
        placement = mailbox.relocation(source, uidvalidity)(uid, mailbox.folder)
    log.info("review.mail_moved_back", extra={"sha256": sha256, "from_uid": uid, "new_uid": placement.uid})
    return placement


def find(mailbox: ImapMailbox, message_id: str, sha256: str, size: int) -> int | None:
    """The UID in the selected folder of the mail with this Message-ID and SHA-256 (found by its
    hash among the newest messages of its size when the Message-ID search finds nothing)."""
    return _by_message_id(mailbox, message_id, sha256, size) or _find(mailbox, [], sha256, size)


def _by_message_id(mailbox: ImapMailbox, message_id: str, sha256: str, size: int) -> int | None:
    if not message_id:
        return None
    criteria, charset = by_message_id(message_id)
    return _find(mailbox, criteria, sha256, size, charset)


def _find(mailbox: ImapMailbox, criteria: Sequence[str], sha256: str, size: int,
          charset: str | None = None) -> int | None:
    """The newest message matching `criteria` whose bytes hash to `sha256`; bodies fetched only when
    their size is the recorded one (or, size unknown, at most imap.max_message_bytes)."""
    client = mailbox.client
    if size:
        # \\Deleted ones too: a move back cut after its COPY is finished, not left half-done
        return first_with_hash(client, same_size(client, size, criteria, charset, undeleted=False), size, sha256)
    uids = sorted(client.search([*criteria] or "ALL", charset=charset), reverse=True)[:SCAN_LIMIT]
    if not uids:
        return None
    limit = mailbox.settings.max_message_bytes
    sizes = {uid: int(item[b"RFC822.SIZE"]) for uid, item in client.fetch(uids, ["RFC822.SIZE"]).items()}
    fitting = [uid for uid in uids if sizes.get(uid, limit + 1) <= limit]
    return next((uid for uid in fitting if first_with_hash(client, [uid], sizes[uid], sha256)), None)
