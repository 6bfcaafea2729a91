"""End to end over Dovecot and the sandbox ATS over HTTP: the candidate of a real chain of forwards,
and a candidate's own letter that quotes a forwarded reference."""

from __future__ import annotations

import pytest

from tests import invariant
from tests.mailfactory import build_email
from tests.world import World

pytestmark = pytest.mark.imap

PDF = b"%PDF-1.4\n% a CV\n%%EOF\n"


def _block(sender: str, subject: str, text: str) -> str:
    return ("---------- Forwarded message ---------\n"
            f"From: {sender}\nDate: Mon, 30 Nov 2026 at 09:12\nSubject: {subject}\nTo: <jobs@example.com>\n\n{text}")


def test_a_chain_of_forwards_lands_under_the_original_author(tmp_path, dovecot):
    """Ana applies to a friend, who forwards it (Fwd:, a short note) to a recruiter, who forwards it to a
    colleague, who forwards it to jobs@: Ana is the applicant, the colleague who sent it in the forwarder,
    and nobody of the chain is an applicant."""
    chain = _block("Ana Lima <ana.lima@example.org>", "Application: Data Analyst",
                   "Dear team,\n\nI would like to apply for the Data Analyst position.\n\nAna\n")
    for sender, note in (("Ben Ott <ben@friends.example>", "Hi Rita, my friend Ana, see below."),
                         ("Rita Recruiter <rita@acme.test>", "Tom, for your open role."),):
        chain = _block(sender, "Fwd: Application: Data Analyst", f"{note}\n\n{chain}")
    world = World(tmp_path, dovecot, extra='[intake]\ninternal_senders = ["acme.test"]')
    try:
        world.deliver(build_email(sender=("Tom Colleague", "tom@acme.test"),
                                  subject="Fwd: Fwd: Fwd: Application: Data Analyst",
                                  body=f"Please add her.\n\n{chain}",
                                  attachments=[("ana-lima-cv.pdf", PDF, "application/pdf")]))
        world.poll()
        state = world.sandbox.state()
        [applicant] = state["applicants"]
        assert (applicant["first_name"], applicant["last_name"], applicant["email"]) == (
            "Ana", "Lima", "ana.lima@example.org")
        [record] = invariant.records(world.database)
        assert record.status == "submitted"
        assert "tom@acme.test" in record.forwarded_by
        [comment] = [a["comment"] for a in state["actions"] if a.get("comment")]
        assert "I would like to apply" in comment and "Please add her" not in comment
    finally:
        world.close()


def test_a_candidates_letter_quoting_a_forwarded_reference_stays_hers(tmp_path, dovecot):
    """A candidate pastes a reference from her former manager, Forwarded-message block and all, below her
    letter: she is the applicant, never the manager, with or without Fwd: in the subject."""
    letter = ("Dear hiring team,\n\n" + "".join(f"Line {n} of my letter about my work as a data analyst.\n"
                                                 for n in range(1, 19))
              + "\nBelow is a reference from my former manager.\n\n")
    reference = _block("Max Manager <max@oldjob.example>", "Reference for Ana",
                       "To whom it may concern: Ana was excellent.\n")
    world = World(tmp_path, dovecot)
    try:
        for subject in ("Data Analyst application", "Fwd: Data Analyst application"):
            world.deliver(build_email(sender=("Ana Lima", "ana.lima@example.org"), subject=subject,
                                      body=letter + reference,
                                      attachments=[("cv.pdf", PDF, "application/pdf")]))
        world.poll()
        applicants = world.sandbox.state()["applicants"]
        assert {a["email"] for a in applicants} == {"ana.lima@example.org"}
        assert all(r.status == "submitted" and not r.forwarded_by for r in invariant.records(world.database))
    finally:
        world.close()
