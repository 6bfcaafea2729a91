"""A local mail source: a folder of `.eml` files, or a Maildir (demo and backfills).

The files are only read, never changed or moved: what was done with each is in the store.
A message's UID is derived from its file name, so it stays the same from run to run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from daemon.domain import Placement
from daemon.errors import MailboxUnavailable
from daemon.mailbox.base import Fetched, FolderInfo, MessageFacts

UIDVALIDITY = 1


def _uid(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8", "surrogateescape")).digest()[:7], "big")


class LocalFolder:
    """Every `.eml` file in `path` (or every file in a Maildir's new/ and cur/) is one message."""

    def __init__(self, path: Path, account: str = "local"):
        self.path = path.resolve()
        self.account = account
        self.folder = str(self.path)
        self._files: dict[int, Path] = {}

    def open(self) -> FolderInfo:
        if not self.path.is_dir():
            raise MailboxUnavailable(f"the mail folder {self.path} does not exist")
        subdirs = [self.path / "new", self.path / "cur"]
        maildir = [d for d in subdirs if d.is_dir()]
        if maildir:  # a Maildir: every file in new/ and cur/ is a message
            files = sorted(f for root in maildir for f in root.iterdir() if f.is_file() and not f.name.startswith("."))
        else:  # a plain folder: the .eml files
            files = sorted(f for f in self.path.glob("*.eml") if f.is_file())
        self._files = {_uid(str(f.relative_to(self.path))): f for f in files}
        return FolderInfo(uidvalidity=UIDVALIDITY, ordered_uids=False)

    def file_names(self) -> dict[int, str]:
        """Each UID's file name, for reports."""
        return {uid: path.name for uid, path in self._files.items()}

    def uids_after(self, uid: int) -> list[int]:
        return list(self._files)  # file order; UIDs are not ordered by arrival

    def window(self, since: date | None, unseen_only: bool) -> set[int]:
        """Files have no arrival date or read flag: every file is in the window."""
        return set(self._files)

    def with_message_id(self, message_id: str) -> set[int]:
        """A local folder is never renumbered (its UIDVALIDITY is fixed): nothing is looked up by Message-ID."""
        return set()

    def facts(self, uids: Sequence[int]) -> dict[int, MessageFacts]:
        """Each file's size; files carry no keywords (what was done is only in the store)."""
        return {uid: MessageFacts(self._files[uid].stat().st_size) for uid in uids if uid in self._files}

    def arrival_days(self, uids: Sequence[int]) -> dict[int, date]:
        """Files have no arrival date: the day each file was last written."""
        return {uid: date.fromtimestamp(self._files[uid].stat().st_mtime) for uid in uids if uid in self._files}

    def fetch(self, uids: Sequence[int]) -> Fetched:
        return Fetched({uid: self._files[uid].read_bytes() for uid in uids if uid in self._files})

    def mark_done(self, uid: int, move_to: str) -> Placement:
        """Nothing to do: local files are left as they are, where they are."""
        return Placement(self.folder, uid)

    def set_aside(self, uid: int, move_to: str) -> Placement:
        """Nothing to do: local files are left as they are, where they are."""
        return Placement(self.folder, uid)

    def close(self) -> None:
        self._files = {}
