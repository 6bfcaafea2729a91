"""`ats-inbox poll --dry-run`: what a pass would do with each new mail, touching nothing.

The mailbox is opened read-only (EXAMINE; no folder created, no flag, no move), bodies are
read with BODY.PEEK[], the database is only read (and not created when it does not exist),
and the ATS is only asked for its directory (jobs, pipelines, sources). Each mail gets the
plan the real pass would follow (daemon.intake.flow.MessageFlow.plan): who, which resumes, which
job, stage and source, or why it would be ignored or set aside.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from daemon.ats.directory import AtsDirectory
from daemon.config import Settings
from daemon.domain import Person, Status
from daemon.errors import UnparseableMail
from daemon.intake.flow import Candidacy, FlowOptions, MessageFlow, Plan, named
from daemon.intake.position import fresh_uids
from daemon.mail.parsing import parse_email
from daemon.mailbox.base import DONE_KEYWORD, REVIEW_KEYWORD, Mailbox
from daemon.mailbox.imap import ImapMailbox
from daemon.routing import load_rules
from daemon.store import Store, open_store
from daemon.store.watch import sqlite_path

log = logging.getLogger(__name__)
BATCH = 20


@dataclass(frozen=True, slots=True)
class Preview:
    uid: int
    line: str
    status: str  # submitted (would be), ignored, review, known (already handled), unreadable


def preview(settings: Settings, flow: MessageFlow, mailbox: Mailbox, store: Store | None) -> Iterator[Preview]:
    """One Preview per mail the next pass would take, in order."""
    info = mailbox.open()
    try:
        uids = _new_uids(settings, mailbox, store, info.uidvalidity)
        for start in range(0, len(uids), BATCH):
            batch = uids[start:start + BATCH]
            facts = mailbox.facts(batch)
            readable = [uid for uid in batch if uid in facts and facts[uid].size <= settings.imap.max_message_bytes]
            bodies = mailbox.fetch([uid for uid in readable if not facts[uid].keywords])
            for uid in batch:
                if uid in facts:
                    yield _one(uid, facts[uid].keywords, facts[uid].size, bodies.get(uid), flow, settings)
    finally:
        mailbox.close()


def _new_uids(settings: Settings, mailbox: Mailbox, store: Store | None, uidvalidity: int) -> list[int]:
    """The UIDs the next pass would look at: pending ones, then those above the highest seen
    (on a first pass: those in its window)."""
    account, folder = mailbox.account, mailbox.folder
    state = store.folder_state(account, folder) if store is not None else None
    if state is not None and state.uidvalidity == uidvalidity:
        records = store.messages_at(account, folder, uidvalidity, store.pending_uids(account, folder, uidvalidity))
        owed = sorted(uid for uid, record in records.items() if record.status == Status.PENDING)
        known = set(owed)
        return owed + [uid for uid in fresh_uids(mailbox, state) if uid not in known]
    window = settings.imap.first_pass
    inside = mailbox.window(window.since(datetime.now(UTC).date()), window.unseen_only)
    return sorted(uid for uid in mailbox.uids_after(0) if uid in inside)


def _one(uid: int, keywords: frozenset[str], size: int, raw: bytes | None, flow: MessageFlow,
         settings: Settings) -> Preview:
    if keywords & {DONE_KEYWORD, REVIEW_KEYWORD}:
        return Preview(uid, f"UID {uid}: already handled by an earlier run ({', '.join(sorted(keywords))}); "
                            "nothing would be sent", "known")
    if raw is None:
        limit = settings.imap.max_message_bytes
        return Preview(uid, f"UID {uid}: would be set aside: too large ({size} bytes, limit {limit})", "review")
    try:
        email = parse_email(raw, limits=flow.options.structure)
    except UnparseableMail as exc:
        return Preview(uid, f"UID {uid}: would be set aside: {exc.reason}: {exc}", "unreadable")
    plan = flow.plan(email)
    who = named(Person(email.sender_name, email.sender_email)) or "unknown"
    return Preview(uid, f"UID {uid}: from {who}, subject {email.subject!r}: {_said(plan)}", plan.status)


def _said(plan: Plan) -> str:
    rule = f" (rule: {plan.rule})" if plan.rule else ""
    if plan.status == Status.IGNORED:
        return f"would be ignored: {plan.reason}"
    if plan.status != Status.SUBMITTED:
        return f"would be set aside: {plan.reason}{rule}"
    decision = plan.decision
    job = decision.job if decision is not None else None
    stage = decision.stage.name if decision is not None and decision.stage is not None else "first stage"
    source = decision.source.name if decision is not None and decision.source is not None else "the [ats] source"
    files = ", ".join(r.filename or r.upload_name for r in plan.resumes)
    title = job.title if job is not None else "?"
    people = "; ".join(_person(c) for c in plan.candidacies if c.resumes)
    forwarded = f", forwarded by {named(plan.forwarder)}" if plan.forwarder else ""
    return f"would be submitted to {title!r} ({stage}, {source}) as {people}{forwarded} with {files}{rule}"


def _person(candidacy: Candidacy) -> str:
    if candidacy.person is not None and candidacy.person.address:
        return named(candidacy.person)
    return "the person the ATS reads in the CV"


def existing_store(url: str) -> Store | None:
    """The database, only when it exists: a dry run creates nothing."""
    path = sqlite_path(url)
    if path is not None and not Path(path).exists():
        return None
    return open_store(url, migrate=False)


def run(settings: Settings, client) -> tuple[list[Preview], str]:
    """The previews for the next pass, and a one-line summary."""
    store = existing_store(settings.database_url)
    directory = AtsDirectory(client, source_name=settings.ats.source)
    rules = load_rules(settings.rules_path)
    flow = MessageFlow(store, client, directory, FlowOptions(max_message_bytes=settings.imap.max_message_bytes,
                                                                limits=settings.resumes), rules=lambda: rules)
    try:
        previews = list(preview(settings, flow, ImapMailbox(settings.imap, read_only=True), store))
    finally:
        if store is not None:
            store.close()
    counts: dict[str, int] = {}
    for item in previews:
        counts[item.status] = counts.get(item.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no new mail"
    return previews, f"dry run: {summary}; nothing was sent, flagged, moved or recorded"
