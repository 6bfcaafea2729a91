"""Which job opening an email is for (pure decisions, no I/O).

First version: the subject is matched against the titles of the open jobs,
case-insensitively; the longest title contained in the subject wins. No match, or two
different jobs with the same winning title, is no route: the mail is set aside, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from daemon.ats.models import Job

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Route:
    """The decision for one email: the job, or why there is none."""

    job: Job | None
    reason: str


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def infer_job(subject: str, jobs: Sequence[Job]) -> Route:
    """The open job whose title is the longest one contained in the subject."""
    wanted = _normal(subject)
    matches = [job for job in jobs if job.is_open and _normal(job.title) and _normal(job.title) in wanted]
    if not matches:
        return Route(None, "no job matched: no open job title appears in the subject")
    longest = max(len(_normal(job.title)) for job in matches)
    best = [job for job in matches if len(_normal(job.title)) == longest]
    if len({str(job.id) for job in best}) > 1:
        titles = ", ".join(sorted({job.title for job in best}))
        return Route(None, f"no job matched: the subject fits several open jobs ({titles})")
    return Route(best[0], f"subject contains the job title {best[0].title!r}")
