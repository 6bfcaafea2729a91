"""SQLite writers of one process take turns (daemon/store/repository.py): one waits for the other, and
one that waits longer than SQLite's busy timeout for its turn is told the store is busy, as SQLite would
tell it. In process, with events: nothing timed but the shortened timeout itself."""

from __future__ import annotations

import threading

import pytest

from daemon.domain import MessageKey
from daemon.errors import StoreBusy
from daemon.store import open_store, repository


def key(uid: int) -> MessageKey:
    return MessageKey("jobs@example.com", "INBOX", 1, uid)


def test_a_writer_beside_one_writing_gets_its_turn_and_writes(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'intake.db'}")
    inside, release = threading.Event(), threading.Event()
    written: list[object] = []

    def first() -> None:
        with store._writing():
            inside.set()
            release.wait(timeout=30)

    holder = threading.Thread(target=first)
    holder.start()
    inside.wait(timeout=30)
    second = threading.Thread(target=lambda: written.append(store.add_message(key(1), sha256="", size=1)))
    second.start()
    release.set()
    holder.join()
    second.join()
    assert [r.uid for r in written] == [1]  # type: ignore[attr-defined]
    store.close()


def test_a_writer_that_waits_past_the_busy_timeout_is_told_the_store_is_busy(tmp_path, monkeypatch):
    monkeypatch.setattr(repository, "BUSY_TIMEOUT_MS", 200)
    store = open_store(f"sqlite:///{tmp_path / 'intake.db'}")
    inside, release = threading.Event(), threading.Event()

    def holder() -> None:
        with store._writing():
            inside.set()
            release.wait(timeout=30)

    thread = threading.Thread(target=holder)
    thread.start()
    inside.wait(timeout=30)
    try:
        with pytest.raises(StoreBusy, match="locked"):
            store.add_message(key(2), sha256="", size=1)
    finally:
        release.set()
        thread.join()
    assert store.add_message(key(2), sha256="", size=1).uid == 2
    store.close()
