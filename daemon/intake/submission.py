"""The ATS flow for one application, step by step, each step journalled before the next.

    decide the target (job, stage, source) -> upload each CV -> create applicant
    -> create candidate -> post confirmation comment

A step already in the journal is never called again: after a crash, a retry or a restart,
the flow resumes from the last recorded step with the ids it recorded. Each answer is
committed with the next create's start, in one transaction, before that request goes out
(daemon.intake.journal); the last one when the flow ends. The target is journalled too,
with the CVs' uploads (which bind nothing to a job and are safe to repeat), before the
first create: a job that closes (or a rule that changes) between two steps never sends the
rest of an application elsewhere.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.ats.models import AtsId, Job, Source
from daemon.domain import Person
from daemon.errors import AtsRejected, NoCandidate, OutcomeUnknown
from daemon.intake.applicant import PersonName, applicant_name
from daemon.intake.comment import confirmation
from daemon.mail import ParsedEmail, Resume
from daemon.mail.parsing import usable_address
from daemon.routing.decision import Decision

log = logging.getLogger(__name__)

ROUTE = "route"
APPLICANT = "create_applicant"
CANDIDATE = "create_candidate"
COMMENT = "add_comment"
NO_NAME = "no name for the candidate in the mail nor in the ATS's reading of the CV (a name is never made " \
          "from the address): nothing was created but the uploaded CV; add the applicant by hand"


UPLOAD = "upload_cv:"


def upload_step(index: int) -> str:
    return f"{UPLOAD}{index}"


@dataclass(frozen=True, slots=True)
class Application:
    """What one email asks for: these resumes, from this sender, for this job.

    `decision` is the routing decision that chose the job (its stage, source, comment and
    rule); None means the job's first stage and the configured source.
    """

    @property
    def who(self) -> Person:
        """The person the mail says is the candidate (the address may be "")."""
        if self.person is not None:
            return self.person
        if self.person_from_cv:
            return Person("", "")
        return Person(self.email.sender_name, self.email.sender_email)

    email: ParsedEmail
    resumes: tuple[Resume, ...]
    job: Job
    decision: Decision | None = None
    # The candidate when it is not the mail's sender (a forward), and who forwarded it.
    person: Person | None = None
    forwarder: Person | None = None
    # No candidate address in the mail: take the ATS's reading of the CV, never the sender.
    person_from_cv: bool = False
    cover_letter: str = ""  # the candidate's own text, quoted in the comment
    agency: str = ""  # the agency that sent the mail in: the name of its ATS source (daemon.intake.planning)


@dataclass(frozen=True, slots=True)
class Target:
    """Where an application goes in the ATS: the job, its pipeline's stage, the source;
    and which rule sent it there, why, and the comment line the rule adds.

    `also`: the further jobs a person chose for the same mail (`messages retry --job A --job B`),
    each with its own stage and source: one applicant, a candidate and a comment for each job.
    """

    job: Job
    stage_id: AtsId
    source_id: AtsId
    rule: str = ""
    reasons: tuple[str, ...] = ()
    comment: str = ""
    also: tuple[Target, ...] = ()

    @property
    def every(self) -> tuple[Target, ...]:
        """This target's jobs, the first one first, each as a target of its own."""
        return (replace(self, also=()), *self.also)

    def to_journal(self) -> dict[str, Any]:
        data = {"id": self.job.id.wire, "title": self.job.title, "pipeline_id": self.job.pipeline_id.wire,
                "stage_id": self.stage_id.wire, "source_id": self.source_id.wire, "rule": self.rule,
                "reasons": list(self.reasons), "comment": self.comment}
        return {**data, "also": [t.to_journal() for t in self.also]} if self.also else data

    @classmethod
    def from_journal(cls, data: Mapping[str, Any]) -> Target:
        job = Job(id=AtsId.of(data["id"]), title=str(data["title"]), pipeline_id=AtsId.of(data["pipeline_id"]))
        return cls(job, AtsId.of(data["stage_id"]), AtsId.of(data["source_id"]), rule=str(data.get("rule", "")),
                   reasons=tuple(str(r) for r in data.get("reasons", ())), comment=str(data.get("comment", "")),
                   also=tuple(cls.from_journal(t) for t in data.get("also", ())))


def recorded_target(journal: Journal) -> Target | None:
    """The target decided earlier for this message, if any."""
    done = journal.get(ROUTE)
    return Target.from_journal(done) if done is not None else None


def target_for(job: Job, directory: AtsDirectory, decision: Decision | None = None, agency: str = "") -> Target:
    """The stage and source the decision names; by default the first stage of the job's
    pipeline, and the agency's source (`agency`, its name) or else the configured source."""
    stage = decision.stage if decision is not None and decision.stage is not None else None
    if stage is None:
        stage = directory.pipeline(job.pipeline_id).first_stage()
    if stage is None:
        raise AtsRejected(f"the pipeline of job {job.title!r} has no stages")
    source = (decision.source if decision is not None and decision.source is not None else
              _agency_source(directory, agency) if agency else directory.source())
    if decision is None:
        return Target(job, stage.id, source.id)
    return Target(job, stage.id, source.id, rule=decision.rule, reasons=decision.reasons, comment=decision.comment)


def _agency_source(directory: AtsDirectory, name: str) -> Source:
    """The agency's source by name, without regard to case; a missing one is this mail's problem (set
    aside for a person), never the configured source in its place."""
    wanted = name.strip().casefold()
    found = next((s for s in directory.sources() if s.name.strip().casefold() == wanted), None)
    if found is None:
        raise AtsRejected(f"the ATS has no source named {name!r}, the agency's ([intake] agencies)")
    return found


@dataclass(frozen=True, slots=True)
class Submitted:
    applicant_id: str
    candidate_id: str
    cv_ids: tuple[str, ...]


class Journal(Protocol):
    """The record of one message's steps, and what earlier messages taught about people."""

    def get(self, step: str) -> Mapping[str, Any] | None:
        """The data recorded for a finished step, or None."""

    def started(self, step: str) -> bool:
        """True when the step was begun (its request may have gone out) but never finished."""

    def start(self, step: str) -> None:
        """Record, durably, that the step's request is about to be sent."""

    def record(self, step: str, ats_id: AtsId, data: Mapping[str, Any]) -> None:
        """Record a finished step: committed with the next `start`, or by `commit`."""

    def commit(self) -> None:
        """Make every finished step recorded so far durable (committed before returning)."""

    def abandon(self, step: str) -> None:
        """Forget a started step whose request certainly created nothing (refused, or never sent)."""

    def known_applicant(self, email: str) -> AtsId | None:
        """The applicant created earlier for this email address, if any."""

    def known_candidate(self, applicant_id: AtsId, job_id: AtsId) -> AtsId | None:
        """The candidate created earlier for this applicant and job, if any."""


class PrefixedJournal:
    """One part of a message's journal: every step name gets `prefix` (one candidate of a
    mail that brings several), while what is known about people is shared."""

    def __init__(self, journal: Journal, prefix: str):
        self.journal, self.prefix = journal, prefix

    def get(self, step: str) -> Mapping[str, Any] | None:
        return self.journal.get(self.prefix + step)

    def started(self, step: str) -> bool:
        return self.journal.started(self.prefix + step)

    def start(self, step: str) -> None:
        self.journal.start(self.prefix + step)

    def record(self, step: str, ats_id: AtsId, data: Mapping[str, Any]) -> None:
        self.journal.record(self.prefix + step, ats_id, data)

    def commit(self) -> None:
        self.journal.commit()

    def abandon(self, step: str) -> None:
        self.journal.abandon(self.prefix + step)

    def known_applicant(self, email: str) -> AtsId | None:
        return self.journal.known_applicant(email)

    def known_candidate(self, applicant_id: AtsId, job_id: AtsId) -> AtsId | None:
        return self.journal.known_candidate(applicant_id, job_id)


class JobJournal:
    """The part of a message's journal for one further job a person chose (`Target.also`): the
    route is that job's target, the candidate and comment steps get `prefix`, while the uploaded
    CVs and the applicant are the message's own, shared by every job (created once, reused)."""

    SHARED = (APPLICANT,)

    def __init__(self, journal: Journal, target: Target, prefix: str):
        self.journal, self.target, self.prefix = journal, target, prefix

    def _name(self, step: str) -> str:
        return step if step in self.SHARED or step.startswith(UPLOAD) else self.prefix + step

    def get(self, step: str) -> Mapping[str, Any] | None:
        return self.target.to_journal() if step == ROUTE else self.journal.get(self._name(step))

    def started(self, step: str) -> bool:
        return self.journal.started(self._name(step))

    def start(self, step: str) -> None:
        self.journal.start(self._name(step))

    def record(self, step: str, ats_id: AtsId, data: Mapping[str, Any]) -> None:
        self.journal.record(self._name(step), ats_id, data)

    def commit(self) -> None:
        self.journal.commit()

    def abandon(self, step: str) -> None:
        self.journal.abandon(self._name(step))

    def known_applicant(self, email: str) -> AtsId | None:
        return self.journal.known_applicant(email)

    def known_candidate(self, applicant_id: AtsId, job_id: AtsId) -> AtsId | None:
        return self.journal.known_candidate(applicant_id, job_id)


class People:
    """One lock per candidate address, for messages whose flows run at once: finding or creating
    the applicant and the candidate of one address (and commenting on it) is done by one flow at
    a time, so that the second flow finds what the first created and committed (KnownApplicant,
    KnownCandidate) instead of creating it again. The runner already keeps two mails of one sender apart; this also
    covers a candidate named in a forward or read from the CV."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def one(self, address: str) -> Iterator[None]:
        if not address:
            yield
            return
        with self._guard:
            lock, users = self._locks.get(address, (threading.Lock(), 0))
            self._locks[address] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[address]
                if users == 1:
                    del self._locks[address]
                else:
                    self._locks[address] = (lock, users - 1)


def submit(app: Application, client: AtsClient, directory: AtsDirectory, journal: Journal,
           received: datetime | None, people: People | None = None) -> Submitted:
    """Run the remaining steps of the flow for `app`; return the ids it created or found.

    The target recorded in the journal wins over `app.job`: it was decided first. With
    `people`, the applicant, candidate and comment steps hold the candidate address's lock,
    and what they taught is committed before it is let go. Whatever happens, every answer
    received is committed before this returns or raises.
    """
    try:
        target = recorded_target(journal)
        if target is None:
            target = target_for(app.job, directory, app.decision, app.agency)
            journal.record(ROUTE, target.job.id, target.to_journal())
        uploads = [_upload(client, journal, i, resume) for i, resume in enumerate(app.resumes)]
        with (people or People()).one(_address(app, uploads)):
            submitted = _people_steps(app, client, journal, target, uploads, received)
            journal.commit()
    except Exception:
        journal.commit()  # the answers received before the error are kept
        raise
    return submitted


def _people_steps(app: Application, client: AtsClient, journal: Journal, target: Target,
                  uploads: list[Mapping[str, Any]], received: datetime | None) -> Submitted:
    """The applicant, the candidate and the comment, each answer committed with the next start."""
    job = target.job
    earlier = journal.get(APPLICANT) is not None
    applicant = _applicant(client, journal, app, uploads, target.source_id)
    reused = bool((journal.get(APPLICANT) or {}).get("reused"))
    candidate, again = _candidate(client, journal, job, applicant, job.pipeline_id, target.stage_id,
                                  target.source_id, new_applicant=not earlier and not reused)
    files = [r.filename or r.upload_name for r in app.resumes]
    text = confirmation(sender_email=_address(app, uploads) or app.email.sender_email, subject=app.email.subject,
                        received=received, forwarded_by=_forwarded(app), agency=app.agency,
                        file_names=files, job_title=job.title,
                        again=again, rule=target.rule, note=target.comment, cover_letter=app.cover_letter,
                        new_files_not_attached=files if reused else [])
    _once(journal, COMMENT, lambda: client.add_comment(candidate, text), {})
    return Submitted(str(applicant), str(candidate), tuple(str(u["id"]) for u in uploads))


def _forwarded(app: Application) -> str:
    """Who sent the mail in for the candidate: 'Name (address)'; an agency's sender by address."""
    forwarder = app.forwarder
    if forwarder is None:
        return ""
    return f"{forwarder.name} ({forwarder.address})" if forwarder.name and not app.agency else forwarder.address


def _once(journal: Journal, step: str, call: Callable[[], AtsId], data: Mapping[str, Any]) -> AtsId:
    """The id from the journal, or from making the call once and journalling it.

    A step that was started but not finished (a crash or a lost answer after the request
    went out) is not repeated: the ATS may have done it, and it cannot be looked up.
    """
    done = journal.get(step)
    if done is not None:
        return AtsId.of(done["id"])
    if journal.started(step):
        raise OutcomeUnknown(f"step {step} was sent earlier but its answer was never recorded")
    journal.start(step)
    try:
        ats_id = call()
    except OutcomeUnknown:
        raise  # the request went out and its answer was lost: the started mark stays
    except Exception:
        # A definite refusal (4xx, 5xx that created nothing, never sent), or an error of
        # ours before or after the call that the client did not report as a lost answer
        # (the client turns every failure after sending into OutcomeUnknown).
        journal.abandon(step)
        raise
    journal.record(step, ats_id, {"id": ats_id.wire, **data})
    log.info("ats.step.done", extra={"step": step, "ats_id": str(ats_id)})
    return ats_id


def _reuse(journal: Journal, step: str, ats_id: AtsId, data: Mapping[str, Any]) -> AtsId:
    """Journal that an existing ATS record serves this step (nothing is sent)."""
    journal.record(step, ats_id, {"id": ats_id.wire, "reused": True, **data})
    log.info("ats.step.reused", extra={"step": step, "ats_id": str(ats_id)})
    return ats_id


def _applicant(client: AtsClient, journal: Journal, app: Application, uploads: list[Mapping[str, Any]],
               source_id: AtsId) -> AtsId:
    done = journal.get(APPLICANT)
    if done is not None:
        return AtsId.of(done["id"])
    address = _address(app, uploads)
    if not address:
        raise NoCandidate("no address for the candidate in the mail nor in the ATS's reading of the CV; "
                          "the sender was not used" if app.person_from_cv or app.person else
                          "no sender address in the mail nor in the ATS's reading of the CV")
    known = journal.known_applicant(address)
    if known is not None:
        return _reuse(journal, APPLICANT, known, {"email": address})
    name = applicant_name(app.who.name, _parsed(uploads), address)
    if name is None:  # never invented (from the address's local part): a person names the applicant
        raise NoCandidate(NO_NAME)
    return _once(journal, APPLICANT, lambda: _create_applicant(client, name, address, uploads, source_id),
                 {"email": address})


def _candidate(client: AtsClient, journal: Journal, job: Job, applicant: AtsId, pipeline_id: AtsId,
               stage_id: AtsId, source_id: AtsId, *, new_applicant: bool = False) -> tuple[AtsId, bool]:
    """The candidate for this applicant and job, and whether it existed before this mail. An applicant this
    flow has just created (under the address's lock, its id not yet committed) has no candidate to look up."""
    done = journal.get(CANDIDATE)
    if done is not None:
        return AtsId.of(done["id"]), bool(done.get("reused"))
    data = {"applicant": applicant.wire, "job": job.id.wire}
    known = None if new_applicant else journal.known_candidate(applicant, job.id)
    if known is not None:
        return _reuse(journal, CANDIDATE, known, data), True
    created = _once(journal, CANDIDATE, lambda: client.create_candidate(
        job_id=job.id, applicant_id=applicant, pipeline_id=pipeline_id, stage_id=stage_id, source_id=source_id),
        data)
    return created, False


def _upload(client: AtsClient, journal: Journal, index: int, resume: Resume) -> Mapping[str, Any]:
    """Upload one CV. Safe to repeat after a crash (at worst an orphan file), so no start marker: its
    answer is committed with the applicant's start."""
    step = upload_step(index)
    done = journal.get(step)
    if done is not None:
        return done
    uploaded = client.upload_cv(resume.upload_name, resume.data, _MIME[resume.kind])
    data = {"id": uploaded.cv_id.wire, "parsed": dict(uploaded.parsed)}
    journal.record(step, uploaded.cv_id, data)
    log.info("ats.step.done", extra={"step": step, "ats_id": str(uploaded.cv_id)})
    return data


def _parsed(uploads: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The ATS's reading of the first CV it read anything in; {} when none."""
    return next((u["parsed"] for u in uploads if u.get("parsed")), {})


def _address(app: Application, uploads: list[Mapping[str, Any]]) -> str:
    """The candidate's address: from the mail, else from the ATS's reading of the CV."""
    parsed = _parsed(uploads)
    address = app.who.address or usable_address(str(parsed.get("email") or ""))  # the ATS's reading, checked too
    return "" if app.forwarder is not None and address == app.forwarder.address else address  # never the forwarder


def _create_applicant(client: AtsClient, name: PersonName, address: str, uploads: list[Mapping[str, Any]],
                      source_id: AtsId) -> AtsId:
    return client.create_applicant(
        first_name=name.first, middle_name=name.middle, last_name=name.last, email=address,
        phone=str(_parsed(uploads).get("phone") or ""), cv_ids=[AtsId.of(u["id"]) for u in uploads],
        source_id=source_id)


_MIME = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
