"""The ATS flow for one application, step by step, each step journalled before the next.

    upload each CV -> create applicant -> create candidate -> post confirmation comment

A step already in the journal is never called again: after a crash, a retry or a restart,
the flow resumes from the last recorded step with the ids it recorded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from daemon.applicant import applicant_name
from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.ats.models import AtsId, Job
from daemon.comment import confirmation
from daemon.errors import AtsRejected
from daemon.mail import ParsedEmail, Resume

log = logging.getLogger(__name__)

APPLICANT = "create_applicant"
CANDIDATE = "create_candidate"
COMMENT = "add_comment"


def upload_step(index: int) -> str:
    return f"upload_cv:{index}"


@dataclass(frozen=True, slots=True)
class Application:
    """What one email asks for: these resumes, from this sender, for this job."""

    email: ParsedEmail
    resumes: tuple[Resume, ...]
    job: Job


@dataclass(frozen=True, slots=True)
class Submitted:
    applicant_id: str
    candidate_id: str
    cv_ids: tuple[str, ...]


class Journal(Protocol):
    """The record of steps already done for one message (backed by the store)."""

    def get(self, step: str) -> Mapping[str, Any] | None:
        """The data recorded for a finished step, or None."""

    def record(self, step: str, ats_id: str, data: Mapping[str, Any]) -> None:
        """Record a finished step durably (committed before returning)."""


def submit(app: Application, client: AtsClient, directory: AtsDirectory, journal: Journal,
           received: datetime | None) -> Submitted:
    """Run the remaining steps of the flow for `app`; return the ids it created or found."""
    pipeline = directory.pipeline(app.job.pipeline_id)
    stage = pipeline.first_stage()
    if stage is None:
        raise AtsRejected(f"the pipeline of job {app.job.title!r} has no stages")
    source = directory.source()
    uploads = [_upload(client, journal, i, resume) for i, resume in enumerate(app.resumes)]
    cv_ids = [AtsId.of(u["id"]) for u in uploads]
    applicant = _once(journal, APPLICANT, lambda: _create_applicant(client, app.email, uploads, source.id))
    candidate = _once(journal, CANDIDATE, lambda: client.create_candidate(
        job_id=app.job.id, applicant_id=applicant, pipeline_id=pipeline.id, stage_id=stage.id,
        source_id=source.id))
    text = confirmation(sender_email=app.email.sender_email, subject=app.email.subject, received=received,
                        file_names=[r.filename or r.upload_name for r in app.resumes], job_title=app.job.title)
    _once(journal, COMMENT, lambda: client.add_comment(candidate, text))
    return Submitted(str(applicant), str(candidate), tuple(str(c) for c in cv_ids))


def _once(journal: Journal, step: str, call) -> Any:
    """The id from the journal, or from making the call and journalling it."""
    done = journal.get(step)
    if done is not None:
        return AtsId.of(done["id"])
    ats_id = call()
    journal.record(step, str(ats_id), {"id": ats_id})
    log.info("ats.step.done", extra={"step": step, "ats_id": str(ats_id)})
    return ats_id


def _upload(client: AtsClient, journal: Journal, index: int, resume: Resume) -> Mapping[str, Any]:
    step = upload_step(index)
    done = journal.get(step)
    if done is not None:
        return done
    uploaded = client.upload_cv(resume.upload_name, resume.data, _MIME[resume.kind])
    data = {"id": uploaded.cv_id, "parsed": dict(uploaded.parsed)}
    journal.record(step, str(uploaded.cv_id), data)
    log.info("ats.step.done", extra={"step": step, "ats_id": str(uploaded.cv_id)})
    return data


def _create_applicant(client: AtsClient, email: ParsedEmail, uploads: list[Mapping[str, Any]], source_id):
    parsed = next((u["parsed"] for u in uploads if u.get("parsed")), {})
    name = applicant_name(email.sender_name, parsed, email.sender_email)
    address = email.sender_email or str(parsed.get("email") or "")
    return client.create_applicant(
        first_name=name.first, middle_name=name.middle, last_name=name.last, email=address,
        phone=str(parsed.get("phone") or ""), cv_ids=[AtsId.of(u["id"]) for u in uploads], source_id=source_id)


_MIME = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def encode(data: Mapping[str, Any]) -> str:
    return json.dumps(data, default=_wire, ensure_ascii=False)


def _wire(value: Any) -> Any:
    return getattr(value, "wire", str(value))
