"""SQLite writers of one process take turns (daemon/store/repository.py): one waits for the other, and
one that waits longer than SQLite's busy timeout for its turn is told the store is busy, as SQLite would
tell it. In process, with events: nothing timed but the shortened timeout itself."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from daemon.domain import MessageKey
from daemon.errors import StoreBusy
from daemon.store import Store, open_store, repository


def key(uid: int) -> MessageKey:
    return MessageKey("jobs@example.com", "INBOX", 1, uid)


@contextmanager
def writing_elsewhere(store: Store) -> Iterator[None]:
    """Another thread holds a write transaction open until the block ends."""
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store._writing():
            inside.set()
            release.wait(timeout=30)

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(timeout=30)
    try:
        yield
    finally:
        release.set()
        holder.join()


def test_a_writer_beside_one_writing_gets_its_turn_and_writes(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'intake.db'}")
    written: list[object] = []
    second = threading.Thread(target=lambda: written.append(store.add_message(key(1), sha256="", size=1)))
    with writing_elsewhere(store):
        second.start()
    second.join()
    assert [r.uid for r in written] == [1]  # type: ignore[attr-defined]
    store.close()


def test_a_writer_that_waits_past_the_busy_timeout_is_told_the_store_is_busy(tmp_path, monkeypatch):
    monkeypatch.setattr(repository, "BUSY_TIMEOUT_MS", 200)
    store = open_store(f"sqlite:///{tmp_path / 'intake.db'}")
    with writing_elsewhere(store), pytest.raises(StoreBusy, match="locked"):
        store.add_message(key(2), sha256="", size=1)
    assert store.add_message(key(2), sha256="", size=1).uid == 2
    store.close()
