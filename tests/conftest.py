"""Shared pytest fixtures."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from tests.imapserver import Dovecot, running


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """cli.main() replaces the root logging handlers; put pytest's back after every test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


# -- A real Dovecot on loopback (tests marked `@pytest.mark.imap`) ----------------------


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot]:
    """One Dovecot for the whole run, in its own temp dir (pytest's are not o+x)."""
    with running() as server:
        yield server


@pytest.fixture
def dovecot(dovecot_server: Dovecot) -> Dovecot:
    """The session's Dovecot, running, with an empty INBOX and no other folders."""
    if not dovecot_server.running:  # an earlier test stopped or killed it
        dovecot_server.start()
    dovecot_server.reset()
    return dovecot_server


# --- the sandbox ATS ----------------------------------------------------------------------


@pytest.fixture
def sandbox(tmp_path):
    """A sandbox ATS on a free local port, requiring the tests' token; its state in tmp_path."""
    from daemon.sandbox import SandboxATS
    from tests.e2e import SANDBOX_TOKEN

    server = SandboxATS(tmp_path / "sandbox.db", token=SANDBOX_TOKEN)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def world(tmp_path, dovecot):
    """A Dovecot folder, a sandbox ATS and a config tying them (tests/world.py)."""
    from tests.world import World

    w = World(tmp_path, dovecot)
    yield w
    w.close()


@pytest.fixture
def parts(tmp_path):
    """The in-process intake parts: the sandbox ATS, a client over its transport, a fresh store."""
    from daemon.ats.client import AtsClient
    from daemon.sandbox import SandboxATS
    from daemon.store import open_store

    sandbox = SandboxATS(tmp_path / "ats.db")
    client = AtsClient("http://sandbox.test", "t", timeout=5, transport=sandbox.transport(), sleep=lambda _: None)
    store = open_store(f"sqlite:///{tmp_path / 'intake.db'}")
    yield sandbox, client, store
    client.close()
    store.close()
    sandbox.stop()


# --- a real PostgreSQL on loopback (the store's tests run on SQLite and on it) ---------------

PG_TEMPLATE = "ats_inbox_template"


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL for the whole run, with a template database migrated to head once."""
    from daemon.store import open_store
    from tests.pgserver import running

    with running() as server:
        open_store(server.database(PG_TEMPLATE)).close()
        yield server


@pytest.fixture
def postgres(postgres_server):
    """The session's PostgreSQL, running (an earlier test may have stopped or killed it)."""
    if not postgres_server.running:
        postgres_server.start()
    return postgres_server


@pytest.fixture
def postgres_url(postgres, request):
    """A fresh PostgreSQL database for this test, migrated to head (a copy of the template); dropped after."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = postgres.database(name, template=PG_TEMPLATE)
    # a copy of the template would share its identity: give it its own, as a new database has
    postgres.execute_in(name, f"UPDATE store_identity SET instance = '{uuid.uuid4().hex}'")  # noqa: S608 (a hex uuid)
    yield url
    if postgres.running:
        postgres.drop(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """The URL of a fresh store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def either(store_url):
    """A store on SQLite, then on PostgreSQL: the behaviour that must not depend on the database."""
    from daemon.store import open_store

    store = open_store(store_url)
    yield store
    store.close()
