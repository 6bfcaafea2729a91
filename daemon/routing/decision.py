"""The routing decision for one mail (pure: data in, a Decision out).

The rules are tried in order; the first whose conditions hold decides. When none does, the
job is inferred from the subject (daemon.routing.inference: a job code, then a title). Only open jobs
are ever targets: a rule naming a closed or unknown job, stage or source sends the mail to
review with that reason, never elsewhere.

The rules of one mail share one time budget (`RULES_BUDGET`, daemon.routing.conditions). A rule
that could not be decided in time (a regular expression ran out of time, and the rule's answer
depends on it) might have been the one to decide, so it decides: the mail goes to review
(`Decision.undecided`), never on to a later rule or to inference.

`jobs` may hold closed jobs too (then reasons can say "closed" rather than "unknown");
they are never chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from daemon.ats.models import Job, Pipeline, Source, Stage
from daemon.domain import RuleAction
from daemon.mail import ParsedEmail
from daemon.routing.conditions import RULES_BUDGET, Budget, Check, MailView
from daemon.routing.inference import infer_job, job_label
from daemon.routing.rule import Rule
from daemon.routing.ruleset import RuleSet
from daemon.routing.targets import find_rule_job, find_source, find_stage

__all__ = ["Decision", "Explanation", "RuleTrial", "decide", "explain"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one mail, and why.

    `stage` None means the first stage of the job's pipeline (by position); `source` None
    means the configured `[ats] source`. `rule` names the rule that decided, or the
    inference step ("job code in the subject", "job title in the subject").
    """

    action: str  # RuleAction.SUBMIT, RuleAction.REVIEW or RuleAction.IGNORE
    rule: str
    reasons: tuple[str, ...]
    job: Job | None = None
    stage: Stage | None = None
    source: Source | None = None
    comment: str = ""  # an extra line for the confirmation comment
    rule_at: str = ""  # "file:line" of the rule that decided; "" for inference
    candidates: tuple[Job, ...] = ()  # for review: the jobs a person should consider
    notes: tuple[str, ...] = ()  # regular expressions that ran out of time on this mail
    undecided: bool = False  # review because a rule could not be decided in time (never "no match")

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


@dataclass(frozen=True, slots=True)
class RuleTrial:
    """One rule tried on the mail: whether it matched, and the condition that said so."""

    rule: str
    at: str  # file:line
    matched: bool
    said: str
    timeouts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Explanation:
    """The decision, and every rule tried before it in order (the last matched, if any did)."""

    decision: Decision
    trials: tuple[RuleTrial, ...]


def decide(email: ParsedEmail, rules: RuleSet, jobs: Sequence[Job], pipelines: Sequence[Pipeline],
           sources: Sequence[Source], budget: float = RULES_BUDGET) -> Decision:
    """The first rule that matches decides; else inference from the subject; else a person."""
    return explain(email, rules, jobs, pipelines, sources, budget).decision


def explain(email: ParsedEmail, rules: RuleSet, jobs: Sequence[Job], pipelines: Sequence[Pipeline],
            sources: Sequence[Source], budget: float = RULES_BUDGET) -> Explanation:
    """The decision and, for each rule tried, why it did or did not match; the rules' regular
    expressions have `budget` seconds for this mail in all."""
    mail = MailView.of(email)
    time_left = Budget.start(budget)
    trials: list[RuleTrial] = []
    for rule in rules.rules:
        check = rule.check(mail, time_left)
        trials.append(RuleTrial(rule.name, rule.where, check.ok, check.said, check.timeouts))
        if check.undecided:
            undecided = Decision(RuleAction.REVIEW, rule.name, (f"rule {rule.name!r} ({rule.where}) {check.said}",),
                                 rule_at=rule.where, undecided=True)
            return Explanation(_noted(undecided, trials), tuple(trials))
        if check.ok:
            decision = _by_rule(rule, check, email, jobs, pipelines, sources)
            return Explanation(_noted(decision, trials), tuple(trials))
    return Explanation(_noted(_inferred(email, jobs), trials), tuple(trials))


def _noted(decision: Decision, trials: list[RuleTrial]) -> Decision:
    notes = tuple(note for trial in trials for note in trial.timeouts)
    if not notes:
        return decision
    return replace(decision, notes=notes)


def _inferred(email: ParsedEmail, jobs: Sequence[Job]) -> Decision:
    route = infer_job(email.subject, jobs)
    if route.job is None:
        return Decision(RuleAction.REVIEW, route.step, (route.reason,), candidates=route.candidates)
    return Decision(RuleAction.SUBMIT, route.step, (route.reason,), job=route.job)


def _by_rule(rule: Rule, check: Check, email: ParsedEmail, jobs: Sequence[Job], pipelines: Sequence[Pipeline],
             sources: Sequence[Source]) -> Decision:
    matched = f"matched {check.said}"
    if rule.action in (RuleAction.REVIEW, RuleAction.IGNORE):
        default = "set aside" if rule.action == RuleAction.REVIEW else "ignored"
        return Decision(rule.action, rule.name, (rule.reason or f"{default} by rule {rule.name!r}", matched),
                        rule_at=rule.where)

    def review(why: str, candidates: tuple[Job, ...] = ()) -> Decision:
        return Decision(RuleAction.REVIEW, rule.name, (why, matched), rule_at=rule.where, candidates=candidates)

    if rule.job is not None:
        found = find_rule_job(rule.job, dict(check.captures), jobs)
        if found.thing is None:
            return review(f"rule {rule.name!r} names a job it cannot use: {found.why}")
        job, how = found.thing, f"job {job_label(found.thing)} named by the rule"
    else:
        route = infer_job(email.subject, jobs)
        if route.job is None:
            return review(f"rule {rule.name!r} names no job, and {route.reason}", route.candidates)
        job, how = route.job, f"{route.reason} ({route.step})"
    reasons = [check.said, how]
    stage = source = None
    if rule.stage:
        found_stage = find_stage(rule.stage, job, pipelines)
        if found_stage.thing is None:
            return review(f"rule {rule.name!r} names a stage it cannot use: {found_stage.why}")
        stage = found_stage.thing
        reasons.append(f"stage {stage.name!r}")
    if rule.source:
        found_source = find_source(rule.source, sources)
        if found_source.thing is None:
            return review(f"rule {rule.name!r} names a source it cannot use: {found_source.why}")
        source = found_source.thing
        reasons.append(f"source {source.name!r}")
    return Decision(RuleAction.SUBMIT, rule.name, tuple(reasons), job=job, stage=stage, source=source,
                    comment=rule.comment, rule_at=rule.where)
