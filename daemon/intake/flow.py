"""One message's way, top to bottom: parse, pick resumes, route, submit -> an Outcome.

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
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.ats.models import Job
from daemon.domain import Person, RuleAction, Status
from daemon.errors import NoResume, NoRoute
from daemon.intake.journal import DONE, StoreJournal
from daemon.intake.lifecycle import status_after
from daemon.intake.outcome import Disposition, MailSummary, Outcome, classify, reason_of
from daemon.intake.submission import (
    ROUTE,
    Application,
    Journal,
    People,
    PrefixedJournal,
    Target,
    recorded_target,
    submit,
)
from daemon.mail import ParsedEmail, Resume
from daemon.mail.automatic import automatic_mail
from daemon.mail.coverletter import cover_letter
from daemon.mail.forwards import CandidateSearch, find_candidate
from daemon.mail.parsing import STRUCTURE_LIMITS, StructureLimits, parse_email
from daemon.mail.resumes import ResumeLimits, pick_resumes
from daemon.routing import Decision, RuleSet, decide
from daemon.routing.inference import CODE_STEP, TITLE_STEP
from daemon.store.models import MessageRecord
from daemon.store.repository import Store

log = logging.getLogger(__name__)



@dataclass(frozen=True, slots=True)
class FlowOptions:
    max_message_bytes: int = 50 * 1024 * 1024
    limits: ResumeLimits = ResumeLimits()  # noqa: RUF009 (frozen, so sharing the default is safe)
    internal_senders: tuple[str, ...] = ()  # [intake]: people who never apply themselves
    own_addresses: tuple[str, ...] = ()  # the daemon's own: their mail is ignored
    max_per_sender_per_hour: int = 0  # 0: no flood cap
    cover_letter_chars: int = 1500  # of the mail's text quoted in the comment (0: none)

    @property
    def structure(self) -> StructureLimits:
        """The shape a mail may have: the default line bound grows with a larger size limit
        (a mail of `max_message_bytes` of base64 has about one line per 50 bytes)."""
        lines = max(STRUCTURE_LIMITS.max_lines, self.max_message_bytes // 50)
        return replace(STRUCTURE_LIMITS, max_lines=lines)


INFERENCE_STEPS = (CODE_STEP, TITLE_STEP)  # what decided when no rule did


FOUND_BY_CV = "ATS reading of the CV"


@dataclass(frozen=True, slots=True)
class Candidacy:
    """One person the mail applies for, and their resumes. `person` None, or with no address:
    the address comes from the ATS's reading of the CV (`from_cv`)."""

    person: Person | None
    resumes: tuple[Resume, ...]
    from_cv: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """What handling a mail comes to before anything is sent: submit, ignore or set aside."""

    status: str  # Status.SUBMITTED (to be submitted), Status.IGNORED or Status.REVIEW
    reason: str
    rule: str
    route_reason: str
    decision: Decision | None = None  # None when the target was journalled earlier
    forwarder: Person | None = None
    found_by: str = ""  # how the (first) candidate was found
    candidacies: tuple[Candidacy, ...] = ()
    notes: tuple[str, ...] = ()  # candidates of a bundle that could not be submitted, and why

    @property
    def resumes(self) -> tuple[Resume, ...]:
        return tuple(r for c in self.candidacies for r in c.resumes)


class MessageFlow:
    """Handles one recorded message against the ATS; see the module docstring.

    `rules` gives the rule set in force (the runner's caller may swap it between messages).
    """

    def __init__(self, store: Store, client: AtsClient, directory: AtsDirectory, options: FlowOptions,
                 sleep: Callable[[float], object] = time.sleep, rules: Callable[[], RuleSet] = RuleSet):
        self.store, self.client, self.directory = store, client, directory
        self.options = options
        self._sleep = sleep
        self._rules = rules
        self.people = People()  # flows of several messages may run at once (daemon.intake.runner)

    def handle(self, record: MessageRecord, raw: bytes | None) -> Outcome:
        """The outcome for `record`, whose bytes are `raw` (None: too large to download)."""
        if raw is None:
            limit = self.options.max_message_bytes
            return Outcome(Status.REVIEW, f"message too large ({record.size} bytes, limit {limit})")
        email: ParsedEmail | None = None
        try:
            email = parse_email(raw, limits=self.options.structure)
            outcome = self._route_and_submit(record, email)
        except Exception as exc:  # every error becomes an outcome; the runner decides what it means
            outcome = self._with_target(record, _failed(record, exc))
        return outcome if email is None else replace(outcome, mail=MailSummary.of(email))

    def _route_and_submit(self, record: MessageRecord, email: ParsedEmail) -> Outcome:
        journal = StoreJournal(self.store, record.id, sleep=self._sleep)
        target = recorded_target(journal)  # decided on an earlier attempt: never decided again
        if target is None and self._flooding(email):
            cap = self.options.max_per_sender_per_hour
            return Outcome(Status.IGNORED, f"more than {cap} mails from this sender within an hour "
                                           "(a loop or a flood); "
                                    "nothing sent to the ATS")
        plan = self.plan(email, target)
        common = {"rule": plan.rule[:200], "route_reason": plan.route_reason[:2000], "found_by": plan.found_by,
                  "forwarded_by": named(plan.forwarder)[:400]}
        if plan.status != Status.SUBMITTED:
            log.info("mail.planned", extra={"record": record.id, "status": plan.status, "rule": plan.rule})
            return Outcome(plan.status, plan.reason[:2000], **common)
        job = target.job if target is not None else plan.decision.job
        done = [self._submit_one(email, job, plan, candidacy, _journal_for(journal, i))
                for i, candidacy in enumerate(c for c in plan.candidacies if c.resumes)]
        log.info("mail.submitted", extra={"record": record.id, "job": str(job.id), "candidates": len(done)})
        return Outcome(Status.SUBMITTED, "; ".join(plan.notes)[:2000], job_id=str(job.id), job_title=job.title[:500],
                       applicant_id=", ".join(d.applicant_id for d in done)[:100],
                       candidate_id=", ".join(d.candidate_id for d in done)[:100], **common)

    def _submit_one(self, email: ParsedEmail, job: Job, plan: Plan, candidacy: Candidacy, journal: Journal):
        app = Application(email, candidacy.resumes, job, plan.decision, person=candidacy.person,
                          forwarder=plan.forwarder, person_from_cv=candidacy.from_cv,
                          cover_letter=cover_letter(email.body_text, self.options.cover_letter_chars))
        return submit(app, self.client, self.directory, journal, received=email.date, people=self.people)

    def _flooding(self, email: ParsedEmail) -> bool:
        cap = self.options.max_per_sender_per_hour
        if not cap or not email.sender_email:
            return False
        return self.store.count_from(email.sender_email, datetime.now(UTC) - timedelta(hours=1)) >= cap

    def plan(self, email: ParsedEmail, target: Target | None = None) -> Plan:
        """What would become of this mail (nothing is sent): who the candidates are, the routing
        decision (or the target journalled earlier), the resumes, and whether it is submitted,
        ignored or set aside."""
        search = find_candidate(email, self.options.internal_senders)
        first = search.candidate
        routed = replace(email, subject=first.subject) if search.forwarder and first and first.subject else email
        decision = None if target is not None else self._decide(routed)
        ruled = {"rule": target.rule if decision is None else decision.rule,
                 "route_reason": "; ".join(target.reasons) if decision is None else decision.reason,
                 "decision": decision, "forwarder": search.forwarder,
                 "found_by": first.found_by if first and first.person.address else FOUND_BY_CV}
        if decision is not None and decision.action == RuleAction.IGNORE:
            return Plan(Status.IGNORED, f"ignored by rule {decision.rule!r}: {decision.reason}", **ruled)
        automatic = automatic_mail(email, self.options.own_addresses) if decision is not None else None
        if automatic is not None and decision.rule in INFERENCE_STEPS:  # a rule may take such mail in
            return Plan(Status.IGNORED, f"{automatic.reason}; nothing sent to the ATS", **ruled)
        candidacies = self._candidacies(email, search)
        if not any(c.resumes for c in candidacies):
            skipped = "; ".join(s.text for s in pick_resumes(email.attachments, self.options.limits).skipped)
            missing = NoResume(f"no PDF, DOC or DOCX attachment{f' ({skipped})' if skipped else ''}")
            return Plan(Status.REVIEW, reason_of(missing), **ruled)
        if decision is not None and (decision.action == RuleAction.REVIEW or decision.job is None):
            return Plan(Status.REVIEW, _review_reason(decision), candidacies=candidacies, **ruled)
        notes = tuple(f"{named(c.person) or 'a candidate'}: no resume of theirs, not submitted"
                      for c in candidacies if not c.resumes)
        return Plan(Status.SUBMITTED, "", candidacies=candidacies, notes=notes, **ruled)

    def _candidacies(self, email: ParsedEmail, search: CandidateSearch) -> tuple[Candidacy, ...]:
        """One candidacy per candidate, each with its own resumes; with no candidate to be found,
        one whose person comes from the ATS's reading of the CV (never the sender)."""
        if not search.candidates:
            return (Candidacy(None, pick_resumes(email.attachments, self.options.limits).resumes, from_cv=True),)
        return tuple(Candidacy(c.person, pick_resumes(c.attachments, self.options.limits).resumes,
                               from_cv=not c.person.address)
                     for c in search.candidates)

    def _decide(self, email: ParsedEmail) -> Decision:
        return decide(email, self._rules(), self.directory.open_jobs(), self.directory.pipelines(),
                      self.directory.sources())

    def _with_target(self, record: MessageRecord, outcome: Outcome) -> Outcome:
        """A failed outcome names the job when one was decided (a person checking an uncertain
        message needs to know where to look in the ATS)."""
        if outcome.disposition not in (Disposition.UNCERTAIN, Disposition.PERMANENT, Disposition.BUG):
            return outcome
        step = self.store.steps(record.id).get(ROUTE)
        if step is None or step.status != DONE:
            return outcome
        target = Target.from_journal(json.loads(step.detail))
        return replace(outcome, job_id=str(target.job.id), job_title=target.job.title[:500], rule=target.rule,
                       route_reason="; ".join(target.reasons))


def named(person: Person | None) -> str:
    if person is None:
        return ""
    return f"{person.name} <{person.address}>" if person.name and person.address else person.name or person.address


def _journal_for(journal: Journal, index: int) -> Journal:
    """The first candidate of a mail uses the message's journal; the others a part of it each."""
    return journal if index == 0 else PrefixedJournal(journal, f"candidate {index + 1}/")


def _review_reason(decision: Decision) -> str:
    """Set aside by a rule, or because inference found no single job (never a guess)."""
    if decision.rule in INFERENCE_STEPS or not decision.rule:
        return reason_of(NoRoute(decision.reason))
    return f"set aside by rule {decision.rule!r}: {decision.reason}"


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
