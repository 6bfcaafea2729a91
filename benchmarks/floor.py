"""The I/O floor: the mailbox fetched with imapclient and the ATS calls each application
needs, one after another over one kept-alive connection; no parsing, no logic, no database.

    python -m benchmarks.floor TARGET_JSON [CONCURRENCY]

Bodies are fetched as the daemon fetches them (`BODY.PEEK[]`, batches of at most 16 MB).
What a mail is comes from the generator's manifest: the CV is the base64 at a known place
in the raw mail. Per application: upload the CV, create the applicant (once per address,
as the daemon does), create the candidate (once per address and job), post a comment.
With CONCURRENCY above 1 (the concurrent floor), that many messages' calls run at once in
threads over one connection pool, the bodies still fetched in order on the one IMAP
connection; two mails of one address never create its applicant together (a lock per address,
as the daemon has). Prints {"messages", "applications", "calls", "seconds"} as JSON.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import httpx

from benchmarks.common import Target, batches


def main(path: str, concurrency: int = 1) -> None:
    target = Target.load(path)
    specs = target.specs()
    started = time.monotonic()
    imap = target.imap()
    imap.select_folder(target.folder, readonly=True)
    uids = sorted(imap.search("ALL"))
    sizes = {uid: data[b"RFC822.SIZE"] for uid, data in imap.fetch(uids, ["RFC822.SIZE"]).items()}
    ats = Floor(target, concurrency)
    done = 0
    with ThreadPoolExecutor(concurrency) as pool:
        flying: list = []
        for chunk in batches(uids, sizes):
            bodies = imap.fetch(chunk, ["BODY.PEEK[]"])
            for uid in chunk:
                raw = bodies.pop(uid)[b"BODY[]"]
                spec = specs[uid - 1]
                if spec.kind == "application":
                    start, end = spec.span
                    flying.append(pool.submit(ats.apply, spec, base64.b64decode(raw[start:end])))
                    while len(flying) >= concurrency:  # at most `concurrency` messages (and their CVs) at once
                        flying.pop(0).result()
                done += 1
        for future in flying:
            future.result()
    imap.logout()
    print(json.dumps({"messages": done, "applications": ats.applications, "calls": ats.calls,
                      "seconds": time.monotonic() - started}))


class Floor:
    """The four creates, with the ids the directory gives (read once)."""

    def __init__(self, target: Target, concurrency: int = 1):
        self.http = httpx.Client(base_url=target.ats_url, headers={"Authorization": f"Bearer {target.token}"},
                                 timeout=60, limits=httpx.Limits(max_connections=concurrency))
        jobs = self.http.post("/api/v1/jobs/search", json={"query": "", "page": 1, "per_page": 100}).json()
        pipelines = {str(p["id"]): p for p in self.http.get("/api/v1/pipelines/all").json()["items"]}
        self.source = next(s["id"] for s in self.http.get("/api/v1/sources/all").json()["items"]
                           if s["name"] == "Email")
        self.jobs = {j["title"]: (j["id"], j["pipeline_id"], first_stage(pipelines[str(j["pipeline_id"])]))
                     for j in jobs["items"]}
        self.calls, self.applications = 3, 0
        self.applicants: dict[str, object] = {}
        self.candidates: dict[tuple[str, str], object] = {}
        self._counting = threading.Lock()
        self._people: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)

    def post(self, path: str, key: str = "id", **kwargs: object) -> object:
        with self._counting:
            self.calls += 1
        response = self.http.post(path, **kwargs)
        response.raise_for_status()
        return response.json()[key]

    def apply(self, spec, cv: bytes) -> None:
        with self._counting:
            self.applications += 1
            person = self._people[spec.email]
        cv_id = self.post("/api/v1/upload-cv-file", "cv_id", files={"file": (spec.filename, cv, spec.mime)})
        with person:
            self._person(spec, cv_id)

    def _person(self, spec, cv_id: object) -> None:
        applicant = self.applicants.get(spec.email)
        if applicant is None:
            first, _, last = spec.name.rpartition(" ")
            applicant = self.applicants[spec.email] = self.post("/api/v1/applicant", json={
                "first_name": first, "last_name": last, "email": spec.email, "cv_ids": [cv_id],
                "source_id": self.source})
        job_id, pipeline_id, stage_id = self.jobs[spec.job]
        candidate = self.candidates.get((spec.email, spec.job))
        if candidate is None:
            candidate = self.candidates[spec.email, spec.job] = self.post("/api/v1/candidate", json={
                "job_id": job_id, "applicant_id": applicant, "pipeline_id": pipeline_id,
                "pipeline_stage_id": stage_id, "source_id": self.source})
        self.post(f"/api/v1/candidates/{candidate}/actions",
                  json={"comment": f"Application by email for {spec.job} ({spec.filename})"})


def first_stage(pipeline: dict) -> object:
    """As the daemon picks it: positioned stages first, lowest first; else list order."""
    stages = list(enumerate(pipeline["stages"]))
    return min(stages, key=lambda s: (s[1].get("position") is None, s[1].get("position") or 0, s[0]))[1]["id"]


if __name__ == "__main__":
    main(sys.argv[1], *(int(arg) for arg in sys.argv[2:3]))
