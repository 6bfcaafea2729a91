"""Checking a rule set against the ATS directory: every job, stage and source it names exists.

A rule naming an unknown job, stage or source is a problem (its mail would go to review).
A rule naming a closed job is a warning: jobs close in the normal course of hiring, and
the mail goes to review, never elsewhere. Jobs taken from what the conditions capture
(`job = "{job}"`) can only be checked on real mail (`ats-inbox rules test`).
"""

from __future__ import annotations

import difflib
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
            what = "mail it matches goes to review" if found.closed else f"fix the job{_nearest_job(ref.value, jobs)}"
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
    if rule.stage:
        return _stage_everywhere(rule, jobs, pipelines)
    return []


def _stage_everywhere(rule: Rule, jobs: Sequence[Job], pipelines: Sequence[Pipeline]) -> list[Problem]:
    """A rule that can reach any open job (its job from the mail, or inferred) names a stage some of
    their pipelines lack: the mail of those jobs would go to review."""
    lacking = [job for job in jobs if job.is_open and find_stage(rule.stage, job, pipelines).thing is None]
    if not lacking:
        return []
    said = ", ".join(f"{job.title!r} (pipeline {job.pipeline_id})" for job in lacking)
    return [Problem(rule.file, rule.line, f"rule {rule.name!r}: stage {rule.stage!r} is only in some of the "
                                          f"pipelines the rule can reach; these open jobs lack it: {said}; their "
                                          "mail would go to review: name the job, or add the stage in the ATS")]


def _nearest_job(value: str, jobs: Sequence[Job]) -> str:
    """" Did you mean 'x'?" for the open job title (or code) closest to `value`, as the keys' hints say it."""
    names = {name.casefold(): name for job in jobs if job.is_open for name in (job.title, job.code) if name}
    close = difflib.get_close_matches(value.strip().casefold(), list(names), n=1, cutoff=0.6)
    return f" Did you mean '{names[close[0]]}'?" if close else ""
