"""`ats-inbox poll --dry-run` and `backfill --dry-run`: what a pass would do with each mail, touching nothing.

The mailbox is opened read-only (EXAMINE; no folder created, no flag, no move), bodies are
read with BODY.PEEK[], the database is only read (and not created when it does not exist),
and the ATS is only asked for its directory (jobs, pipelines, sources). Each mail is read and
planned by the run's own functions (daemon.intake.planning: `read`, `plan`, the size and flood
limits) with the run's options (`FlowOptions.from_settings`) and a target journalled by an
earlier attempt, so the preview says what the pass would do: who the candidate is and who
forwarded, which resumes, which job, stage and source, or why it would be ignored or set aside.
The mail looked at is chosen as the run chooses it (daemon.intake.position): on a first pass,
the mail in its window, and what it leaves out is counted and dated; for a backfill, the
folder's mail since the date that has no record.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

from daemon.ats.directory import AtsDirectory
from daemon.config import Settings
from daemon.domain import MessageKey, Person, Status
from daemon.intake import planning
from daemon.intake.journal import StoreJournal
from daemon.intake.lifecycle import owed
from daemon.intake.planning import Directory, FlowOptions, Plan, named, who
from daemon.intake.position import LeftOut, backfill_uids, fresh_uids, left_out, window_uids
from daemon.intake.submission import Target, recorded_target
from daemon.mail import ParsedEmail
from daemon.mailbox.base import DONE_KEYWORD, REVIEW_KEYWORD, Mailbox
from daemon.mailbox.imap import ImapMailbox
from daemon.routing import RuleSet, load_rules
from daemon.store import Store, open_store
from daemon.store.watch import sqlite_path

log = logging.getLogger(__name__)
BATCH = 20


@dataclass(frozen=True, slots=True)
class Preview:
    uid: int
    line: str
    status: str  # submitted (would be), ignored, review, known (already handled), unreadable, pending
    plan: Plan | None = None  # None for mail already handled


@dataclass
class Planner:
    """The run's planning with what a dry run knows: the options, rules and directory, the store
    (targets journalled earlier, the sender's recent mail) and the mail planned so far."""

    options: FlowOptions
    rules: RuleSet
    directory: Directory
    store: Store | None = None
    senders: Counter[str] = field(default_factory=Counter)  # mail planned in this dry run, by sender

    def preview(self, uid: int, keywords: frozenset[str], size: int, raw: bytes | None,
                target: Target | None = None) -> Preview:
        if keywords & {DONE_KEYWORD, REVIEW_KEYWORD}:
            return Preview(uid, f"UID {uid}: already handled by an earlier run ({', '.join(sorted(keywords))}); "
                                "nothing would be sent", "known")
        if raw is None:
            plan = planning.oversized(size, self.options)
            return Preview(uid, f"UID {uid}: would be set aside: {plan.reason}", plan.status, plan)
        try:
            email = planning.read(raw, self.options)
        except Exception as exc:  # the run sets such mail aside with this reason
            plan = planning.unreadable(exc)
            return Preview(uid, f"UID {uid}: would be set aside: {plan.reason}", "unreadable", plan)
        plan = (self._flood(email) if target is None else None) or planning.plan(
            email, self.options, self.rules, self.directory, target)
        if email.sender_email:
            self.senders[email.sender_email] += 1
        who = named(Person(email.sender_name, email.sender_email)) or "unknown"
        return Preview(uid, f"UID {uid}: from {who}, subject {email.subject!r}: {_said(plan)}", plan.status, plan)

    def _flood(self, email: ParsedEmail) -> Plan | None:
        """The run's flood cap: the sender's mail recorded within the hour, and planned before this one."""
        if not planning.capped(self.options, email):
            return None
        sender = email.sender_email
        since = datetime.now(UTC) - planning.FLOOD_WINDOW
        recorded = self.store.count_from(sender, since) if self.store is not None else 0
        return planning.flooding(recorded + self.senders[sender], self.options, email)


@dataclass
class Sweep:
    """What a dry run found besides the mail it plans: the mail a first pass would leave out."""

    left_out: LeftOut | None = None


def preview(settings: Settings, planner: Planner, mailbox: Mailbox, store: Store | None,
            backfill_since: date | None = None, sweep: Sweep | None = None) -> Iterator[Preview]:
    """One Preview per mail the next pass (a backfill since `backfill_since`, when given) would take,
    in order; `sweep` is told what a first pass would leave out."""
    info = mailbox.open()
    try:
        if backfill_since is not None:
            uids, targets = _backfill_uids(mailbox, store, info.uidvalidity, backfill_since)
        else:
            uids, targets = _new_uids(settings, mailbox, store, info.uidvalidity, sweep or Sweep())
        for start in range(0, len(uids), BATCH):
            batch = uids[start:start + BATCH]
            facts = mailbox.facts(batch)
            readable = [uid for uid in batch if uid in facts and facts[uid].size <= settings.imap.max_message_bytes]
            bodies = mailbox.fetch([uid for uid in readable if not facts[uid].keywords])
            for uid in batch:
                if uid in bodies.undelivered:  # the run records it as pending, to be fetched again
                    yield Preview(uid, f"UID {uid}: not fetched, would be tried again: {bodies.undelivered[uid]}",
                                  "pending")
                elif uid in facts:
                    yield planner.preview(uid, facts[uid].keywords, facts[uid].size, bodies.get(uid), targets.get(uid))
    finally:
        mailbox.close()


def _new_uids(settings: Settings, mailbox: Mailbox, store: Store | None,
              uidvalidity: int, sweep: Sweep) -> tuple[list[int], dict[int, Target]]:
    """The UIDs the next pass would look at: pending ones, then those above the highest seen
    (on a first pass: those in its window, and `sweep` told what it leaves out); and the
    targets journalled for pending ones."""
    account, folder = mailbox.account, mailbox.folder
    state = store.folder_state(account, folder) if store is not None else None
    if state is not None and state.uidvalidity == uidvalidity:
        due, targets = _owed(store, account, folder, uidvalidity)
        known = set(due)
        return due + [uid for uid in fresh_uids(mailbox, state) if uid not in known], targets
    window = settings.imap.first_pass
    inside, outside = window_uids(mailbox, window.since(datetime.now(UTC).date()), window.unseen_only)
    sweep.left_out = left_out(mailbox, outside)
    return inside, {}


def _backfill_uids(mailbox: Mailbox, store: Store | None, uidvalidity: int,
                   since: date) -> tuple[list[int], dict[int, Target]]:
    """The UIDs a backfill would look at, as FolderPosition takes them: pending ones, then the
    folder's mail since `since` that has no record; and the targets journalled for pending ones."""
    account, folder = mailbox.account, mailbox.folder
    due, targets = _owed(store, account, folder, uidvalidity) if store is not None else ([], {})
    known = set(due)
    key = partial(MessageKey, account, folder, uidvalidity)
    return due + [uid for uid in backfill_uids(mailbox, store, key, since) if uid not in known], targets


def _owed(store: Store, account: str, folder: str, uidvalidity: int) -> tuple[list[int], dict[int, Target]]:
    """The pending UIDs a pass takes first, and the targets journalled for them."""
    records = store.messages_at(account, folder, uidvalidity, store.pending_uids(account, folder, uidvalidity))
    due = sorted(uid for uid, record in records.items() if owed(record.status))
    return due, {uid: target for uid in due
                 if (target := recorded_target(StoreJournal(store, records[uid].id))) is not None}


def _said(plan: Plan) -> str:
    rule = f" (rule: {plan.rule})" if plan.rule else ""
    if plan.status == Status.IGNORED:
        return f"would be ignored: {plan.reason}{_people(plan)}"
    if plan.status != Status.SUBMITTED:
        return f"would be set aside: {plan.reason}{rule}{_people(plan)}"
    decision = plan.decision
    if decision is None:
        where = "the stage and source chosen earlier"
    else:
        stage = decision.stage.name if decision.stage is not None else "first stage"
        source = (decision.source.name if decision.source is not None else
                  f"the agency's source {plan.agency!r}" if plan.agency else "the [ats] source")
        where = f"{stage}, {source}"
    files = ", ".join(r.filename or r.upload_name for r in plan.resumes)
    title = " and ".join(repr(job.title) for job in ((plan.job, *plan.also) if plan.job else ())) or "'?'"
    people = "; ".join(who(c) for c in plan.candidates)
    forwarded = f", {_sender(plan)} {named(plan.forwarder)}" if plan.forwarder else ""
    return f"would be submitted to {title} ({where}) as {people}{forwarded} with {files}{rule}"


def _people(plan: Plan) -> str:
    """Who the candidate would be and who forwarded, for mail that is not submitted."""
    said = [f"candidate {'; '.join(who(c) for c in plan.candidates)}"] if plan.candidates else []
    said += [f"{_sender(plan)} {named(plan.forwarder)}"] if plan.forwarder else []
    return f"; {', '.join(said)}" if said else ""


def _sender(plan: Plan) -> str:
    """How the one who sent the mail in is named: 'sent in by the agency X', or 'forwarded by'."""
    return f"sent in by the agency {plan.agency}:" if plan.agency else "forwarded by"


def existing_store(url: str) -> Store | None:
    """The database, only when it exists: a dry run creates nothing."""
    path = sqlite_path(url)
    if path is not None and not Path(path).exists():
        return None
    return open_store(url, migrate=False)


def run(settings: Settings, client, backfill_since: date | None = None) -> tuple[list[Preview], str]:
    """The previews for the next pass (or a backfill since `backfill_since`) of every mailbox, as the run
    takes each (its own account, folders, source and rules), and a summary: the counts, and on a first pass
    the mail it would leave out and how to take it in. With several mailboxes each line names its mailbox."""
    store = existing_store(settings.database_url)
    mailboxes = settings.all_mailboxes()
    senders: Counter[str] = Counter()  # the flood cap counts a sender's mail over every mailbox, as the run's store
    previews: list[Preview] = []
    left_out: list[str] = []
    try:
        for mailbox in mailboxes:
            alone = settings.for_mailbox(mailbox) if len(mailboxes) > 1 else settings
            sweep = Sweep()
            ats = AtsDirectory(client, source_name=alone.ats.source)
            planner = Planner(FlowOptions.from_settings(alone), load_rules(alone.rules_path),
                              Directory(ats.open_jobs(), ats.pipelines(), ats.sources()), store, senders)
            found = list(preview(alone, planner, ImapMailbox(alone.imap, read_only=True), store,
                                 backfill_since, sweep))
            named = f"[{mailbox.name}] " if len(mailboxes) > 1 else ""
            previews += [replace(item, line=named + item.line) for item in found] if named else found
            if sweep.left_out is not None and sweep.left_out.count:
                left_out.append(named + _leaves_out(sweep.left_out, alone))
    finally:
        if store is not None:
            store.close()
    counts: dict[str, int] = {}
    for item in previews:
        counts[item.status] = counts.get(item.status, 0) + 1
    nothing = f"no mail since {backfill_since} without a record" if backfill_since else "no new mail"
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or nothing
    said = f"dry run: {summary}; nothing was sent, flagged, moved or recorded"
    return previews, "\n".join([said, *left_out])


def _leaves_out(left: LeftOut, settings: Settings) -> str:
    """The mail a first pass leaves out: how many, from when to when, and how to take it in."""
    window = settings.imap.first_pass
    dates = f", {left.dates()}" if left.dates() else ""
    return (f"the first pass takes only {window.describe()}: it would leave out {left.count} message(s) in "
            f"{settings.imap.folder!r}{dates}, untouched; take them in after it with `{left.command()}` "
            f"(see first with `{left.command()} --dry-run`)")
