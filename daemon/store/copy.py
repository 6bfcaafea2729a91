"""Moving a state to another database (SQLite to PostgreSQL) with its journal and positions.

Every table of the models is copied in dependency order (parents before the rows that refer to
them), in batches, ids kept, then the counts are compared. The target is migrated to head
first and must be empty unless `replace` (then its rows are removed first). Leases and instance
heartbeats say who works now, not what was done: they are not copied, and a source whose
mailbox is leased by a live daemon is refused (stop the daemon first). On PostgreSQL the id
sequences are moved past the copied ids, so the next record gets a new one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, DateTime, Table, delete, func, insert, select, tuple_

from daemon.errors import ConfigError
from daemon.store.models import Base, Instance, Lease
from daemon.store.repository import Store

log = logging.getLogger(__name__)
BATCH_ROWS = 500
RUNTIME_TABLES = {Lease.__tablename__, Instance.__tablename__}  # who works now, not what was done
EMPTY_TARGET_TABLES = {"store_identity"}  # written by the migrations into every new database


class CopyRefused(ConfigError):
    """The copy would lose or mix data: a target that holds data, or a source still in use."""


@dataclass(frozen=True, slots=True)
class TableCopied:
    table: str
    rows: int


def tables() -> list[Table]:
    """The tables that hold the state, parents first."""
    return [t for t in Base.metadata.sorted_tables if t.name not in RUNTIME_TABLES]


def copy_store(source: Store, target: Store, *, replace: bool = False, batch: int = BATCH_ROWS) -> list[TableCopied]:
    """Copy every table of `source` into `target` in one transaction on the target; the rows of
    each table counted on both sides (CopyRefused when they differ, and then nothing is kept)."""
    with source.engine.connect() as reading:
        _refuse_live_leases(reading)
        with target.engine.begin() as writing:
            _prepare_target(writing, replace)
            copied = [TableCopied(table.name, _copy_table(reading, writing, table, batch)) for table in tables()]
            _advance_sequences(writing)
            for done in copied:
                _verify(reading, writing, done)
    return copied


def _refuse_live_leases(reading: Connection) -> None:
    now = datetime.now(UTC)
    for owner, expires_at in reading.execute(select(Lease.owner, Lease.expires_at)):
        if _aware(expires_at) > now:
            raise CopyRefused(f"a daemon ({owner}) is working on a mailbox of this database: stop every "
                              "ats-inbox of this configuration first, so that nothing changes during the copy")


def _prepare_target(writing: Connection, replace: bool) -> None:
    holding = [t.name for t in tables() if t.name not in EMPTY_TARGET_TABLES
               and writing.scalar(select(func.count()).select_from(t))]
    if holding and not replace:
        raise CopyRefused(f"the target database already holds data (in {', '.join(holding)}): copy into an "
                          "empty database, or give --replace to remove what it holds first")
    for table in reversed(tables()):
        writing.execute(delete(table))


def _copy_table(reading: Connection, writing: Connection, table: Table, batch: int) -> int:
    order = list(table.primary_key.columns)
    times = [c.name for c in table.columns if isinstance(c.type, DateTime)]
    rows, after = 0, None
    while True:
        query = select(table).order_by(*order).limit(batch)
        if after is not None:  # the next batch after the last key (not OFFSET: each batch costs the same)
            query = query.where(tuple_(*order) > tuple_(*after))
        chunk = [dict(r) for r in reading.execute(query).mappings()]
        if not chunk:
            return rows
        after = [chunk[-1][c.name] for c in order]
        for row in chunk:
            for name in times:  # SQLite gives back naive UTC; PostgreSQL would read them in its own zone
                if row[name] is not None:
                    row[name] = _aware(row[name])
        writing.execute(insert(table), chunk)
        rows += len(chunk)
        log.info("db.copy.batch", extra={"table": table.name, "rows": rows})


def _advance_sequences(writing: Connection) -> None:
    if writing.dialect.name != "postgresql":
        return
    for table in tables():
        columns = list(table.primary_key.columns)
        if len(columns) == 1 and columns[0].autoincrement is not False and columns[0].type.python_type is int:
            sequence = func.pg_get_serial_sequence(table.name, columns[0].name)
            following = func.coalesce(select(func.max(columns[0])).scalar_subquery(), 0) + 1
            writing.execute(select(func.setval(sequence, following, False)))


def _verify(reading: Connection, writing: Connection, done: TableCopied) -> None:
    table = Base.metadata.tables[done.table]
    there = reading.scalar(select(func.count()).select_from(table))
    here = writing.scalar(select(func.count()).select_from(table))
    if not there == here == done.rows:
        raise CopyRefused(f"table {done.table}: {there} rows in the source, {here} in the target after the copy "
                          "(did a daemon still write to the source?); nothing was kept, try again")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
