"""The outbox: each reply a row, written (its Message-ID fixed) in its own transaction before it is sent.

A row per message and kind at most (a unique key), so recording a reply twice (a retried
message, a crash before the verdict) records it once. Sending marks it `sent` afterwards; a
crash between the relay's answer and that mark sends it again on the next round, with the same
Message-ID and bytes (at least once, never two different mails).

A reply's personal data (its recipient, the composed mail with names, an address in its reason) is
removed by `forget` (retention, `messages purge --email`); the row stays, with its kind, status and
Message-ID, so a reply already recorded is never recorded or sent again, and a receipt whose recipient
is gone can no longer be answered.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from daemon.store.models import ReplyRecord
from daemon.store.repository import Store

QUEUED, SENT, NOT_SENT, FAILED = "queued", "sent", "not sent", "failed"
CLAIM_HOLD = timedelta(minutes=10)  # a claimed reply is due again after this when its sender died mid-send
STATUSES = (QUEUED, SENT, NOT_SENT, FAILED)
FORGOTTEN = "its personal data was removed before it was sent"


@dataclass(frozen=True, slots=True)
class NewReply:
    """A reply to record: queued with its composed mail, or `not sent` with the reason."""

    message_pk: int
    kind: str
    recipient: str
    message_id: str
    job_id: str = ""
    content: str = ""
    status: str = QUEUED
    reason: str = ""


class Outbox:
    """The replies table over the store's short transactions."""

    def __init__(self, store: Store):
        self.store = store

    def add(self, reply: NewReply, now: datetime) -> bool:
        """Record `reply`; False when this message already has one of its kind (nothing changed)."""
        try:
            with self.store.session() as s:
                if s.scalar(select(ReplyRecord.id).where(ReplyRecord.message_pk == reply.message_pk,
                                                         ReplyRecord.kind == reply.kind)) is not None:
                    return False
                s.add(ReplyRecord(message_pk=reply.message_pk, kind=reply.kind, recipient=reply.recipient,
                                  job_id=reply.job_id, message_id=reply.message_id, status=reply.status,
                                  content=reply.content, last_error=reply.reason, attempts=0,
                                  next_attempt_at=now if reply.status == QUEUED else None, created_at=now))
        except IntegrityError:  # another writer recorded it meanwhile
            return False
        return True

    def due(self, now: datetime, limit: int = 50) -> list[ReplyRecord]:
        """Queued replies whose time has come, oldest first."""
        with self.store.reading() as s:
            return list(s.scalars(select(ReplyRecord).where(ReplyRecord.status == QUEUED,
                                                            ReplyRecord.next_attempt_at <= now)
                                  .order_by(ReplyRecord.id).limit(limit)))

    def claim(self, pk: int, now: datetime, hold: timedelta = CLAIM_HOLD) -> bool:
        """Take a due reply to send it now: compare-and-set on its time, so that of several mailboxes' lanes
        (or instances on one database) that find it due, one sends it. Another finds it due again only after
        `hold` (the claimer crashed mid-send): then it is sent again, with the same Message-ID."""
        with self.store.session() as s:
            taken = s.execute(update(ReplyRecord).where(
                ReplyRecord.id == pk, ReplyRecord.status == QUEUED, ReplyRecord.next_attempt_at <= now)
                .values(next_attempt_at=now + hold))
            return taken.rowcount == 1

    def sent(self, pk: int, now: datetime) -> None:
        with self.store.session() as s:
            s.execute(update(ReplyRecord).where(ReplyRecord.id == pk).values(
                status=SENT, sent_at=now, attempts=ReplyRecord.attempts + 1, last_error="", next_attempt_at=None))

    def not_delivered(self, pk: int, error: str, next_attempt_at: datetime | None) -> None:
        """A try that failed: queued again for `next_attempt_at`, or `failed` for good (None)."""
        with self.store.session() as s:
            s.execute(update(ReplyRecord).where(ReplyRecord.id == pk).values(
                status=QUEUED if next_attempt_at is not None else FAILED, attempts=ReplyRecord.attempts + 1,
                last_error=error[:2000], next_attempt_at=next_attempt_at))

    def by_message_id(self, message_id: str) -> ReplyRecord | None:
        with self.store.reading() as s:
            return s.scalar(select(ReplyRecord).where(ReplyRecord.message_id == message_id))

    def use(self, pk: int, by_pk: int, now: datetime) -> bool:
        """Mark a receipt used by the reply `by_pk`; False when it was used already (compare-and-set)."""
        with self.store.session() as s:
            done = s.execute(update(ReplyRecord).where(ReplyRecord.id == pk, ReplyRecord.used_at.is_(None))
                             .values(used_at=now, used_by_pk=by_pk))
            return done.rowcount == 1

    def release(self, pk: int, by_pk: int) -> None:
        """A use that did nothing (an unknown job): the receipt may be answered again."""
        with self.store.session() as s:
            s.execute(update(ReplyRecord).where(ReplyRecord.id == pk, ReplyRecord.used_by_pk == by_pk)
                      .values(used_at=None, used_by_pk=None))

    def count(self, kinds: Collection[str], since: datetime, recipient: str = "", job_id: str | None = None) -> int:
        """Replies of `kinds` queued or sent since `since` (to `recipient`, for `job_id`, when given)."""
        query = select(func.count(ReplyRecord.id)).where(ReplyRecord.kind.in_(kinds), ReplyRecord.created_at >= since,
                                                         ReplyRecord.status.in_((QUEUED, SENT)))
        if recipient:
            query = query.where(ReplyRecord.recipient == recipient)
        if job_id is not None:
            query = query.where(ReplyRecord.job_id == job_id)
        with self.store.reading() as s:
            return int(s.scalar(query) or 0)

    def of(self, message_pk: int) -> list[ReplyRecord]:
        """The replies about one message, in the order they were recorded."""
        with self.store.reading() as s:
            return list(s.scalars(select(ReplyRecord).where(ReplyRecord.message_pk == message_pk)
                                  .order_by(ReplyRecord.id)))

    def counts(self) -> dict[str, int]:
        """Replies by status (the metrics)."""
        with self.store.reading() as s:
            rows = s.execute(select(ReplyRecord.status, func.count(ReplyRecord.id)).group_by(ReplyRecord.status))
            return dict.fromkeys(STATUSES, 0) | {status: int(n) for status, n in rows}

    def forget(self, scrub: Callable[[str], str], *, message_pks: Collection[int] = (), address: str = "") -> int:
        """Remove the personal data of the replies about `message_pks`, to `address` or naming it in their mail:
        recipient and content emptied, `scrub` applied to the reason; a queued one is `not sent` then (nothing is
        left to send). One transaction; returns how many rows were changed."""
        matches = [ReplyRecord.message_pk.in_(list(message_pks))] if message_pks else []
        if address:
            pattern = "%" + address.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            matches += [func.lower(ReplyRecord.recipient) == address.casefold(),
                        ReplyRecord.content.ilike(pattern, escape="\\")]
        if not matches:
            return 0
        with self.store.session() as s:
            rows = list(s.scalars(select(ReplyRecord).where(or_(*matches))))
            for row in rows:
                if row.status == QUEUED:
                    row.status, row.next_attempt_at, row.last_error = NOT_SENT, None, FORGOTTEN
                row.recipient, row.content, row.last_error = "", "", scrub(row.last_error)
            return len(rows)
