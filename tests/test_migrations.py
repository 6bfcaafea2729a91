"""The database: a fresh one migrates to head, and the models agree with the migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from daemon.store import Base, open_store


def test_fresh_database_upgrades_to_head_and_matches_models(tmp_path):
    """Upgrading an empty database gives exactly the tables and columns the models declare."""
    store = open_store(f"sqlite:///{tmp_path / 'fresh.db'}")
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"render_as_batch": True})
        assert compare_metadata(context, Base.metadata) == []
        assert set(inspect(connection).get_table_names()) >= {"messages", "steps", "folders", "passes"}
    store.close()


def test_opening_twice_is_harmless(tmp_path):
    """A second open of a migrated database changes nothing and keeps the data."""
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    store = open_store(url)
    pass_id = store.start_pass()
    store.close()
    again = open_store(url)
    assert again.last_pass().id == pass_id
    again.close()


def test_sqlite_uses_wal(tmp_path):
    """SQLite runs in WAL mode with a busy timeout."""
    store = open_store(f"sqlite:///{tmp_path / 'wal.db'}")
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    store.close()


def test_upgrade_keeps_existing_rows(tmp_path):
    """A database made by the first release upgrades to head with its messages intact."""
    from sqlalchemy import text

    from daemon.store.database import create_store_engine, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_store_engine(url)
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO messages (account, folder, uidvalidity, uid, message_id, sha256, size, status, reason,"
            " job_id, job_title, applicant_id, candidate_id, attempts, last_error, mailbox_action, created_at,"
            " updated_at) VALUES ('a', 'INBOX', 1, 7, 'm@x', 'abc', 10, 'submitted', '', '101', 'Data Analyst',"
            " '1001', '2001', 0, '', 'processed', '2026-01-01', '2026-01-01')"))
    engine.dispose()
    store = open_store(url)
    [record] = store.messages()
    assert (record.uid, record.status, record.candidate_id) == (7, "submitted", "2001")
    assert (record.content_key, record.note, record.duplicate_of) == ("", "", None)
    store.close()


def test_a_fresh_postgresql_database_upgrades_to_head_and_matches_models(postgres):
    """On an empty PostgreSQL database the same migrations give exactly the models' tables and columns."""
    url = postgres.database("fresh_migrations")
    try:
        store = open_store(url)
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection)
            assert compare_metadata(context, Base.metadata) == []
            assert set(inspect(connection).get_table_names()) >= {"messages", "steps", "folders", "leases"}
        assert store.identity()
        store.close()
    finally:
        postgres.drop("fresh_migrations")


def test_many_processes_migrating_one_new_postgresql_database_all_succeed(postgres):
    """Daemons started together on an empty PostgreSQL database: the advisory lock lets one migrate, all open it."""
    import subprocess
    import sys

    url = postgres.database("migrated_at_once")
    try:
        code = f"from daemon.store import open_store; open_store({url!r}).close()"
        procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(5)]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
        assert all(rc == 0 for rc, _ in results), [err[-800:] for _, err in results]
        store = open_store(url, migrate=False)
        assert store.identity() and store.last_pass() is None
        store.close()
    finally:
        postgres.drop("migrated_at_once")
