"""One message's way, top to bottom: parse, pick resumes, route, submit -> an Outcome.

The runner (daemon.runner) has fetched the bytes, recorded the message and counted the
attempt; it records the Outcome this returns and only then acts on the mailbox. Nothing
here raises through the runner: every error becomes an Outcome whose disposition
(daemon.outcome.classify) tells the runner what it means.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.errors import NoResume, NoRoute
from daemon.journal import DONE, StoreJournal
from daemon.mail import ParsedEmail, Resume
from daemon.outcome import Disposition, MailSummary, Outcome, classify, reason_of
from daemon.parsing import STRUCTURE_LIMITS, StructureLimits, parse_email
from daemon.resumes import ResumeLimits, pick_resumes
from daemon.rules import IGNORE, Decision, RuleSet, decide
from daemon.rules import REVIEW as REVIEW_ACTION
from daemon.store.models import MessageRecord
from daemon.store.repository import IGNORED, PENDING, REVIEW, SUBMITTED, UNCERTAIN, Store
from daemon.submission import ROUTE, Application, Target, recorded_target, submit

log = logging.getLogger(__name__)

# The status an error leaves the message in; the runner may still change a pending one
# (give up after max_attempts, or give the attempt back when the fault was not the message's).
_STATUS = {Disposition.PERMANENT: REVIEW, Disposition.BUG: REVIEW, Disposition.UNCERTAIN: UNCERTAIN}


@dataclass(frozen=True, slots=True)
class FlowOptions:
    max_message_bytes: int = 50 * 1024 * 1024
    limits: ResumeLimits = ResumeLimits()  # noqa: RUF009 (frozen, so sharing the default is safe)
    crash_after_step: str = ""  # test hook, see daemon.journal

    @property
    def structure(self) -> StructureLimits:
        """The shape a mail may have: the default line bound grows with a larger size limit
        (a mail of `max_message_bytes` of base64 has about one line per 50 bytes)."""
        lines = max(STRUCTURE_LIMITS.max_lines, self.max_message_bytes // 50)
        return replace(STRUCTURE_LIMITS, max_lines=lines)


INFERENCE_STEPS = ("job code in the subject", "job title in the subject")


@dataclass(frozen=True, slots=True)
class Plan:
    """What handling a mail comes to before anything is sent: submit, ignore or set aside."""

    status: str  # SUBMITTED (to be submitted), IGNORED or REVIEW
    reason: str
    rule: str
    route_reason: str
    decision: Decision | None = None  # None when the target was journalled earlier
    resumes: tuple[Resume, ...] = ()


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

    def handle(self, record: MessageRecord, raw: bytes | None) -> Outcome:
        """The outcome for `record`, whose bytes are `raw` (None: too large to download)."""
        if raw is None:
            return Outcome(REVIEW, f"message too large ({record.size} bytes, limit {self.options.max_message_bytes})")
        email: ParsedEmail | None = None
        try:
            email = parse_email(raw, limits=self.options.structure)
            outcome = self._route_and_submit(record, email)
        except Exception as exc:  # every error becomes an outcome; the runner decides what it means
            outcome = self._with_target(record, _failed(record, exc))
        return outcome if email is None else replace(outcome, mail=MailSummary.of(email))

    def _route_and_submit(self, record: MessageRecord, email: ParsedEmail) -> Outcome:
        journal = StoreJournal(self.store, record.id, crash_after=self.options.crash_after_step, sleep=self._sleep)
        target = recorded_target(journal)  # decided on an earlier attempt: never decided again
        plan = self.plan(email, target)
        routed = {"rule": plan.rule[:200], "route_reason": plan.route_reason[:2000]}
        if plan.status != SUBMITTED:
            log.info("mail.planned", extra={"record": record.id, "status": plan.status, "rule": plan.rule})
            return Outcome(plan.status, plan.reason[:2000], **routed)
        job = target.job if target is not None else plan.decision.job
        done = submit(Application(email, plan.resumes, job, plan.decision), self.client, self.directory, journal,
                      received=email.date)
        log.info("mail.submitted", extra={"record": record.id, "job": str(job.id), "candidate": done.candidate_id})
        return Outcome(SUBMITTED, job_id=str(job.id), job_title=job.title[:500],
                       applicant_id=done.applicant_id, candidate_id=done.candidate_id, **routed)

    def plan(self, email: ParsedEmail, target: Target | None = None) -> Plan:
        """What would become of this mail (nothing is sent): the routing decision (or the target
        journalled earlier), the resumes, and whether it is submitted, ignored or set aside."""
        decision = None if target is not None else self._decide(email)
        rule = target.rule if decision is None else decision.rule
        why = "; ".join(target.reasons) if decision is None else decision.reason
        if decision is not None and decision.action == IGNORE:
            return Plan(IGNORED, f"ignored by rule {decision.rule!r}: {decision.reason}", rule, why, decision)
        pick = pick_resumes(email.attachments, self.options.limits)
        if not pick.resumes:
            skipped = "; ".join(f"{s.filename or 'unnamed'}: {s.reason}" for s in pick.skipped)
            missing = NoResume(f"no PDF, DOC or DOCX attachment{f' ({skipped})' if skipped else ''}")
            return Plan(REVIEW, reason_of(missing), rule, why, decision)
        if decision is not None and (decision.action == REVIEW_ACTION or decision.job is None):
            return Plan(REVIEW, _review_reason(decision), rule, why, decision, pick.resumes)
        return Plan(SUBMITTED, "", rule, why, decision, pick.resumes)

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


def _review_reason(decision: Decision) -> str:
    """Set aside by a rule, or because inference found no single job (never a guess)."""
    if decision.rule in INFERENCE_STEPS or not decision.rule:
        reason = decision.reason
        return reason if reason.startswith(NoRoute.reason) else f"{NoRoute.reason}: {reason}"
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
    return Outcome(_STATUS.get(disposition, PENDING), reason[:2000], disposition, exc)
