"""Hand-written fakes of the project's own interfaces (no mock.patch)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from email.parser import HeaderParser
from typing import Any

from daemon.ats.models import AtsId
from daemon.domain import Placement
from daemon.errors import MailboxActionRefused, MailboxUnavailable
from daemon.mailbox.base import DONE_KEYWORD, REVIEW_KEYWORD, Fetched, FolderInfo, MessageFacts


class FakeMailbox:
    """An in-memory IMAP folder: UIDs ascend; flags, keywords and moves are recorded.

    `refuse` makes actions on those UIDs answer NO (as a full quota or an ACL would);
    a moved message leaves the folder, like a real MOVE.
    """

    def __init__(self, messages: Sequence[bytes] = (), uidvalidity: int = 7):
        self.account, self.folder = "fake@example.org", "INBOX"
        self.uidvalidity = uidvalidity
        self.messages = dict(enumerate(messages, start=1))
        self.done: dict[int, str] = {}
        self.flagged: dict[int, str] = {}
        self.fetched: list[int] = []
        self.fetch_calls: list[list[int]] = []
        self.fail_fetch_once: set[int] = set()  # UIDs whose fetch drops the connection once
        self.fail_action_once: set[int] = set()  # UIDs whose action drops the connection once
        self.refuse: set[int] = set()
        self.keywords: dict[int, set[str]] = {}
        self.actions: list[int] = []  # every action attempted, refused ones too
        self.arrived: dict[int, date] = {}  # INTERNALDATE by UID (default: today)
        self.seen: set[int] = set()
        self.opens = 0

    def open(self) -> FolderInfo:
        self.opens += 1
        return FolderInfo(self.uidvalidity, ordered_uids=True)

    def uids_after(self, uid: int) -> list[int]:
        return sorted(u for u in self.messages if u > uid)

    def facts(self, uids: Sequence[int]) -> dict[int, MessageFacts]:
        return {u: MessageFacts(len(self.messages[u]), frozenset(self.keywords.get(u, ())))
                for u in uids if u in self.messages}

    def arrival_days(self, uids: Sequence[int]) -> dict[int, date]:
        today = datetime.now(UTC).date()
        return {u: self.arrived.get(u, today) for u in uids if u in self.messages}

    def with_message_id(self, message_id: str) -> set[int]:
        return {u for u, raw in self.messages.items()
                if (HeaderParser().parsestr(raw.decode("utf-8", "replace")).get("Message-ID") or "").strip()
                == message_id}

    def window(self, since: date | None, unseen_only: bool) -> set[int]:
        today = datetime.now(UTC).date()
        return {u for u in self.messages
                if (since is None or self.arrived.get(u, today) >= since) and not (unseen_only and u in self.seen)}

    def fetch(self, uids: Sequence[int]) -> Fetched:
        for uid in uids:
            if uid in self.fail_fetch_once:
                self.fail_fetch_once.discard(uid)
                raise MailboxUnavailable("connection reset by peer")
        self.fetched += list(uids)
        self.fetch_calls.append(list(uids))
        return Fetched({u: self.messages[u] for u in uids if u in self.messages})

    def mark_done(self, uid: int, move_to: str) -> Placement:
        self._action(uid)
        self.done[uid] = move_to
        self.keywords.setdefault(uid, set()).add(DONE_KEYWORD)
        return self._move(uid, move_to)

    def set_aside(self, uid: int, move_to: str) -> Placement:
        self._action(uid)
        self.flagged[uid] = move_to
        self.keywords.setdefault(uid, set()).add(REVIEW_KEYWORD)
        return self._move(uid, move_to)

    def _action(self, uid: int) -> None:
        self.actions.append(uid)
        if uid in self.fail_action_once:
            self.fail_action_once.discard(uid)
            raise MailboxUnavailable("connection reset by peer")
        if uid in self.refuse:
            raise MailboxActionRefused("IMAP server refused the move", server_text="NO [OVERQUOTA] Quota exceeded")

    def _move(self, uid: int, folder: str) -> Placement:
        if not folder:
            return Placement(self.folder, uid)
        self.messages.pop(uid, None)
        return Placement(folder, 1000 + uid)

    def close(self) -> None:
        pass


class FakeJournal:
    """The submission journal in a dict."""

    def __init__(self) -> None:
        self.done: dict[str, dict[str, Any]] = {}
        self.begun: set[str] = set()
        self.applicants: dict[str, AtsId] = {}
        self.candidates: dict[tuple[str, str], AtsId] = {}

    def get(self, step: str) -> Mapping[str, Any] | None:
        return self.done.get(step)

    def started(self, step: str) -> bool:
        return step in self.begun and step not in self.done

    def start(self, step: str) -> None:
        self.begun.add(step)

    def record(self, step: str, ats_id: AtsId, data: Mapping[str, Any]) -> None:
        self.done[step] = dict(data)

    def commit(self) -> None:
        pass  # a dict: every step recorded is there at once

    def abandon(self, step: str) -> None:
        self.begun.discard(step)

    def known_applicant(self, email: str) -> AtsId | None:
        return self.applicants.get(email)

    def known_candidate(self, applicant_id: AtsId, job_id: AtsId) -> AtsId | None:
        return self.candidates.get((str(applicant_id), str(job_id)))
