"""The confirmation comment: plain text, attacker text escaped, bounded."""

from __future__ import annotations

from datetime import UTC, datetime

from daemon.comment import MAX_COMMENT, confirmation


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
