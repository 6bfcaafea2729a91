"""Job inference: the longest open job title contained in the subject wins; no guessing."""

from __future__ import annotations

import pytest

from daemon.ats.models import Job
from daemon.routing import infer_job

JOBS = [
    Job(101, "Senior Python Developer", "p-eng", "open"),
    Job(102, "Python Developer", "p-eng", "open"),
    Job(103, "Data Analyst", 2, "Open"),
    Job(104, "Customer Support Specialist", 2, ""),
    Job(105, "Office Manager", 2, "closed"),
]


@pytest.mark.parametrize(("subject", "job_id"), [
    ("Application: Senior Python Developer", "101"),
    ("Python Developer application", "102"),
    ("re: customer   SUPPORT specialist", "104"),
    ("Data Analyst position - my CV", "103"),
    ("FW: senior python developer (Berlin)", "101"),
])
def test_subject_routes_to_the_longest_contained_title(subject, job_id):
    """Case and spacing do not matter; the longest matching title wins."""
    route = infer_job(subject, JOBS)
    assert route.job is not None and str(route.job.id) == job_id


@pytest.mark.parametrize("subject", [
    "Application for Head Chef",
    "Office Manager application",  # the job is closed
    "",
    "Python",
])
def test_no_match_is_no_route_with_a_reason(subject):
    """No open title in the subject: no job, and the reason says so."""
    route = infer_job(subject, JOBS)
    assert route.job is None
    assert route.reason.startswith("no job matched")


def test_two_jobs_with_the_same_title_are_not_guessed():
    """Two different open jobs with the same winning title are ambiguous: no route."""
    jobs = [*JOBS, Job(201, "Data Analyst", 2, "open")]
    route = infer_job("Data Analyst", jobs)
    assert route.job is None
    assert "several" in route.reason
