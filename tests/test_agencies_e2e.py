"""End to end over Dovecot and the sandbox ATS over HTTP: an agency's mail lands as the CV's person."""

from __future__ import annotations

import json

import pytest

from daemon.sandbox.state import DEFAULT_SEED
from tests.e2e import run_cli
from tests.mailfactory import build_email
from tests.world import World

pytestmark = pytest.mark.imap

CV_OF_KIM = b"%PDF-1.4\n<< /Author (Kim Reader) >>\n% the CV of kim.reader@example.org\n%%EOF\n"


def test_an_agency_mail_lands_as_the_cv_s_person_under_the_agency_s_source(tmp_path, dovecot):
    """poll --dry-run names the agency; the pass creates Kim Reader (from the CV) with the agency's source,
    and the comment says the agency sent her in; the recruiter is nowhere an applicant."""
    seed = json.loads(DEFAULT_SEED.read_text())
    seed["sources"].append({"id": 9, "name": "TalentBridge"})
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    world = World(tmp_path, dovecot, seed=tmp_path / "seed.json",
                  extra='[intake]\nagencies = { "talentbridge.example" = "TalentBridge" }')
    try:
        world.deliver(build_email(sender=("Karl Weber", "karl.weber@talentbridge.example"),
                                  subject="Candidate for Data Analyst",
                                  body="Hello,\n\nplease find attached a strong candidate.\n\nKarl",
                                  attachments=[("candidate.pdf", CV_OF_KIM, "application/pdf")]))
        dry = run_cli("poll", "--dry-run", "--config", str(world.config))
        assert dry.code == 0, dry.stderr[-3000:]
        assert "the agency's source 'TalentBridge'" in dry.stdout
        assert "sent in by the agency TalentBridge: Karl Weber <karl.weber@talentbridge.example>" in dry.stdout
        world.poll()
        state = world.sandbox.state()
        [applicant], [candidate] = state["applicants"], state["candidates"]
        assert (applicant["first_name"], applicant["last_name"], applicant["email"]) == (
            "Kim", "Reader", "kim.reader@example.org")
        assert str(applicant["source_id"]) == str(candidate["source_id"]) == "9"
        [comment] = [a["comment"] for a in state["actions"] if a.get("comment")]
        assert "Sent in by the agency TalentBridge (karl.weber@talentbridge.example)" in comment
    finally:
        world.close()
