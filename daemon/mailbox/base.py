"""The mailbox interface: what intake needs from a mail source (IMAP, or a folder of files)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from daemon.domain import Placement
from daemon.mail.spool import MailBytes

DONE_KEYWORD = "$AtsInboxDone"  # set with \Seen on mail that is done: never submit it again
REVIEW_KEYWORD = "$AtsInboxReview"  # set with \Flagged on mail set aside for a person


@dataclass(frozen=True, slots=True)
class FolderInfo:
    uidvalidity: int
    ordered_uids: bool  # True when new mail always gets a higher UID (IMAP)


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What the server says of one message before its body is fetched."""

    size: int
    keywords: frozenset[str] = frozenset()  # DONE_KEYWORD / REVIEW_KEYWORD when set


class Fetched(dict[int, bytes | MailBytes]):
    """The raw bytes of each message a FETCH brought, by UID (a large one spooled to a file: MailBytes,
    closed by whoever handles it); `undelivered` holds, with the
    server's words, each message the server would not send although it is still in the folder
    (refused with NO, or left out of an OK answer while a fresh UID SEARCH still finds it).
    A UID asked for that is in neither is gone from the folder."""

    def __init__(self, bodies: dict[int, bytes | MailBytes] | None = None, undelivered: dict[int, str] | None = None):
        super().__init__(bodies or {})
        self.undelivered: dict[int, str] = dict(undelivered or {})


class Mailbox(Protocol):
    """A source of raw messages with a place to mark what was done with them.

    `open()` raises ConfigError for a configured folder the server cannot have (checked
    against its NAMESPACE and hierarchy separator), MailboxUnavailable when it cannot be
    reached. The actions raise MailboxActionRefused when the server says NO or BAD about
    that one message, MailboxUnavailable when the connection is lost; they are safe to
    call again after either (a cut between COPY and EXPUNGE never leaves two copies).
    """

    account: str
    folder: str

    def open(self) -> FolderInfo:
        """Connect, check the configured folders, and select the watched folder."""

    def uids_after(self, uid: int) -> list[int]:
        """UIDs greater than `uid`, ascending (all UIDs when UIDs are unordered)."""

    def window(self, since: date | None, unseen_only: bool) -> set[int]:
        """UIDs of the mail that arrived on or after `since` (INTERNALDATE; None: any time),
        only unread ones when `unseen_only`."""

    def with_message_id(self, message_id: str) -> set[int]:
        """UIDs of the folder's mail whose Message-ID header is `message_id` (a fresh search)."""

    def facts(self, uids: Sequence[int]) -> dict[int, MessageFacts]:
        """Size and our keywords of each message that still exists."""

    def arrival_days(self, uids: Sequence[int]) -> dict[int, date]:
        """The day each message arrived (its INTERNALDATE's date, as the server dates it: the day a
        search SINCE compares), for each message that still exists."""

    def fetch(self, uids: Sequence[int]) -> Fetched:
        """The raw bytes of each message, without marking it read; those the server would not
        send are in `undelivered` with its words (see Fetched)."""

    def mark_done(self, uid: int, move_to: str) -> Placement:
        """Mark a fully handled message read and DONE_KEYWORD; move it when `move_to` is set."""

    def set_aside(self, uid: int, move_to: str) -> Placement:
        """Flag a message that needs a person (and REVIEW_KEYWORD); move it when `move_to` is set."""

    def close(self) -> None:
        """Log out; never raises."""
