"""The cover letter: the candidate's own text of the mail, quotes and signatures trimmed, bounded."""

from __future__ import annotations

import time

import pytest

from daemon.mail.coverletter import cover_letter

LETTER = "Dear team,\n\nI am applying for the Data Analyst role.\n\nBest regards,\nJane"

TRIMMED = [
    ("signature delimiter", LETTER + "\n\n-- \nJane Doe\n+49 30 1234567\n"),
    ("bare double dash", LETTER + "\n--\nJane Doe | Analyst\n"),
    ("mobile signature", LETTER + "\n\nSent from my iPhone\n"),
    ("German mobile signature", LETTER + "\n\nVon meinem iPhone gesendet\n"),
    ("Gmail quote", LETTER + "\n\nOn Mon, 2 Nov 2026 at 10:00, HR <jobs@acme.com> wrote:\n> Send a PDF?\n> Thanks\n"),
    ("wrapped quote header", LETTER + "\n\nOn Mon, 2 Nov 2026 at 10:00, Human Resources of Acme <jobs@acme.com>\n"
                                      "wrote:\n> Send a PDF?\n"),
    ("German quote header", LETTER + "\n\nAm 02.11.2026 um 10:00 schrieb HR <jobs@acme.com>:\n> Bitte ein PDF.\n"),
    ("French quote header", LETTER + "\n\nLe lun. 2 nov. 2026 à 10:00, RH <jobs@acme.com> a écrit :\n> Un PDF.\n"),
    ("Outlook original message",
     LETTER + "\n\n-----Original Message-----\nFrom: HR\nSent: Monday\nSubject: RE\n\nOld.\n"),
    ("Outlook header block", LETTER + "\n\nFrom: HR <jobs@acme.com>\nSent: Monday, 2 November 2026\n"
                                      "To: Jane\nSubject: RE: Application\n\nCould you send a PDF?\n"),
    ("German Outlook header block", LETTER + "\n\nVon: HR <jobs@acme.com>\nGesendet: Montag\nAn: Jane\n"
                                             "Betreff: AW: Bewerbung\n\nAlt.\n"),
    ("Windows line ends", LETTER.replace("\n", "\r\n") + "\r\n\r\n-- \r\nJane Doe\r\n"),
]


@pytest.mark.parametrize(("case", "body"), TRIMMED, ids=[case for case, _ in TRIMMED])
def test_signatures_and_quoted_replies_are_trimmed(case, body):
    """What follows a signature delimiter, a mobile signature or a quoted message's header is cut."""
    assert cover_letter(body, 1500) == LETTER


KEPT = [
    ("bullets with a space", "My skills:\n\n- Python\n- SQL\n\nKind regards,\nJane"),
    ("bullets without a space", "My skills:\n\n-Python\n-SQL\n\nI look forward to hearing from you.\nJane"),
    ("a rule of underscores", "I apply.\n\n__________\nJane Doe | Data person"),
    ("the word wrote inside a sentence", "I wrote a thesis on data.\nOn weekends I wrote: poems.\n\nThanks"),
    ("a From line that is no header block", "From: 2019 I worked at Acme.\nI led the data team."),
]


@pytest.mark.parametrize(("case", "body"), KEPT, ids=[case for case, _ in KEPT])
def test_letter_text_that_looks_like_a_marker_is_kept(case, body):
    """Bullets, rules and ordinary sentences are letter text: nothing is cut."""
    assert cover_letter(body, 1500) == body


def test_a_forwarded_application_keeps_the_forwarded_letter():
    """A header block under a forward marker is the application itself, not a quoted reply."""
    body = ("FYI, for the analyst role.\n\n---------- Forwarded message ---------\nFrom: Jane <jane@x.org>\n"
            "Date: Mon, 2 Nov 2026\nSubject: Application\nTo: hr@acme.com\n\nDear team, I apply.")
    assert cover_letter(body, 1500) == body


def test_inline_quoted_lines_are_dropped_and_the_answers_kept():
    """In an inline reply the quoted lines go; what the candidate wrote between them stays."""
    body = "> Do you have a work permit?\nYes, an EU passport.\n\n> Start date?\nJanuary."
    assert cover_letter(body, 1500) == "Yes, an EU passport.\n\nJanuary."


def test_a_mail_that_is_only_a_quote_has_no_letter():
    """Nothing written above the quote: no cover letter."""
    assert cover_letter("On Mon, HR <jobs@acme.com> wrote:\n> Send a CV.\n", 1500) == ""


@pytest.mark.parametrize("limit", [1, 10, 80, 500])
def test_the_letter_is_bounded(limit):
    """At most `limit` characters, marked with an ellipsis when cut."""
    text = cover_letter("word " * 1000, limit)
    assert len(text) <= limit
    assert text.endswith("…")


def test_a_limit_of_zero_quotes_nothing():
    """[comment] cover_letter_chars = 0 turns the quote off."""
    assert cover_letter(LETTER, 0) == ""


def test_blank_line_runs_are_collapsed():
    """Runs of blank lines (quoted lines dropped, HTML reduced to text) become one blank line."""
    assert cover_letter("Hello\n\n\n\n\nBye", 100) == "Hello\n\nBye"


def test_hostile_long_lines_are_scanned_in_linear_time():
    """100,000 characters of lines that nearly start a quote header take well under a second."""
    body = ("On " + "a " * 450 + "\nAm " + "b " * 450 + "\nFrom: x\n") * 50
    started = time.monotonic()
    cover_letter(body, 1500)
    assert time.monotonic() - started < 1.0
