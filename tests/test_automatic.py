"""Mail that must never reach the ATS, and the marker recorded for each call."""

from __future__ import annotations

import pytest

from daemon.mail.automatic import AUTOMATIC_REPLY, BOUNCE, LIST_MAIL, OWN_MAIL, AutomaticMail, automatic_mail
from daemon.mail.parsing import parse_email
from tests.mailfactory import build_email

PDF = ("cv.pdf", b"%PDF-1.4", "application/pdf")


def classify(subject: str = "Application Backend Engineer", headers: dict[str, str] | None = None,
             sender: tuple[str, str] | None = ("Jane Doe", "jane@example.com"), own: tuple[str, ...] = ()):
    raw = build_email(sender=sender, subject=subject, headers=headers, attachments=[PDF])
    return automatic_mail(parse_email(raw), own)


@pytest.mark.parametrize(
    ("subject", "headers", "category", "marker"),
    [
        ("Re: x", {"Auto-Submitted": "auto-replied"}, AUTOMATIC_REPLY, "Auto-Submitted: auto-replied"),
        ("x", {"Auto-Submitted": "auto-generated; owner-email=a@b"}, AUTOMATIC_REPLY,
         "Auto-Submitted: auto-generated; owner-email=a@b"),
        ("x", {"X-Autoreply": "yes"}, AUTOMATIC_REPLY, "X-Autoreply: yes"),
        ("x", {"X-Autorespond": "vacation"}, AUTOMATIC_REPLY, "X-Autorespond: vacation"),
        ("Automatic reply: Application", {}, AUTOMATIC_REPLY, "Subject: Automatic reply: Application"),
        ("Out of Office: Application", {}, AUTOMATIC_REPLY, "Subject: Out of Office: Application"),
        ("Out of Office", {}, AUTOMATIC_REPLY, "Subject: Out of Office"),
        ("Abwesenheitsnotiz: Bewerbung", {}, AUTOMATIC_REPLY, "Subject: Abwesenheitsnotiz: Bewerbung"),
        ("Automatische Antwort: Bewerbung", {}, AUTOMATIC_REPLY, "Subject: Automatische Antwort: Bewerbung"),
        ("Réponse automatique : Candidature", {}, AUTOMATIC_REPLY, "Subject: Réponse automatique : Candidature"),
        ("Respuesta automática: Solicitud", {}, AUTOMATIC_REPLY, "Subject: Respuesta automática: Solicitud"),
        ("Автоматический ответ: Резюме", {}, AUTOMATIC_REPLY, "Subject: Автоматический ответ: Резюме"),
        ("Out of office until 12 January", {"X-Auto-Response-Suppress": "All"}, AUTOMATIC_REPLY,
         "X-Auto-Response-Suppress: All, with Subject: Out of office until 12 January"),
        ("Abwesend bis 9.1.", {"X-MS-Exchange-Inbox-Rules-Loop": "a@b.example"}, AUTOMATIC_REPLY,
         "X-MS-Exchange-Inbox-Rules-Loop: a@b.example, with Subject: Abwesend bis 9.1."),
        ("x", {"List-Id": "Jobs digest <jobs.lists.example>"}, LIST_MAIL, "List-Id: Jobs digest <jobs.lists.example>"),
        ("x", {"List-Unsubscribe": "<mailto:leave@lists.example>"}, LIST_MAIL,
         "List-Unsubscribe: <mailto:leave@lists.example>"),
        ("x", {"Precedence": "bulk"}, LIST_MAIL, "Precedence: bulk"),
        ("x", {"Precedence": "Junk"}, LIST_MAIL, "Precedence: Junk"),
        ("x", {"Precedence": "list"}, LIST_MAIL, "Precedence: list"),
        ("x", {"Return-Path": "<>"}, BOUNCE, "Return-Path: <>"),
        ("x", {"X-Failed-Recipients": "a@b.example"}, BOUNCE, "X-Failed-Recipients: a@b.example"),
    ],
)
def test_automatic_mail_is_told_by_its_marker(subject: str, headers: dict[str, str], category: str,
                                              marker: str) -> None:
    """Each sign of automatic mail decides alone, and is recorded as the marker."""
    assert classify(subject, headers) == AutomaticMail(category, marker)


@pytest.mark.parametrize(
    ("subject", "headers"),
    [
        ("Application Backend Engineer", {}),
        ("Application Backend Engineer", {"Auto-Submitted": "no"}),
        ("Application Backend Engineer", {"X-Auto-Response-Suppress": "All"}),
        ("Application Backend Engineer", {"X-MS-Exchange-Inbox-Rules-Loop": "jane@example.com"}),
        ("Out of Office Coordinator: my application", {"X-Auto-Response-Suppress": "All"}),
        ("Application: Out of Office Coordinator", {"X-Auto-Response-Suppress": "All"}),
        ("My out of office experience (application)", {"X-Auto-Response-Suppress": "OOF, AutoReply"}),
        ("Out of office until 12 January", {}),
        ("Automatic replies engineer – application", {}),
        ("Re: Your application", {"Precedence": "first-class"}),
        ("Application", {"Return-Path": "<jane@example.com>"}),
    ],
)
def test_a_real_application_is_never_dropped_on_a_weak_sign(subject: str, headers: dict[str, str]) -> None:
    """X-Auto-Response-Suppress, a rules-loop header, or "out of office" inside a subject decide nothing alone."""
    assert classify(subject, headers) is None


def test_mail_from_the_daemons_own_address_is_own_mail() -> None:
    """A mail sent from one of the daemon's addresses (any case) is its own, before any other rule."""
    found = classify(sender=("Jobs", "Jobs@Acme.test"), own=("JOBS@acme.test",), headers={"List-Id": "<x>"})
    assert found == AutomaticMail(OWN_MAIL, "From: jobs@acme.test")
    assert found.reason == "own mail (From: jobs@acme.test)"


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example", "postmaster@example.org"])
def test_mailer_daemon_and_postmaster_are_bounces(sender: str) -> None:
    """A delivery system's sender is a bounce, whatever the rest of the mail says."""
    found = classify(sender=("Mail Delivery System", sender))
    assert found == AutomaticMail(BOUNCE, f"From: {sender.lower()}")


def test_delivery_report_wins_over_its_auto_submitted() -> None:
    """A DSN carries Auto-Submitted too; it is recorded as a bounce with its report type."""
    raw = (b"From: Mail System <bounces@mx.example>\r\nSubject: Undelivered\r\nAuto-Submitted: auto-replied\r\n"
           b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\n"
           b"Content-Type: text/plain\r\n\r\nfailed\r\n--b--\r\n")
    found = automatic_mail(parse_email(raw))
    assert found == AutomaticMail(BOUNCE, "Content-Type: multipart/report; report-type=delivery-status")
    assert found.reason == "bounce (Content-Type: multipart/report; report-type=delivery-status)"


def test_auto_reply_with_a_null_return_path_is_an_automatic_reply() -> None:
    """RFC 3834 replies come from `<>` too: the more specific marker decides."""
    found = classify("Automatic reply: x", {"Return-Path": "<>", "Auto-Submitted": "auto-replied"})
    assert found == AutomaticMail(AUTOMATIC_REPLY, "Auto-Submitted: auto-replied")


def test_marker_is_bounded() -> None:
    """A huge header value is cut in the recorded marker."""
    found = classify(headers={"List-Id": "x" * 3000})
    assert found is not None
    assert len(found.marker) == 200
