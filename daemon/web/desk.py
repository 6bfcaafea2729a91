"""What the review page works through: the store, the mailbox and the ATS, each behind a small
interface the command line assembles (daemon.cli.web) and the tests replace with fakes."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from daemon.ats.directory import AtsDirectory
from daemon.domain import Placement
from daemon.intake.review import MoveBack
from daemon.store.models import MessageRecord
from daemon.store.repository import Store


class Mailbox(Protocol):
    """The mailbox as `messages open` and `messages resolve` use it (daemon.mailbox.recorded.MailDesk)."""

    def read(self, record: MessageRecord) -> bytes | None: ...

    def settle(self, record: MessageRecord) -> Placement | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class StatusReport:
    """The status page: the health line, and the text `ats-inbox status` prints."""

    health: str
    healthy: bool
    text: str


@dataclass(frozen=True)
class Desk:
    store: Store
    mailbox: Callable[[], Mailbox] | None  # None: no IMAP password here (`mailbox_off` says why)
    move_back: MoveBack | None  # None: intake leaves all mail in the watched folder
    directory: Callable[[], AbstractContextManager[AtsDirectory]]
    status: Callable[[], StatusReport]
    mailbox_off: str = ""
