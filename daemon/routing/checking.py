"""Checking a rule set against the ATS directory: every job, stage and source it names exists.

A rule naming an unknown job, stage or source is a problem (its mail would go to review).
A rule naming a closed job is a warning: jobs close in the normal course of hiring, and
the mail goes to review, never elsewhere. Jobs taken from what the conditions capture
(`job = "{job}"`) can only be checked on real mail (`ats-inbox rules test`).
"""

from __future__ import annotations

from collections.abc import Sequence

from daemon.ats.models import Job, Pipeline, Source
from daemon.routing.problems import Problem
from daemon.routing.rule import Rule
from daemon.routing.ruleset import RuleSet
from daemon.routing.targets import find_job, find_source, find_stage, same


def check_against(rules: RuleSet, jobs: Sequence[Job], pipelines: Sequence[Pipeline],
                  sources: Sequence[Source]) -> list[Problem]:
    """The problems of `rules` given the ATS's jobs (open and closed), pipelines and sources."""
    problems: list[Problem] = []
    for rule in rules.rules:
        problems += _job_and_stage(rule, jobs, pipelines)
        if rule.source:
            found = find_source(rule.source, sources)
            if found.thing is None:
                problems.append(Problem(rule.file, rule.line, f"rule {rule.name!r}: {found.why}: fix `source`"))
    return problems


def _job_and_stage(rule: Rule, jobs: Sequence[Job], pipelines: Sequence[Pipeline]) -> list[Problem]:
    ref = rule.job
    if ref is not None and not ref.placeholders:
        found = find_job(ref.by, ref.value, jobs)
        if found.thing is None:
            what = "mail it matches goes to review" if found.closed else "fix the job"
            return [Problem(rule.file, rule.line, f"rule {rule.name!r}: {found.why}: {what}", warning=found.closed)]
        if rule.stage:
            stage = find_stage(rule.stage, found.thing, pipelines)
            if stage.thing is None:
                return [Problem(rule.file, rule.line, f"rule {rule.name!r}: {stage.why}: fix `stage`")]
        return []
    if rule.stage and not any(same(s.name, rule.stage) for p in pipelines for s in p.stages):
        names = sorted({s.name for p in pipelines for s in p.stages})
        return [Problem(rule.file, rule.line, f"rule {rule.name!r}: no pipeline has a stage {rule.stage!r} "
                                              f"(stages: {', '.join(map(repr, names)) or 'none'}): fix `stage`")]
    return []
