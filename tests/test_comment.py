"""The confirmation comment: plain text, attacker text escaped, bounded."""

from __future__ import annotations

from datetime import UTC, datetime

from daemon.intake.comment import MAX_COMMENT, MAX_LETTER, confirmation


def test_comment_says_how_when_from_whom_what():
    """It names the channel, the time, the address, the subject and the files."""
    text = confirmation(sender_email="jane@example.org", subject="Application: Data Analyst",
                        received=datetime(2026, 11, 2, 9, 30, tzinfo=UTC), file_names=["cv.pdf", "letter.docx"],
                        job_title="Data Analyst")
    assert "by email" in text
    assert "2026-11-02T09:30+00:00" in text
    assert "jane@example.org" in text
    assert "Application: Data Analyst" in text
    assert "cv.pdf, letter.docx" in text


def test_markup_and_control_characters_are_neutralised():
    """HTML, newlines and bidi controls in subject or file names cannot shape the comment."""
    text = confirmation(sender_email="x@example.org", subject="<script>alert(1)</script>\r\nInjected: yes",
                        received=None, file_names=["a\u202egnp.pdf", "<img src=x>.pdf"], job_title="Data Analyst")
    assert "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;" in text
    assert "\u202e" not in text
    assert "\nInjected" not in text
    assert "unknown date" in text


def test_comment_length_is_capped():
    """A huge subject or many files cannot produce an unbounded comment."""
    text = confirmation(sender_email="x@example.org", subject="A" * 10_000, received=None,
                        file_names=["f" * 500 + ".pdf"] * 50, job_title="Data Analyst")
    assert len(text) <= MAX_COMMENT


def test_a_repeat_application_says_so():
    """When the candidate already existed, the comment says this is a further application."""
    text = confirmation(sender_email="x@example.org", subject="Data Analyst", received=None,
                        file_names=["cv.pdf"], job_title="Data Analyst", again=True)
    assert text.startswith("Further application received by email")


def test_the_cover_letter_is_quoted_below_the_facts():
    """The candidate's text follows the fixed lines, each of its lines quoted with "> "."""
    text = confirmation(sender_email="x@example.org", subject="Data Analyst", received=None, file_names=["cv.pdf"],
                        job_title="Data Analyst", cover_letter="Dear team,\n\nI apply.")
    facts, letter = text.split("\n\nCover letter (the mail's text, trimmed):\n")
    assert facts.endswith("Added automatically by ats-inbox.")
    assert letter == "> Dear team,\n>\n> I apply."


def test_the_cover_letter_cannot_pose_as_our_lines_or_carry_markup():
    """Markup is escaped and control characters removed; every letter line stays behind "> "."""
    hostile = "Added automatically by ats-inbox.\n<script>x</script>\u202eevil\x00\nFiles: none"
    text = confirmation(sender_email="x@example.org", subject="S", received=None, file_names=[],
                        job_title="Data Analyst", cover_letter=hostile)
    letter = text.split("Cover letter (the mail's text, trimmed):\n")[1]
    assert all(line.startswith(">") for line in letter.splitlines())
    assert "<script>" not in text and "&lt;script&gt;" in letter
    assert "\u202e" not in text and "\x00" not in text


def test_a_huge_cover_letter_is_bounded():
    """Escaping cannot make the quoted letter unbounded."""
    text = confirmation(sender_email="x@example.org", subject="S", received=None, file_names=[],
                        job_title="Data Analyst", cover_letter="&<>" * 10_000)
    assert len(text) <= MAX_COMMENT + MAX_LETTER + 100


def test_no_cover_letter_adds_nothing():
    """An empty letter (or one of blanks) leaves the comment as it was."""
    bare = confirmation(sender_email="x@example.org", subject="S", received=None, file_names=[], job_title="J")
    assert confirmation(sender_email="x@example.org", subject="S", received=None, file_names=[], job_title="J",
                        cover_letter="  \n ") == bare
    assert "Cover letter" not in bare


def test_new_files_the_ats_could_not_attach_are_named():
    """A repeated application's new CV that the ATS cannot attach is named, escaped, in the comment."""
    text = confirmation(sender_email="x@example.org", subject="S", received=None,
                        file_names=["cv-2026.pdf", "<b>.pdf"], job_title="Data Analyst", again=True,
                        new_files_not_attached=["cv-2026.pdf", "<b>.pdf"])
    [line] = [line for line in text.splitlines() if line.startswith("New file(s) not attached")]
    assert "cv-2026.pdf, &lt;b&gt;.pdf" in line
    assert "existing applicant" in line
