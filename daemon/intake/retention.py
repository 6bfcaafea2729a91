"""Personal data in the database: removed from settled messages after `[database] retention_days`,
and from one person's messages on request (`ats-inbox messages purge --email ADDRESS`).

What is personal data here, and what happens to it:

    cleared     sender_name, sender_email, subject, sent_at, forwarded_by (the forwarder's address),
                note (a person's words about the candidate), the names in `attachments` (sizes stay)
    scrubbed    reason, route_reason, last_error, action_error, and the journal's step details:
                the cleared values and any e-mail address in them become "[removed]"; a step's
                `email` and `parsed` (what the ATS read from the CV) are emptied
    kept        ids (record, Message-ID, UIDs, ATS ids), hashes, sizes, status, outcome, job,
                rule, attempts, times, who resolved it, and every journal step with its ATS id
    replies     the mails the daemon sends about these messages (and, on a purge, every one to the
                person or naming their address): recipient and composed mail emptied, addresses in
                the reason scrubbed, one still queued never sent; kind, status and Message-ID stay,
                so none is recorded or sent twice (daemon.store.outbox.Outbox.forget)

Erasure reaches the disk: every connection deletes securely (SQLite zeroes what it deletes or
overwrites), and after retention or a purge removed data the write-ahead log is copied into the
database and emptied (daemon.store.database.checkpoint), so no older page with the data stays in it.

The table of applicants this daemon created (email -> ATS applicant id) is the only guard
against creating a second applicant when the same person applies again, so retention keeps
it; `messages purge --email` removes that person's row. The ATS keeps its own copy of the
applicant, and the mailbox keeps the mail: both are outside this database.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from daemon.intake.lifecycle import CLEANABLE, keeps_personal_data
from daemon.intake.submission import APPLICANT
from daemon.store.database import checkpoint
from daemon.store.models import MessageRecord, StepRecord
from daemon.store.outbox import Outbox
from daemon.store.repository import Store

log = logging.getLogger(__name__)
REMOVED = "[removed]"
CLEARED = ("sender_name", "sender_email", "subject", "forwarded_by", "note")
SCRUBBED = ("reason", "route_reason", "last_error", "action_error")
STEP_PERSONAL_KEYS = {"email": "", "parsed": {}}
BATCH = 200
_ADDRESS = re.compile(r"[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+\.[A-Za-z]{2,}")
_MIN_VALUE = 3  # shorter stored values are not searched for in texts ("A" would hit everything)


def purge_expired(store: Store, days: int, now: datetime) -> int:
    """Remove the personal data of settled messages recorded more than `days` days before `now`.

    Which statuses are cleaned is the lifecycle's (every status but pending is settled).
    Returns how many messages were cleaned; a message is cleaned once (its
    `personal_data_removed_at` is set).
    """
    ids = store.uncleaned(CLEANABLE, now - timedelta(days=days))
    for start in range(0, len(ids), BATCH):
        Outbox(store).forget(_addresses_scrubbed, message_pks=ids[start:start + BATCH])  # first: a crash retries it
        _clean(store, ids[start:start + BATCH], now)
    if ids:
        checkpoint(store.engine)
        log.info("retention.purged", extra={"messages": len(ids), "days": days})
    return len(ids)


@dataclass(frozen=True, slots=True)
class Purged:
    """What `purge_person` removed: the messages, those still pending, the applicant forgotten."""

    ids: tuple[int, ...]
    pending: tuple[int, ...]
    applicant_id: str  # "" when this daemon had no applicant for the address
    folders: tuple[str, ...]  # where the mails themselves are (the mailbox keeps them)


def purge_person(store: Store, email: str, now: datetime) -> Purged:
    """Remove the personal data of every message from `email` (sender, or the applicant's address
    in the journal) and forget the ATS applicant this daemon created for it."""
    address = email.strip().casefold()
    ids = sorted(store.ids_from(address) | set(_by_applicant_step(store, address)))
    records = store.messages_by_pk(ids)
    Outbox(store).forget(_addresses_scrubbed, message_pks=ids, address=address)
    for start in range(0, len(ids), BATCH):
        _clean(store, ids[start:start + BATCH], now)
    applicant_id = store.forget_applicant(address)
    checkpoint(store.engine)
    log.info("retention.person_purged", extra={"messages": len(ids), "applicant_forgotten": bool(applicant_id)})
    return Purged(tuple(ids), tuple(r.id for r in records if keeps_personal_data(r.status)), applicant_id,
                  tuple(sorted({r.placed_folder or r.folder for r in records})))


def _addresses_scrubbed(text: str) -> str:
    return scrub(text, ())


def _by_applicant_step(store: Store, address: str) -> Iterable[int]:
    for pk, detail in store.step_details_like(APPLICANT, f"%{_like(address)}%"):
        data = _json_or(detail, {})
        if isinstance(data, dict) and str(data.get("email", "")).casefold() == address:
            yield pk


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _clean(store: Store, ids: Sequence[int], now: datetime) -> None:
    """One transaction: each record's personal fields cleared, its texts and steps scrubbed."""
    def edit(record: MessageRecord, steps: list[StepRecord]) -> None:
        values = _personal_values(record)
        for name in CLEARED:
            setattr(record, name, "")
        record.sent_at = None
        record.attachments = _sizes_only(record.attachments)
        for name in SCRUBBED:
            setattr(record, name, scrub(getattr(record, name), values))
        for step in steps:
            step.detail = _scrub_detail(step.detail, values)
        record.personal_data_removed_at = now

    store.edit_messages(ids, edit)


def _personal_values(record: MessageRecord) -> list[str]:
    names = [a.get("name", "") for a in _attachment_list(record.attachments)]
    values = [record.sender_name, record.sender_email, record.subject, record.forwarded_by, *names]
    return sorted({v.strip() for v in values if len(v.strip()) >= _MIN_VALUE}, key=len, reverse=True)


def scrub(text: str, values: Sequence[str]) -> str:
    """`text` with each of `values` (any case) and every e-mail address replaced by "[removed]"."""
    if not text:
        return text
    for value in values:
        text = re.sub(re.escape(value), REMOVED, text, flags=re.IGNORECASE)
    return _ADDRESS.sub(REMOVED, text)


def _scrub_detail(detail: str, values: Sequence[str]) -> str:
    if not detail:
        return detail
    unreadable = object()
    data = _json_or(detail, unreadable)
    if data is unreadable:
        return scrub(detail, values)
    return json.dumps(_scrub_json(data, values))


def _scrub_json(data: Any, values: Sequence[str]) -> Any:
    if isinstance(data, dict):
        return {k: (STEP_PERSONAL_KEYS[k] if k in STEP_PERSONAL_KEYS else _scrub_json(v, values))
                for k, v in data.items()}
    if isinstance(data, list):
        return [_scrub_json(v, values) for v in data]
    return scrub(data, values) if isinstance(data, str) else data


def _json_or(text: str, fallback: Any) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return fallback


def _attachment_list(text: str) -> list[dict[str, Any]]:
    data = _json_or(text, []) if text else []
    return [a for a in data if isinstance(a, dict)] if isinstance(data, list) else []


def _sizes_only(text: str) -> str:
    """The attachments JSON with the names emptied and the sizes kept."""
    if not text:
        return text
    return json.dumps([{"name": "", "size": a.get("size", 0)} for a in _attachment_list(text)])
