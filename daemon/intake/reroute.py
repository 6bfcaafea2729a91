"""`messages retry ID --job JOB [--job JOB ...] [--stage STAGE ...]`: a person sends a set-aside
mail to one or more chosen jobs.

The choice is journalled like any routing decision (the `route` step, rule "chosen by a
person"), so the next pass submits to those jobs and stages and never decides again: one
applicant, and a candidate and a comment for each job (daemon.intake.submission.JobJournal).
A mail whose candidate already exists in the ATS cannot be sent elsewhere: that is refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from daemon.ats.directory import AtsDirectory
from daemon.ats.models import Job, Stage
from daemon.errors import AtsInboxError
from daemon.intake.journal import DONE
from daemon.intake.submission import APPLICANT, CANDIDATE, ROUTE, Target
from daemon.store.repository import Store

CHOSEN = "chosen by a person (messages retry --job)"


class CannotReroute(AtsInboxError):
    """The job or stage does not exist, is closed, or the mail already has a candidate."""


def find_job(jobs: list[Job], wanted: str) -> Job:
    """The open job with this ATS id, job code or exact title (case-insensitive)."""
    text = wanted.strip().casefold()
    found = [job for job in jobs if text in (str(job.id).casefold(), job.code.casefold(), job.title.casefold())]
    if not found:
        listing = "; ".join(f"{job.id} {job.code or '-'} {job.title}" for job in jobs)
        raise CannotReroute(f"no open job is {wanted!r} (by id, code or title); open jobs: {listing}")
    if len({str(job.id) for job in found}) > 1:
        raise CannotReroute(f"{wanted!r} names several open jobs: use the job's id")
    return found[0]


def find_stage(directory: AtsDirectory, job: Job, wanted: str | None) -> Stage:
    pipeline = directory.pipeline(job.pipeline_id)
    if wanted is None:
        stage = pipeline.first_stage()
        if stage is None:
            raise CannotReroute(f"the pipeline of {job.title!r} has no stages")
        return stage
    match = [s for s in pipeline.stages if s.name.casefold() == wanted.strip().casefold()]
    if not match:
        names = ", ".join(s.name for s in pipeline.stages)
        raise CannotReroute(f"{job.title!r} has no stage {wanted!r}; its stages: {names}")
    return match[0]


def pair_stages(jobs: Sequence[str], stages: Sequence[str]) -> list[tuple[str, str | None]]:
    """Each job with its stage: no `--stage`, each job's first stage; one, that stage for every job;
    as many as jobs, the first stage for the first job and so on. Anything else is refused."""
    if not stages:
        return [(job, None) for job in jobs]
    if len(stages) == 1:
        return [(job, stages[0]) for job in jobs]
    if len(stages) != len(jobs):
        raise CannotReroute(f"{len(jobs)} jobs and {len(stages)} stages: give one --stage for every job, "
                            "in the same order, or one for all")
    return list(zip(jobs, stages, strict=True))


def choose(store: Store, pk: int, directory: AtsDirectory, job_text: str, stage_text: str | None,
           *, by: str = "", rule: str = CHOSEN) -> Target:
    """Journal the person's choice of job and stage for message `pk` (`by` whom, when known); return it."""
    return choose_jobs(store, pk, directory, [(job_text, stage_text)], by=by, rule=rule)


def choose_jobs(store: Store, pk: int, directory: AtsDirectory, picks: Sequence[tuple[str, str | None]],
                *, by: str = "", rule: str = CHOSEN) -> Target:
    """Journal the person's choice of one or more (job, stage) for message `pk`; return the target, whose
    first job is the first pick and whose `also` are the others. A job picked twice is refused."""
    if not picks:
        raise CannotReroute("pick at least one job")
    steps = store.steps(pk)
    made = [name for name in (APPLICANT, CANDIDATE) if name in steps and steps[name].status == DONE]
    if CANDIDATE in made:
        raise CannotReroute(f"message #{pk} already has a candidate in the ATS (for the job it was sent to); "
                            "it cannot be sent to another job: resolve it and add it there by hand")
    jobs = directory.open_jobs()
    source = directory.source().id
    targets = []
    for job_text, stage_text in picks:
        job = find_job(jobs, job_text)
        if any(t.job.id == job.id for t in targets):
            raise CannotReroute(f"{job.title!r} is picked twice: one candidate per job")
        stage = find_stage(directory, job, stage_text)
        targets.append(Target(job, stage.id, source, rule=rule,
                              reasons=(f"job {job.title!r}, stage {stage.name!r}", *([f"by {by}"] if by else []))))
    target = replace(targets[0], also=tuple(targets[1:]))
    store.record_step(pk, ROUTE, DONE, ats_id=str(target.job.id), detail=json.dumps(target.to_journal()))
    return target


def said(target: Target) -> str:
    """Where a chosen target sends the mail, for people: 'Data Analyst' (job ..., stage ...) and so on."""
    return "; ".join(f"{t.job.title!r} ({t.reasons[0]})" for t in target.every)
