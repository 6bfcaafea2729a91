"""Finding the real candidate of forwarded mail, and the outcome table over the fixture mails."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from daemon.domain import Person
from daemon.errors import UnparseableMail
from daemon.mail.automatic import automatic_mail
from daemon.mail.forwards import (
    FOUND_BY_ATTACHED,
    FOUND_BY_HEADER,
    FOUND_BY_SENDER,
    INTERNAL_NOTHING,
    NO_ADDRESS,
    NOTHING_FORWARDED,
    find_candidate,
    is_internal,
)
from daemon.mail.inline_forward import inline_forward, person, strip_prefixes
from daemon.mail.parsing import parse_email
from daemon.mail.resumes import ResumeLimits, pick_resumes
from tests.mailfactory import build_email, forwarded

EMAILS = Path(__file__).parent / "fixtures" / "emails"
MAILS = sorted(p for p in EMAILS.iterdir() if p.name != "SOURCES.md")
INTERNAL = ("acme.test",)
OWN = ("jobs@acme.test",)
RITA = "Rita Recruiter <rita@acme.test>"


def mail(name: str):
    return parse_email((EMAILS / name).read_bytes())


@pytest.mark.parametrize("path", MAILS, ids=[p.name for p in MAILS])
def test_every_fixture_mail_is_classified_without_an_exception(path: Path) -> None:
    """Each fixture mail parses (or is refused as no mail), and both checks answer it."""
    try:
        email = parse_email(path.read_bytes())
    except UnparseableMail:
        return
    automatic_mail(email, OWN)
    search = find_candidate(email, INTERNAL)
    assert search.needs_person or search.candidates
    assert search.needs_person == bool(search.reason)


def _person(p: Person | None) -> str | None:
    if p is None:
        return None
    return f"{p.name} <{p.address}>" if p.name else f"<{p.address}>"


# file: (ignore reason, [(candidate, found by, original subject, resumes)], forwarder, needs-person reason)
OUTCOMES = {
    "crafted-recruiter-forward-as-attachment.eml": (
        None, [("Jane Candidate <jane.candidate@example.org>", FOUND_BY_ATTACHED, "Application Backend Engineer",
                ["Jane Candidate CV.pdf"])], RITA, ""),
    "crafted-forward-eml-as-octet-stream.eml": (
        None, [("Jane Candidate <jane.candidate@example.org>", FOUND_BY_ATTACHED, "Application Backend Engineer",
                ["Jane Candidate CV.pdf"])], RITA, ""),
    "crafted-outlook-de-inline-forward.eml": (
        None, [("Max Mustermann <max.mustermann@example.de>", FOUND_BY_HEADER, "Bewerbung als Backend Engineer",
                ["Lebenslauf Max Mustermann.pdf"])], RITA, ""),
    "crafted-gmail-inline-forward.eml": (
        None, [("Jane Candidate <jane.candidate@example.org>", FOUND_BY_HEADER, "Application Data Engineer",
                ["Jane Candidate CV.pdf"])], RITA, ""),
    "crafted-applemail-inline-forward.eml": (
        None, [("Jane Candidate <jane.candidate@example.org>", FOUND_BY_HEADER, "My CV for the frontend role",
                ["Jane Candidate.docx"])], RITA, ""),
    "crafted-thunderbird-inline-forward.eml": (
        None, [("Candidate, Jane <jane.candidate@example.org>", FOUND_BY_HEADER, "My application",
                ["Jane Candidate CV.pdf"])], RITA, ""),
    "crafted-outlook-fr-inline-forward.eml": (
        None, [("Jeanne Dupont <jeanne.dupont@example.fr>", FOUND_BY_HEADER, "Candidature développeuse backend",
                ["CV Jeanne Dupont.pdf"])], RITA, ""),
    "crafted-outlook-es-inline-forward.eml": (
        None, [("Juan García <juan.garcia@example.es>", FOUND_BY_HEADER, "Solicitud de empleo: ingeniero backend",
                ["CV Juan García.pdf"])], RITA, ""),
    "crafted-gmail-ru-inline-forward.eml": (
        None, [("Иван Петров <ivan.petrov@example.ru>", FOUND_BY_HEADER, "Резюме на вакансию backend-разработчика",
                ["Резюме Иван Петров.pdf"])], RITA, ""),
    "crafted-forwarded-twice.eml": (
        None, [("Jane Candidate <jane.candidate@example.org>", FOUND_BY_HEADER, "Application",
                ["Jane Candidate CV.pdf"])], RITA, ""),
    "crafted-two-candidate-bundle.eml": (
        None, [("Jane Candidate <jane.candidate@example.org>", FOUND_BY_ATTACHED, "Application Backend Engineer",
                ["Jane Candidate CV.pdf", "Cover letter Jane.docx"]),
               ("Max Mustermann <max.mustermann@example.de>", FOUND_BY_ATTACHED, "Bewerbung Backend",
                ["Lebenslauf.docx"])], RITA, ""),
    "crafted-outlook-web-forward-name-only.eml": (
        None, [("Jane Candidate <>", FOUND_BY_HEADER, "Application", ["Jane Candidate CV.pdf"])], RITA,
        NO_ADDRESS),
    "crafted-forward-headers-cut.eml": (None, [], RITA, NOTHING_FORWARDED),
    "crafted-internal-plain-mail.eml": (
        None, [], "Bob Boss <bob@acme.test>", INTERNAL_NOTHING),
    "crafted-candidate-reply-with-quoted-recruiter.eml": (
        None, [("Jane Candidate <jane.candidate@example.org>", FOUND_BY_SENDER, "AW: Ihre Bewerbung",
                ["Jane Candidate CV.pdf"])], None, ""),
    "crafted-application-out-of-office-coordinator.eml": (
        None, [("Olga Office <olga@example.org>", FOUND_BY_SENDER, "Out of Office Coordinator: my application",
                ["Olga CV.pdf"])], None, ""),
    "crafted-out-of-office-with-pdf.eml": (
        "automatic reply (Subject: Automatic reply: Your application Backend Engineer)",
        [("Jane Candidate <jane.candidate@example.org>", FOUND_BY_SENDER,
          "Automatic reply: Your application Backend Engineer", ["Company brochure.pdf"])], None, ""),
    "mailcore-tnef-winmail-dat.eml": (
        None, [("Noureddine Rhallam <noureddine.rhallam@agrostar.fr>", FOUND_BY_SENDER,
                "RE : TR : Installation Hyperion sous Linux",
                ["GIR - LINUX.doc"])], None, ""),
    "mikel-forwarded-rfc822-containing-pdf.eml": (
        None, [("Test Tester <xxxx@xxxx.com>", FOUND_BY_ATTACHED, "Another PDF", ["broken.pdf"])],
        "<foo@example.com>", ""),
    "flanker-gmail-inline-forward.eml": (
        None, [("Bob <example@example.com>", FOUND_BY_HEADER, "Please forward this email to me", [])],
        "Hello <hello@example.com>", ""),
    "sisimai-autoreply-exchange.eml": ("automatic reply (Subject: Automatic reply: Nyaan)", None, None, None),
    "sisimai-autoreply-away.eml": ("automatic reply (Auto-Submitted: auto-replied)", None, None, None),
    "sisimai-autoreply-icloud-vacation.eml": ("automatic reply (Subject: Auto reply: Nyaan)", None, None, None),
    "flanker-bounce-mailbox-full.eml": (
        "bounce (Content-Type: multipart/report; report-type=delivery-status)", None, None, None),
    "sisimai-bounce-gmail-plain-text.eml": ("bounce (From: mailer-daemon@googlemail.com)", None, None, None),
    "flanker-bounce-delayed-broken.eml": ("bounce (Content-Type: message/delivery-status)", None, None, None),
    "mailcore-yahoogroups-digest.eml": ("list or bulk mail (List-Id: <frieNDA.yahoogroups.com>)", None, None, None),
    "dovecot-mailing-list-yahoo.eml": (
        "list or bulk mail (List-Id: Shapelib Development <shapelib.lists.maptools.org>)", None, None, None),
}


@pytest.mark.parametrize("name", sorted(OUTCOMES), ids=str)
def test_outcome_of_the_mails_that_matter(name: str) -> None:
    """Ignore reason; else each candidate, how found, original subject, resumes; the forwarder; why a person decides."""
    ignored, candidates, forwarder, needs = OUTCOMES[name]
    email = mail(name)
    automatic = automatic_mail(email, OWN)
    assert (automatic.reason if automatic else None) == ignored
    if candidates is None:
        return
    search = find_candidate(email, INTERNAL)
    found = [(_person(c.person), c.found_by, c.subject,
              [r.filename for r in pick_resumes(c.attachments, ResumeLimits()).resumes])
             for c in search.candidates]
    assert found == [tuple(c) for c in candidates]
    assert _person(search.forwarder) == forwarder
    assert (search.needs_person, search.reason) == (bool(needs), needs)


def test_no_fixture_mail_makes_an_internal_person_the_candidate() -> None:
    """Whatever the mail, a candidate found is never at an internal address."""
    for path in MAILS:
        try:
            email = parse_email(path.read_bytes())
        except UnparseableMail:
            continue
        for candidate in find_candidate(email, INTERNAL).candidates:
            assert not is_internal(candidate.person.address, INTERNAL), path.name


def test_plain_application_is_its_senders() -> None:
    """A candidate's own mail: the sender, found as "sender", no forwarder, every file hers."""
    email = parse_email(build_email(subject="Application", attachments=[("cv.pdf", b"%PDF-1.4", "application/pdf")]))
    search = find_candidate(email, INTERNAL)
    (candidate,) = search.candidates
    assert (candidate.person, candidate.found_by, candidate.subject) == (
        Person("Jane Doe", "jane@example.com"), FOUND_BY_SENDER, "Application")
    assert candidate.attachments == email.attachments
    assert search.forwarder is None
    assert not search.needs_person


def test_candidate_with_other_mail_attached_stays_the_candidate() -> None:
    """An applicant who attaches her CV and, beside it, someone else's mail (a reference) is the candidate."""
    reference = build_email(sender=("Old Boss", "boss@oldjob.example"), subject="Reference for Jane")
    email = parse_email(build_email(subject="Application", attachments=[
        ("cv.pdf", b"%PDF-1.4", "application/pdf"), forwarded(reference)]))
    assert find_candidate(email, INTERNAL).candidate.person.address == "jane@example.com"


def test_external_forward_as_attachment_without_own_cv_is_the_attached_senders() -> None:
    """An agency's mail whose only CV lies inside the attached message names that message's sender."""
    inner = build_email(sender=("Ann Appl", "ann@example.net"), subject="CV",
                        attachments=[("cv.pdf", b"%PDF-1.4", "application/pdf")])
    email = parse_email(build_email(sender=("Agency", "desk@agency.example"), subject="Candidate for you",
                                    attachments=[forwarded(inner)]))
    search = find_candidate(email, INTERNAL)
    assert (_person(search.candidate.person), search.candidate.found_by) == (
        "Ann Appl <ann@example.net>", FOUND_BY_ATTACHED)
    assert _person(search.forwarder) == "Agency <desk@agency.example>"


def test_bundle_keeps_loose_files_apart() -> None:
    """Files of a two-candidate bundle outside both messages are `unassigned`, not given to either."""
    one = build_email(sender=("A A", "a@example.net"), attachments=[("a.pdf", b"%PDF-a", "application/pdf")])
    two = build_email(sender=("B B", "b@example.net"), attachments=[("b.pdf", b"%PDF-b", "application/pdf")])
    email = parse_email(build_email(sender=("Rita", "rita@acme.test"), subject="Fwd: two", attachments=[
        forwarded(one), forwarded(two), ("notes.pdf", b"%PDF-n", "application/pdf")]))
    search = find_candidate(email, INTERNAL)
    assert [[f.filename for f in c.attachments] for c in search.candidates] == [["a.pdf"], ["b.pdf"]]
    assert [f.filename for f in search.unassigned] == ["notes.pdf"]


def test_one_person_in_two_attached_messages_is_one_candidate() -> None:
    """A CV in one attached mail and a cover letter in another, same sender: one candidate with both."""
    cv = build_email(sender=("Ann Appl", "ann@example.net"), attachments=[("cv.pdf", b"%PDF-cv", "application/pdf")])
    letter = build_email(sender=("Ann Appl", "ANN@example.net"),
                         attachments=[("letter.pdf", b"%PDF-letter", "application/pdf")])
    email = parse_email(build_email(sender=("Rita", "rita@acme.test"), subject="Fwd: Ann",
                                    attachments=[forwarded(cv), forwarded(letter)]))
    (candidate,) = find_candidate(email, INTERNAL).candidates
    assert [f.filename for f in candidate.attachments] == ["cv.pdf", "letter.pdf"]


def test_attached_message_from_an_internal_colleague_leads_to_the_candidate_inside() -> None:
    """Rita forwards Bob's forward of Jane's mail, all as attachments: Jane is the candidate."""
    jane = build_email(sender=("Jane C", "jane@example.org"), subject="CV",
                       attachments=[("cv.pdf", b"%PDF-1.4", "application/pdf")])
    bob = build_email(sender=("Bob", "bob@acme.test"), subject="Fwd: CV", attachments=[forwarded(jane)])
    email = parse_email(build_email(sender=("Rita", "rita@acme.test"), subject="Fwd: Fwd: CV",
                                    attachments=[forwarded(bob)]))
    search = find_candidate(email, INTERNAL)
    assert _person(search.candidate.person) == "Jane C <jane@example.org>"
    assert _person(search.forwarder) == "Rita <rita@acme.test>"


def test_internal_colleague_block_inline_leads_on() -> None:
    """An inline block from an internal colleague with no forward subject still leads to the next block."""
    body = ("FYI\n\n-----Original Message-----\nFrom: Bob <bob@acme.test>\nSent: Monday\nSubject: a CV\n\n"
            "see below\n\n-----Original Message-----\nFrom: Jane C <jane@example.org>\nSent: Monday\n"
            "Subject: CV\n\nhello\n")
    email = parse_email(build_email(sender=("Rita", "rita@acme.test"), subject="a CV", body=body))
    assert find_candidate(email, INTERNAL).candidate.person.address == "jane@example.org"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Jane Doe <jane@example.org>", Person("Jane Doe", "jane@example.org")),
        ('"Doe, Jane" <Jane@Example.org>', Person("Doe, Jane", "jane@example.org")),
        ("Jane Doe [mailto:jane@example.org]", Person("Jane Doe", "jane@example.org")),
        ("Jane Doe <mailto:jane@example.org>", Person("Jane Doe", "jane@example.org")),
        ("jane@example.org", Person("", "jane@example.org")),
        ("jane@example.org (Jane Doe)", Person("Jane Doe", "jane@example.org")),
        ("Jane Doe", Person("Jane Doe", "")),
        ("<jane@example.org>", Person("", "jane@example.org")),
        ("", Person("", "")),
    ],
)
def test_person_from_a_forwarded_from_line(value: str, expected: Person) -> None:
    """Outlook, Gmail and Apple Mail ways of writing the original sender all read the same."""
    assert person(value) == expected


@pytest.mark.parametrize(
    ("subject", "original"),
    [
        ("Fwd: Application", "Application"),
        ("FW: RE: Application", "Application"),
        ("WG: AW: Bewerbung", "Bewerbung"),
        ("TR : Candidature", "Candidature"),
        ("RV: RE: Solicitud", "Solicitud"),
        ("ENC: Currículo", "Currículo"),
        ("Пересл: Резюме", "Резюме"),
        ("Fwd[2]: Application", "Application"),
        ("[Fwd: Application]", "Application"),
        ("Fwd: Re: Fwd: Application", "Application"),
        ("Application: Fwd: handling engineer", "Application: Fwd: handling engineer"),
        ("Trainee application", "Trainee application"),
        ("Re:", ""),
    ],
)
def test_forward_and_reply_prefixes_are_stripped(subject: str, original: str) -> None:
    """Forward prefixes of every language in the table, and the replies behind them, go; the rest stays."""
    assert strip_prefixes(subject) == original


def test_reply_quote_is_not_a_forward() -> None:
    """An Outlook quoted reply under a candidate's own mail is not taken for a forward."""
    body = "Here it is.\n\n-----Original Message-----\nFrom: Rita <rita@acme.test>\nSent: Monday\nSubject: CV?\n"
    assert inline_forward(body, expect_forward=False) is None


def test_inline_scan_is_linear_on_hostile_lines() -> None:
    """Long lines of header-like junk take no more than a moment (no backtracking blow-up)."""
    junk = ("From: x <" * 12_000 + "\n") * 8
    junk += ("---------- Forwarded message ---------\n" + "De : <<[[" * 5000 + "\n") * 8
    started = time.perf_counter()
    inline_forward(junk, expect_forward=True)
    assert time.perf_counter() - started < 1.0
