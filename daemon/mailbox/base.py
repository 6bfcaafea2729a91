"""The mailbox interface: what intake needs from a mail source (IMAP, or a folder of files)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True, order=True)
class MessageKey:
    """A message's identity in one folder: UIDs only mean something with their UIDVALIDITY."""

    account: str
    folder: str
    uidvalidity: int
    uid: int


@dataclass(frozen=True, slots=True)
class FolderInfo:
    uidvalidity: int
    ordered_uids: bool  # True when new mail always gets a higher UID (IMAP)


class Mailbox(Protocol):
    """A source of raw messages with a place to mark what was done with them."""

    account: str
    folder: str

    def open(self) -> FolderInfo:
        """Connect and select the folder."""

    def uids_after(self, uid: int) -> list[int]:
        """UIDs greater than `uid`, ascending (all UIDs when UIDs are unordered)."""

    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        """The size in bytes of each message that still exists."""

    def fetch(self, uids: Sequence[int]) -> dict[int, bytes]:
        """The raw bytes of each message, without marking it read."""

    def mark_done(self, uid: int, move_to: str) -> None:
        """Mark a fully handled message read; move it when `move_to` is set."""

    def set_aside(self, uid: int, move_to: str) -> None:
        """Flag a message that needs a person; move it when `move_to` is set."""

    def close(self) -> None:
        """Log out; never raises."""
