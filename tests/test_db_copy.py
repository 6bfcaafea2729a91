"""`db copy`: a SQLite state moved to PostgreSQL with its journal, positions and people, nothing taken in twice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from daemon.domain import MessageKey, Status
from daemon.store import open_store
from daemon.store.copy import CopyRefused, copy_store, tables
from daemon.store.lease import MailboxLease
from daemon.store.repository import Remember

SENT = datetime(2026, 11, 30, 9, 15, 7, tzinfo=UTC)


def filled(url: str, messages: int = 3):
    """A store with messages and their journal, a folder position, a pass, known people and kept rules."""
    store = open_store(url)
    for uid in range(1, messages + 1):
        record = store.add_message(MessageKey("jobs@example.org", "INBOX", 7, uid), sha256=f"{uid:064}", size=uid,
                                   sent_at=SENT, subject=f"Application {uid}")
        store.record_step(record.id, "create_applicant", "done", ats_id=str(1000 + uid),
                          remember=Remember(email=f"p{uid}@example.org", applicant_id=str(1000 + uid),
                                            job_id="101", candidate_id=str(2000 + uid)))
        store.update_message(record.id, expect=Status.PENDING, status=Status.SUBMITTED, mailbox_action="processed")
    store.save_folder_state("jobs@example.org", "INBOX", 7, messages, window_unseen=True)
    store.finish_pass(store.start_pass(), outcome="ok", seen=messages, submitted=messages, set_aside=0)
    return store


def rows(store, table) -> list[tuple]:
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))]


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'old.db'}"


def test_every_table_arrives_in_postgresql_as_it_was(sqlite_url, postgres_url):
    """Messages, journal steps, positions, passes, people and the identity: the same rows, times to the second."""
    source, target = filled(sqlite_url), open_store(postgres_url)
    copied = copy_store(source, target, batch=2)
    assert {done.table: done.rows for done in copied}["steps"] == 3
    for table in tables():
        assert rows(target, table) == [_utc(row) for row in rows(source, table)], table.name
    assert target.identity() == source.identity()
    source.close()
    target.close()


def test_after_the_copy_new_records_get_new_ids(sqlite_url, postgres_url):
    """PostgreSQL's id sequences are moved past the copied ids: the next message and pass do not collide."""
    source, target = filled(sqlite_url), open_store(postgres_url)
    copy_store(source, target)
    record = target.add_message(MessageKey("jobs@example.org", "INBOX", 7, 4), sha256="4" * 64, size=4)
    assert record.id == 4
    assert target.start_pass() == 2
    source.close()
    target.close()


def test_a_target_that_holds_data_is_refused_unless_replaced(sqlite_url, postgres_url):
    """Copying into a database with records is refused and changes nothing; --replace empties it first."""
    source, target = filled(sqlite_url), filled(postgres_url, messages=1)
    with pytest.raises(CopyRefused, match="already holds data"):
        copy_store(source, target)
    assert len(target.messages()) == 1
    copy_store(source, target, replace=True)
    assert len(target.messages()) == 3
    source.close()
    target.close()


def test_a_source_with_a_daemon_at_work_is_refused(sqlite_url, postgres_url):
    """A live lease in the source means a daemon still writes there: the copy is refused, the target kept empty."""
    source, target = filled(sqlite_url), open_store(postgres_url)
    MailboxLease(source, "jobs@example.org/INBOX", owner="other.example:1", ttl=60).acquire()
    with pytest.raises(CopyRefused, match="stop every"):
        copy_store(source, target)
    assert target.messages() == []
    source.close()
    target.close()


def _utc(row: tuple) -> tuple:
    """SQLite reads back the naive UTC it stored; PostgreSQL the same moment with its zone."""
    return tuple(v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v for v in row)
