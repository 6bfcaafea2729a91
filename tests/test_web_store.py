"""The review page's store side: accounts, the audit trail, the queue's filters and order, and
`ats-inbox users add|remove|list`."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from daemon import cli
from daemon.domain import MessageKey, Status
from daemon.store import open_store, people
from daemon.store.queue import QueueFilter, oldest_waiting, search
from daemon.web import passwords
from tests.e2e import write_config


@pytest.fixture
def store(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'ats-inbox.db'}")
    yield store
    store.close()


def add(store, uid: int, status: str, **fields) -> int:
    return store.add_message(MessageKey("a", "INBOX", 1, uid), sha256=f"{uid:064d}", size=1, status=status,
                             **fields).id


def test_the_queue_puts_waiting_mail_first_the_longest_waiting_on_top(store):
    """Review and uncertain first, oldest first; the rest after, newest first."""
    done, old, other, new = (add(store, 1, Status.SUBMITTED), add(store, 2, Status.REVIEW),
                             add(store, 3, Status.RESOLVED), add(store, 4, Status.UNCERTAIN))
    assert [m.id for m in search(store, QueueFilter()).records] == [old, new, other, done]


def test_the_queue_search_treats_wildcards_as_text(store):
    """A % or _ in the search matches itself, not anything."""
    add(store, 1, Status.REVIEW, subject="50% off")
    add(store, 2, Status.REVIEW, subject="Data Analyst")
    assert [m.subject for m in search(store, QueueFilter(text="50%")).records] == ["50% off"]
    assert search(store, QueueFilter(text="_")).total == 0


def test_oldest_waiting_is_the_oldest_set_aside_record(store):
    """The metric's source: when the oldest review or uncertain message was recorded; None when none waits."""
    assert oldest_waiting(store) is None
    add(store, 1, Status.SUBMITTED, created_at=datetime(2026, 1, 1, tzinfo=UTC))
    add(store, 2, Status.REVIEW, created_at=datetime(2026, 2, 1, tzinfo=UTC))
    add(store, 3, Status.REVIEW, created_at=datetime(2026, 3, 1, tzinfo=UTC))
    assert oldest_waiting(store).replace(tzinfo=UTC) == datetime(2026, 2, 1, tzinfo=UTC)


def test_passwords_are_salted_scrypt_and_verify_only_themselves():
    """Two hashes of one password differ; only the right password verifies; a short one is refused."""
    first, second = passwords.hash_password("correct horse battery"), passwords.hash_password("correct horse battery")
    assert first != second and first.startswith("scrypt$")
    assert passwords.verify("correct horse battery", first)
    assert not passwords.verify("correct horse batterz", first)
    assert not passwords.verify("anything", "not a hash")
    with pytest.raises(passwords.WeakPassword):
        passwords.hash_password("short")


def test_users_add_list_remove(tmp_path, monkeypatch, capsys):
    """`users add` keeps a hash (never the password), `list` shows names and roles, `remove` deletes."""
    database = tmp_path / "ats-inbox.db"
    config = write_config(tmp_path / "config.toml", imap={"host": "127.0.0.1", "username": "x", "password": "x"},
                          ats_url="http://127.0.0.1:1", database=database)
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert cli.main(["users", "add", "anna", "--role", "admin", "--password-stdin", "--config", str(config)]) == 0
    assert cli.main(["users", "list", "--config", str(config)]) == 0
    assert "anna\tadmin" in capsys.readouterr().out
    store = open_store(f"sqlite:///{database}")
    try:
        account = people.account(store, "anna")
        assert "a long enough password" not in account.password_hash
        assert passwords.verify("a long enough password", account.password_hash)
    finally:
        store.close()
    assert cli.main(["users", "remove", "anna", "--config", str(config)]) == 0
    assert cli.main(["users", "remove", "anna", "--config", str(config)]) == 1


def test_the_audit_trail_is_newest_first_and_per_message(store):
    """Each action is kept with who and when; a message's history lists only its own."""
    people.record(store, "rita", "resolve", 1, "added by hand")
    people.record(store, "adam", "reopen", 1, "")
    people.record(store, "rita", "ignore", 2, "spam")
    assert [(a.who, a.action) for a in people.trail(store, 1)] == [("adam", "reopen"), ("rita", "resolve")]
    assert len(people.trail(store)) == 3
    assert all(datetime.now(UTC) - a.at.replace(tzinfo=UTC) < timedelta(minutes=1) for a in people.trail(store))
