"""The cover letter of a forwarded application is the candidate's own text, never the forwarder's note."""

from __future__ import annotations

import pytest

from daemon.domain import Person
from daemon.intake.planning import FlowOptions
from daemon.mail.coverletter import candidate_letter
from daemon.mail.parsing import parse_email
from tests.inprocess import PDF, in_process_world  # noqa: F401 (the fixture `world`)
from tests.mailfactory import build_email, forwarded

ANNA = Person("Anna Berg", "anna.berg@example.org")
NOTE = "Strong one, met her at the fair. Internal only: salary wish too high?\nRita"
LETTER = "Dear team,\nI apply for the Data Analyst role: five years of SQL and Python."
OWN_MAIL = f"{LETTER}\n\n-- \nAnna Berg\n+49 30 1234567\n"
BLOCK = ("---------- Forwarded message ---------\nFrom: Anna Berg <anna.berg@example.org>\n"
         "Date: Mon, 5 Jan 2026 at 09:00\nSubject: Data Analyst\nTo: <rita@acme.test>\n\n")
CV = ("cv.pdf", PDF, "application/pdf")


def anna_mail(body: str = OWN_MAIL) -> bytes:
    return build_email(sender=(ANNA.name, ANNA.address), subject="Data Analyst", body=body, attachments=[CV])


def rita(body: str, attachments=()) -> bytes:
    return build_email(sender=("Rita Recruiter", "rita@acme.test"), subject="Fwd: Data Analyst", body=body,
                       attachments=list(attachments))


SHAPES = {
    "attached message": rita(f"{NOTE}\n", [forwarded(anna_mail())]),
    "inline block": rita(f"{NOTE}\n\n{BLOCK}{OWN_MAIL}", [CV]),
    "inline block, Outlook": rita(f"{NOTE}\n\n-----Original Message-----\n"
                                  "From: Anna Berg [mailto:anna.berg@example.org]\n"
                                  "Sent: Monday, January 5, 2026 9:00 AM\nTo: Rita\nSubject: Data Analyst\n\n"
                                  f"{OWN_MAIL}", [CV]),
    "inline chain of two": rita(f"{NOTE}\n\n---------- Forwarded message ---------\nFrom: Tom <tom@acme.test>\n"
                                f"Subject: Fwd: Data Analyst\n\nFor you.\n\n{BLOCK}{OWN_MAIL}", [CV]),
    "attached message holding an inline forward": rita(f"{NOTE}\n", [forwarded(build_email(
        sender=("Tom", "tom@acme.test"), subject="Fwd: Data Analyst", body=f"For you.\n\n{BLOCK}{OWN_MAIL}",
        attachments=[CV]))]),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_forwards_letter_is_the_candidates_text(shape: str) -> None:
    """Attached or inline, through a chain: the letter is Anna's text, her signature trimmed, Rita's note left out."""
    assert candidate_letter(parse_email(SHAPES[shape]), ANNA, forwarded=True) == LETTER


def test_a_forward_whose_candidate_text_is_not_found_has_no_letter() -> None:
    """Nobody's text found for the candidate (from the CV, or not named in the mail): no letter, not the note."""
    email = parse_email(rita(f"{NOTE}\n\n{BLOCK}{OWN_MAIL}", [CV]))
    assert candidate_letter(email, None, forwarded=True) == ""
    assert candidate_letter(email, Person("Kim", "kim@example.org"), forwarded=True) == ""


def test_a_candidates_own_mail_is_her_letter_as_before() -> None:
    """Not a forward: the mail's own text is the letter."""
    assert candidate_letter(parse_email(anna_mail()), ANNA, forwarded=False) == LETTER


def test_the_comment_in_the_ats_quotes_the_candidate_not_the_forwarder(world) -> None:
    """The run's comment on the candidate quotes Anna's letter and none of Rita's note."""
    world.deliver(SHAPES["inline block"])
    world.poll(FlowOptions(internal_senders=("acme.test",)))
    [record] = world.store.messages()
    assert record.status == "submitted", record.reason
    [comment] = [a["comment"] for a in world.sandbox.state()["actions"] if a.get("comment")]
    assert "five years of SQL and Python" in comment
    assert "salary wish" not in comment and "met her at the fair" not in comment
