"""A forward set aside for a person keeps what was known: the forwarder and how far the recognition got."""

from __future__ import annotations

import pytest

from daemon.cli.messages import list_text, show_text
from daemon.intake.flow import NOT_FOUND
from daemon.intake.planning import FOUND_BY_CV, FlowOptions
from daemon.mail.forwards import CUT_OFF, NO_ADDRESS, NOTHING_FORWARDED
from tests.inprocess import in_process_world  # noqa: F401 (the fixture `world`)
from tests.mailfactory import build_email

CV_WITH_ADDRESS = b"%PDF-1.4\n% the CV of kim.reader@example.org\n%%EOF\n"  # the sandbox reads the address
CV_WITHOUT_ADDRESS = b"%PDF-1.4\n% a CV that names no address\n%%EOF\n"
OPTIONS = FlowOptions(internal_senders=("acme.test",))
RITA = "Rita Recruiter <rita@acme.test>"
SEPARATOR = "---------- Forwarded message ---------\n"
BODIES = {
    "name without an address": (f"See below.\n\n{SEPARATOR}From: Anna Berg\nDate: Mon, 5 Jan 2026\n"
                                "Subject: Data Analyst\nTo: Rita\n\nMy CV.\n", NO_ADDRESS),
    "headers cut off": (f"See below.\n\n{SEPARATOR}\nMy CV, Anna\n", CUT_OFF),
    "no forwarded header at all": ("Got this one at the fair.\n", NOTHING_FORWARDED),
    "an internal address inside": (
        f"See below.\n\n{SEPARATOR}From: Tom <tom@acme.test>\nSubject: Data Analyst\n\nhi\n",
        "inline forward recognised, but its header names tom@acme.test, an internal address, as the original sender"),
}


def forward(body: str, cv: bytes | None = CV_WITHOUT_ADDRESS) -> bytes:
    files = [("cv.pdf", cv, "application/pdf")] if cv is not None else []
    return build_email(sender=("Rita Recruiter", "rita@acme.test"), subject="Fwd: Data Analyst", body=body,
                       attachments=files)


@pytest.mark.parametrize("shape", sorted(BODIES))
def test_a_set_aside_forward_records_the_forwarder_and_the_recognition(world, shape: str) -> None:
    """No candidate address in the mail nor the CV: set aside; the record names Rita and how far it got."""
    body, recognised = BODIES[shape]
    world.deliver(forward(body))
    world.poll(OPTIONS)
    assert world.sandbox.state()["applicants"] == []
    [record] = world.store.messages()
    assert (record.status, record.found_by, record.forwarded_by) == ("review", NOT_FOUND, RITA)
    assert record.reason.startswith(f"{recognised}; forwarded by {RITA}; no candidate found: ")
    shown = show_text(record, [])
    assert f"Forwarded by:       {RITA}" in shown and f"Candidate found by: {NOT_FOUND}" in shown
    listed = list_text([record])
    assert "rita@acme.test (forwarded)" in listed and recognised[:40] in listed


def test_a_forward_without_a_resume_names_its_forwarder_in_the_reason(world) -> None:
    """A forward set aside for another reason (no CV) names the forwarder too."""
    world.deliver(forward(BODIES["name without an address"][0], cv=None))
    world.poll(OPTIONS)
    [record] = world.store.messages()
    assert record.status == "review" and record.forwarded_by == RITA
    assert record.reason.startswith(f"{NO_ADDRESS}; forwarded by {RITA}; ")
    assert "no PDF, DOC or DOCX attachment" in record.reason


def test_a_forward_whose_cv_names_the_candidate_is_submitted_as_before(world) -> None:
    """The ATS's reading of the CV gives the address: submitted, found by the CV, Rita recorded as forwarder."""
    world.deliver(forward(BODIES["name without an address"][0], cv=CV_WITH_ADDRESS))
    world.poll(OPTIONS)
    [record] = world.store.messages()
    assert (record.status, record.found_by, record.forwarded_by) == ("submitted", FOUND_BY_CV, RITA)
    assert [a["email"] for a in world.sandbox.state()["applicants"]] == ["kim.reader@example.org"]


def test_a_plain_mail_set_aside_names_no_forwarder(world) -> None:
    """A candidate's own mail with no usable address anywhere: set aside, nobody named as forwarder."""
    world.deliver(build_email(sender=None, headers={"From": "=?utf-8?q?jane?=@example.org"}, subject="Data Analyst",
                              attachments=[("cv.pdf", CV_WITHOUT_ADDRESS, "application/pdf")]))
    world.poll(OPTIONS)
    [record] = world.store.messages()
    assert (record.status, record.forwarded_by) == ("review", "")
    assert "forwarded by" not in record.reason
