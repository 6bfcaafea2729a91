"""Putting set-aside mail back: from the review folder into the watched folder, unflagged.

The mail is found by its Message-ID and confirmed by the SHA-256 of its raw bytes; mail
without a Message-ID (or one the server's search misses) is found by scanning the newest
messages of the review folder. The moved copy gets a new UID in the watched folder; intake
recognises it by its content and continues the old record.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

from imapclient import IMAPClient

from daemon.config import ImapSettings
from daemon.mailbox.imap import FLAGGED, ImapMailbox, _translated

log = logging.getLogger(__name__)
SCAN_LIMIT = 500  # newest messages of the review folder searched when the Message-ID does not help
FETCH_BATCH = 25


def move_back(settings: ImapSettings, message_id: str, sha256: str) -> bool:
    """Move the mail with this Message-ID and hash from `review_folder` to `folder`, unflagged.

    False when it is not there. Raises MailboxUnavailable when the server fails.
    """
    if not settings.review_folder or not sha256:
        return False
    mailbox = ImapMailbox(settings)  # opens the watched folder: it must exist anyway
    try:
        mailbox.open()
        with _translated("moving mail back from the review folder"):
            return _move_back(mailbox.client, settings, message_id, sha256)
    finally:
        mailbox.close()


def _move_back(client: IMAPClient, settings: ImapSettings, message_id: str, sha256: str) -> bool:
    if not client.folder_exists(settings.review_folder):
        return False
    client.select_folder(settings.review_folder)
    uid = _by_message_id(client, message_id, sha256) or _by_scan(client, sha256)
    if uid is None:
        log.warning("review.mail_not_found", extra={"sha256": sha256})
        return False
    client.remove_flags([uid], [FLAGGED])
    _move(client, uid, settings.folder)
    log.info("review.mail_moved_back", extra={"sha256": sha256, "review_uid": uid})
    return True


def _by_message_id(client: IMAPClient, message_id: str, sha256: str) -> int | None:
    if not message_id:
        return None
    charset = None if message_id.isascii() else "UTF-8"
    uids = client.search(["HEADER", "Message-ID", message_id], charset=charset)
    return _confirmed(client, sorted(uids), sha256)


def _by_scan(client: IMAPClient, sha256: str) -> int | None:
    newest = sorted(client.search("ALL"), reverse=True)[:SCAN_LIMIT]
    return _confirmed(client, newest, sha256)


def _confirmed(client: IMAPClient, uids: Sequence[int], sha256: str) -> int | None:
    """The first of `uids` whose raw bytes hash to `sha256`, fetched a batch at a time."""
    for start in range(0, len(uids), FETCH_BATCH):
        batch = list(uids[start:start + FETCH_BATCH])
        data = client.fetch(batch, ["BODY.PEEK[]"])  # PEEK: do not set \Seen
        for uid in batch:
            raw = data.get(uid, {}).get(b"BODY[]")
            if raw is not None and hashlib.sha256(raw).hexdigest() == sha256:
                return uid
    return None


def _move(client: IMAPClient, uid: int, folder: str) -> None:
    if client.has_capability("MOVE"):
        client.move([uid], folder)
        return
    # Without MOVE: COPY, then expunge only this UID (UIDPLUS) so others' deletions stay.
    client.copy([uid], folder)
    client.delete_messages([uid])
    client.uid_expunge([uid])
