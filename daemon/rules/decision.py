"""The routing decision for one mail (pure: data in, a Decision out)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from daemon.ats.models import Job, Pipeline, Source, Stage
from daemon.mail import ParsedEmail
from daemon.routing import infer_job
from daemon.rules.ruleset import RuleSet

SUBMIT, REVIEW, IGNORE = "submit", "review", "ignore"


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one mail, and why.

    `stage` None means the first stage of the job's pipeline (by position); `source` None
    means the configured `[ats] source`. `rule` names the rule that decided, or the
    inference step ("job code in the subject", "job title in the subject").
    """

    action: str  # SUBMIT, REVIEW or IGNORE
    rule: str
    reasons: tuple[str, ...]
    job: Job | None = None
    stage: Stage | None = None
    source: Source | None = None
    comment: str = ""  # an extra line for the confirmation comment

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def decide(email: ParsedEmail, rules: RuleSet, jobs: Sequence[Job], pipelines: Sequence[Pipeline],
           sources: Sequence[Source]) -> Decision:
    """The first rule that matches decides; else inference from the subject; else a person.

    Only open jobs are ever targets. (Scaffold: rules are not read yet; inference is the
    title match of daemon.routing.)
    """
    del rules, pipelines, sources
    route = infer_job(email.subject, jobs)
    if route.job is None:
        return Decision(REVIEW, "job title in the subject", (route.reason,))
    return Decision(SUBMIT, "job title in the subject", (route.reason,), job=route.job)
