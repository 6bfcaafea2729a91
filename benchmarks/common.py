"""What the benchmark's scripts share: where the mailbox and the ATS are, and the mail specs."""

from __future__ import annotations

import json
import ssl
import statistics
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

from benchmarks.generate import Spec

FETCH_BYTES = 4 * 1024 * 1024  # bodies per FETCH, at most: the daemon's default `fetch_bytes`


@dataclass(frozen=True, slots=True)
class Target:
    """One run's mailbox and ATS, written to a JSON file for a script in a subprocess."""

    host: str
    port: int
    user: str
    password: str
    ca_file: str
    folder: str
    ats_url: str
    token: str
    manifest: str  # JSON lines of Spec, in UID order

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self)))
        return path

    @classmethod
    def load(cls, path: str) -> Target:
        return cls(**json.loads(Path(path).read_text()))

    def imap(self) -> IMAPClient:
        context = ssl.create_default_context(cafile=self.ca_file)
        client = IMAPClient(self.host, port=self.port, ssl=True, ssl_context=context, timeout=60)
        client._imap.debug = 4  # as the daemon's connect(): imaplib formats no mail for its debug logger
        client.login(self.user, self.password)
        return client

    def specs(self) -> list[Spec]:
        with open(self.manifest) as lines:
            return [Spec.from_json(json.loads(line)) for line in lines]


def batches(uids: list[int], sizes: dict[int, int], limit: int = FETCH_BYTES) -> Iterator[list[int]]:
    """Runs of UIDs whose bodies stay under `limit` bytes together (one message at least)."""
    chunk: list[int] = []
    total = 0
    for uid in uids:
        if chunk and total + sizes[uid] > limit:
            yield chunk
            chunk, total = [], 0
        chunk.append(uid)
        total += sizes[uid]
    if chunk:
        yield chunk


# -- a running daemon's database, read by the benchmarks that start `ats-inbox run` (mailboxes, arrival) ----------


def rows(database: str, sql: str) -> list[Any]:
    """The rows of one query on the daemon's database (SQLite or PostgreSQL URL)."""
    # imported here: floor.py imports this module, and its measured CPU must not include SQLAlchemy's import
    from sqlalchemy import create_engine, text

    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql)))
    finally:
        engine.dispose()


def scalar(database: str, sql: str) -> int:
    """One number from the daemon's database; 0 while it is not there or not migrated yet."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return rows(database, sql)[0][0]
    except SQLAlchemyError:
        return 0


def epoch(stamp: str | datetime) -> float:
    """A stored UTC datetime (SQLite's text, PostgreSQL's datetime) as seconds since the epoch."""
    moment = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(stamp)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def alive(daemons: Sequence[subprocess.Popen], work: Path) -> None:
    assert all(d.poll() is None for d in daemons), f"a daemon exited: see {work}/run-*.err"


def wait_settled(database: str, expected: int, daemons: Sequence[subprocess.Popen], work: Path,
                 limit: float = 900) -> float:
    """When `expected` mails are settled (the time), polling the daemons' database; fails after `limit` seconds."""
    return _wait_count(database, "SELECT count(*) FROM messages WHERE status != 'pending'", expected, daemons, work,
                       limit, 0.2, "not every mail was settled")


def wait_passes(database: str, mailboxes: int, daemons: Sequence[subprocess.Popen], work: Path,
                limit: float = 120) -> float:
    """When `mailboxes` mailboxes have each finished a pass (the time): the daemons are up and listening."""
    return _wait_count(database, "SELECT count(DISTINCT mailbox) FROM passes WHERE finished_at IS NOT NULL",
                       mailboxes, daemons, work, limit, 0.1, "the mailboxes did not all pass")


def _wait_count(database: str, query: str, expected: int, daemons: Sequence[subprocess.Popen], work: Path,
                limit: float, every: float, failure: str) -> float:
    """When the count `query` gives reaches `expected` (the time), the daemons alive throughout."""
    deadline = time.time() + limit
    while time.time() < deadline:
        alive(daemons, work)
        if scalar(database, query) >= expected:
            return time.time()
        time.sleep(every)
    raise RuntimeError(f"{failure} within {limit} s: see {work}/run-*.err")


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, 95th percentile (nearest rank below) and maximum, in the values' unit, to two decimals."""
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 2), "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
            "max": round(ordered[-1], 2)}
