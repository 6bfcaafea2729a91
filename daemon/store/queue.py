"""The review page's queue: messages filtered by status, job, sender, rule, date and free text,
a page at a time; those needing a person first, oldest waiting first among them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, or_, select

from daemon.domain import NEEDS_PERSON
from daemon.store.models import MessageRecord
from daemon.store.repository import Store


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What a person asked the queue for; empty fields do not filter."""

    statuses: tuple[str, ...] = ()
    job: str = ""  # part of the job's title or its id
    sender: str = ""  # part of the sender's name or address
    rule: str = ""  # part of the rule's name
    since: datetime | None = None  # recorded at or after
    until: datetime | None = None  # recorded before
    text: str = ""  # in the subject, the reason, the sender, the job or the note
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True, slots=True)
class QueuePage:
    records: list[MessageRecord]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _like(column, text: str):
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped.lower()}%", escape="\\")


def _conditions(f: QueueFilter) -> list:
    m = MessageRecord
    found = []
    if f.statuses:
        found.append(m.status.in_(f.statuses))
    if f.job:
        found.append(or_(_like(m.job_title, f.job), m.job_id == f.job))
    if f.sender:
        found.append(or_(_like(m.sender_name, f.sender), _like(m.sender_email, f.sender)))
    if f.rule:
        found.append(_like(m.rule, f.rule))
    if f.since is not None:
        found.append(m.created_at >= f.since)
    if f.until is not None:
        found.append(m.created_at < f.until)
    if f.text:
        found.append(or_(*(_like(c, f.text) for c in (m.subject, m.reason, m.sender_name, m.sender_email,
                                                       m.job_title, m.note, m.last_error))))
    return found


def search(store: Store, f: QueueFilter) -> QueuePage:
    """One page of the messages `f` asks for: set-aside and uncertain first (oldest first: they waited
    longest), then the rest newest first."""
    m = MessageRecord
    where = _conditions(f)
    ahead = case((m.status.in_(tuple(NEEDS_PERSON)), 0), else_=1)
    waiting = case((m.status.in_(tuple(NEEDS_PERSON)), m.id), else_=-m.id)
    query = select(m).where(*where).order_by(ahead, waiting)
    page = max(1, f.page)
    with store.reading() as s:
        total = s.scalar(select(func.count()).select_from(m).where(*where)) or 0
        rows = list(s.scalars(query.offset((page - 1) * f.per_page).limit(f.per_page)))
    return QueuePage(rows, total, page, f.per_page)


def oldest_waiting(store: Store) -> datetime | None:
    """When the oldest message still waiting for a person (review, uncertain) was recorded."""
    with store.reading() as s:
        return s.scalar(select(func.min(MessageRecord.created_at)).where(
            MessageRecord.status.in_(tuple(NEEDS_PERSON))))
