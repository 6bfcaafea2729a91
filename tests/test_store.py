"""The store: compare-and-set writes, reads beside a writer, busy journal writes, a replaced database."""

from __future__ import annotations

import sqlite3
import time

import pytest

from daemon.ats.models import AtsId
from daemon.domain import MessageKey, Status
from daemon.errors import Conflict, DatabaseReplaced, StoreBusy
from daemon.intake.journal import DONE, StoreJournal
from daemon.store import database as sqlite_database
from daemon.store import open_store
from daemon.store.watch import DatabaseWatch

KEY = MessageKey("jobs@example.org", "INBOX", 7, 1)


@pytest.fixture
def database(tmp_path):
    return tmp_path / "store.db"


@pytest.fixture
def store(database):
    store = open_store(f"sqlite:///{database}")
    yield store
    store.close()


def test_an_update_says_which_status_it_expects(either):
    """A change decided on `pending` fails with Conflict once someone made the record `resolved`."""
    store = either
    record = store.add_message(KEY, sha256="00", size=1)
    store.update_message(record.id, expect=Status.PENDING, status=Status.RESOLVED, note="by hand")
    with pytest.raises(Conflict, match="resolved"):
        store.update_message(record.id, expect=Status.PENDING, status=Status.REVIEW, reason="no job matched")
    assert store.message_by_pk(record.id).status == Status.RESOLVED


def test_a_write_refused_the_lock_past_the_busy_timeout_says_busy_and_the_next_one_writes(database, monkeypatch):
    """Another process holds SQLite's write lock longer than the busy timeout: the write transaction's BEGIN
    is refused (StoreBusy, to be tried again), and once the lock is free the store writes as before."""
    monkeypatch.setattr(sqlite_database, "BUSY_TIMEOUT_MS", 200)
    store = open_store(f"sqlite:///{database}")
    other = sqlite3.connect(database, timeout=1)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreBusy, match="locked"):
            store.add_message(KEY, sha256="00", size=1)
    finally:
        other.rollback()
        other.close()
    assert store.add_message(KEY, sha256="00", size=1).uid == KEY.uid
    assert store.counts() == {Status.PENDING: 1}
    store.close()


def test_reads_do_not_wait_for_a_writer(store, database):
    """Another process holding the write lock does not block reading (no BEGIN IMMEDIATE for reads)."""
    store.add_message(KEY, sha256="00", size=1)
    other = sqlite3.connect(database, timeout=1)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        assert store.counts() == {Status.PENDING: 1}
        assert store.message(KEY) is not None
        assert time.monotonic() - started < 2
    finally:
        other.rollback()
        other.close()


class BusyOnce:
    """A store whose journal writes meet a locked database `times` times first."""

    def __init__(self, store, times):
        self.store, self.times = store, times

    def __getattr__(self, name):
        return getattr(self.store, name)

    def journal(self, *args, **kwargs):
        if self.times:
            self.times -= 1
            raise StoreBusy("the database is locked by another process")
        return self.store.journal(*args, **kwargs)


@pytest.mark.parametrize("written_by", ["the next start", "commit"])
def test_a_journal_write_on_a_locked_database_keeps_the_id(either, written_by):
    """The ATS gave an id while the database was locked: the write that carries it (with the next step's
    start, or the flow's commit) is retried, the step ends done, in the one transaction with the next start."""
    store = either
    record = store.add_message(KEY, sha256="00", size=1)
    sleeps = []
    busy = BusyOnce(store, 0)
    journal = StoreJournal(busy, record.id, sleep=sleeps.append)
    journal.start("create_applicant")
    journal.record("create_applicant", AtsId.of(1001), {"id": 1001, "email": "ann@example.org"})
    assert store.steps(record.id)["create_applicant"].status == "started"  # held until the next write
    busy.times = 2
    if written_by == "commit":
        journal.commit()
    else:
        journal.start("create_candidate")
        assert store.steps(record.id)["create_candidate"].status == "started"
    step = store.steps(record.id)["create_applicant"]
    assert (step.status, step.ats_id) == (DONE, "1001")
    assert store.known_applicant("ann@example.org") == "1001"
    assert len(sleeps) == 2


def test_a_start_on_a_locked_database_that_carries_no_answer_is_not_retried(either):
    """A start with no answer to keep meets a locked database: StoreBusy at once (nothing was sent yet)."""
    store = either
    record = store.add_message(KEY, sha256="00", size=1)
    sleeps = []
    journal = StoreJournal(BusyOnce(store, 1), record.id, sleep=sleeps.append)
    with pytest.raises(StoreBusy):
        journal.start("create_applicant")
    assert sleeps == [] and store.steps(record.id) == {}


def test_a_new_record_has_an_empty_journal_and_later_readings_read_it(either):
    """A record just inserted reads as having no steps; once a step is written, the journal is read back."""
    store = either
    record = store.add_message(KEY, sha256="00", size=1)
    assert StoreJournal(store, record.id).get("route") is None
    store.record_step(record.id, "route", DONE, ats_id="7", detail='{"id": 7}')
    assert StoreJournal(store, record.id).get("route") == {"id": 7}


def test_a_deleted_database_file_is_noticed(store, database):
    """The SQLite file deleted (or replaced) under a running daemon: DatabaseReplaced, never a fresh start."""
    watch = DatabaseWatch(store, f"sqlite:///{database}")
    watch.check()
    database.unlink()
    with pytest.raises(DatabaseReplaced, match="deleted or replaced"):
        watch.check()


def test_a_database_replaced_by_another_one_is_noticed(store, database, tmp_path):
    """Another database moved over the file: its identity differs, the daemon stops."""
    watch = DatabaseWatch(store, f"sqlite:///{database}")
    open_store(f"sqlite:///{tmp_path / 'other.db'}").close()
    (tmp_path / "other.db").replace(database)
    with pytest.raises(DatabaseReplaced):
        watch.check()


def test_every_database_has_its_own_identity(tmp_path):
    """Two databases created apart never share the identity that tells them apart."""
    first, second = (open_store(f"sqlite:///{tmp_path / name}") for name in ("a.db", "b.db"))
    assert first.identity() and first.identity() != second.identity()
    first.close()
    second.close()


def test_many_processes_opening_a_new_database_at_once_all_succeed(tmp_path):
    """Daemons started together on a database that does not exist yet: each one opens it, none says busy."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'new.db'}"
    code = f"from daemon.store import open_store; open_store({url!r}).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(6)]
    results = [(p.wait(timeout=60), p.stderr.read()) for p in procs]
    assert all(rc == 0 for rc, _ in results), [err[-500:] for _, err in results]


def test_a_postgresql_server_that_went_away_is_busy_then_back(postgres_url, postgres):
    """PostgreSQL restarting under a store: writes say StoreBusy (transient) meanwhile, and work again after."""
    store = open_store(postgres_url)
    try:
        record = store.add_message(KEY, sha256="00", size=1)
        postgres.stop()
        try:
            with pytest.raises(StoreBusy, match="cannot be reached"):
                store.update_message(record.id, expect=Status.PENDING, note="while down")
        finally:
            postgres.start()
        store.update_message(record.id, expect=Status.PENDING, note="after the restart")
        assert store.message_by_pk(record.id).note == "after the restart"
    finally:
        store.close()


def test_a_new_mail_is_recorded_unless_a_copy_of_it_was(either):
    """The look-up of an earlier copy and the insert in one write: the first copy is recorded, a second one is
    not, and the earliest record of it is handed back."""
    store = either
    added, first = store.add_first_copy(KEY, content_key="c1", sha256="00", size=1, attempts=1)
    assert first is None and (added.status, added.attempts, added.content_key) == (Status.PENDING, 1, "c1")
    second = MessageKey("jobs@example.org", "INBOX", 7, 2)
    again, earliest = store.add_first_copy(second, content_key="c1", sha256="00", size=1)
    assert again is None and earliest.id == added.id
    assert store.counts() == {Status.PENDING: 1}
