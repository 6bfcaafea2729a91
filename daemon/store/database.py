"""Opening the database: engine, SQLite pragmas, migrations to head, and the Store.

SQLite is the embedded default for one machine; PostgreSQL (`postgresql+psycopg://...`, the
`postgresql` extra) is the store several instances share. Both take the same models and the same
Alembic migrations; one process at a time migrates (a lock file beside SQLite's database, an
advisory lock on PostgreSQL).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

import daemon
from daemon.errors import ConfigError, StoreBusy
from daemon.files import private_file
from daemon.store.migrate import at_head
from daemon.store.repository import BUSY_TIMEOUT_MS, READ_ONLY, Store

log = logging.getLogger(__name__)
OPEN_ATTEMPTS = 10
PG_CONNECT_TIMEOUT_S = 10  # a server that does not answer: StoreBusy after this long, not a hang
MIGRATE_LOCK_KEY = 0x6174_7369_6E62_6F78  # "atsinbox": the id of the advisory lock migrations take


def migrations_dir() -> Path:
    """The Alembic scripts: inside the installed package, or at the top of a checkout."""
    package = Path(daemon.__file__).resolve().parent
    for candidate in (package / "_migrations", package.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise ConfigError("the database migrations are missing from this installation")


def create_store_engine(url: str, idle_transaction_seconds: float | None = None) -> Engine:
    """An engine; for SQLite: WAL, a busy timeout, and write transactions that begin IMMEDIATE.

    `idle_transaction_seconds` (PostgreSQL; the daemon gives half its lease period): the server ends a
    session that sits that long inside a transaction. This daemon's transactions never wait on anything
    but the database, so such a session belongs to a process that stopped (a frozen machine, SIGSTOP)
    between a statement and its commit; ended, it frees the rows it locked (a lease, a heartbeat), which
    the others would otherwise wait on for as long as it sleeps, their takeover included."""
    if make_url(url).get_backend_name() == "postgresql":
        # pre-ping: a connection the server dropped (a restart) is replaced before use, not failed with;
        # a `connect_timeout` or `options` in the URL's query wins over ours
        query = make_url(url).query
        args: dict[str, object] = {} if "connect_timeout" in query else {"connect_timeout": PG_CONNECT_TIMEOUT_S}
        if idle_transaction_seconds and "options" not in query:
            args["options"] = f"-c idle_in_transaction_session_timeout={max(1, int(idle_transaction_seconds * 1000))}"
        return create_engine(url, pool_pre_ping=True, pool_recycle=1800, connect_args=args)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # WAL is a property of the file: set it once. Asking again on every connection would take
    # a lock SQLite may refuse at once, without the busy timeout, while another process writes.
    if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    # What is deleted or overwritten (personal data removed by retention or a purge) is zeroed in the
    # file, not left in free space; some builds have it on by default, this sets it for every build.
    cursor.execute("PRAGMA secure_delete = ON")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _sqlite_begin(connection) -> None:
    # A read transaction that later writes can fail with "database is locked" in WAL
    # mode despite the busy timeout; taking the write lock up front cannot deadlock.
    # Transactions that only read (Store.reading) take no lock: WAL lets them run beside a writer.
    # Sent on the driver's connection: as a statement of SQLAlchemy's, the BEGIN cost as much CPU as the
    # statement it opens (a mail takes eight transactions). Its error is SQLAlchemy's, as a statement's is.
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    statement = "BEGIN" if read_only else "BEGIN IMMEDIATE"
    try:
        connection.connection.driver_connection.execute(statement)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(statement, (), exc, sqlite3.Error) from exc


def checkpoint(engine: Engine) -> bool:
    """Copy SQLite's write-ahead log into the database file and empty the log (TRUNCATE): after personal
    data is removed, the -wal file still holds the pages from before until then. Waits (the busy timeout)
    for readers of older pages; False when one kept some of the log (logged). Other databases: True."""
    if engine.dialect.name != "sqlite":
        return True
    connection = engine.raw_connection()  # outside a transaction: a checkpoint cannot run inside one
    try:
        busy, frames, copied = connection.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.Error as exc:
        log.warning("store.checkpoint_failed", extra={"error": str(exc)})
        return False
    finally:
        connection.close()
    if busy:
        log.warning("store.checkpoint_incomplete", extra={"frames": frames, "copied": copied})
    return not busy


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` with Alembic (imported here: a database at head never needs it)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def open_store(url: str, *, migrate: bool = True, idle_transaction_seconds: float | None = None) -> Store:
    """Open (and by default create and migrate) the database at `url`; `idle_transaction_seconds`: see
    `create_store_engine`.

    A new SQLite file is created readable by its owner only; SQLite gives its -wal and
    -shm files the database file's mode.
    """
    _prepare_sqlite_file(url)
    engine = create_store_engine(url, idle_transaction_seconds)
    for attempt in range(OPEN_ATTEMPTS):
        try:
            if migrate and not at_head(engine, migrations_dir()):
                with _one_migrator(url, engine):
                    upgrade(engine)
            return Store(engine)
        except OperationalError as exc:
            if "locked" not in str(exc):
                raise _open_failed(exc, postgres=engine.dialect.name == "postgresql") from exc
            # Two daemons starting on a new database at once: switching it to WAL and
            # migrating take locks SQLite may refuse without waiting. The other one finishes
            # in well under a second; try again a few times before calling it busy.
            if attempt == OPEN_ATTEMPTS - 1:
                raise StoreBusy("the database is locked by another process") from exc
            log.info("store.open_retry", extra={"attempt": attempt + 1})
            time.sleep(0.2 * (attempt + 1))
        except SQLAlchemyError as exc:
            raise ConfigError(f"cannot open the database: {exc}", key="database.url") from exc
    raise AssertionError("unreachable")


# What the server (or libpq) says when it was reached but refuses this configuration. psycopg gives a
# refused connection no sqlstate, so the message tells; errors after connecting carry their sqlstate.
_REFUSED_CONFIGURATION = ("authentication failed", "no password supplied", "does not exist", "no pg_hba.conf entry",
                          "permission denied", "password is required", "invalid connection option")
_REFUSED_SQLSTATES = ("28000", "28P01", "3D000", "42501")  # bad login, bad password, unknown database, privilege
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57")  # connection exception, resources, operator intervention


def _open_failed(exc: OperationalError, *, postgres: bool) -> ConfigError | StoreBusy:
    """A database that cannot be opened: a configuration error (exit 2, systemd does not restart) when the server
    refused the login or the database (a bad password, an unknown role or database), or SQLite could not open its
    file; transient (StoreBusy, exit 1, systemd restarts it) when the PostgreSQL server could not be reached (refused,
    timed out, starting up or shutting down, too many connections)."""
    message = str(exc.orig)
    sqlstate = getattr(exc.orig, "sqlstate", None)
    refused = (sqlstate in _REFUSED_SQLSTATES if sqlstate
               else any(marker in message for marker in _REFUSED_CONFIGURATION))
    transient = sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES if sqlstate else not refused
    if postgres and transient:
        log.warning("store.unreachable", extra={"error": message.splitlines()[0] if message else ""})
        return StoreBusy(f"cannot reach the database server: {message.strip()}")
    return ConfigError(f"cannot open the database: {message.strip()}", key="database.url")


@contextmanager
def _one_migrator(url: str, engine: Engine | None = None) -> Iterator[None]:
    """One process at a time migrates: on PostgreSQL through an advisory lock (taken on `engine`),
    on SQLite a lock file."""
    if engine is not None and engine.dialect.name == "postgresql":
        with _advisory_lock(engine):
            yield
        return
    path = sqlite_path(url)
    if path is None:
        yield
        return
    with _lock_file(path):
        yield


@contextmanager
def _advisory_lock(engine: Engine) -> Iterator[None]:
    """A session-level advisory lock on its own connection: two daemons starting together on a new
    database would both create the tables; the second waits and finds the schema at head. The server
    lets go of it when the connection ends, so a migrator killed midway leaves no lock behind."""
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATE_LOCK_KEY})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATE_LOCK_KEY})
            connection.commit()


@contextmanager
def _lock_file(path: Path) -> Iterator[None]:
    """Alembic does not run SQLite's DDL in one transaction, so two daemons started together could
    both add the same column. The lock file is removed by its holder before it lets go, so none is
    left beside the database; a process that waited on a file removed meanwhile takes the lock again
    on a new one."""
    lock = path.with_name(path.name + ".migrate-lock")
    while True:
        with private_file(lock).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            if not _same_file(handle.fileno(), lock):
                continue  # the holder removed it while we waited: lock the next one
            try:
                yield
            finally:
                lock.unlink(missing_ok=True)
                fcntl.flock(handle, fcntl.LOCK_UN)
            return


def _same_file(fd: int, path: Path) -> bool:
    """Whether `path` still names the open file `fd`."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (found.st_dev, found.st_ino) == (held.st_dev, held.st_ino)


def without_password(url: str) -> str:
    """The URL as it may be shown or logged: a password in it as ***."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL; None for another database or an in-memory one."""
    parsed = make_url(url)
    name = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or name in ("", ":memory:") or name.startswith("file:"):
        return None
    return Path(name)


def _prepare_sqlite_file(url: str) -> None:
    path = sqlite_path(url)
    if path is None:
        return
    if not path.parent.is_dir():
        raise ConfigError(f"the folder {path.parent} does not exist: create it, or point "
                          "database.url elsewhere", key="database.url")
    try:
        private_file(path)
    except OSError as exc:
        raise ConfigError(f"cannot create {path}: {exc.strerror}", key="database.url") from exc
