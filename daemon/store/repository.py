"""The Store: short transactions, each committed on its own (the journal depends on it)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, case, delete, func, select, update
from sqlalchemy.exc import IntegrityError, NoResultFound, OperationalError
from sqlalchemy.orm import Session, configure_mappers, sessionmaker

from daemon.domain import MessageKey, Placement, Status
from daemon.errors import Conflict, StoreBusy
from daemon.store.models import (
    FolderState,
    Instance,
    KnownApplicant,
    KnownCandidate,
    Lease,
    MessageRecord,
    PassRecord,
    StepRecord,
    StoreIdentity,
    utcnow,
)
from daemon.store.spread import Heartbeat

ACTION_REFUSED = "refused"  # mailbox_action once the server refused it too often: a person moves it
READ_ONLY = "ats_inbox_read_only"  # execution option: a read transaction (no write lock on SQLite)
UNJOURNALLED_KEPT = 256  # new records remembered as having no journal (a flow opens its journal at once)


MESSAGES, STEPS = MessageRecord.__table__, StepRecord.__table__
APPLICANTS, CANDIDACIES = KnownApplicant.__table__, KnownCandidate.__table__


class _Hot:
    """The per-mail statements, built once with bound parameters and executed with their values: building a
    statement (coercing each value, its cache key) costs several times what running a compiled one does."""

    def __init__(self, insert: Callable[..., Any]):
        pk, allowed = bindparam("b_pk"), bindparam("b_allowed", expanding=True)
        self.add = MESSAGES.insert().returning(MESSAGES)
        self.first = select(MESSAGES).where(MESSAGES.c.content_key == bindparam("b_key")).order_by(
            MESSAGES.c.id).limit(1)
        self.by_pk = select(MESSAGES).where(MESSAGES.c.id == pk)
        self.status = select(MESSAGES.c.status).where(MESSAGES.c.id == pk)
        self.change = update(MESSAGES).where(MESSAGES.c.id == pk, MESSAGES.c.status.in_(allowed)).returning(MESSAGES)
        self.act = update(MESSAGES).where(MESSAGES.c.id == pk, MESSAGES.c.status.in_(allowed))
        self.steps = select(STEPS).where(STEPS.c.message_pk == pk).order_by(STEPS.c.id)
        self.drop_step = delete(STEPS).where(STEPS.c.message_pk == pk, STEPS.c.name == bindparam("b_name"))
        self.step = _upsert(insert(STEPS), ["message_pk", "name"], ["status", "ats_id", "detail", "updated_at"])
        self.applicant = _upsert(insert(APPLICANTS), ["email"], ["applicant_id"])
        self.candidacy = _upsert(insert(CANDIDACIES), ["applicant_id", "job_id"], ["candidate_id"])
        self.known_applicant = select(APPLICANTS.c.applicant_id).where(APPLICANTS.c.email == bindparam("b_email"))
        self.known_candidate = select(CANDIDACIES.c.candidate_id).where(
            CANDIDACIES.c.applicant_id == bindparam("b_applicant"), CANDIDACIES.c.job_id == bindparam("b_job"))
        self.count_from = select(func.count()).select_from(MESSAGES).where(
            MESSAGES.c.sender_email == bindparam("b_sender"), MESSAGES.c.created_at >= bindparam("b_since"))


def _upsert_insert(dialect: str) -> Callable[..., Any]:
    """The dialect's INSERT, which has ON CONFLICT; PostgreSQL's is imported for a PostgreSQL store only (its
    dialect took 25 ms of every SQLite start)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def _upsert(statement: Any, keys: list[str], columns: list[str]) -> Any:
    """An INSERT that, when a row with the same `keys` exists, sets its `columns` to the new values instead."""
    return statement.on_conflict_do_update(index_elements=keys,
                                           set_={c: getattr(statement.excluded, c) for c in columns})


BUSY_TIMEOUT_MS = 30_000  # SQLite waits this long for another writer's lock (database.py sets it per connection)


class Store:
    """The one place that speaks SQL. People's and rare writes go through ORM sessions; the per-mail hot
    path (the record's insert and updates, the journal, the reads per mail) are Core statements on a
    connection: no session, no unit of work, no identity map for one or two statements."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._read_engine = engine.execution_options(**{READ_ONLY: True})
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._reads = sessionmaker(self._read_engine, expire_on_commit=False)
        self._hot = _Hot(_upsert_insert(engine.dialect.name))
        # SQLite has one writer at a time, and a thread refused its lock sleeps 1 to 100 ms before asking again
        # (its busy handler): this process's writers wait their turn here instead, woken as soon as it is theirs
        # (with four flows journalling at once they spent a second a pass in those sleeps). Other processes
        # still meet the busy timeout. PostgreSQL locks rows, not the database: nothing to wait for here.
        self._write_turn: AbstractContextManager[object] = (
            _WriteTurn(BUSY_TIMEOUT_MS / 1000) if engine.dialect.name == "sqlite" else nullcontext())
        configure_mappers()  # the models' attributes, which `_model` fills without a constructor
        # Pending records this store inserted whose journal is empty (no step written since), the latest
        # UNJOURNALLED_KEPT: the journal of a mail just recorded needs no read (see `steps`).
        self._unjournalled: dict[int, None] = {}
        self._unjournalled_lock = threading.Lock()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One write transaction, committed at the end; a lock is reported as StoreBusy."""
        with self._write_turn, _busy_is_transient(), self._sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """One read transaction: it never takes SQLite's write lock."""
        with _busy_is_transient(), self._reads.begin() as session:
            yield session

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """One write transaction in Core statements on a connection, committed at the end."""
        with self._write_turn, _busy_is_transient(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def _looking(self) -> Iterator[Connection]:
        """One read transaction in Core statements (no write lock on SQLite)."""
        with _busy_is_transient(), self._read_engine.begin() as connection:
            yield connection

    def identity(self) -> str:
        """The random id written when this database was created ("" before migration 0003)."""
        with self.reading() as s:
            row = s.get(StoreIdentity, 1)
            return row.instance if row else ""

    # folders
    def folder_state(self, account: str, folder: str) -> FolderState | None:
        with self.reading() as s:
            return s.get(FolderState, (account, folder))

    def folder_states(self) -> list[FolderState]:
        with self.reading() as s:
            return list(s.scalars(select(FolderState).order_by(FolderState.account, FolderState.folder)))

    def save_folder_state(self, account: str, folder: str, uidvalidity: int, highest_uid: int,
                          **window: object) -> None:
        """Where intake stands in a folder; `window` sets the first pass's window columns."""
        with self.session() as s:
            state = s.get(FolderState, (account, folder))
            if state is None:
                state = FolderState(account=account, folder=folder, uidvalidity=uidvalidity, highest_uid=highest_uid,
                                    window_end_uid=0, window_unseen=False, skipped=0)
                s.add(state)
            state.uidvalidity, state.highest_uid = uidvalidity, highest_uid
            for name, value in window.items():
                setattr(state, name, value)

    # messages
    def message(self, key: MessageKey) -> MessageRecord | None:
        with self.reading() as s:
            return s.scalar(_by_key(key))

    def messages_at(self, account: str, folder: str, uidvalidity: int,
                    uids: Collection[int]) -> dict[int, MessageRecord]:
        """The records of these UIDs under this UIDVALIDITY, by UID (one query for a batch)."""
        if not uids:
            return {}
        with self.reading() as s:
            rows = s.scalars(select(MessageRecord).where(
                MessageRecord.account == account, MessageRecord.folder == folder,
                MessageRecord.uidvalidity == uidvalidity, MessageRecord.uid.in_(list(uids))))
            return {row.uid: row for row in rows}

    def pending_renumbered(self, account: str, folder: str, uidvalidity: int) -> list[MessageRecord]:
        """Pending records of the folder made under another UIDVALIDITY (their mail has a new UID now)."""
        with self.reading() as s:
            return list(s.scalars(select(MessageRecord).where(
                MessageRecord.account == account, MessageRecord.folder == folder,
                MessageRecord.uidvalidity != uidvalidity, MessageRecord.status == Status.PENDING)
                .order_by(MessageRecord.id)))

    def renumbered(self, account: str, folder: str, uidvalidity: int) -> bool:
        """Whether the folder holds records made under another UIDVALIDITY (its UIDs were renumbered)."""
        with self.reading() as s:
            return s.scalar(select(MessageRecord.id).where(
                MessageRecord.account == account, MessageRecord.folder == folder,
                MessageRecord.uidvalidity != uidvalidity).limit(1)) is not None

    def message_in(self, account: str, folder: str, uid: int) -> MessageRecord | None:
        """The latest record of `uid` in a folder, whatever the UIDVALIDITY."""
        with self.reading() as s:
            return s.scalar(select(MessageRecord).where(
                MessageRecord.account == account, MessageRecord.folder == folder, MessageRecord.uid == uid,
            ).order_by(MessageRecord.id.desc()).limit(1))

    def message_by_pk(self, pk: int) -> MessageRecord | None:
        with self._looking() as c:
            return _record(c.execute(self._hot.by_pk, {"b_pk": pk}).first())

    def add_message(self, key: MessageKey, *, message_id: str = "", sha256: str, size: int,
                    content_key: str = "", **fields: object) -> MessageRecord:
        """A new record, committed; its journal is known to be empty (see `steps`)."""
        values = _new_row(key, message_id=message_id, sha256=sha256, size=size, content_key=content_key, **fields)
        with self._writing() as c:
            row = c.execute(self._hot.add, values).one()
        return self._added(_record(row))

    def _added(self, record: MessageRecord) -> MessageRecord:
        """A record just inserted: a pending one is known to have no journal yet."""
        if record.status == Status.PENDING:
            with self._unjournalled_lock:
                self._unjournalled[record.id] = None
                if len(self._unjournalled) > UNJOURNALLED_KEPT:
                    del self._unjournalled[next(iter(self._unjournalled))]
        return record

    def _journalled(self, pk: int) -> bool:
        """Forget that `pk` has no journal; whether it was known to have none."""
        with self._unjournalled_lock:
            return self._unjournalled.pop(pk, False) is None

    def add_first_copy(self, key: MessageKey, *, content_key: str, **fields: Any) -> tuple[MessageRecord | None,
                                                                                         MessageRecord | None]:
        """(the new record, None) when no record of the same mail exists (see daemon.mail.identity), else
        (None, the earliest record of it) and nothing written: the look-up and the insert in one transaction."""
        values = _new_row(key, content_key=content_key, **fields)
        with self._writing() as c:
            first = _record(self._first(c, content_key))
            if first is not None:
                return None, first
            row = c.execute(self._hot.add, values).one()
        return self._added(_record(row)), None

    def first_copy(self, content_key: str) -> MessageRecord | None:
        """The earliest record of the same mail (see daemon.mail.identity), if any."""
        if not content_key:
            return None
        with self._looking() as c:
            return _record(self._first(c, content_key))

    def _first(self, connection: Connection, content_key: str) -> Any:
        """The row of the earliest record with this content key, or None."""
        return connection.execute(self._hot.first, {"b_key": content_key}).first() if content_key else None

    def move_record(self, pk: int, key: MessageKey, *, expect: str | Collection[str]) -> MessageRecord:
        """Re-key a record to where its mail is now (new UID or UIDVALIDITY); the journal stays."""
        return self.update_message(pk, expect=expect, account=key.account, folder=key.folder,
                                   uidvalidity=key.uidvalidity, uid=key.uid, mailbox_action="",
                                   placed_folder="", placed_uid=None)

    def update_message(self, pk: int, *, expect: str | Collection[str], **fields: object) -> MessageRecord:
        """Change a record that is in the status `expect` (or one of them); else raise Conflict.

        Compare-and-set: the daemon and people (`messages retry`, `resolve`) change records
        concurrently, and each change says which status it was decided on.
        """
        allowed = (expect,) if isinstance(expect, str) else tuple(expect)
        with self._writing() as c:  # one UPDATE ... RETURNING in Core: no session, no load, compare and flush
            row = c.execute(self._hot.change, {"b_pk": pk, "b_allowed": list(allowed), **fields}).first()
            if row is None:
                self._conflict(c, pk, allowed)
        return _record(row)

    def _conflict(self, connection: Connection, pk: int, allowed: Sequence[str]) -> None:
        """Raise why a compare-and-set on `pk` changed nothing: no such record, or another status."""
        current = connection.scalar(self._hot.status, {"b_pk": pk})
        if current is None:
            raise NoResultFound(f"no message #{pk}")
        raise Conflict(f"message #{pk} is {current} now, not {' or '.join(allowed)}")

    def record_action(self, pk: int, *, expect: str, action: str, placement: Placement, step: str,
                      detail: str) -> None:
        """The mailbox action done on a record in status `expect`, and its journal step, at once."""
        with self._writing() as c:
            changed = c.execute(self._hot.act, {"b_pk": pk, "b_allowed": [expect], "mailbox_action": action,
                                                "action_error": "", "placed_folder": placement.folder,
                                                "placed_uid": placement.uid})
            if changed.rowcount == 0:
                self._conflict(c, pk, [expect])
            self._journalled(pk)
            self._write_step(c, pk, StepWrite(step, "done", detail=detail))

    # the review queue: named queries for people's actions (daemon.intake.review)
    def listing(self, statuses: Collection[str], limit: int, first: Collection[str]) -> list[MessageRecord]:
        """Messages in `statuses` (all when empty): those in `first` first, then newest first."""
        ahead = case((MessageRecord.status.in_(tuple(first)), 0), else_=1)
        query = select(MessageRecord).order_by(ahead, MessageRecord.id.desc()).limit(limit)
        if statuses:
            query = query.where(MessageRecord.status.in_(tuple(statuses)))
        with self.reading() as s:
            return list(s.scalars(query))

    def with_steps(self, pk: int) -> tuple[MessageRecord, list[StepRecord]] | None:
        """One message and its journal steps in the order they were first recorded; None: no such id."""
        with self.reading() as s:
            record = s.get(MessageRecord, pk)
            if record is None:
                return None
            steps = s.scalars(select(StepRecord).where(StepRecord.message_pk == pk).order_by(StepRecord.id))
            return record, list(steps)

    def ids_in(self, statuses: Collection[str], recorded_before: datetime | None = None) -> list[int]:
        """Ids of the messages in `statuses` (recorded before then, when given), oldest first."""
        query = select(MessageRecord.id).where(MessageRecord.status.in_(tuple(statuses))).order_by(MessageRecord.id)
        if recorded_before is not None:
            query = query.where(MessageRecord.created_at < recorded_before)
        with self.reading() as s:
            return list(s.scalars(query))

    def requeue(self, pk: int, *, expect: str, reason: str, forget: Collection[str]) -> None:
        """Back to pending with no attempt used and no mailbox action, in one transaction; the
        journal steps `forget` are dropped. Conflict when the record is no longer in `expect`."""
        with self.session() as s:
            current = s.get_one(MessageRecord, pk)
            if current.status != expect:
                raise Conflict(f"message #{pk} changed to {current.status} meanwhile")
            current.status, current.reason, current.attempts = Status.PENDING, reason, 0
            current.last_error, current.mailbox_action = "", ""
            s.execute(delete(StepRecord).where(StepRecord.message_pk == pk, StepRecord.name.in_(tuple(forget))))

    def undo_requeue(self, before: MessageRecord, steps: Collection[tuple[str, str, str]]) -> bool:
        """The record as it was `before` a requeue, with the journal steps (name, status, detail)
        put back; False when the daemon took it up again meanwhile (then nothing changes)."""
        self._journalled(before.id)
        with self.session() as s:
            current = s.get_one(MessageRecord, before.id)
            if current.status != Status.PENDING or current.uid != before.uid:
                return False
            current.status, current.reason, current.attempts = before.status, before.reason, before.attempts
            current.last_error, current.mailbox_action = before.last_error, before.mailbox_action
            for name, status, detail in steps:
                s.add(StepRecord(message_pk=before.id, name=name, status=status, detail=detail))
            return True

    # retention: named queries for removing personal data (daemon.intake.retention)
    def uncleaned(self, statuses: Collection[str], recorded_before: datetime) -> list[int]:
        """Ids of messages in `statuses` recorded before then whose personal data is still there."""
        with self.reading() as s:
            return list(s.scalars(select(MessageRecord.id).where(
                MessageRecord.status.in_(tuple(statuses)), MessageRecord.created_at < recorded_before,
                MessageRecord.personal_data_removed_at.is_(None)).order_by(MessageRecord.id)))

    def ids_from(self, address: str) -> set[int]:
        """Ids of the messages whose sender is `address` (any case)."""
        with self.reading() as s:
            return set(s.scalars(select(MessageRecord.id).where(func.lower(MessageRecord.sender_email) == address)))

    def step_details_like(self, step: str, pattern: str) -> list[tuple[int, str]]:
        """(message id, detail) of the journal steps `step` whose detail is LIKE `pattern` (any case,
        escaped with a backslash): the caller reads the details it needs."""
        with self.reading() as s:
            rows = s.execute(select(StepRecord.message_pk, StepRecord.detail).where(
                StepRecord.name == step, StepRecord.detail.ilike(pattern, escape="\\")))
            return [(pk, detail) for pk, detail in rows]

    def messages_by_pk(self, pks: Collection[int]) -> list[MessageRecord]:
        """The records of these ids that exist, in id order."""
        with self.reading() as s:
            return list(s.scalars(select(MessageRecord).where(MessageRecord.id.in_(tuple(pks)))
                                  .order_by(MessageRecord.id)))

    def edit_messages(self, pks: Collection[int], edit: Callable[[MessageRecord, list[StepRecord]], None]) -> None:
        """One transaction: `edit` changes each existing record and its journal steps in place."""
        for pk in pks:
            self._journalled(pk)
        with self.session() as s:
            for pk in pks:
                record = s.get(MessageRecord, pk)
                if record is not None:
                    edit(record, list(s.scalars(select(StepRecord).where(StepRecord.message_pk == pk))))

    def forget_applicant(self, address: str) -> str:
        """Forget the ATS applicant this daemon knew for the address; its id ("" when none)."""
        with self.session() as s:
            known = s.get(KnownApplicant, address)
            if known is None:
                return ""
            s.delete(known)
            return known.applicant_id

    def pending_uids(self, account: str, folder: str, uidvalidity: int) -> list[int]:
        """UIDs recorded but not finished, and finished ones whose mailbox action is still owed
        (a refused action is retried a bounded number of times, then left to a person)."""
        with self.reading() as s:
            rows = s.scalars(
                select(MessageRecord.uid).where(
                    MessageRecord.account == account, MessageRecord.folder == folder,
                    MessageRecord.uidvalidity == uidvalidity,
                    (MessageRecord.status == Status.PENDING) | (MessageRecord.mailbox_action == ""),
                ).order_by(MessageRecord.uid)
            )
            return list(rows)

    def count_from(self, sender_email: str, since: datetime) -> int:
        """How many messages from this sender were recorded since then."""
        with self._looking() as c:
            return c.scalar(self._hot.count_from, {"b_sender": sender_email.lower(), "b_since": since}) or 0

    def messages(self, *, limit: int = 50) -> list[MessageRecord]:
        """The most recent records, newest first (the review queue has its own filters)."""
        with self.reading() as s:
            return list(s.scalars(select(MessageRecord).order_by(MessageRecord.id.desc()).limit(limit)))

    def counts(self, column: str = "status") -> dict[str, int]:
        """How many messages have each value of `column` (status, found_by, ...)."""
        field = getattr(MessageRecord, column)
        with self.reading() as s:
            rows = s.execute(select(field, func.count()).group_by(field))
            return {value: count for value, count in rows.all()}  # noqa: C416 (Result has .keys())

    # steps (the journal)
    def steps(self, pk: int) -> dict[str, StepRecord]:
        """The journal of one message by step name. A record this store inserted and has written no step
        for since is known to have none: its first reading needs no query (the runner hands a new
        record to its flow at once, and nothing but this daemon's flow journals a pending record)."""
        if self._journalled(pk):
            return {}
        with self._looking() as c:
            return {row.name: _model(StepRecord, row) for row in c.execute(self._hot.steps, {"b_pk": pk})}

    def record_step(self, pk: int, name: str, status: str, *, ats_id: str = "", detail: str = "",
                    remember: Remember | None = None) -> None:
        """Journal one step; what it teaches about people is remembered in the same transaction."""
        self.journal(pk, [StepWrite(name, status, ats_id=ats_id, detail=detail, remember=remember)])

    def journal(self, pk: int, writes: Sequence[StepWrite]) -> None:
        """Journal several steps of one message in one transaction, in order (an answer and the next
        step's start, say), each with what it teaches about people: all of them committed, or none."""
        self._journalled(pk)
        with self._writing() as c:
            for write in writes:
                self._write_step(c, pk, write)

    def delete_step(self, pk: int, name: str) -> None:
        self._journalled(pk)
        with self._writing() as c:
            c.execute(self._hot.drop_step, {"b_pk": pk, "b_name": name})

    def _write_step(self, connection: Connection, pk: int, write: StepWrite) -> None:
        """One step in one statement (an INSERT that updates the step already there), and what it teaches."""
        connection.execute(self._hot.step, {"message_pk": pk, "name": write.name, "status": write.status,
                                            "ats_id": write.ats_id, "detail": write.detail})
        remember = write.remember
        if remember is not None and remember.email and remember.applicant_id:
            connection.execute(self._hot.applicant, {"email": remember.email.casefold(),
                                                     "applicant_id": remember.applicant_id})
        if remember is not None and remember.candidate_id and remember.applicant_id and remember.job_id:
            connection.execute(self._hot.candidacy, {"applicant_id": remember.applicant_id, "job_id": remember.job_id,
                                                     "candidate_id": remember.candidate_id})

    # people this daemon created in the ATS
    def known_applicant(self, email: str) -> str | None:
        with self._looking() as c:
            return c.scalar(self._hot.known_applicant, {"b_email": email.casefold()})

    def known_candidate(self, applicant_id: str, job_id: str) -> str | None:
        with self._looking() as c:
            return c.scalar(self._hot.known_candidate, {"b_applicant": applicant_id, "b_job": job_id})

    # leases: one daemon at a time per mailbox folder. Deadlines are taken on the database's clock
    # (PostgreSQL's now()), so instances on machines whose clocks differ agree when one ran out.
    def acquire_lease(self, name: str, owner: str, ttl_seconds: float, is_stale=lambda owner: False,
                      *, take: bool = True) -> bool:
        """Take or renew the lease `name` for `owner`; False while another live owner holds it.
        With take=False only a renewal: False when `owner` no longer holds it (it ran out and was taken)."""
        try:
            with self.session() as s:
                now = self._now(s)
                lease = s.get(Lease, name, with_for_update=True)  # PostgreSQL: the row is locked until commit
                if lease is None:
                    if take:
                        s.add(Lease(name=name, owner=owner, expires_at=now + timedelta(seconds=ttl_seconds)))
                    return take
                expired = _aware(lease.expires_at) <= now
                if lease.owner != owner and (not take or (not expired and not is_stale(lease.owner))):
                    return False
                lease.owner, lease.expires_at = owner, now + timedelta(seconds=ttl_seconds)
                return True
        except IntegrityError:
            return False  # another instance created the same new lease first: it holds it

    def lease_holder(self, name: str) -> tuple[str, datetime] | None:
        """Who holds the lease `name` and until when (it may have run out); None: nobody."""
        with self.reading() as s:
            lease = s.get(Lease, name)
            return (lease.owner, _aware(lease.expires_at)) if lease else None

    def release_lease(self, name: str, owner: str) -> None:
        with self.session() as s:
            lease = s.get(Lease, name, with_for_update=True)
            if lease is not None and lease.owner == owner:
                s.delete(lease)

    # instances: each running daemon says it is alive, so mailboxes are spread over the live ones
    def beat(self, instance: str, ttl_seconds: float, mailboxes: Collection[str] = ()) -> None:
        """`instance` is alive for `ttl_seconds` more, serving `mailboxes` (lease names; none: any); instances long
        gone are forgotten."""
        with self.session() as s:
            now = self._now(s)
            row = s.get(Instance, instance, with_for_update=True)
            if row is None:
                row = Instance(name=instance, started_at=now, expires_at=now)
                s.add(row)
            row.expires_at = now + timedelta(seconds=ttl_seconds)
            row.mailboxes = "\n".join(sorted(mailboxes))
            s.execute(delete(Instance).where(Instance.expires_at < now - timedelta(days=1)))

    def live_instances(self) -> list[str]:
        """The instances whose heartbeat has not run out, by name."""
        return sorted(self.instance_mailboxes())

    def heartbeats(self) -> tuple[datetime, dict[str, Heartbeat]]:
        """The database's clock now, and each known instance's last heartbeat (run out or not)."""
        with self.reading() as s:
            now = self._now(s)
            rows = s.execute(select(Instance.name, Instance.expires_at, Instance.mailboxes)).all()
            return now, {name: Heartbeat(_aware(until), _mailboxes(served)) for name, until, served in rows}

    def instance_mailboxes(self) -> dict[str, frozenset[str]]:
        """Each live instance's mailboxes (lease names; empty: it did not say)."""
        with self.reading() as s:
            now = self._now(s)
            rows = s.execute(select(Instance.name, Instance.mailboxes).where(Instance.expires_at > now)).all()
            return {name: _mailboxes(served) for name, served in rows}

    def leave(self, instance: str) -> None:
        """`instance` stops: the others take its share at once."""
        with self.session() as s:
            s.execute(delete(Instance).where(Instance.name == instance))

    def _now(self, session: Session) -> datetime:
        """The database's clock where there is one server for every machine; this machine's for SQLite."""
        if self.engine.dialect.name == "postgresql":
            return _aware(session.scalar(select(func.now())))
        return utcnow()

    # passes
    def start_pass(self, mailbox: str = "") -> int:
        with self.session() as s:
            record = PassRecord(mailbox=mailbox)
            s.add(record)
            s.flush()
            return record.id

    def finish_pass(self, pass_id: int, *, outcome: str, seen: int, submitted: int, set_aside: int,
                    error: str = "", rules_fingerprint: str = "", rules_problems: str = "") -> None:
        with self.session() as s:
            record = s.get_one(PassRecord, pass_id)
            record.finished_at = utcnow()
            record.outcome, record.seen, record.submitted = outcome, seen, submitted
            record.set_aside, record.error = set_aside, error
            record.rules_fingerprint, record.rules_problems = rules_fingerprint, rules_problems

    def last_pass(self, mailbox: str | None = None) -> PassRecord | None:
        """The last pass started (through `mailbox`, when given)."""
        with self.reading() as s:
            query = select(PassRecord) if mailbox is None else select(PassRecord).where(PassRecord.mailbox == mailbox)
            return s.scalar(query.order_by(PassRecord.id.desc()).limit(1))


class _WriteTurn:
    """This process's SQLite writers one at a time; a writer that waits longer than SQLite's busy timeout
    for its turn gets what SQLite would give it, StoreBusy (a queue behind a lock held by another process
    never waits a timeout per writer ahead of it)."""

    def __init__(self, seconds: float):
        self._lock, self._seconds = threading.RLock(), seconds

    def __enter__(self) -> None:
        if not self._lock.acquire(timeout=self._seconds):
            raise StoreBusy("the database is locked by another process")

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


@contextmanager
def _busy_is_transient() -> Iterator[None]:
    """SQLite's lock, and on PostgreSQL a server that cannot be reached (restarting, the network) or a
    transaction it cancelled (deadlock, serialization): StoreBusy, to be tried again later."""
    try:
        yield
    except OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreBusy("the database is locked by another process") from exc
        if type(exc.orig).__module__.startswith("psycopg"):
            raise StoreBusy(f"the database cannot be reached or cancelled the transaction "
                            f"({type(exc.orig).__name__})") from exc
        raise


def _new_row(key: MessageKey, **columns: Any) -> dict[str, Any]:
    """The columns of a new record of the mail at `key`: pending unless `columns` say otherwise."""
    return {"account": key.account, "folder": key.folder, "uidvalidity": key.uidvalidity, "uid": key.uid,
            "status": Status.PENDING, **columns}


def _record(row: Any) -> MessageRecord | None:
    """A record read or returned by a Core statement, as the model the callers use (not in any session)."""
    return None if row is None else _model(MessageRecord, row)


def _model(model: type[Any], row: Any) -> Any:
    """An instance of `model` holding a row's columns, as the ORM's loading fills one (no constructor, no
    change tracking: it is read, never flushed)."""
    instance = model._sa_class_manager.new_instance()
    instance.__dict__.update(row._mapping)
    return instance


def _by_key(key: MessageKey):
    return select(MessageRecord).where(
        MessageRecord.account == key.account, MessageRecord.folder == key.folder,
        MessageRecord.uidvalidity == key.uidvalidity, MessageRecord.uid == key.uid,
    )





@dataclass(frozen=True, slots=True)
class Remember:
    """What a journal step teaches: the applicant behind an email, the candidate for a job."""

    email: str = ""
    applicant_id: str = ""
    job_id: str = ""
    candidate_id: str = ""


@dataclass(frozen=True, slots=True)
class StepWrite:
    """One journal step to write: its name, status, the ATS's id and the detail, and what it teaches."""

    name: str
    status: str
    ats_id: str = ""
    detail: str = ""
    remember: Remember | None = None


def _mailboxes(served: str) -> frozenset[str]:
    """An instance's mailboxes as its heartbeat stores them: one per line (none: it did not say)."""
    return frozenset(filter(None, served.split("\n")))


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)
