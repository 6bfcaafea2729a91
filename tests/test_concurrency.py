"""Several messages in flight ([ats] concurrency): the same records and ATS state as one at a time,
one applicant per person, and a stop or an outage loses nothing. In process, no timing asserted."""

from __future__ import annotations

import threading

import pytest

from daemon.ats.models import AtsId
from daemon.intake.flow import FlowOptions, MessageFlow
from daemon.intake.journal import StoreJournal
from daemon.intake.runner import Runner, RunnerOptions
from daemon.intake.submission import Application, People, submit
from daemon.mail import ParsedEmail, Resume
from daemon.sandbox import Fault
from tests import invariant
from tests.inprocess import InProcessWorld, ThreadClock
from tests.world import CREATES, PDF, application

JOBS = ("Data Analyst", "Senior Python Developer", "Python Developer", "Customer Support Specialist")


def mixed_mailbox() -> list[bytes]:
    """Applications, a mail without a CV, one person applying to two jobs, and a copy of a mail."""
    from tests.mailfactory import build_email

    mails = [application(n, JOBS[n % len(JOBS)]) for n in range(1, 9)]
    mails.insert(3, build_email(sender=("No Cv", "nocv@example.org"), subject="Application: Data Analyst"))
    mails.append(application(3, "Data Analyst", email="person2@example.org"))  # person 2 again, another job
    mails.append(mails[5])  # a second copy
    return mails


@pytest.fixture
def worlds(tmp_path):
    made = []

    def make(name: str) -> InProcessWorld:
        folder = tmp_path / name
        folder.mkdir()
        made.append(InProcessWorld(folder, clock=ThreadClock()))
        return made[-1]

    yield make
    for world in made:
        world.close()


def outcome(world: InProcessWorld) -> tuple[list[tuple], dict[str, int]]:
    """Each record's uid, status, job and reason; and the ATS's records by kind, with who applied where."""
    rows = world.store.messages(limit=100)
    records = sorted((r.uid, r.status, r.job_title, r.reason, r.mailbox_action) for r in rows)
    state = world.sandbox.state()
    emails = {a["id"]: a["email"] for a in state["applicants"]}
    applied = sorted((emails[c["applicant_id"]], c["job_id"]) for c in state["candidates"])
    return records, {"applicants": len(state["applicants"]), "actions": len(state["actions"]), "applied": applied}


def test_several_in_flight_give_the_same_records_and_ats_state_as_one_at_a_time(worlds):
    """Concurrency 4 and concurrency 1 on the same mailbox: the same outcomes, actions and ATS records."""
    results = []
    for concurrency in (1, 4):
        world = worlds(f"c{concurrency}")
        world.deliver(*mixed_mailbox())
        summary = world.poll(concurrency=concurrency)
        assert (summary.seen, summary.pending) == (11, 0)
        world.check()
        results.append(outcome(world))
    assert results[0] == results[1]


def test_two_mails_from_one_sender_never_create_two_applicants(worlds):
    """Three mails from one address, for three jobs, started together: one applicant, three candidates."""
    world = worlds("one")
    world.deliver(application(1), *(application(2 + i, job, email="same@example.org") for i, job in enumerate(JOBS)))
    world.poll(concurrency=4)
    state = world.sandbox.state()
    assert [a["email"] for a in state["applicants"]].count("same@example.org") == 1
    assert len(state["candidates"]) == 5
    assert set(world.check().values()) == {"submitted"}


class SlowApplicants:
    """An ATS client whose applicant creation takes a while (two flows would both miss KnownApplicant)."""

    def __init__(self, client):
        self.client, self.entered = client, threading.Barrier(2, timeout=5)

    def __getattr__(self, name):
        return getattr(self.client, name)

    def upload_cv(self, *args, **kwargs):
        uploaded = self.client.upload_cv(*args, **kwargs)
        self.entered.wait()  # both flows have their CV uploaded before either looks for the applicant
        return uploaded

    def create_applicant(self, **kwargs) -> AtsId:
        threading.Event().wait(0.05)
        return self.client.create_applicant(**kwargs)


def test_one_person_named_by_two_flows_at_once_is_created_once(worlds):
    """The address lock: two flows naming one person at the same moment (a forward, a CV) make one applicant."""
    from tests.mailfactory import build_email

    world = worlds("lock")
    world.deliver(*(build_email(sender=(name, f"{name}@example.org"), subject="Hello") for name in ("a", "b")))
    world.poll()  # two records to journal against (no CV: set aside, nothing sent)
    directory, people, client = world.directory, People(), SlowApplicants(world.client)
    job = next(j for j in directory.open_jobs() if j.title == "Data Analyst")
    mail = ParsedEmail(sender_name="Ann Lee", sender_email="ann@example.org", subject="Data Analyst", date=None,
                       message_id="m@example.org", body_text="", attachments=())
    app = Application(mail, (Resume("pdf", "cv.pdf", PDF),), job)
    done = []

    def flow(pk: int) -> None:
        done.append(submit(app, client, directory, StoreJournal(world.store, pk), received=None, people=people))

    threads = [threading.Thread(target=flow, args=(r.id,)) for r in world.store.messages()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(done) == 2
    assert len(world.sandbox.state()["applicants"]) == 1
    assert done[0].applicant_id == done[1].applicant_id and done[0].candidate_id == done[1].candidate_id


def test_a_stop_with_several_in_flight_loses_nothing(worlds):
    """A stop mid-pass: the flows in flight land with their outcomes and actions; the next pass ends the work."""
    world = worlds("stop")
    world.deliver(*mixed_mailbox())
    flow = MessageFlow(world.store, world.client, world.directory, FlowOptions(), sleep=world.clock.sleep)
    runner = Runner(world.store, world.box, flow, RunnerOptions(concurrency=4), probe=world.client.answers,
                    sleep=world.clock.sleep, should_stop=lambda: len(world.box.done) >= 2)
    first = runner.run_pass()
    assert 0 < first.seen < 11
    for record in world.store.messages(limit=100):
        assert record.status != "pending" and record.mailbox_action, record  # nothing left half done
    world.poll(concurrency=4)
    assert set(world.check().values()) == {"submitted", "review"}


def test_an_outage_with_several_in_flight_charges_no_attempt_and_loses_nothing(worlds):
    """The ATS goes down while flows are in flight: the pass pauses, no attempt is used, the next pass ends the work."""
    world = worlds("outage")
    world.deliver(*(application(n, JOBS[n % len(JOBS)]) for n in range(1, 13)))
    flow = MessageFlow(world.store, world.client, world.directory, FlowOptions(), sleep=world.clock.sleep)

    def heartbeat() -> bool:
        if len(world.box.done) == 3:  # the ATS goes down after three applications, others in flight
            for method, path in [("GET", "/api/v1/sources/all"), *(("POST", p) for p in CREATES)]:
                world.sandbox.add_fault(Fault(method, path, status=503, times=-1))
        return True

    runner = Runner(world.store, world.box, flow, RunnerOptions(concurrency=4), probe=world.client.answers,
                    sleep=world.clock.sleep, heartbeat=heartbeat)
    summary = runner.run_pass()
    assert summary.ats_down and summary.pending >= 1
    pending = [r for r in world.store.messages(limit=100) if r.status == "pending"]
    assert pending and all(r.attempts == 0 for r in pending)
    world.sandbox.clear_faults()
    world.clock.now += 3600  # past the circuit breaker's cooldown
    world.poll(concurrency=4)
    assert set(world.check().values()) == {"submitted"}
    assert len(invariant.records(world.database)) == 12
