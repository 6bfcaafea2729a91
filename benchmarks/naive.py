"""The naive flow: the vendor guide's seven calls per application, one message at a time.

    python -m benchmarks.naive TARGET_JSON

For each message: one FETCH of its body, a parse with the standard library, and, when it
carries a CV: search jobs, list pipelines, list sources (no caching), upload the CV, create
the applicant, create the candidate, post a comment -- each call on a new connection
(`httpx.post`/`httpx.get`, as the guide's snippets do). No journal, no duplicate check.
Prints {"messages", "applications", "calls", "seconds"} as JSON.
"""

from __future__ import annotations

import email
import json
import sys
import time
from email.policy import default

import httpx

from benchmarks.common import Target
from benchmarks.floor import first_stage


def main(path: str) -> None:
    target = Target.load(path)
    started = time.monotonic()
    imap = target.imap()
    imap.select_folder(target.folder, readonly=True)
    ats = Naive(target.ats_url, target.token)
    done = 0
    for uid in sorted(imap.search("ALL")):
        raw = imap.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
        ats.handle(email.message_from_bytes(raw, policy=default))
        done += 1
    imap.logout()
    print(json.dumps({"messages": done, "applications": ats.applications, "calls": ats.calls,
                      "seconds": time.monotonic() - started}))


class Naive:
    def __init__(self, url: str, token: str):
        self.url, self.headers = url, {"Authorization": f"Bearer {token}"}
        self.calls = self.applications = 0

    def call(self, method: str, path: str, **kwargs: object) -> dict:
        self.calls += 1
        response = httpx.request(method, self.url + path, headers=self.headers, timeout=60, **kwargs)
        response.raise_for_status()
        return response.json()

    def handle(self, message) -> None:
        cv = next((part for part in message.iter_attachments()
                   if part.get_content_type() in ("application/pdf", _DOCX)), None)
        if cv is None:
            return
        self.applications += 1
        jobs = self.call("POST", "/api/v1/jobs/search", json={"query": "", "page": 1, "per_page": 100})["items"]
        pipelines = self.call("GET", "/api/v1/pipelines/all")["items"]
        source = next(s["id"] for s in self.call("GET", "/api/v1/sources/all")["items"] if s["name"] == "Email")
        subject = str(message["subject"])
        job = max((j for j in jobs if j["title"] in subject), key=lambda j: len(j["title"]))
        pipeline = next(p for p in pipelines if str(p["id"]) == str(job["pipeline_id"]))
        sender = message["from"].addresses[0]
        cv_id = self.call("POST", "/api/v1/upload-cv-file", files={
            "file": (cv.get_filename(), cv.get_content(), cv.get_content_type())})["cv_id"]
        first, _, last = sender.display_name.rpartition(" ")
        applicant = self.call("POST", "/api/v1/applicant", json={
            "first_name": first, "last_name": last, "email": sender.addr_spec, "cv_ids": [cv_id],
            "source_id": source})["id"]
        candidate = self.call("POST", "/api/v1/candidate", json={
            "job_id": job["id"], "applicant_id": applicant, "pipeline_id": pipeline["id"],
            "pipeline_stage_id": first_stage(pipeline), "source_id": source})["id"]
        self.call("POST", f"/api/v1/candidates/{candidate}/actions",
                  json={"comment": f"Application by email: {subject}"})


_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

if __name__ == "__main__":
    main(sys.argv[1])
