"""The confirmation comment posted on a new candidate (pure text, attacker text escaped).

Its fixed part (channel, date, address, subject, files, rule) is capped at MAX_COMMENT
characters. The cover letter follows, each of its lines quoted with "> " so that no line of
the candidate's text can pose as a line of ours, escaped like every other attacker text and
capped at MAX_LETTER characters after escaping (its length was already bounded by
`[comment] cover_letter_chars` before).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime

MAX_FIELD = 300
MAX_COMMENT = 2000
MAX_LETTER = 12_000  # the quoted, escaped cover letter (5000 characters of "&" escape to 25000)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def plain(text: str, limit: int = MAX_FIELD) -> str:
    """Attacker text made safe for a plain-text comment: no markup, no control chars, capped."""
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
    text = html.escape(" ".join(text.split()), quote=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def confirmation(*, sender_email: str, subject: str, received: datetime | None,
                 file_names: Sequence[str], job_title: str, again: bool = False, rule: str = "",
                 note: str = "", cover_letter: str = "", new_files_not_attached: Sequence[str] = (),
                 forwarded_by: str = "", agency: str = "") -> str:
    """Says the application arrived by email: when, from which address, subject and files.

    `again`: the candidate existed before this mail (the same person applied again).
    `rule`: the routing rule (or inference step) that chose the job; `note`: its comment line.
    `cover_letter`: the candidate's text (daemon.mail.coverletter.cover_letter), quoted below.
    `new_files_not_attached`: CVs this mail brought that the ATS could not attach to the
    existing applicant (a repeated application): the comment names them.
    `forwarded_by`: who sent the candidate's mail in ("Rita Recruiter <rita@acme.test>").
    `agency`: the agency that sent it in ([intake] agencies): "Sent in by the agency TalentBridge
    (karl.weber@talentbridge.example)" takes the place of "Forwarded by".
    """
    when = received.isoformat(timespec="minutes") if received else "an unknown date"
    files = ", ".join(plain(name, 120) for name in file_names) or "none"
    lines = [
        f"{'Further application' if again else 'Application'} received by email for {plain(job_title)}.",
        f"Received: {when}",
        f"From: {plain(sender_email) or 'unknown address'}",
        *_sent_in(forwarded_by, agency),
        f"Subject: {plain(subject) or '(no subject)'}",
        f"Files: {files}",
        *([f"Routed by: {plain(rule)}"] if rule else []),
        *([plain(note, 500)] if note else []),
        *_not_attached(new_files_not_attached),
        "Added automatically by ats-inbox.",
    ]
    text = "\n".join(lines)
    text = text if len(text) <= MAX_COMMENT else text[: MAX_COMMENT - 1] + "…"
    return text + _letter(cover_letter)


def _sent_in(forwarded_by: str, agency: str) -> list[str]:
    """The line naming who sent the mail in: the agency and its sender, or the forwarder."""
    if agency:
        return [f"Sent in by the agency {plain(agency)}" + (f" ({plain(forwarded_by)})" if forwarded_by else "")]
    return [f"Forwarded by: {plain(forwarded_by)}"] if forwarded_by else []


def _not_attached(names: Sequence[str]) -> list[str]:
    if not names:
        return []
    files = ", ".join(plain(name, 120) for name in names)
    return [f"New file(s) not attached to the existing applicant (the ATS cannot add files to an applicant): "
            f"{files}. The file(s) are in the mail; add them by hand if they matter."]


def _letter(text: str) -> str:
    """The cover letter, each line escaped and quoted with "> "; "" when there is none."""
    if not text.strip():
        return ""
    quoted = "\n".join(f"> {plain(line, MAX_LETTER)}".rstrip() for line in text.splitlines())
    quoted = quoted if len(quoted) <= MAX_LETTER else quoted[: MAX_LETTER - 1] + "…"
    return "\n\nCover letter (the mail's text, trimmed):\n" + quoted
