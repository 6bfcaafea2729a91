"""Job inference: the longest open job title contained in the subject wins; no guessing."""

from __future__ import annotations

import pytest

from daemon.ats.models import Job
from daemon.routing.inference import infer_job

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


# -- job codes, unrelated titles, weak matches (issue 7) --------------------------------------

CODED = [
    Job(101, "Senior Python Developer", "p-eng", "open", "ENG-7"),
    Job(102, "Python Developer", "p-eng", "open", "ENG-8"),
    Job(103, "Data Analyst", 2, "open", "DATA-3"),
    Job(106, "Data Engineer", 2, "open", "DATA-4"),
    Job(107, "Designer", 2, "open", "DES-1"),
    Job(105, "Office Manager", 2, "closed", "OPS-1"),
]


@pytest.mark.parametrize(("subject", "job_id"), [
    ("[ENG-8] my application", "102"),
    ("Ref: eng-7 - CV attached", "101"),
    ("Application (DATA-3) for Python Developer", "103"),  # the code wins over a title
    ("Fwd: ENG-8", "102"),
])
def test_a_job_code_in_the_subject_routes_to_its_open_job(subject, job_id):
    """A code the job records carry, as a whole word in any case, names the job."""
    route = infer_job(subject, CODED)
    assert route.job is not None and str(route.job.id) == job_id
    assert route.step == "job code in the subject"


@pytest.mark.parametrize(("subject", "expected"), [
    ("Ref ENG-70", None),  # not the code ENG-7
    ("XENG-7", None),
    ("[OPS-1] Office Manager", None),  # a closed job's code does not count
    ("[OPS-1] Python Developer", "102"),  # ... and the title match goes on
])
def test_partial_codes_and_closed_jobs_codes_do_not_count(subject, expected):
    """Only whole-word codes of open jobs count; a closed job's code leaves the title match to decide."""
    route = infer_job(subject, CODED)
    assert (str(route.job.id) if route.job else None) == expected


def test_codes_of_two_open_jobs_go_to_a_person():
    """Two open jobs' codes in one subject: no route, both listed as candidates."""
    route = infer_job("ENG-7 or ENG-8", CODED)
    assert route.job is None
    assert {str(j.id) for j in route.candidates} == {"101", "102"}


def test_a_closed_jobs_code_is_said_when_nothing_else_matches():
    """The reason says the code in the subject is a closed job's."""
    route = infer_job("[OPS-1] Office Manager", CODED)
    assert route.job is None and "closed job" in route.reason and "OPS-1" in route.reason


@pytest.mark.parametrize("subject", [
    "Data Engineer or Python Developer - open to both",
    "Python Developer / Data Analyst",
    "Senior Python Developer, or else Python Developer",  # the shorter title named on its own too
])
def test_unrelated_titles_named_together_go_to_review_with_the_candidates(subject):
    """Two titles that do not contain each other: never a guess, the candidates are listed."""
    route = infer_job(subject, CODED)
    assert route.job is None
    assert route.reason.startswith("ambiguous") and len(route.candidates) == 2
    assert all(job.title in route.reason for job in route.candidates)


@pytest.mark.parametrize(("subject", "why"), [
    ("Application: Designer", "one-word title"),
    ("Data Analysts wanted?", "inside a longer word"),
    ("BigData Analyst", "inside a longer word"),
])
def test_a_weak_only_match_goes_to_review(subject, why):
    """A one-word title, or a title that cuts a word, is too weak to route on alone."""
    route = infer_job(subject, CODED)
    assert route.job is None
    assert route.reason.startswith("weak match") and why in route.reason
    assert len(route.candidates) == 1


def test_a_weak_match_never_outweighs_a_strong_one():
    """A strong title match wins over a one-word title also in the subject."""
    route = infer_job("Python Developer (and Designer at heart)", CODED)
    assert route.job is not None and str(route.job.id) == "102"
