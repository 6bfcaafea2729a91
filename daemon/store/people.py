"""The review page's people: local accounts (name, role, password hash) and the audit trail of
what each person did. Named queries over the store's sessions; no decisions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from daemon.store.models import AuditRecord, WebUser, utcnow
from daemon.store.repository import Store


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    role: str
    password_hash: str
    created_at: datetime


def account(store: Store, name: str) -> Account | None:
    with store.reading() as s:
        row = s.get(WebUser, name)
        return None if row is None else Account(row.name, row.role, row.password_hash, row.created_at)


def accounts(store: Store) -> list[Account]:
    with store.reading() as s:
        rows = s.scalars(select(WebUser).order_by(WebUser.name))
        return [Account(r.name, r.role, r.password_hash, r.created_at) for r in rows]


def save_account(store: Store, name: str, role: str, password_hash: str) -> bool:
    """Create the account, or replace its role and password; True when it was new."""
    with store.session() as s:
        row = s.get(WebUser, name)
        if row is None:
            s.add(WebUser(name=name, role=role, password_hash=password_hash, created_at=utcnow()))
            return True
        row.role, row.password_hash = role, password_hash
        return False


def remove_account(store: Store, name: str) -> bool:
    with store.session() as s:
        return bool(s.execute(delete(WebUser).where(WebUser.name == name)).rowcount)


def record(store: Store, who: str, action: str, message_pk: int | None, detail: str) -> None:
    """One line of the audit trail."""
    with store.session() as s:
        s.add(AuditRecord(who=who, action=action, message_pk=message_pk, detail=detail, at=utcnow()))


@dataclass(frozen=True, slots=True)
class Audit:
    at: datetime
    who: str
    message_pk: int | None
    action: str
    detail: str


def trail(store: Store, message_pk: int | None = None, limit: int = 200) -> Sequence[Audit]:
    """The newest audit lines first; of one message when `message_pk` is given."""
    query = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit)
    if message_pk is not None:
        query = query.where(AuditRecord.message_pk == message_pk)
    with store.reading() as s:
        return [Audit(r.at, r.who, r.message_pk, r.action, r.detail) for r in s.scalars(query)]
