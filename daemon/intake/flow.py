"""One message's way, top to bottom: parse, plan (daemon.intake.planning), submit -> an Outcome.

The runner (daemon.intake.runner) has fetched the bytes, recorded the message and counted the
attempt; it records the Outcome this returns and only then acts on the mailbox. Nothing
here raises through the runner: every error becomes an Outcome whose disposition
(daemon.intake.outcome.classify) tells the runner what it means.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.ats.models import Job
from daemon.domain import Status
from daemon.errors import NoCandidate
from daemon.intake import planning
from daemon.intake.journal import DONE, StoreJournal
from daemon.intake.lifecycle import status_after
from daemon.intake.outcome import Disposition, MailSummary, Outcome, classify, reason_of
from daemon.intake.planning import Candidacy, Directory, FlowOptions, Plan, named
from daemon.intake.replying import Replies
from daemon.intake.submission import (
    ROUTE,
    Application,
    JobJournal,
    Journal,
    People,
    PrefixedJournal,
    Target,
    recorded_target,
    submit,
)
from daemon.mail import ParsedEmail
from daemon.mail.coverletter import candidate_letter
from daemon.mail.spool import MailBytes
from daemon.routing import RuleSet
from daemon.store.models import MessageRecord
from daemon.store.repository import Store

__all__ = ["FlowOptions", "MessageFlow"]  # FlowOptions lives in daemon.intake.planning

log = logging.getLogger(__name__)
NOT_FOUND = "nobody (set aside)"  # found_by of a mail set aside for want of a candidate


class MessageFlow:
    """Handles one recorded message against the ATS; see the module docstring.

    `rules` gives the rule set in force (the runner's caller may swap it between messages).
    """

    def __init__(self, store: Store, client: AtsClient, directory: AtsDirectory, options: FlowOptions,
                 sleep: Callable[[float], object] = time.sleep, rules: Callable[[], RuleSet] = RuleSet,
                 replies: Replies | None = None):
        self.store, self.client, self.directory = store, client, directory
        self.options = options
        self.replies = replies  # receipts, acknowledgements, replies to receipts (daemon.intake.replying)
        self._sleep = sleep
        self._rules = rules
        self.people = People()  # flows of several messages may run at once (daemon.intake.runner)

    def handle(self, record: MessageRecord, raw: bytes | MailBytes | None) -> Outcome:
        """The outcome for `record`, whose bytes are `raw` (in memory or spooled; None: too large to
        download)."""
        if raw is None:
            large = planning.oversized(record.size, self.options)
            return Outcome(large.status, large.reason)
        email: ParsedEmail | None = None
        answered = None
        try:
            email = planning.read(raw, self.options)
            answered = self.replies.recognise(record, email, self.directory) if self.replies else None
            outcome = answered or self._route_and_submit(record, email)
        except Exception as exc:  # every error becomes an outcome; the runner decides what it means
            outcome = self._with_target(record, _failed(record, exc))
        if email is not None and self.replies is not None and answered is None:
            self.replies.after(record, email, outcome)  # recorded now, sent after the pass
        return outcome if email is None else replace(outcome, mail=MailSummary.of(email))

    def _route_and_submit(self, record: MessageRecord, email: ParsedEmail) -> Outcome:
        journal = StoreJournal(self.store, record.id, sleep=self._sleep)
        target = recorded_target(journal)  # decided on an earlier attempt: never decided again
        flood = self._flooding(email) if target is None else None
        if flood is not None:
            return Outcome(flood.status, flood.reason)
        plan = self.plan(email, target)
        common = {"rule": plan.rule[:200], "route_reason": plan.route_reason[:2000], "found_by": plan.found_by,
                  "forwarded_by": named(plan.forwarder)[:400],
                  "candidates": tuple(c.person for c in plan.candidacies if c.person is not None),
                  "job_code": plan.job.code if plan.job is not None else ""}
        if plan.status != Status.SUBMITTED:
            log.info("mail.planned", extra={"record": record.id, "status": plan.status, "rule": plan.rule})
            return Outcome(plan.status, set_aside_reason(plan.reason, plan, plan.status)[:2000], **common)
        jobs = (plan.job, *(t.job for t in target.also)) if target is not None else (plan.job,)
        try:
            done = [self._submit_one(email, job, plan, candidacy, _journal_for(journal, i, target, j))
                    for i, candidacy in enumerate(c for c in plan.candidacies if c.resumes)
                    for j, job in enumerate(jobs)]
        except Exception as exc:  # what was known of a forward stays on the record of a failed mail
            return _with_forward(self._with_target(record, _failed(record, exc)), plan)
        log.info("mail.submitted", extra={"record": record.id, "jobs": len(jobs), "candidates": len(done)})
        return Outcome(Status.SUBMITTED, "; ".join(plan.notes)[:2000], job_id=", ".join(str(j.id) for j in jobs)[:100],
                       job_title="; ".join(j.title for j in jobs)[:500],
                       applicant_id=", ".join(dict.fromkeys(d.applicant_id for d in done))[:100],  # once per person
                       candidate_id=", ".join(d.candidate_id for d in done)[:100], **common)

    def _submit_one(self, email: ParsedEmail, job: Job, plan: Plan, candidacy: Candidacy, journal: Journal):
        app = Application(email, candidacy.resumes, job, plan.decision, person=candidacy.person,
                          forwarder=plan.forwarder, person_from_cv=candidacy.from_cv, agency=plan.agency,
                          cover_letter=candidate_letter(email, candidacy.person, plan.forwarder is not None,
                                                        self.options.cover_letter_chars))
        return submit(app, self.client, self.directory, journal, received=email.date, people=self.people)

    def _flooding(self, email: ParsedEmail) -> Plan | None:
        """Ignored or set aside when the sender's mail recorded within the hour reaches the cap (planning.flooding)."""
        if not planning.capped(self.options, email):
            return None
        recent = self.store.count_from(email.sender_email, datetime.now(UTC) - planning.FLOOD_WINDOW)
        return planning.flooding(recent, self.options, email)

    def plan(self, email: ParsedEmail, target: Target | None = None) -> Plan:
        """What would become of this mail (daemon.intake.planning.plan with this flow's options,
        rules and directory); the directory is read only when no target was journalled."""
        directory = None if target is not None else Directory(self.directory.open_jobs(), self.directory.pipelines(),
                                                               self.directory.sources())
        return planning.plan(email, self.options, self._rules(), directory, target)

    def _with_target(self, record: MessageRecord, outcome: Outcome) -> Outcome:
        """A failed outcome names the job when one was decided (a person checking an uncertain
        message needs to know where to look in the ATS)."""
        if outcome.disposition not in (Disposition.UNCERTAIN, Disposition.PERMANENT, Disposition.BUG):
            return outcome
        step = self.store.steps(record.id).get(ROUTE)
        if step is None or step.status != DONE:
            return outcome
        target = Target.from_journal(json.loads(step.detail))
        return replace(outcome, job_id=", ".join(str(t.job.id) for t in target.every)[:100],
                       job_title="; ".join(t.job.title for t in target.every)[:500], rule=target.rule,
                       route_reason="; ".join(target.reasons))


def set_aside_reason(reason: str, plan: Plan, status: str) -> str:
    """A set-aside forward's reason: how far recognising the forward got (first, so that the review
    listing shows it), who forwarded it, then why it was set aside; other reasons as they are."""
    if status != Status.REVIEW or plan.forwarder is None:
        return reason
    forwarded = f"forwarded by {named(plan.forwarder)}"
    return f"{plan.recognition}; {forwarded}; {reason}" if plan.recognition else f"{reason}; {forwarded}"


def _with_forward(outcome: Outcome, plan: Plan) -> Outcome:
    """A failed outcome with the plan's forwarder and how the candidate was found (nobody, when
    no candidate address was found in the mail nor in the ATS's reading of the CV)."""
    found_by = NOT_FOUND if isinstance(outcome.error, NoCandidate) else plan.found_by
    return replace(outcome, reason=set_aside_reason(outcome.reason, plan, outcome.status)[:2000],
                   found_by=found_by, forwarded_by=named(plan.forwarder)[:400])


def _journal_for(journal: Journal, index: int, target: Target | None = None, job: int = 0) -> Journal:
    """The first candidate of a mail uses the message's journal; the others a part of it each. Each
    further job a person chose (`target.also`) a part of that again, sharing its CVs and applicant."""
    candidacy = journal if index == 0 else PrefixedJournal(journal, f"candidate {index + 1}/")
    if job == 0 or target is None:
        return candidacy
    return JobJournal(candidacy, target.also[job - 1], f"job {job + 1}/")


def _failed(record: MessageRecord, exc: Exception) -> Outcome:
    disposition = classify(exc)
    if disposition is Disposition.BUG:
        log.exception("mail.crashed", extra={"record": record.id})
    else:
        log.info("mail.failed", extra={"record": record.id, "disposition": disposition.value,
                                       "error": type(exc).__name__})
    reason = reason_of(exc)
    if disposition is Disposition.UNCERTAIN:
        reason = f"ATS outcome unknown, check the ATS before retrying: {exc}"
    return Outcome(status_after(disposition, Status.PENDING), reason[:2000], disposition, exc)
