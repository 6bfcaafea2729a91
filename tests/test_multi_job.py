"""One set-aside mail sent by a person to several jobs: one applicant, a candidate and a comment in each job,
journalled so that a crash or a retry never creates a candidate twice (in process, over the sandbox ATS)."""

from __future__ import annotations

import pytest

from daemon.intake import reroute, review
from daemon.intake.journal import DONE
from daemon.intake.planning import Directory, FlowOptions
from daemon.intake.preview import Planner
from daemon.routing import RuleSet
from tests.inprocess import in_process_world  # noqa: F401 (the fixture `world`)
from tests.webworld import set_aside_mail

CANDIDATE_POST = "POST /api/v1/candidate"


class Killed(BaseException):
    """The process dying (like kill -9): nothing in the daemon catches it."""


class DiesAfter:
    """The store, for everything; raises Killed right after `step` was committed (as daemon.ops.crash.CrashAfter
    kills the process), once."""

    def __init__(self, store, step: str):
        self._store, self.step, self.fired = store, step, False

    def __getattr__(self, name):
        return getattr(self._store, name)

    def journal(self, pk, writes):
        self._store.journal(pk, writes)
        if any(w.name == self.step and w.status == DONE for w in writes) and not self.fired:
            self.fired = True
            raise Killed(self.step)


def two_jobs(world):
    """A set-aside mail, sent by a person to Data Analyst (Screening) and Customer Support (its first stage)."""
    record = set_aside_mail(world)
    target = reroute.choose_jobs(world.store, record.id, world.directory, [("DATA-3", "Screening"), ("SUP-2", None)],
                                 by="rita")
    review.retry(world.store, record.id)
    return record, target


def test_two_chosen_jobs_make_one_applicant_and_a_candidate_with_a_comment_in_each(world):
    """Retry with two jobs: one applicant, two candidates at their stages, one comment each; the record names both."""
    record, target = two_jobs(world)
    assert [str(t.job.id) for t in target.every] == ["103", "104"]
    world.poll()
    after = world.store.message_by_pk(record.id)
    assert (after.status, after.job_id, after.job_title) == ("submitted", "103, 104",
                                                             "Data Analyst; Customer Support Specialist")
    state = world.sandbox.state()
    [applicant] = state["applicants"]
    placed = sorted((str(c["job_id"]), str(c["pipeline_stage_id"]), str(c["applicant_id"]))
                    for c in state["candidates"])
    assert placed == [("103", "22", str(applicant["id"])), ("104", "21", str(applicant["id"]))]
    assert len(after.candidate_id.split(", ")) == 2 and after.applicant_id == str(applicant["id"])
    assert sorted(str(a["candidate_id"]) for a in state["actions"]) == sorted(str(c["id"])
                                                                            for c in state["candidates"])
    assert state["requests"][CANDIDATE_POST] == 2


def killed_after(world, step: str) -> None:
    store = world.store
    world.store = DiesAfter(store, step)
    try:
        with pytest.raises(Killed):
            world.poll()
    finally:
        world.store = store


def test_a_crash_between_the_two_candidates_creates_the_second_once_and_the_first_never_again(world):
    """Killed right after the first job's last answer (its comment, committed before the second job's candidate
    starts): the next pass makes the second job's candidate and comment once, nothing twice."""
    record, _ = two_jobs(world)
    killed_after(world, "add_comment")
    state = world.sandbox.state()
    assert len(state["candidates"]) == 1 and len(state["actions"]) == 1
    world.poll()
    assert world.store.message_by_pk(record.id).status == "submitted"
    state = world.sandbox.state()
    assert len(state["applicants"]) == 1
    assert sorted(str(c["job_id"]) for c in state["candidates"]) == ["103", "104"]
    assert len(state["actions"]) == 2 and state["requests"][CANDIDATE_POST] == 2
    world.poll()  # and a later pass does nothing more
    assert world.sandbox.state()["requests"][CANDIDATE_POST] == 2


def test_a_crash_with_the_first_comment_started_holds_the_mail_and_sends_nothing_twice(world):
    """Killed right after the first job's candidate, committed with its comment's start: the comment may have
    gone out, so the next pass holds the mail as uncertain and creates no candidate again."""
    record, _ = two_jobs(world)
    killed_after(world, "create_candidate")
    world.poll()
    assert world.store.message_by_pk(record.id).status == "uncertain"
    state = world.sandbox.state()
    assert state["requests"][CANDIDATE_POST] == 1 and state["actions"] == []


def test_a_job_picked_twice_is_refused_and_nothing_is_journalled(world):
    """The same job twice (by code and by id) is refused: one candidate per job; the mail stays set aside."""
    record = set_aside_mail(world)
    with pytest.raises(reroute.CannotReroute, match="picked twice"):
        reroute.choose_jobs(world.store, record.id, world.directory, [("DATA-3", None), ("103", "Screening")])
    assert "route" not in world.store.steps(record.id)


@pytest.mark.parametrize(("jobs", "stages", "pairs"), [
    (["A", "B"], [], [("A", None), ("B", None)]),
    (["A", "B"], ["New"], [("A", "New"), ("B", "New")]),
    (["A", "B"], ["New", "Screening"], [("A", "New"), ("B", "Screening")]),
    (["A"], ["Screening"], [("A", "Screening")]),
])
def test_stages_go_one_for_all_or_one_per_job_in_order(jobs, stages, pairs):
    """No --stage: each job's first; one --stage: for every job; as many as jobs: paired in order."""
    assert reroute.pair_stages(jobs, stages) == pairs


def test_more_stages_than_one_but_not_one_per_job_are_refused():
    """Two stages for three jobs cannot be paired: refused, saying how to give them."""
    with pytest.raises(reroute.CannotReroute, match="one --stage for every job"):
        reroute.pair_stages(["A", "B", "C"], ["New", "Screening"])


def test_the_dry_run_names_every_job_a_person_chose(world):
    """A mail waiting to be submitted again after a person chose two jobs: the dry run's planning names both,
    as the next pass then submits to both."""
    _record, target = two_jobs(world)
    raw = next(iter(world.box.messages.values()))
    planner = Planner(FlowOptions(), RuleSet(), Directory(world.directory.open_jobs(), world.directory.pipelines(),
                                                          world.directory.sources()), world.store)
    said = planner.preview(1, frozenset(), len(raw), raw, target=target)
    assert said.status == "submitted"
    assert "would be submitted to 'Data Analyst' and 'Customer Support Specialist'" in said.line
    world.poll()
    assert len(world.sandbox.state()["candidates"]) == 2
