"""Each call of the ATS client, made with small fixed arguments: tables for client tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from daemon.ats.client import AtsClient

Call = Callable[[AtsClient], Any]

DIRECTORY_CALLS: dict[str, Call] = {
    "search": lambda c: c.search_jobs(),
    "pipelines": lambda c: c.pipelines(),
    "sources": lambda c: c.sources(),
}
CREATE_CALLS: dict[str, Call] = {
    "upload": lambda c: c.upload_cv("cv.pdf", b"%PDF-", "application/pdf"),
    "applicant": lambda c: c.create_applicant(first_name="A", last_name="B", email="a@b.test",
                                              cv_ids=[1], source_id=2),
    "candidate": lambda c: c.create_candidate(job_id=1, applicant_id=2, pipeline_id=3,
                                              stage_id=4, source_id=5),
    "comment": lambda c: c.add_comment(9, "hello"),
}
ALL_CALLS: dict[str, Call] = {**DIRECTORY_CALLS, **CREATE_CALLS}
