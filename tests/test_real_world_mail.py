"""Real-world mail end to end, over Dovecot into the sandbox ATS: recruiters' forwards land under the
candidate with the forwarder named; a winmail.dat is unpacked; automatic mail never becomes a candidate."""

from __future__ import annotations

import email
import json
from email.policy import compat32

import pytest

from daemon.sandbox.state import load_seed
from tests import invariant
from tests.e2e import FIXTURES
from tests.mailfactory import build_email
from tests.world import World

pytestmark = pytest.mark.imap
EMAILS = FIXTURES / "emails"
RITA = "Rita Recruiter <rita@acme.test>"
RULES = """
[[rule]]
name = "Frontend applications"
subject = "frontend"
job_title = "Frontend Developer"
stage = "Screening"
source = "Referral"
"""


def winmail_application() -> bytes:
    """A candidate's Outlook mail whose CV travels inside winmail.dat (TNEF), taken from a real sample."""
    sample = email.message_from_bytes((EMAILS / "mailcore-tnef-winmail-dat.eml").read_bytes(), policy=compat32)
    tnef = next(p for p in sample.walk() if (p.get_filename() or "").lower() == "winmail.dat")
    return build_email(sender=("Tom Tnef", "tom@example.org"), subject="Application: Data Engineer",
                       attachments=[("winmail.dat", tnef.get_payload(decode=True), "application/ms-tnef")])


@pytest.fixture
def world(tmp_path, dovecot):
    seed = load_seed(None)
    seed["jobs"] += [
        {"id": 201, "title": "Backend Engineer", "pipeline_id": 2, "status": "open", "code": "BE-1"},
        {"id": 202, "title": "Data Engineer", "pipeline_id": 2, "status": "open", "code": "DE-1"},
        {"id": 203, "title": "Frontend Developer", "pipeline_id": 2, "status": "open", "code": "FE-1"},
    ]
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "10-frontend.toml").write_text(RULES)
    extra = f'[intake]\ninternal_senders = ["acme.test"]\n[rules]\npath = "{tmp_path / "rules"}"\n'
    w = World(tmp_path, dovecot, seed=tmp_path / "seed.json", extra=extra)
    yield w
    w.close()


def test_forwards_land_under_the_candidate_and_automatic_mail_is_ignored(world):
    """Only the applications reach the ATS, each under the right person; the forwarder is named, never created."""
    forwards = ["crafted-recruiter-forward-as-attachment.eml", "crafted-outlook-de-inline-forward.eml",
                "crafted-gmail-inline-forward.eml", "crafted-applemail-inline-forward.eml"]
    automatic = ["crafted-out-of-office-with-pdf.eml", "mimekit-bounce-postfix.eml",
                 "spamscope-mailchimp-newsletter.eml"]
    world.deliver(*((EMAILS / name).read_bytes() for name in forwards + automatic), winmail_application())
    world.poll()
    state = world.sandbox.state()
    assert sorted(a["email"] for a in state["applicants"]) == [
        "jane.candidate@example.org", "max.mustermann@example.de", "tom@example.org"]
    jobs = {201: "Backend Engineer", 202: "Data Engineer", 203: "Frontend Developer"}
    applicants = {str(a["id"]): a["email"] for a in state["applicants"]}
    placed = sorted((applicants[str(c["applicant_id"])], jobs[int(c["job_id"])]) for c in state["candidates"])
    assert placed == [("jane.candidate@example.org", "Backend Engineer"), ("jane.candidate@example.org",
                      "Data Engineer"), ("jane.candidate@example.org", "Frontend Developer"),
                      ("max.mustermann@example.de", "Backend Engineer"), ("tom@example.org", "Data Engineer")]
    forwarded = [a["comment"] for a in state["actions"]
                 if "Forwarded by: Rita Recruiter (rita@acme.test)" in a["comment"]]
    assert len(forwarded) == 4
    records = {r.uid: r for r in invariant.records(world.database)}
    statuses = [records[uid].status for uid in sorted(records)]
    assert statuses == ["submitted"] * 4 + ["ignored"] * 3 + ["submitted"]
    found = [records[uid].found_by for uid in sorted(records)][:4]
    assert found == ["attached message", "forwarded header", "forwarded header", "forwarded header"]
    assert all(records[uid].forwarded_by == RITA for uid in sorted(records)[:4])
    reasons = [records[uid].reason for uid in sorted(records)][4:7]
    assert reasons[0].startswith("automatic reply") and reasons[1].startswith("bounce")
    assert reasons[2].startswith("list or bulk mail")
    frontend = next(r for r in records.values() if r.job_title == "Frontend Developer")
    assert frontend.rule == "Frontend applications"


def test_a_forward_whose_candidate_cannot_be_found_is_set_aside_never_under_the_forwarder(world):
    """Headers cut off and no address in the ATS's reading of the CV: set aside; the recruiter is not created."""
    world.deliver((EMAILS / "crafted-forward-headers-cut.eml").read_bytes())
    world.poll()
    [record] = invariant.records(world.database)
    assert record.status == "review"
    assert all(a["email"] != "rita@acme.test" for a in world.sandbox.state()["applicants"])
