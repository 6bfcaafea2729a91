"""Files holding mail metadata or CV bytes are created readable by their owner only, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from daemon.files import private_dir, private_file
from daemon.store import open_store
from daemon.store.database import _one_migrator

UMASKS = [pytest.param(0o000, id="umask-000"), pytest.param(0o022, id="umask-022"),
          pytest.param(0o700, id="umask-700")]


@contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", UMASKS)
def test_private_file_and_dir_modes_ignore_the_umask(tmp_path, mask):
    """private_file creates 0600 and private_dir 0700, also under a umask that would widen or lock them."""
    with umask(mask):
        folder = private_dir(tmp_path / "a" / "work")
        file = private_file(folder / "state.db")
    assert (mode(folder), mode(file)) == (0o700, 0o600)


def test_existing_files_are_left_as_they_are(tmp_path):
    """An existing file or folder keeps its mode and content: its owner chose them."""
    file, folder = tmp_path / "f", tmp_path / "d"
    file.write_text("kept")
    file.chmod(0o640)
    folder.mkdir(mode=0o750)
    folder.chmod(0o750)
    private_file(file)
    private_dir(folder)
    assert (mode(file), file.read_text(), mode(folder)) == (0o640, "kept", 0o750)


@pytest.mark.parametrize("mask", UMASKS[:2])
def test_new_sqlite_database_and_its_wal_are_owner_only(tmp_path, mask):
    """open_store creates the database, its -wal and -shm (and the migration lock while held) with mode 0600 under
    any umask; the lock is gone afterwards."""
    url = f"sqlite:///{tmp_path / 'ats-inbox.db'}"
    with umask(mask):
        with _one_migrator(url):
            lock = mode(tmp_path / "ats-inbox.db.migrate-lock")
        store = open_store(url)
        try:
            store.counts()
            modes = {p.name: mode(p) for p in tmp_path.iterdir()}
        finally:
            store.close()
    assert lock == 0o600
    assert modes == {"ats-inbox.db": 0o600, "ats-inbox.db-wal": 0o600, "ats-inbox.db-shm": 0o600}
