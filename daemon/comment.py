"""The confirmation comment posted on a new candidate (pure text, attacker text escaped)."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime

MAX_FIELD = 300
MAX_COMMENT = 2000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def plain(text: str, limit: int = MAX_FIELD) -> str:
    """Attacker text made safe for a plain-text comment: no markup, no control chars, capped."""
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
    text = html.escape(" ".join(text.split()), quote=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def confirmation(*, sender_email: str, subject: str, received: datetime | None,
                 file_names: Sequence[str], job_title: str, again: bool = False, rule: str = "",
                 note: str = "") -> str:
    """Says the application arrived by email: when, from which address, subject and files.

    `again`: the candidate existed before this mail (the same person applied again).
    `rule`: the routing rule (or inference step) that chose the job; `note`: its comment line.
    """
    when = received.isoformat(timespec="minutes") if received else "an unknown date"
    files = ", ".join(plain(name, 120) for name in file_names) or "none"
    lines = [
        f"{'Further application' if again else 'Application'} received by email for {plain(job_title)}.",
        f"Received: {when}",
        f"From: {plain(sender_email) or 'unknown address'}",
        f"Subject: {plain(subject) or '(no subject)'}",
        f"Files: {files}",
        *([f"Routed by: {plain(rule)}"] if rule else []),
        *([plain(note, 500)] if note else []),
        "Added automatically by ats-inbox.",
    ]
    text = "\n".join(lines)
    return text if len(text) <= MAX_COMMENT else text[: MAX_COMMENT - 1] + "…"
