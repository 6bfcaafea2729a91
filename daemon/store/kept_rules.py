"""The last good rule set, kept with the state: what a start with invalid rule files runs with.

One row per rules folder (`[rules] path` as configured): the files' names and text exactly as
last accepted, their fingerprint and when. Rule files hold routing patterns, job codes and
stage names, never secrets. Plain SQLAlchemy: SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from daemon.store.models import KeptRules, utcnow
from daemon.store.repository import Store


@dataclass(frozen=True, slots=True)
class RuleTexts:
    """A rule set as its files: (name, text) in the order they are read, with their fingerprint."""

    fingerprint: str
    files: tuple[tuple[str, str], ...]
    accepted_at: datetime | None = None  # when it was accepted (kept); None: not kept yet


class RulesKeeper:
    """Reads and writes the kept rule set of one folder in the store."""

    def __init__(self, store: Store, folder: str):
        self.store, self.folder = store, folder

    def last_good(self) -> RuleTexts | None:
        with self.store.reading() as s:
            row = s.get(KeptRules, self.folder)
            if row is None:
                return None
            files = tuple((str(name), str(text)) for name, text in json.loads(row.files))
            return RuleTexts(row.fingerprint, files, _aware(row.accepted_at))

    def keep(self, fingerprint: str, files: Sequence[tuple[str, str]]) -> datetime:
        """Keep this set as the last good one (unless it is already kept); when it was accepted. Daemons starting
        together on one PostgreSQL may both find no row and both insert: the one that loses reads the row the other
        wrote and goes on from there."""
        try:
            return self._keep(fingerprint, files)
        except IntegrityError:
            return self._keep(fingerprint, files)

    def _keep(self, fingerprint: str, files: Sequence[tuple[str, str]]) -> datetime:
        with self.store.session() as s:
            row = s.get(KeptRules, self.folder)
            if row is not None and row.fingerprint == fingerprint:
                return _aware(row.accepted_at)
            if row is None:
                row = KeptRules(folder=self.folder)
                s.add(row)
            row.fingerprint, row.files, row.accepted_at = fingerprint, json.dumps([list(f) for f in files]), utcnow()
            return row.accepted_at


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes: they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
