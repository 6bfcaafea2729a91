"""The ATS flow over the journal: each step once, in order, resumable, never blindly repeated."""

from __future__ import annotations

import pytest

from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.ats.models import AtsId
from daemon.domain import MessageKey
from daemon.errors import AtsRejected, NoCandidate, OutcomeUnknown
from daemon.intake.journal import DONE, STARTED, StoreJournal
from daemon.intake.submission import APPLICANT, CANDIDATE, COMMENT, ROUTE, Application, submit
from daemon.mail import ParsedEmail, Resume
from daemon.sandbox import Fault, SandboxATS
from daemon.store import open_store
from tests.fakes import FakeJournal

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
EMAIL = ParsedEmail(sender_name="Ann Lee", sender_email="ann@example.org", subject="Data Analyst", date=None,
                    message_id="m1@example.org", body_text="", attachments=())


@pytest.fixture(params=["plain", "variant"])
def ats(request, tmp_path):
    sandbox = SandboxATS(tmp_path / "ats.db", shape=request.param)
    url = sandbox.start()
    client = AtsClient(url, "t", timeout=5)
    yield sandbox, client, AtsDirectory(client, source_name="Email")
    client.close()
    sandbox.stop()


def application(directory: AtsDirectory, title: str = "Data Analyst") -> Application:
    job = next(j for j in directory.open_jobs() if j.title == title)
    return Application(EMAIL, (Resume("pdf", "cv.pdf", PDF),), job)


def test_full_flow_in_order_with_the_first_stage(ats):
    """Upload, applicant with the cv_ids, candidate on the job's pipeline and first stage, one comment."""
    sandbox, client, directory = ats
    done = submit(application(directory), client, directory, FakeJournal(), received=None)
    state = sandbox.state()
    assert [str(i) for i in state["applicants"][0]["cv_ids"]] == list(done.cv_ids)
    [candidate] = state["candidates"]
    assert (str(candidate["job_id"]), str(candidate["pipeline_stage_id"])) == ("103", "21")
    assert [str(a["candidate_id"]) for a in state["actions"]] == [done.candidate_id]


def test_resume_skips_steps_already_done(ats):
    """Steps in the journal are not sent again; the flow continues from the first missing one."""
    sandbox, client, directory = ats
    journal = FakeJournal()
    submit(application(directory), client, directory, journal, received=None)
    del journal.done[COMMENT]
    journal.begun.discard(COMMENT)
    before = dict(sandbox.state()["requests"])
    submit(application(directory), client, directory, journal, received=None)
    after = sandbox.state()["requests"]
    assert after["POST /api/v1/candidates/{id}/actions"] == before["POST /api/v1/candidates/{id}/actions"] + 1
    for call in ("POST /api/v1/upload-cv-file", "POST /api/v1/applicant", "POST /api/v1/candidate"):
        assert after[call] == before[call]


@pytest.mark.parametrize("step", [APPLICANT, CANDIDATE, COMMENT])
def test_a_step_started_but_never_recorded_is_not_repeated(ats, step):
    """After a crash mid-call the outcome is unknown: raise, and send nothing for that step."""
    sandbox, client, directory = ats
    journal = FakeJournal()
    journal.begun.add(step)
    with pytest.raises(OutcomeUnknown, match=step):
        submit(application(directory), client, directory, journal, received=None)
    state = sandbox.state()
    created = {APPLICANT: state["applicants"], CANDIDATE: state["candidates"], COMMENT: state["actions"]}
    assert created[step] == []


def test_a_known_applicant_is_reused_for_another_job(ats):
    """The same email address again: no new applicant; the candidate uses the known one."""
    sandbox, client, directory = ats
    first = submit(application(directory), client, directory, FakeJournal(), received=None)
    journal = FakeJournal()
    journal.applicants["ann@example.org"] = AtsId.of(int(first.applicant_id))
    second = submit(application(directory, "Python Developer"), client, directory, journal, received=None)
    state = sandbox.state()
    assert len(state["applicants"]) == 1 and len(state["candidates"]) == 2
    assert second.applicant_id == first.applicant_id
    assert journal.done[APPLICANT]["reused"] is True


def test_a_refused_create_can_run_again(ats):
    """A 422 is a definite answer: the step is not left 'started', so a retry later sends it again."""
    sandbox, client, directory = ats
    journal = FakeJournal()
    sandbox.add_fault(Fault("POST", "/api/v1/candidate", status=422, times=1))
    with pytest.raises(AtsRejected):
        submit(application(directory), client, directory, journal, received=None)
    assert not journal.started(CANDIDATE)
    submit(application(directory), client, directory, journal, received=None)
    assert len(sandbox.state()["candidates"]) == 1


def test_the_target_is_journalled_and_wins_over_a_later_decision(ats):
    """Resuming after the candidate: the comment goes to the journalled job even if another job is given now."""
    from daemon.intake.submission import ROUTE

    sandbox, client, directory = ats
    journal = FakeJournal()
    first = submit(application(directory), client, directory, journal, received=None)
    assert journal.done[ROUTE]["title"] == "Data Analyst"
    del journal.done[COMMENT]
    journal.begun.discard(COMMENT)
    again = submit(application(directory, "Python Developer"), client, directory, journal, received=None)
    assert again.candidate_id == first.candidate_id
    state = sandbox.state()
    assert len(state["candidates"]) == 1
    assert [str(a["candidate_id"]) for a in state["actions"]] == [first.candidate_id] * 2
    assert "for Data Analyst" in state["actions"][-1]["comment"]


class ExplodingClient:
    """An ATS client whose comment call fails with a bug of ours before anything is sent."""

    def __init__(self, real):
        self.real = real

    def __getattr__(self, name):
        return getattr(self.real, name)

    def add_comment(self, candidate, text):
        raise ValueError("a comment needs some text")


def test_a_step_that_fails_with_a_bug_is_not_left_started(ats):
    """An unexpected error of ours (not a lost answer) abandons the step: it will not look uncertain later."""
    _, client, directory = ats
    journal = FakeJournal()
    with pytest.raises(ValueError, match="comment"):
        submit(application(directory), ExplodingClient(client), directory, journal, received=None)
    assert not journal.started(COMMENT)
    assert CANDIDATE in journal.done


class Counting:
    """The store, noting each journal transaction (its steps and statuses) and each look-up of a candidate."""

    def __init__(self, store):
        self.store, self.transactions, self.lookups = store, [], 0

    def __getattr__(self, name):
        return getattr(self.store, name)

    def journal(self, pk, writes):
        self.store.journal(pk, writes)
        self.transactions.append([(w.name, w.status) for w in writes])

    def known_candidate(self, applicant_id, job_id):
        self.lookups += 1
        return self.store.known_candidate(applicant_id, job_id)


@pytest.fixture
def counted(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    record = store.add_message(MessageKey("jobs@example.org", "INBOX", 1, 1), sha256="00", size=1)
    yield Counting(store), record.id
    store.close()


def test_each_answer_is_committed_with_the_next_start(ats, counted):
    """A new application journals in four transactions: route, upload and the applicant's start; each answer
    with the next create's start; the comment's answer at the end; a new applicant's candidate is not looked up."""
    _sandbox, client, directory = ats
    store, pk = counted
    submit(application(directory), client, directory, StoreJournal(store, pk), received=None)
    assert store.transactions == [
        [(ROUTE, DONE), ("upload_cv:0", DONE), (APPLICANT, STARTED)],
        [(APPLICANT, DONE), (CANDIDATE, STARTED)],
        [(CANDIDATE, DONE), (COMMENT, STARTED)],
        [(COMMENT, DONE)],
    ]
    assert {name: step.status for name, step in store.steps(pk).items()} == dict.fromkeys(
        [ROUTE, "upload_cv:0", APPLICANT, CANDIDATE, COMMENT], DONE)
    assert store.lookups == 0


def test_answers_received_before_a_failure_are_committed(ats, counted):
    """A refused candidate: the applicant's answer (sent with the candidate's start) stays, the start is dropped,
    and a known applicant's candidate is looked up on the next attempt."""
    sandbox, client, directory = ats
    store, pk = counted
    sandbox.add_fault(Fault("POST", "/api/v1/candidate", status=422, times=1))
    with pytest.raises(AtsRejected):
        submit(application(directory), client, directory, StoreJournal(store, pk), received=None)
    steps = {name: step.status for name, step in store.steps(pk).items()}
    assert steps == {ROUTE: DONE, "upload_cv:0": DONE, APPLICANT: DONE}
    submit(application(directory), client, directory, StoreJournal(store, pk), received=None)
    assert store.lookups == 1 and len(sandbox.state()["candidates"]) == 1


def test_answers_before_an_error_of_ours_are_committed(ats, counted):
    """No address for the candidate after the upload: the route and the upload's answer are committed."""
    _sandbox, client, directory = ats
    store, pk = counted
    nobody = application(directory)
    nobody = Application(ParsedEmail(sender_name="", sender_email="", subject="Data Analyst", date=None,
                                     message_id="m2@example.org", body_text="", attachments=()),
                         nobody.resumes, nobody.job)
    with pytest.raises(NoCandidate):
        submit(nobody, client, directory, StoreJournal(store, pk), received=None)
    assert store.transactions == [[(ROUTE, DONE), ("upload_cv:0", DONE)]]
