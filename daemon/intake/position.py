"""Where intake stands in one folder: the highest handled UID, and the first pass's window.

Every UID at or below the saved highest is handled (or left out by the first pass's window);
the position is saved once per batch, so a crash before a save only looks again at UIDs whose
records say what was done. A folder seen for the first time takes only the mail in its window
(`[imap] since`, `skip_seen`); the rest is counted and left untouched (`backfill` takes it).
A UIDVALIDITY change voids every UID seen so far: mail already recorded is recognised again by
its content (daemon.mail.identity), so nothing is submitted twice, and the first pass's window
(its date and unread-only rule) is applied again to the new UIDs, so that what it left out stays
left out; the count of what it leaves out is taken again (mail with our keywords is not counted:
we handled it). What is left out is described by `LeftOut`: how many, the days the oldest and
newest arrived, and the `backfill` command that takes it in; the dry run says the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from daemon.config import FirstPass
from daemon.domain import MessageKey, Status
from daemon.errors import Conflict
from daemon.mailbox.base import Mailbox, MessageFacts
from daemon.store.models import FolderState
from daemon.store.repository import Store

log = logging.getLogger(__name__)
BATCH = 1000  # UIDs per FETCH when reading what the window leaves out


@dataclass(frozen=True, slots=True)
class LeftOut:
    """The mail a folder's first-pass window leaves out: how many, and the days the oldest and the
    newest arrived (INTERNALDATE as the server dates it; None when unknown)."""

    count: int
    oldest: date | None = None
    newest: date | None = None

    @classmethod
    def of(cls, state: FolderState) -> LeftOut:
        return cls(state.skipped, state.skipped_from, state.skipped_until)

    def dates(self) -> str:
        if self.oldest is None or self.newest is None:
            return ""
        return f"arrived {self.oldest:%Y-%m-%d}" if self.oldest == self.newest else \
            f"arrived from {self.oldest:%Y-%m-%d} to {self.newest:%Y-%m-%d}"

    def command(self) -> str:
        """The command that takes it in: every mail of the folder since the oldest's day that has no record."""
        since = f"{self.oldest:%Y-%m-%d}" if self.oldest is not None else "YYYY-MM-DD"
        return f"ats-inbox backfill --since {since}"


def left_out(mailbox: Mailbox, uids: list[int]) -> LeftOut:
    """`uids` as left out by the window: mail with our keywords excepted (we handled it), with the days
    the oldest and newest arrived; read in batches (a folder may hold years of mail)."""
    days: list[date] = []
    for start in range(0, len(uids), BATCH):
        batch = uids[start:start + BATCH]
        ours = {uid for uid, facts in mailbox.facts(batch).items() if facts.keywords}
        days += [day for uid, day in mailbox.arrival_days([u for u in batch if u not in ours]).items()]
    return LeftOut(len(days), min(days, default=None), max(days, default=None))


def window_uids(mailbox: Mailbox, since: date | None, unseen_only: bool) -> tuple[list[int], list[int]]:
    """A first pass over the folder: the UIDs in its window, and those it leaves out, ascending."""
    everything = mailbox.uids_after(0)
    if not everything:
        return [], []
    inside = mailbox.window(since, unseen_only)
    return [uid for uid in everything if uid in inside], [uid for uid in everything if uid not in inside]


def backfill_uids(mailbox: Mailbox, store: Store | None, key: Callable[[int], MessageKey], since: date) -> list[int]:
    """A backfill: the folder's mail since `since` (any flag) that has no record, ascending."""
    found = sorted(mailbox.window(since, unseen_only=False))
    return [uid for uid in found if store is None or store.message(key(uid)) is None]


class FolderPosition:
    """The position of one sweep over the mailbox's folder; see the module docstring."""

    def __init__(self, store: Store, mailbox: Mailbox, first_pass: FirstPass | None, backfill_since: date | None):
        self.store, self.mailbox = store, mailbox
        self.first_pass, self.backfill_since = first_pass, backfill_since
        self.uidvalidity = 0
        self._state: FolderState | None = None
        self._saved = 0
        self._highest = 0
        self._keeps = False  # only when new mail always gets a higher UID, and not in a backfill
        self.renumbered = False  # the folder has records of an earlier UIDVALIDITY: mail with our keyword is
        # read too, to be recognised by its content (else, as after a lost database, it is known by the keyword)

    def key(self, uid: int) -> MessageKey:
        return MessageKey(self.mailbox.account, self.mailbox.folder, self.uidvalidity, uid)

    def start(self, uidvalidity: int, ordered: bool) -> list[int]:
        """The UIDs this sweep looks at: the owed (pending) ones first, then the new ones."""
        self.uidvalidity = uidvalidity
        self._state = self._folder_state()
        self._saved = self._highest = self._state.highest_uid
        self._keeps = ordered and self.backfill_since is None
        self.renumbered = self.store.renumbered(self.mailbox.account, self.mailbox.folder, uidvalidity)
        owed = self.store.pending_uids(self.mailbox.account, self.mailbox.folder, uidvalidity)
        known = set(owed)
        return owed + [uid for uid in self._new_uids() if uid not in known]

    def handled(self, uid: int) -> None:
        """`uid` landed: every UID below it landed before it."""
        if self._keeps and uid > self._highest:
            self._highest = uid

    def save(self) -> None:
        """Where intake stands, saved once per batch."""
        if self._keeps and self._highest > self._saved:
            self.store.save_folder_state(self.mailbox.account, self.mailbox.folder, self.uidvalidity, self._highest)
            self._saved = self._highest

    def finish(self) -> None:
        """The whole folder was swept: the rest of the first pass's window is left out for good."""
        window_end = self._state.window_end_uid if self._state is not None else 0
        if self._keeps and self._highest < window_end:
            self.store.save_folder_state(self.mailbox.account, self.mailbox.folder, self.uidvalidity, window_end)

    def _new_uids(self) -> list[int]:
        """UIDs above the highest handled, those the first pass's window leaves out excepted; for a
        backfill, the folder's mail since the date that has no record yet."""
        if self.backfill_since is not None:
            return backfill_uids(self.mailbox, self.store, self.key, self.backfill_since)
        return fresh_uids(self.mailbox, self._state)

    def _folder_state(self) -> FolderState:
        account, folder = self.mailbox.account, self.mailbox.folder
        state = self.store.folder_state(account, folder)
        if state is None:
            return self._first_pass()
        if state.uidvalidity != self.uidvalidity:
            log.warning("imap.uidvalidity_changed", extra={"folder": folder, "old": state.uidvalidity,
                                                            "new": self.uidvalidity})
            return self._window_again(state)
        return state

    def _window_again(self, state: FolderState) -> FolderState:
        """A new UIDVALIDITY: the first pass's window, if there was one, over the folder's new UIDs."""
        account, folder = self.mailbox.account, self.mailbox.folder
        everything = self.mailbox.uids_after(0) if state.window_end_uid else []
        if not everything:
            self.store.save_folder_state(account, folder, self.uidvalidity, 0, window_end_uid=0, skipped=0)
            return self.store.folder_state(account, folder)
        since = state.window_since.date() if state.window_since is not None else None
        inside = self.mailbox.window(since, state.window_unseen) | self._follow_pending(everything)
        skipped = left_out(self.mailbox, [uid for uid in everything if uid not in inside])
        log.info("imap.window_again", extra={"folder": folder, "messages": len(everything),
                                             "left_out": skipped.count})
        self.store.save_folder_state(account, folder, self.uidvalidity, 0, window_end_uid=max(everything),
                                     skipped=skipped.count, skipped_from=skipped.oldest,
                                     skipped_until=skipped.newest)
        return self.store.folder_state(account, folder)

    def _follow_pending(self, everything: list[int]) -> set[int]:
        """Mail still owed (pending) under the old UIDVALIDITY: its record follows it to its new UID,
        found by Message-ID and size, so the window cannot leave it out (a person may have read it)."""
        followed: set[int] = set()
        present = set(everything)
        for record in self.store.pending_renumbered(self.mailbox.account, self.mailbox.folder, self.uidvalidity):
            found = sorted(self.mailbox.with_message_id(record.message_id) & present - followed)
            sizes = self.mailbox.facts(found) if found else {}
            same = [uid for uid in found if not record.size or sizes.get(uid, MessageFacts(-1)).size == record.size]
            if len(same) != 1:
                continue  # not found, or not told apart: the record is continued by content when its mail is read
            try:
                self.store.move_record(record.id, self.key(same[0]), expect=Status.PENDING)
            except Conflict:
                continue  # a person changed it meanwhile
            log.info("mail.followed", extra={"record": record.id, "uid": same[0]})
            followed.add(same[0])
        return followed

    def _first_pass(self) -> FolderState:
        """A folder seen for the first time: only mail in the window is taken; the rest is
        counted (never recorded one by one) and left untouched."""
        account, folder, window = self.mailbox.account, self.mailbox.folder, self.first_pass
        since = window.since(datetime.now(UTC).date()) if window is not None else None
        inside, outside = window_uids(self.mailbox, since, window.unseen_only) if window is not None else ([], [])
        if window is None or not (inside or outside):
            self.store.save_folder_state(account, folder, self.uidvalidity, 0)
            return self.store.folder_state(account, folder)
        skipped = left_out(self.mailbox, outside)
        log.info("imap.first_pass", extra={"folder": folder, "messages": len(inside) + len(outside),
                                           "left_out": skipped.count, "window": window.describe()})
        moment = datetime.combine(since, time.min, tzinfo=UTC) if since is not None else None
        self.store.save_folder_state(account, folder, self.uidvalidity, 0, window_end_uid=max(inside + outside),
                                     window_since=moment, window_unseen=window.unseen_only, skipped=skipped.count,
                                     skipped_from=skipped.oldest, skipped_until=skipped.newest)
        return self.store.folder_state(account, folder)


def fresh_uids(mailbox: Mailbox, state: FolderState) -> list[int]:
    """UIDs above the highest handled in the folder, but those the first pass's window leaves out."""
    uids = mailbox.uids_after(state.highest_uid)
    if state.window_end_uid <= state.highest_uid:
        return uids
    since = state.window_since.date() if state.window_since is not None else None
    inside = mailbox.window(since, state.window_unseen)
    return [uid for uid in uids if uid > state.window_end_uid or uid in inside]
