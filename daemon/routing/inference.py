"""Which job opening an email is for, inferred from its subject (pure decisions, no I/O).

Used when no routing rule decides. In this order:

1. **A job code** in the subject, as the job records carry it in `code` (`[ENG-7]`,
   `Ref: ENG-7`): case-insensitive, as a whole word (`ENG-7` is not in `ENG-70`). Codes of
   closed jobs do not count. Codes of two different open jobs: a person decides.
2. **A job title** in the subject (case and spacing do not matter). When one matching
   title lies inside another ("Python Developer" inside "Senior Python Developer"), the
   longer wins. When the subject names two jobs whose titles do not contain each other
   ("Data Engineer or Python Developer"), or two jobs share the winning title, a person
   decides, with the candidates in the reason.

   A match is **weak**, and a person decides, when the title is a single word ("Designer",
   "Support": common words that name no job for sure) or when it cuts a word of the subject
   ("Analyst" in "Analysts", "Engineer" in "Engineering"). A weak match never outweighs a
   strong one: "Python Developer - Engineering" with a job "Engineer" goes to Python
   Developer.

Never a guess: a Route has a job only when exactly one open job is named for sure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from daemon.ats.models import Job

CODE_STEP = "job code in the subject"
TITLE_STEP = "job title in the subject"
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Route:
    """The inferred job, or why there is none (with the jobs a person should consider)."""

    job: Job | None
    reason: str
    step: str = TITLE_STEP  # CODE_STEP or TITLE_STEP: what found the job (or failed to)
    candidates: tuple[Job, ...] = ()


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def job_label(job: Job) -> str:
    """'Python Developer' (#102, ENG-8): how a job is named in reasons."""
    code = f", {job.code}" if job.code else ""
    return f"{job.title!r} (#{job.id}{code})"


def _labels(jobs: Sequence[Job]) -> str:
    return ", ".join(job_label(j) for j in sorted(jobs, key=lambda j: (j.title.casefold(), str(j.id))))


def _distinct(jobs: Sequence[Job]) -> list[Job]:
    return list({str(job.id): job for job in jobs}.values())


def infer_job(subject: str, jobs: Sequence[Job]) -> Route:
    """The one open job the subject names by code, else by title; else no job and why."""
    by_code = job_by_code(subject, jobs)
    if by_code is not None:
        return by_code
    route = job_by_title(subject, jobs)
    closed = [j for j in jobs if not j.is_open and j.code and _has_code(subject, j.code)]
    if route.job is None and closed:
        return Route(None, f"{route.reason} (the code in the subject is of a closed job: {_labels(closed)})",
                     TITLE_STEP, route.candidates)
    return route


# -- job codes -----------------------------------------------------------------------------------

def _has_code(subject: str, code: str) -> bool:
    pattern = rf"(?<![0-9A-Za-z]){re.escape(code.strip())}(?![0-9A-Za-z])"
    return re.search(pattern, subject, re.IGNORECASE) is not None


def job_by_code(subject: str, jobs: Sequence[Job]) -> Route | None:
    """The open job whose code is in the subject; None when no open job's code is there."""
    found = _distinct([j for j in jobs if j.is_open and j.code.strip() and _has_code(subject, j.code)])
    if not found:
        return None
    if len(found) > 1:
        return Route(None, f"ambiguous: the subject carries the codes of several open jobs: {_labels(found)}",
                     CODE_STEP, tuple(found))
    job = found[0]
    return Route(job, f"subject carries the job code {job.code} of {job.title!r}", CODE_STEP)


# -- job titles ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Hit:
    job: Job
    title: str  # normalised
    spans: tuple[tuple[int, int], ...]


def _spans(text: str, title: str) -> tuple[tuple[int, int], ...]:
    return tuple((m.start(), m.end()) for m in re.finditer(re.escape(title), text))


def _cuts_a_word(text: str, span: tuple[int, int]) -> bool:
    start, end = span
    return (start > 0 and text[start - 1].isalnum() and text[start].isalnum()) or \
           (end < len(text) and text[end].isalnum() and text[end - 1].isalnum())


def job_by_title(subject: str, jobs: Sequence[Job]) -> Route:
    """The open job whose title the subject names for sure; see the module docstring."""
    wanted = _normal(subject)
    hits = [_Hit(j, t, _spans(wanted, t)) for j in jobs if j.is_open and (t := _normal(j.title))]
    hits = [h for h in hits if h.spans]
    if not hits:
        return Route(None, "no job matched: no open job title appears in the subject")
    named = [h for h in hits if _uncovered(h, hits)]
    strong = [h for h in named if not _weak(wanted, h)]
    if strong:
        return _one_of([h.job for h in strong])
    weak = _distinct([h.job for h in named])
    why = "; ".join(_weak_why(wanted, h) for h in named)
    return Route(None, f"weak match: {why}: a person should check (candidates: {_labels(weak)})",
                 TITLE_STEP, tuple(weak))


def _uncovered(hit: _Hit, hits: Sequence[_Hit]) -> bool:
    """Whether some occurrence of this title is not inside an occurrence of a longer title."""
    longer = [span for h in hits if len(h.title) > len(hit.title) for span in h.spans]
    return any(not any(a <= s and e <= b for a, b in longer) for s, e in hit.spans)


def _weak(text: str, hit: _Hit) -> bool:
    return " " not in hit.title or all(_cuts_a_word(text, span) for span in hit.spans)


def _weak_why(text: str, hit: _Hit) -> str:
    if " " not in hit.title:
        return f"{hit.job.title!r} is a one-word title"
    return f"{hit.job.title!r} appears only inside a longer word"


def _one_of(strong: Sequence[Job]) -> Route:
    jobs = _distinct(strong)
    if len(jobs) == 1:
        return Route(jobs[0], f"subject contains the job title {jobs[0].title!r}")
    if len({_normal(j.title) for j in jobs}) == 1:
        return Route(None, f"no job matched: the subject fits several open jobs with the same title: "
                           f"{_labels(jobs)}", TITLE_STEP, tuple(jobs))
    return Route(None, f"ambiguous: the subject names several open jobs whose titles do not contain each other: "
                       f"{_labels(jobs)}", TITLE_STEP, tuple(jobs))
