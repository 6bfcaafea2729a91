"""Noticing that the database was replaced under a running daemon.

A deleted, moved-over or re-created database would make the daemon forget what it did and
submit the mailbox again. The daemon remembers the identity row written when its
database was created (and, for SQLite, which file it opened) and checks both before
each pass; a change stops it with DatabaseReplaced.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

from daemon.errors import DatabaseReplaced
from daemon.store.repository import Store


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL, None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


class DatabaseWatch:
    def __init__(self, store: Store, url: str):
        self.store = store
        self.path = sqlite_path(url)
        self.identity = store.identity()
        self.file = self._file()

    def _file(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        return stat.st_dev, stat.st_ino

    def check(self) -> None:
        """Raise DatabaseReplaced when the database is no longer the one opened at start."""
        where = str(self.path) if self.path else "database.url"
        if self.path is not None and self._file() != self.file:
            raise DatabaseReplaced(
                f"the database file {where} was deleted or replaced while ats-inbox ran; it stops so as "
                "not to submit mail again: put the right database back, then start it again")
        if self.store.identity() != self.identity:
            raise DatabaseReplaced(
                f"the database at {where} is not the one ats-inbox started with (restored or re-created?); "
                "it stops so as not to submit mail again: check database.url, then start it again")
