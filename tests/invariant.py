"""The invariant every fault-injection test checks afterwards.

Every delivered message ends exactly once as a candidate in the sandbox ATS or as a
recorded review/uncertain item with its reason (other copies of it are recorded as
duplicates); no applicant and no candidate exists twice.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from daemon.domain import Status
from daemon.mail.identity import content_key
from daemon.store import open_store


def records(database: Path | str) -> list:
    """The records of an SQLite file (a Path) or of a database URL (a str)."""
    store = open_store(database if isinstance(database, str) else f"sqlite:///{database}")
    try:
        return store.messages(limit=10_000)
    finally:
        store.close()


def check(state: dict, database: Path | str, delivered: list[bytes]) -> dict[str, str]:
    """Assert the invariant; return each delivered mail's final status by content key."""
    rows = records(database)
    by_mail: dict[str, list] = {}
    for row in rows:
        by_mail.setdefault(row.content_key, []).append(row)
    outcome = {}
    for raw in {content_key(m): m for m in delivered}.values():
        key = content_key(raw)
        settled = [r for r in by_mail.get(key, []) if r.status != Status.DUPLICATE]
        assert len(settled) == 1, f"mail {key[:8]} has {len(settled)} non-duplicate records"
        [record] = settled
        assert record.status != "pending", f"record #{record.id} is still pending: {record.last_error}"
        if record.status != Status.SUBMITTED:
            assert record.reason, f"record #{record.id} ({record.status}) has no reason"
        outcome[key] = record.status
    _no_twins(state)
    submitted = {r.candidate_id for r in rows if r.status == Status.SUBMITTED}
    candidates = {str(c["id"]) for c in state["candidates"]}
    assert submitted <= candidates, "a submitted record points at a candidate the ATS does not have"
    uncertain = sum(1 for r in rows if r.status == Status.UNCERTAIN)
    assert len(candidates) <= len(submitted) + uncertain, "the ATS has candidates no record accounts for"
    comments = Counter(str(a["candidate_id"]) for a in state["actions"])
    for candidate in submitted:
        assert comments[candidate] >= 1, f"candidate {candidate} has no confirmation comment"
    return outcome


def _no_twins(state: dict) -> None:
    emails = Counter(a["email"] for a in state["applicants"])
    assert all(n == 1 for n in emails.values()), f"applicant created twice: {emails}"
    pairs = Counter((str(c["applicant_id"]), str(c["job_id"])) for c in state["candidates"])
    assert all(n == 1 for n in pairs.values()), f"candidate created twice: {pairs}"
