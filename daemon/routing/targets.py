"""Finding what a rule names in the ATS directory: its job, stage and source (pure).

Each lookup answers a `Found`: the thing, or a sentence saying why there is none ("no job
has the code 'ENG-99'", "the job ... is closed"). Names compare without regard to case or
spacing; a job id compares as text (101 and "101" are one id).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from daemon.ats.models import Job, Pipeline, Source, Stage
from daemon.routing.inference import job_label
from daemon.routing.rule import JobRef

T = TypeVar("T")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Found(Generic[T]):
    thing: T | None
    why: str = ""
    closed: bool = False  # a job that exists but is not open


def same(a: str, b: str) -> bool:
    return _SPACE.sub(" ", a).strip().casefold() == _SPACE.sub(" ", b).strip().casefold()


def _with(by: str, value: str, jobs: Sequence[Job]) -> list[Job]:
    if by == "id":
        return [j for j in jobs if str(j.id) == value.strip()]
    if by == "code":
        return [j for j in jobs if j.code and same(j.code, value)]
    if by == "title":
        return [j for j in jobs if same(j.title, value)]
    return _with("code", value, jobs) or _with("title", value, jobs)


def find_job(by: str, value: str, jobs: Sequence[Job]) -> Found[Job]:
    """The open job with this id, code or exact title (by "code or title": a code first)."""
    named = list({str(j.id): j for j in _with(by, value, jobs)}.values())
    what = "code or title" if by == "code or title" else by
    if not named:
        return Found(None, f"the ATS has no open job with the {what} {value!r}")
    open_jobs = [j for j in named if j.is_open]
    if not open_jobs:
        return Found(None, f"the job {job_label(named[0])} with the {what} {value!r} is {named[0].status or 'closed'}"
                           ": only open jobs take applications", closed=True)
    if len(open_jobs) > 1:
        return Found(None, f"several open jobs have the {what} {value!r}: "
                           + ", ".join(job_label(j) for j in open_jobs))
    return Found(open_jobs[0])


def find_rule_job(ref: JobRef, captures: dict[str, str], jobs: Sequence[Job]) -> Found[Job]:
    value = ref.filled(captures)
    if value is None:
        missing = ", ".join(f"{{{p}}}" for p in ref.placeholders if p not in captures)
        return Found(None, f"the rule's {ref.by.replace('code or title', 'job')} {ref.value!r} needs {missing}, "
                           "which the conditions did not capture for this mail")
    if not value:
        return Found(None, f"the rule's job {ref.value!r} captured an empty text")
    return find_job(ref.by, value, jobs)


def find_pipeline(job: Job, pipelines: Sequence[Pipeline]) -> Found[Pipeline]:
    found = next((p for p in pipelines if str(p.id) == str(job.pipeline_id)), None)
    if found is None:
        return Found(None, f"the pipeline {job.pipeline_id} of the job {job_label(job)} is not in the ATS")
    return Found(found)


def find_stage(name: str, job: Job, pipelines: Sequence[Pipeline]) -> Found[Stage]:
    """The stage called `name` in the job's pipeline."""
    pipeline = find_pipeline(job, pipelines)
    if pipeline.thing is None:
        return Found(None, pipeline.why)
    stage = next((s for s in pipeline.thing.stages if same(s.name, name)), None)
    if stage is None:
        names = ", ".join(repr(s.name) for s in pipeline.thing.stages) or "none"
        return Found(None, f"the pipeline {pipeline.thing.name!r} of the job {job_label(job)} has no stage "
                           f"{name!r} (its stages: {names})")
    return Found(stage)


def find_source(name: str, sources: Sequence[Source]) -> Found[Source]:
    found = [s for s in sources if same(s.name, name)]
    if not found:
        names = ", ".join(repr(s.name) for s in sources) or "none"
        return Found(None, f"the ATS has no source {name!r} (its sources: {names})")
    return Found(found[0])
