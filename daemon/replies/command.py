"""What a reply to a receipt asks for: the first line its writer wrote (pure).

Quoted text and signatures are dropped as for a cover letter (daemon.mail.coverletter); the first
line left is the job (its code, id or title) or the word "ignore"; nothing at all is a question
we answer with what we expect.
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon.mail import ParsedEmail
from daemon.mail.coverletter import cover_letter

IGNORE_WORDS = frozenset({"ignore", "ignore it", "ignorieren", "ignorer"})
_MAX_CHARS = 200


@dataclass(frozen=True, slots=True)
class Instruction:
    """Place the mail in `job`, or ignore it (`ignore`); `job` "" and not `ignore`: nothing understood."""

    job: str = ""
    ignore: bool = False


def instruction(email: ParsedEmail) -> Instruction:
    """The instruction in the reply's own text."""
    own = cover_letter(email.body_text, 2000)
    first = next((line.strip() for line in own.splitlines() if line.strip()), "")
    first = first.strip(" .!'\"").strip()[:_MAX_CHARS]
    if first.casefold() in IGNORE_WORDS:
        return Instruction(ignore=True)
    return Instruction(job=first)
